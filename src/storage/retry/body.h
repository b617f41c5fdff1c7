#pragma once
// Put bodies that can be read more than once, so a retried Put re-sends the
// body from its first byte (see RetryingStore::Put for how bodies are chosen).
//
// - RewindableSource (base/io.h): a Source that can restart at its first
//   byte; FileSource is one. A Put through RetryingStore calls Rewind() before
//   every attempt after the first.
// - BodyFactory: opens a fresh body per attempt (RetryingStore::PutFrom).
// Thread safety: a Source is used by one thread at a time.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/file.h"
#include "base/io.h"
#include "base/status.h"

namespace walship::storage {

using walship::RewindableSource;

// Reads a caller-owned buffer that must outlive the source; Rewind() is free.
class ViewSource final : public RewindableSource {
 public:
  explicit ViewSource(std::string_view data) : data_(data) {}
  Result<size_t> Read(void* buf, size_t n) override;
  Status Rewind() override {
    pos_ = 0;
    return Status::OK();
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Opens a fresh body positioned at its first byte; called once per attempt.
using BodyFactory = std::function<Result<std::unique_ptr<Source>>()>;

}  // namespace walship::storage
