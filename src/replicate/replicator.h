#pragma once
// Replicator: one database -> one replica. Two long-lived threads around
// synchronous steps that tests can call directly:
//   monitor:  every monitor_interval: SyncOnce() until caught up, a level-9
//             snapshot when due, MaybeCheckpoint(); then wakes the uploader.
//   uploader: uploads pending files at most once per sync_interval; on errors
//             backs off (sync_interval doubling up to 5 min), keeps local
//             state, logs once per state change, and catches up later.
// Stop(): the monitor does one final sync, then the uploader retries the final
// upload for up to shutdown_sync_timeout. Lock order: mu_ only (never held
// across I/O, SQLite calls or fsync).

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

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

  // -once: open, sync until caught up, snapshot if due (or forced), upload.
  Status RunOnce(bool force_snapshot);

  // Steps (also used by tests).
  Status OpenAndReconcile();
  Status SyncUntilCaughtUp();
  Status MaybeSnapshot(bool force);
  DbSyncer& syncer() { return syncer_; }
  Uploader& uploader() { return uploader_; }
  const std::string& db_path() const { return opts_.syncer.db_path; }

 private:
  void MonitorLoop(std::stop_token st);
  void UploadLoop(std::stop_token st);
  // Waits up to ms or until stop; returns false if stopping.
  bool WaitFor(std::stop_token& st, int64_t ms);

  ReplicatorOptions opts_;
  std::shared_ptr<replica::Replica> replica_;
  DbSyncer syncer_;
  Uploader uploader_;

  std::mutex mu_;
  std::condition_variable_any cv_;
  bool upload_wanted_ = false;
  Status final_status_;
  std::jthread monitor_;
  std::jthread upload_;
};

}  // namespace walship::replicate
