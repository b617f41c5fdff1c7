#pragma once
// In-memory ObjectStore for tests. Thread-safe (one mutex, never held while
// reading a Put body). Counts calls per operation. Timestamps: the Put's
// timestamp_ms, else the wall clock at Put. A short body is kInvalidArgument.

#include <atomic>
#include <map>
#include <mutex>

#include "storage/object_store.h"

namespace walship::storage {

class MemStore final : public ObjectStore {
 public:
  std::string Describe() const override { return "mem://"; }
  Status Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) override;
  // Same defaults as ObjectStore, so calls through the concrete type may omit them.
  Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset = 0,
                                       std::optional<uint64_t> length = std::nullopt) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after = "") override;
  Status Delete(const std::vector<std::string>& keys) override;
  // Stands for S3's server-side copy, so tests can see which path a caller took.
  Status Copy(const std::string& src, const std::string& dst, const PutOptions& opts) override;

  // Test helpers.
  // Flips every bit of one byte of a stored object; no-op if the key is
  // missing or the offset is past its end.
  void Corrupt(const std::string& key, size_t byte_offset);
  size_t object_count() const;
  std::atomic<int> puts{0}, gets{0}, heads{0}, lists{0}, deletes{0}, copies{0};

 private:
  struct Obj {
    std::string data;
    int64_t mtime_ms;
  };
  // Stores obj at key (mu_ held): kAlreadyExists ("<what>: object already
  // exists") if the key is taken and overwriting is not allowed.
  Status InsertLocked(const std::string& key, Obj obj, bool no_overwrite, const std::string& what);
  mutable std::mutex mu_;
  std::map<std::string, Obj> objs_;
};

}  // namespace walship::storage
