#pragma once
// ObjectStore: the one seam for replica I/O. Format-blind: keys and bytes.
// Backends: file/ (a directory), mem/ (tests), s3/ (later). Retry and fault
// injection are decorators around this interface; backends never retry.
//
// Contract (tests/contract/object_store_contract.cc runs it on every backend):
// - Put is all-or-nothing: a reader sees the whole object or nothing, never a
//   prefix. With PutOptions::no_overwrite (the default) an existing key is
//   never replaced: kAlreadyExists.
// - Open streams [offset, offset+length) without loading the object; missing
//   key -> kNotFound; offset past the end -> an empty stream.
// - List returns objects whose key starts with prefix and sorts after
//   start_after, in ascending key order (bytewise).
// - Delete removes a batch; missing keys are not an error.
// - Copy (optional: kUnimplemented) makes dst a byte-identical object of src
//   without transferring it; it honours no_overwrite like Put.
// - Errors from the network are kUnavailable with retryable() set where a
//   retry may help; kCorruption is never retryable.
// Thread safety: every method may be called concurrently.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/io.h"
#include "base/status.h"

namespace walship::storage {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  // The writer's timestamp if the backend stores one (file mtime, S3
  // litestream-timestamp metadata), else the backend's modification time.
  int64_t mtime_ms = 0;
};

struct PutOptions {
  bool no_overwrite = true;
  // Stored as the object's timestamp (file: mtime; S3: x-amz-meta-litestream-timestamp). 0 = none.
  int64_t timestamp_ms = 0;
  // The caller's own listing, made since its last error, says the key is
  // absent. A backend that cannot refuse an overwrite atomically (an S3 server
  // that ignores If-None-Match) may then skip its extra existence check (HEAD),
  // which would otherwise double the request count of steady-state uploads.
  bool absent_per_listing = false;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // A description safe for logs (never secrets), e.g. "file:///var/backups/db".
  virtual std::string Describe() const = 0;

  // Uploads exactly `size` bytes read from body.
  virtual Status Put(const std::string& key, Source* body, uint64_t size, const PutOptions& opts) = 0;
  // length = nullopt: to the end.
  virtual Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset = 0,
                                               std::optional<uint64_t> length = std::nullopt) = 0;
  virtual Result<ObjectInfo> Head(const std::string& key) = 0;
  virtual Result<std::vector<ObjectInfo>> List(const std::string& prefix, const std::string& start_after = "") = 0;
  virtual Status Delete(const std::vector<std::string>& keys) = 0;
  // Server-side copy of the whole object `src` to `dst`: no bytes pass through
  // this process. Options as for Put (no_overwrite, timestamp_ms stored on
  // dst, absent_per_listing); all-or-nothing like Put. Missing src ->
  // kNotFound. A backend without such a copy (a directory, where a copy costs
  // what an upload does) returns kUnimplemented, the default: the caller
  // uploads instead.
  virtual Status Copy(const std::string& src, const std::string& dst, const PutOptions& opts);

  // Convenience: Put from memory / read a whole range into memory.
  Status PutBytes(const std::string& key, std::string data, const PutOptions& opts = {});
  Result<std::string> GetBytes(const std::string& key, uint64_t offset = 0,
                               std::optional<uint64_t> length = std::nullopt);
};

}  // namespace walship::storage
