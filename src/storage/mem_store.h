#pragma once
// In-memory ObjectStore for tests. Thread-safe. Counts calls per operation.

#include <atomic>
#include <map>
#include <mutex>

#include "storage/object_store.h"

namespace walship::storage {

class MemStore final : public ObjectStore {
 public:
  std::string Describe() const override { return "mem://"; }
  Status Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) override;
  Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset,
                                       std::optional<uint64_t> length) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after) override;
  Status Delete(const std::vector<std::string>& keys) override;

  // Test helpers.
  void Corrupt(const std::string& key, size_t byte_offset);
  size_t object_count() const;
  std::atomic<int> puts{0}, gets{0}, heads{0}, lists{0}, deletes{0};

 private:
  struct Obj {
    std::string data;
    int64_t mtime_ms;
  };
  mutable std::mutex mu_;
  std::map<std::string, Obj> objs_;
};

}  // namespace walship::storage
