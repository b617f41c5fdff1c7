#pragma once
// Replicator: one database -> one replica. Three long-lived threads around
// synchronous steps that tests can call directly:
//   monitor:  every monitor_interval: SyncOnce() until caught up, a level-9
//             snapshot when due, MaybeCheckpoint(); then wakes the uploader.
//   uploader: uploads pending files at most once per sync_interval; on errors
//             backs off (sync_interval doubling up to 5 min), keeps local
//             state, logs once per state change, and catches up later.
//   compactor: sleeps until the next level boundary (or L0 retention check),
//             then CompactDue(): levels 1..K, L0 and snapshot retention
//             (src/compact/). Starts once the uploader knows the replica.
// Stop(): the monitor does one final sync, then the uploader retries the final
// upload for up to shutdown_sync_timeout. Lock order: mu_, then the catalog's
// own mutex is never taken under it; neither is held across I/O, SQLite calls
// or fsync. Uploader::op_mu_ is held across replica I/O but never under mu_.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "compact/catalog.h"
#include "compact/compactor.h"
#include "replica/replica.h"
#include "replicate/db_syncer.h"
#include "replicate/uploader.h"

namespace walship::replicate {

struct ReplicatorOptions {
  SyncerOptions syncer;
  int64_t monitor_interval_ms = 1000;
  int64_t sync_interval_ms = 1000;
  int64_t snapshot_interval_ms = 24 * 3600 * 1000LL;
  int64_t shutdown_sync_timeout_ms = 30'000;
  int64_t shutdown_sync_interval_ms = 500;
  // Levels 1..K and retention. tmp_dir, local_l0_dir, clock and name are
  // filled in by the Replicator from the syncer options.
  compact::CompactorOptions compact;
};

class Replicator {
 public:
  Replicator(ReplicatorOptions opts, std::shared_ptr<replica::Replica> replica);
  ~Replicator();

  // Starts the threads. The database may not exist yet: the monitor waits for it.
  void Start();
  // Final sync and upload, then joins the threads and closes the database.
  // Returns the final upload's error, if any.
  Status Stop();

  // -once: open, sync until caught up, snapshot if due (or forced), upload;
  // with enforce_retention also snapshot and L0 retention. No compaction.
  Status RunOnce(bool force_snapshot, bool enforce_retention = false);

  // Steps (also used by tests).
  Status OpenAndReconcile();
  Status SyncUntilCaughtUp();
  Status MaybeSnapshot(bool force);
  // One pass of the compactor at the clock's now (levels due, retention).
  Status CompactDue();
  // Snapshot and L0 retention now (replicate -once -enforce-retention).
  Status EnforceRetention();
  DbSyncer& syncer() { return syncer_; }
  Uploader& uploader() { return uploader_; }
  compact::Catalog& catalog() { return *catalog_; }
  compact::Compactor& compactor() { return compactor_; }
  const std::string& db_path() const { return opts_.syncer.db_path; }

 private:
  void MonitorLoop(std::stop_token st);
  void UploadLoop(std::stop_token st);
  void CompactLoop(std::stop_token st);
  // Waits up to ms or until stop; returns false if stopping.
  bool WaitFor(std::stop_token& st, int64_t ms);

  ReplicatorOptions opts_;
  std::shared_ptr<replica::Replica> replica_;
  std::shared_ptr<compact::Catalog> catalog_;
  DbSyncer syncer_;
  Uploader uploader_;
  compact::Compactor compactor_;

  std::mutex mu_;
  std::condition_variable_any cv_;
  bool upload_wanted_ = false;
  Status final_status_;
  std::jthread monitor_;
  std::jthread upload_;
  std::jthread compact_;
};

}  // namespace walship::replicate
