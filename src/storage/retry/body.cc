#include "storage/retry/body.h"

#include <algorithm>
#include <cstring>

namespace walship::storage {

Result<size_t> ViewSource::Read(void* buf, size_t n) {
  const size_t k = std::min(n, data_.size() - pos_);
  if (k > 0) std::memcpy(buf, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

}  // namespace walship::storage
