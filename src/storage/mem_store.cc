#include "storage/mem_store.h"

#include <chrono>

namespace walship::storage {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Status MemStore::Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) {
  puts++;
  if (key.empty()) return InvalidArgument("mem put: empty key");
  // Read the whole body before touching the map: a failing or short Source
  // leaves nothing behind (all-or-nothing).
  std::string data;
  data.resize(size);
  size_t done = 0;
  while (done < size) {
    auto got = body->Read(data.data() + done, size - done);
    if (!got.ok()) return got.status().WithContext("mem put " + key);
    if (*got == 0) {
      return InvalidArgument("mem put " + key + ": body ended after " + std::to_string(done) + " of " +
                             std::to_string(size) + " bytes");
    }
    done += *got;
  }
  const int64_t mtime = opts.timestamp_ms != 0 ? opts.timestamp_ms : NowMs();
  std::lock_guard<std::mutex> lock(mu_);
  return InsertLocked(key, Obj{std::move(data), mtime}, opts.no_overwrite, "mem put " + key);
}

Status MemStore::InsertLocked(const std::string& key, Obj obj, bool no_overwrite, const std::string& what) {
  auto [it, inserted] = objs_.try_emplace(key);
  if (!inserted && no_overwrite) return AlreadyExists(what + ": object already exists");
  it->second = std::move(obj);
  return Status::OK();
}

Result<std::unique_ptr<Source>> MemStore::Open(const std::string& key, uint64_t offset,
                                               std::optional<uint64_t> length) {
  gets++;
  std::string slice;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = objs_.find(key);
    if (it == objs_.end()) return NotFound("mem get " + key + ": no such object");
    const std::string& d = it->second.data;
    if (offset < d.size()) {
      const uint64_t avail = d.size() - offset;
      slice = d.substr(size_t(offset), size_t(length ? std::min(*length, avail) : avail));
    }
  }
  return std::unique_ptr<Source>(std::make_unique<StringSource>(std::move(slice)));
}

Result<ObjectInfo> MemStore::Head(const std::string& key) {
  heads++;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objs_.find(key);
  if (it == objs_.end()) return NotFound("mem head " + key + ": no such object");
  return ObjectInfo{key, it->second.data.size(), it->second.mtime_ms};
}

Result<std::vector<ObjectInfo>> MemStore::List(const std::string& prefix, const std::string& start_after) {
  lists++;
  std::vector<ObjectInfo> out;
  std::lock_guard<std::mutex> lock(mu_);
  // std::map<std::string> orders keys bytewise (char_traits compares as unsigned char).
  auto it = start_after < prefix ? objs_.lower_bound(prefix) : objs_.upper_bound(start_after);
  for (; it != objs_.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.push_back(ObjectInfo{it->first, it->second.data.size(), it->second.mtime_ms});
  }
  return out;
}

Status MemStore::Copy(const std::string& src, const std::string& dst, const PutOptions& opts) {
  copies++;
  if (src.empty() || dst.empty()) return InvalidArgument("mem copy: empty key");
  std::lock_guard<std::mutex> lock(mu_);
  auto from = objs_.find(src);
  if (from == objs_.end()) return NotFound("mem copy " + src + " to " + dst + ": no such object");
  Obj copy{from->second.data, opts.timestamp_ms != 0 ? opts.timestamp_ms : NowMs()};
  return InsertLocked(dst, std::move(copy), opts.no_overwrite, "mem copy " + src + " to " + dst);
}

Status MemStore::Delete(const std::vector<std::string>& keys) {
  deletes++;
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& k : keys) objs_.erase(k);
  return Status::OK();
}

void MemStore::Corrupt(const std::string& key, size_t byte_offset) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objs_.find(key);
  if (it == objs_.end() || byte_offset >= it->second.data.size()) return;
  it->second.data[byte_offset] = char(it->second.data[byte_offset] ^ 0xff);
}

size_t MemStore::object_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return objs_.size();
}

}  // namespace walship::storage
