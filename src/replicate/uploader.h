#pragma once
// Uploader: ships a database's local L0 files (and locally built level-9
// snapshots) to the replica in TXID order. Never overwrites a replica object:
// if an object already exists (e.g. our earlier upload succeeded but the
// acknowledgement was lost) its file checksum is compared with the local
// file's, and only an identical object counts as uploaded.
//
// Request cost: Init() loads the catalog (one LIST per level); UploadPending()
// then issues one PUT per file and no LIST or GET in steady state. A snapshot
// identical to a lower level's object (the first one, at TXID 1) costs a
// server-side copy instead of its bytes (on S3 a HEAD of the source and a
// COPY; and a ranged GET of the object's checksum first unless this process
// uploaded it). Every
// uploaded file is added to the catalog, which the compactor reads.
// Local L0 files are kept until the replica has them and, when compaction
// levels are configured, until level 1 covers them (level 1 reads them
// locally instead of downloading them).
// Thread safety: all methods may be called from any thread. Init,
// FetchRemoteL0 and UploadPending are serialised by op_mu_, which is held
// across replica I/O on purpose (the monitor and the uploader thread must not
// interleave listings and uploads); it is never taken under another lock.

#include <atomic>
#include <map>
#include <mutex>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "compact/catalog.h"
#include "replica/replica.h"

namespace walship::replicate {

class Uploader {
 public:
  // catalog: shared with the compactor; nullptr -> a private one.
  // keep_l0_for_l1: keep local L0 files until level 1 covers them.
  Uploader(std::string db_path, std::string meta_dir, std::shared_ptr<replica::Replica> replica,
           const Clock* clock = SystemClock::Default(), std::shared_ptr<compact::Catalog> catalog = nullptr,
           bool keep_l0_for_l1 = false);

  // Loads the catalog (lists every level) to learn the replica's position:
  // the highest MaxTXID at any level.
  Status Init();
  bool initialized() const { return initialized_.load(); }
  uint64_t remote_txid() const { return remote_txid_.load(); }
  // MaxTXID and timestamp of the newest snapshot on the replica or pending locally; 0 if none.
  uint64_t snapshot_txid() const { return snapshot_txid_.load(); }
  int64_t snapshot_time_ms() const { return snapshot_time_ms_.load(); }

  // Downloads the replica's file ending at txid (any level) into a temp file in the meta dir; returns its path.
  Result<std::string> FetchRemoteL0(uint64_t txid);

  // Registers a locally written snapshot (in LocalSnapshotDir) for upload.
  void SnapshotWritten(uint64_t txid, int64_t timestamp_ms);

  // Uploads local L0 files remote+1..local_txid in order, then snapshots that
  // the replica's L0 has reached, then removes local files no longer needed.
  // Returns the number of objects uploaded.
  Result<int> UploadPending(uint64_t local_txid);

  replica::Replica* replica() const { return replica_.get(); }

 private:
  Status InitLocked();
  Result<int> UploadPendingInitialized(uint64_t local_txid);
  Status UploadOne(int level, uint64_t min_txid, uint64_t max_txid, const std::string& path);
  // A snapshot whose bytes the replica already holds at a lower level (the
  // first snapshot is the L0 file of TXID 1): copies that object
  // server-side. True if the copy landed; false if the caller must upload
  // (no such object, a different one, or the backend has no copy).
  bool CopyFromLowerLevel(uint64_t min_txid, uint64_t max_txid, const std::string& path);
  void PruneLocal();

  std::string db_path_;
  std::string meta_dir_;
  std::shared_ptr<replica::Replica> replica_;
  const Clock* clock_;
  std::shared_ptr<compact::Catalog> catalog_;
  bool keep_l0_for_l1_;
  std::mutex op_mu_;
  std::atomic<bool> initialized_{false};
  std::atomic<uint64_t> remote_txid_{0};
  std::atomic<uint64_t> snapshot_txid_{0};
  std::atomic<int64_t> snapshot_time_ms_{0};
  // Files with MinTXID 1 this process put on the replica (or found there with
  // the local file's checksum): key -> file checksum. A snapshot copied from
  // one needs no GET of its checksum. Guarded by op_mu_.
  std::map<std::string, uint64_t> ours_;
};

// Reads the trailer's file checksum of an LTX object (its last 8 bytes).
Result<uint64_t> LocalFileChecksum(const std::string& path);

}  // namespace walship::replicate
