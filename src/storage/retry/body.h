#pragma once
// Put bodies that can be read more than once, so a retried Put re-sends the
// body from its first byte (see RetryingStore::Put for how bodies are chosen).
//
// - RewindableSource: a Source that can restart at its first byte. A Put
//   through RetryingStore calls Rewind() before every attempt after the first.
// - RewindableFileSource: a file range; Rewind() is free (pread-based).
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

class RewindableSource : public Source {
 public:
  // Restarts the stream at its first byte.
  virtual Status Rewind() = 0;
};

// Reads [offset, offset+limit) of a file; Rewind() restarts at `offset`.
class RewindableFileSource final : public RewindableSource {
 public:
  static Result<std::unique_ptr<RewindableFileSource>> Open(const std::string& path, uint64_t offset = 0,
                                                            uint64_t limit = UINT64_MAX);
  RewindableFileSource(File f, uint64_t offset, uint64_t limit)
      : f_(std::move(f)), start_(offset), limit_(limit), off_(offset), left_(limit) {}
  Result<size_t> Read(void* buf, size_t n) override;
  Status Rewind() override;

 private:
  File f_;
  uint64_t start_, limit_;
  uint64_t off_, left_;
};

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
