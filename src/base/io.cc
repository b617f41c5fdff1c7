#include "base/io.h"

#include <algorithm>
#include <cstring>

namespace walship {

Status Source::ReadFull(void* buf, size_t n) {
  auto* p = static_cast<char*>(buf);
  size_t done = 0;
  while (done < n) {
    WALSHIP_ASSIGN_OR_RETURN(size_t got, Read(p + done, n - done));
    if (got == 0) {
      return Corruption("unexpected end of data (wanted " + std::to_string(n) + " bytes, got " +
                        std::to_string(done) + ")");
    }
    done += got;
  }
  return Status::OK();
}

Result<size_t> StringSource::Read(void* buf, size_t n) {
  size_t k = std::min(n, data_.size() - pos_);
  std::memcpy(buf, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

Result<std::unique_ptr<FileSource>> FileSource::Open(const std::string& path, uint64_t offset, uint64_t limit) {
  WALSHIP_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  return std::make_unique<FileSource>(std::move(f), offset, limit);
}

Result<size_t> FileSource::Read(void* buf, size_t n) {
  if (left_ == 0) return size_t{0};
  n = size_t(std::min<uint64_t>(n, left_));
  WALSHIP_ASSIGN_OR_RETURN(size_t got, f_.PRead(buf, n, off_));
  off_ += got;
  left_ -= got;
  return got;
}

Status FileSink::Write(const void* buf, size_t n) {
  written_ += n;
  if (buf_.size() + n > cap_) {
    WALSHIP_RETURN_IF_ERROR(Flush());
    if (n >= cap_) return f_->Append(buf, n);
  }
  buf_.append(static_cast<const char*>(buf), n);
  return Status::OK();
}

Status FileSink::Flush() {
  if (buf_.empty()) return Status::OK();
  Status s = f_->Append(buf_.data(), buf_.size());
  buf_.clear();
  return s;
}

}  // namespace walship
