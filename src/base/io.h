#pragma once
// Streaming seams shared by the format and storage layers: a Source is read
// sequentially, a Sink is written sequentially. Memory stays bounded because
// nothing needs a whole file in memory.

#include <cstdint>
#include <string>
#include <memory>
#include <string_view>

#include "base/file.h"
#include "base/status.h"

namespace walship {

class Source {
 public:
  virtual ~Source() = default;
  // Reads up to n bytes; returns 0 only at end of stream.
  virtual Result<size_t> Read(void* buf, size_t n) = 0;
  // Reads exactly n bytes, or fails with kCorruption ("unexpected end of ...").
  Status ReadFull(void* buf, size_t n);
};

// A Source that can restart at its first byte (a retried upload re-sends it).
class RewindableSource : public Source {
 public:
  virtual Status Rewind() = 0;
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Write(const void* buf, size_t n) = 0;
};

class StringSource final : public Source {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  std::string data_;
  size_t pos_ = 0;
};

class StringSink final : public Sink {
 public:
  Status Write(const void* buf, size_t n) override {
    data_.append(static_cast<const char*>(buf), n);
    return Status::OK();
  }
  const std::string& data() const { return data_; }
  std::string& data() { return data_; }

 private:
  std::string data_;
};

// Reads [offset, offset+limit) of a file sequentially (pread-based, so
// Rewind() to `offset` is free).
class FileSource final : public RewindableSource {
 public:
  static Result<std::unique_ptr<FileSource>> Open(const std::string& path, uint64_t offset = 0,
                                                   uint64_t limit = UINT64_MAX);
  FileSource(File f, uint64_t offset, uint64_t limit)
      : f_(std::move(f)), start_(offset), limit_(limit), off_(offset), left_(limit) {}
  Result<size_t> Read(void* buf, size_t n) override;
  Status Rewind() override {
    off_ = start_;
    left_ = limit_;
    return Status::OK();
  }

 private:
  File f_;
  uint64_t start_, limit_;
  uint64_t off_, left_;
};

// Appends to a File, buffered; Flush() before Sync/Close.
class FileSink final : public Sink {
 public:
  explicit FileSink(File* f, size_t buffer = 1 << 20) : f_(f) { buf_.reserve(buffer); cap_ = buffer; }
  Status Write(const void* buf, size_t n) override;
  Status Flush();
  uint64_t bytes_written() const { return written_; }

 private:
  File* f_;
  std::string buf_;
  size_t cap_;
  uint64_t written_ = 0;
};

}  // namespace walship
