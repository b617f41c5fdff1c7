#pragma once
// The replica layout over an ObjectStore: LTX keys per level, listings, and
// object timestamps. Litestream v0.5 compatible (compat reference section 2):
//   file layout: <prefix>/ltx/<level>/<min>-<max>.ltx
//   s3 layout:   <prefix>/<level %04x>/<min>-<max>.ltx
// The file layout has no leading '/' when the prefix is empty ("ltx/0/...");
// the s3 layout joins by hand as Litestream does, so an empty prefix gives
// "/0000/..." (compat reference 2.1 quirks; the S3 URL parser picks prefixes).
// There is no manifest: replica state is derived from listings.
// Thread-safe (holds no mutable state besides the store).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/io.h"
#include "storage/object_store.h"
#include "storage/url.h"

namespace walship::replica {

struct LtxFileInfo {
  int level = 0;
  uint64_t min_txid = 0;
  uint64_t max_txid = 0;
  uint64_t size = 0;
  int64_t created_ms = 0;  // the LTX header timestamp as stored with the object
  std::string key;
};

class Replica {
 public:
  Replica(std::shared_ptr<storage::ObjectStore> store, std::string prefix, storage::KeyLayout layout);
  explicit Replica(storage::OpenedReplica r) : Replica(std::move(r.store), std::move(r.prefix), r.layout) {}

  storage::ObjectStore* store() const { return store_.get(); }
  storage::KeyLayout layout() const { return layout_; }

  // Listings of object stores report the upload time (S3 LastModified, whole
  // seconds), not the capture time. For files whose listed time is at or after
  // `from_ms` - 1 s, replaces created_ms with the stored timestamp (HEAD: the
  // litestream-timestamp metadata), `parallelism` requests at a time, in
  // order of MaxTXID, and stops after the batch in which a file was captured
  // after from_ms: a file's time is that of its last transaction (compaction
  // keeps the last input's), so every file with a higher MaxTXID was captured
  // later still, and its created_ms is raised to from_ms + 1 unasked. (A
  // clock stepped back between captures makes this stop earlier, never
  // later: no file captured after from_ms counts as before it.) Files listed
  // before from_ms - 1 s were captured earlier still (capture precedes
  // upload). A no-op for the file layout, whose mtime is the capture time.
  Status ResolveCreatedTimes(std::vector<LtxFileInfo>* files, int64_t from_ms, int parallelism = 16) const;
  // The store's description, plus the key prefix when there is one (never secrets).
  std::string Describe() const {
    return prefix_.empty() || prefix_ == "." ? store_->Describe() : store_->Describe() + " prefix " + prefix_;
  }

  std::string LevelDir(int level) const;  // with trailing '/'
  std::string Key(int level, uint64_t min_txid, uint64_t max_txid) const;

  // Files of one level with MinTXID >= seek, sorted by (MinTXID, MaxTXID).
  // Names that are not LTX file names are ignored.
  Result<std::vector<LtxFileInfo>> ListLevel(int level, uint64_t seek = 0) const;
  // All levels 0..9, concatenated level by level.
  Result<std::vector<LtxFileInfo>> ListAll() const;
  // Highest MaxTXID at a level; 0 if empty.
  Result<uint64_t> MaxTxid(int level) const;

  // Uploads a local LTX file; never overwrites (kAlreadyExists).
  // absent_per_listing: see storage::PutOptions.
  Status Upload(int level, uint64_t min_txid, uint64_t max_txid, const std::string& local_path,
                int64_t timestamp_ms, bool absent_per_listing = false) const;
  // Open and Delete use f.key when set, else the key computed from level/min/max.
  Result<std::unique_ptr<Source>> Open(const LtxFileInfo& f, uint64_t offset = 0) const;
  // Deletes in batches of at most 1000 keys; missing files are not an error.
  Status Delete(const std::vector<LtxFileInfo>& files) const;

 private:
  std::shared_ptr<storage::ObjectStore> store_;
  std::string prefix_;
  storage::KeyLayout layout_;
};

}  // namespace walship::replica
