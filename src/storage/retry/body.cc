#include "storage/retry/body.h"

#include <algorithm>
#include <cstring>

namespace walship::storage {

Result<std::unique_ptr<RewindableFileSource>> RewindableFileSource::Open(const std::string& path, uint64_t offset,
                                                                         uint64_t limit) {
  WALSHIP_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  return std::make_unique<RewindableFileSource>(std::move(f), offset, limit);
}

Result<size_t> RewindableFileSource::Read(void* buf, size_t n) {
  if (left_ == 0) return size_t{0};
  n = size_t(std::min<uint64_t>(n, left_));
  WALSHIP_ASSIGN_OR_RETURN(size_t got, f_.PRead(buf, n, off_));
  off_ += got;
  left_ -= got;
  return got;
}

Status RewindableFileSource::Rewind() {
  off_ = start_;
  left_ = limit_;
  return Status::OK();
}

Result<size_t> ViewSource::Read(void* buf, size_t n) {
  const size_t k = std::min(n, data_.size() - pos_);
  if (k > 0) std::memcpy(buf, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

}  // namespace walship::storage
