#include "storage/object_store.h"

namespace walship::storage {

Status ObjectStore::Copy(const std::string& src, const std::string& dst, const PutOptions&) {
  return Unimplemented("copy " + src + " to " + dst + ": " + Describe() + " has no server-side copy");
}

Status ObjectStore::PutBytes(const std::string& key, std::string data, const PutOptions& opts) {
  const uint64_t size = data.size();
  StringSource body(std::move(data));
  return Put(key, &body, size, opts);
}

Result<std::string> ObjectStore::GetBytes(const std::string& key, uint64_t offset, std::optional<uint64_t> length) {
  WALSHIP_ASSIGN_OR_RETURN(std::unique_ptr<Source> src, Open(key, offset, length));
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    WALSHIP_ASSIGN_OR_RETURN(size_t n, src->Read(buf, sizeof(buf)));
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

}  // namespace walship::storage
