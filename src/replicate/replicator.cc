#include "replicate/replicator.h"

#include <algorithm>

#include "base/file.h"
#include "base/log.h"
#include "compact/schedule.h"
#include "ltx/format.h"

namespace walship::replicate {

namespace {
constexpr int64_t kMaxBackoffMs = 5 * 60 * 1000;
// Between cuts the monitor polls the WAL every 1 ms while it grows, backing
// off to 64 ms while it does not.
constexpr int64_t kMinTickMs = 1;
constexpr int64_t kMaxTickMs = 64;

std::string MetaDir(const SyncerOptions& o) { return o.meta_dir.empty() ? DefaultMetaDir(o.db_path) : o.meta_dir; }

// Where compaction outputs are built before upload.
std::string CompactTmpDir(const SyncerOptions& o) { return JoinPath(MetaDir(o), "walship-compact"); }

compact::CompactorOptions CompactOptions(const ReplicatorOptions& o) {
  compact::CompactorOptions c = o.compact;
  c.tmp_dir = CompactTmpDir(o.syncer);
  c.local_l0_dir = LocalL0Dir(MetaDir(o.syncer));
  c.clock = o.syncer.clock;
  c.name = o.syncer.db_path;
  return c;
}
}  // namespace

Replicator::Replicator(ReplicatorOptions opts, std::shared_ptr<replica::Replica> replica)
    : opts_(std::move(opts)),
      replica_(replica),
      catalog_(std::make_shared<compact::Catalog>(replica)),
      syncer_(opts_.syncer),
      uploader_(opts_.syncer.db_path, MetaDir(opts_.syncer), std::move(replica), opts_.syncer.clock, catalog_,
                /*keep_l0_for_l1=*/!opts_.compact.level_intervals_ms.empty()),
      compactor_(CompactOptions(opts_), catalog_) {}

Replicator::~Replicator() { Stop().IgnoreError(); }

Status Replicator::OpenAndReconcile() {
  // Waiting for the database to appear costs no requests.
  if (!FileExists(db_path())) return NotFound("database " + db_path() + " does not exist");
  // Learn the replica's position before pinning the WAL: if the replica is
  // unreachable we must not hold the app's WAL hostage while we wait.
  WALSHIP_RETURN_IF_ERROR_CTX(uploader_.Init(), "list replica " + replica_->Describe());
  WALSHIP_RETURN_IF_ERROR(syncer_.Open());
  const uint64_t remote = uploader_.remote_txid();
  const uint64_t local = syncer_.Position();
  Status s;
  if (remote > local) {
    auto path = uploader_.FetchRemoteL0(remote);
    s = path.ok() ? syncer_.ReconcileWithReplica(remote, *path) : path.status();
  } else if (remote < local) {
    s = syncer_.ReconcileWithReplica(remote, "");
  }
  if (!s.ok()) {
    syncer_.Close().IgnoreError();
    return s.WithContext("reconcile with replica");
  }
  WLOG_INFO("{}: replicating to {} (local {}, replica {})", db_path(), replica_->Describe(),
            ltx::FormatTxid(syncer_.Position()), ltx::FormatTxid(remote));
  return Status::OK();
}

Status Replicator::SyncUntilCaughtUp() {
  while (true) {
    WALSHIP_ASSIGN_OR_RETURN(SyncResult r, syncer_.SyncOnce());
    if (r.caught_up) return Status::OK();
  }
}

Status Replicator::MaybeSnapshot(bool force) {
  const uint64_t pos = syncer_.Position();
  if (pos == 0) return Status::OK();
  const uint64_t snap = uploader_.snapshot_txid();
  const int64_t now = opts_.syncer.clock->NowMs();
  // Aligned to multiples of the interval, as Litestream (compat 4.1): due
  // unless the newest snapshot was taken after the last boundary. An idle
  // database gets no new snapshot.
  bool due = snap == 0 ||
             (pos > snap && (force || compact::IsDue(now, opts_.snapshot_interval_ms, uploader_.snapshot_time_ms())));
  if (!due) return Status::OK();
  // The snapshot is of the position: nothing may be pending. The WAL may
  // restart (once) under a read mark 0 after a hand-off: then sync again.
  Result<ltx::Header> written = Internal("no snapshot attempt");
  uint64_t at = pos;
  for (int attempt = 0; attempt < 3; attempt++) {
    at = syncer_.Position();
    written = syncer_.WriteSnapshot(JoinPath(LocalSnapshotDir(MetaDir(opts_.syncer)), ltx::FormatFileName(1, at)));
    if (written.ok()) break;
    const Code c = written.status().code();
    if (c != Code::kFailedPrecondition && c != Code::kUnavailable) break;
    WALSHIP_RETURN_IF_ERROR(SyncUntilCaughtUp());
  }
  if (!written.ok()) return written.status();
  const ltx::Header h = *written;
  uploader_.SnapshotWritten(at, h.timestamp_ms);
  WLOG_INFO("{}: snapshot written at {} ({} pages)", db_path(), ltx::FormatTxid(at), h.commit);
  return Status::OK();
}

Status Replicator::CompactDue() {
  WALSHIP_RETURN_IF_ERROR(MakeDirs(CompactTmpDir(opts_.syncer)));
  auto r = compactor_.RunDue();
  return r.ok() ? Status::OK() : r.status();
}

Status Replicator::EnforceRetention() {
  auto s = compactor_.EnforceSnapshotRetention();
  if (!s.ok()) return s.status();
  auto l0 = compactor_.EnforceL0Retention();
  return l0.ok() ? Status::OK() : l0.status();
}

Status Replicator::RunOnce(bool force_snapshot, bool enforce_retention) {
  WALSHIP_RETURN_IF_ERROR(OpenAndReconcile());
  Status s = SyncUntilCaughtUp();
  if (s.ok()) s = MaybeSnapshot(force_snapshot);
  if (s.ok()) {
    auto n = uploader_.UploadPending(syncer_.Position());
    if (!n.ok()) s = n.status();
  }
  if (s.ok() && enforce_retention) s = EnforceRetention();
  Status c = syncer_.Close();
  return s.ok() ? c : s;
}

void Replicator::Start() {
  // Stale outputs of an interrupted compaction.
  if (auto names = ListDir(CompactTmpDir(opts_.syncer)); names.ok()) {
    for (const auto& n : *names) RemoveFile(JoinPath(CompactTmpDir(opts_.syncer), n)).IgnoreError();
  }
  monitor_ = std::jthread([this](std::stop_token st) { MonitorLoop(st); });
  upload_ = std::jthread([this](std::stop_token st) { UploadLoop(st); });
  compact_ = std::jthread([this](std::stop_token st) { CompactLoop(st); });
}

void Replicator::CompactLoop(std::stop_token st) {
  std::string last_error;
  int64_t backoff = 1000;
  while (!st.stop_requested()) {
    // The compactor starts from the uploader's listing of the replica.
    if (!uploader_.initialized()) {
      if (!WaitFor(st, 1000)) break;
      continue;
    }
    Status s = CompactDue();
    if (s.ok()) {
      if (!last_error.empty()) WLOG_INFO("{}: compaction recovered", db_path());
      last_error.clear();
      backoff = 1000;
      if (!WaitFor(st, std::max<int64_t>(compactor_.NextDueInMs(), 10))) break;
      continue;
    }
    if (last_error.empty()) WLOG_ERROR("{}: {} (compaction retries later)", db_path(), s.message());
    else WLOG_DEBUG("{}: compaction still failing: {}", db_path(), s.message());
    last_error = s.message();
    if (!WaitFor(st, backoff)) break;
    backoff = std::min<int64_t>(backoff * 2, kMaxBackoffMs);
  }
}

bool Replicator::WaitFor(std::stop_token& st, int64_t ms) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, st, std::chrono::milliseconds(ms), [] { return false; });
  return !st.stop_requested();
}

void Replicator::MonitorLoop(std::stop_token st) {
  std::string last_error;
  int64_t backoff = opts_.monitor_interval_ms;
  int64_t next_cut = 0;
  int64_t tick = kMinTickMs;
  const bool handoff = opts_.syncer.handoff_frames > 0;
  while (!st.stop_requested()) {
    Status s;
    if (!syncer_.is_open()) s = OpenAndReconcile();
    const int64_t now = opts_.syncer.clock->MonotonicMs();
    const bool cut = now >= next_cut;
    int64_t grew = 0;  // frames captured by this tick
    if (s.ok() && cut) {
      // Every monitor interval: one L0 file with what was captured.
      s = SyncUntilCaughtUp();
      if (s.ok()) s = MaybeSnapshot(false);
      if (s.ok()) {
        auto c = syncer_.MaybeCheckpoint(false);
        if (!c.ok()) s = c.status();
      }
    } else if (s.ok()) {
      // Between cuts: follow the WAL so it can be handed back to the app
      // for a restart before it grows (see DbSyncer).
      auto n = syncer_.Capture();
      if (!n.ok()) s = n.status();
      else grew = *n;
      if (s.ok() && syncer_.pending_bytes() >= opts_.syncer.max_sync_wal_bytes) s = SyncUntilCaughtUp();
    }
    if (s.ok() && cut) {
      next_cut = now + opts_.monitor_interval_ms;
      {
        std::lock_guard lk(mu_);
        upload_wanted_ = true;
      }
      cv_.notify_all();
    }
    if (s.ok() && handoff) {
      auto h = syncer_.MaybeHandOff();
      if (!h.ok()) s = h.status();
    }
    if (s.ok()) {
      if (!last_error.empty()) WLOG_INFO("{}: sync recovered", db_path());
      last_error.clear();
      backoff = opts_.monitor_interval_ms;
    } else {
      if (s.message() != last_error) {
        if (s.code() == Code::kNotFound && !syncer_.is_open()) WLOG_INFO("{}: waiting: {}", db_path(), s.message());
        else WLOG_ERROR("{}", s.message());
      }
      last_error = s.message();
      backoff = std::min<int64_t>(backoff * 2, kMaxBackoffMs);
      if (s.code() == Code::kNotFound) backoff = opts_.monitor_interval_ms;
      next_cut = 0;
      if (!WaitFor(st, backoff)) break;
      continue;
    }
    // Polls fast while the WAL grows, slower while it is idle; never past the next cut.
    int64_t wait = next_cut - opts_.syncer.clock->MonotonicMs();
    if (handoff) {
      if (grew > 0) {
        // Half the time the WAL needs, at this tick's rate, to reach the
        // hand-off size: a slow writer costs few wake-ups.
        const int64_t left = std::max<int64_t>(opts_.syncer.handoff_frames - syncer_.generation_frames(), 0);
        tick = std::clamp<int64_t>(left * tick / (2 * grew), kMinTickMs, kMaxTickMs);
      } else {
        tick = std::min<int64_t>(tick * 2, kMaxTickMs);
      }
      wait = std::min(wait, tick);
    }
    if (wait > 0 && !WaitFor(st, wait)) break;
  }
  // Final sync: everything committed so far goes into a local L0 file. A
  // database created since the last try (an -exec app that made it and
  // exited) is opened first, so that its commits are not left behind.
  if (!syncer_.is_open() && FileExists(db_path())) {
    Status o = OpenAndReconcile();
    if (!o.ok()) WLOG_ERROR("{}: final sync: {}", db_path(), o.message());
  }
  if (syncer_.is_open()) {
    Status s = SyncUntilCaughtUp();
    if (!s.ok()) WLOG_ERROR("{}: final sync: {}", db_path(), s.message());
  }
}

void Replicator::UploadLoop(std::stop_token st) {
  std::string last_error;
  int64_t backoff = opts_.sync_interval_ms;
  int64_t last_upload = 0;
  while (!st.stop_requested()) {
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, st, [&] { return upload_wanted_; });
      if (st.stop_requested()) break;
      upload_wanted_ = false;
    }
    // At most one upload pass per sync interval.
    int64_t since = opts_.syncer.clock->MonotonicMs() - last_upload;
    if (since < opts_.sync_interval_ms && !WaitFor(st, opts_.sync_interval_ms - since)) break;
    last_upload = opts_.syncer.clock->MonotonicMs();
    if (!syncer_.is_open() && !uploader_.initialized()) continue;
    auto n = uploader_.UploadPending(syncer_.Position());
    if (n.ok()) {
      if (!last_error.empty()) WLOG_INFO("{}: replica reachable again; caught up", db_path());
      last_error.clear();
      backoff = opts_.sync_interval_ms;
      continue;
    }
    // Once per state change: the first error of an outage, then the recovery
    // (the same outage fails in several ways: upload, then the re-listing).
    if (last_error.empty()) {
      WLOG_ERROR("{}: {} (retrying; local files are kept)", db_path(), n.status().message());
    } else {
      WLOG_DEBUG("{}: still failing: {}", db_path(), n.status().message());
    }
    last_error = n.status().message();
    if (!WaitFor(st, backoff)) break;
    backoff = std::min<int64_t>(backoff * 2, kMaxBackoffMs);
    std::lock_guard lk(mu_);
    upload_wanted_ = true;
  }
}

Status Replicator::Stop() {
  if (!monitor_.joinable() && !upload_.joinable() && !compact_.joinable()) return final_status_;
  upload_.request_stop();
  monitor_.request_stop();
  compact_.request_stop();
  cv_.notify_all();
  if (compact_.joinable()) compact_.join();
  if (monitor_.joinable()) monitor_.join();
  if (upload_.joinable()) upload_.join();
  // Final upload, retried until the shutdown timeout.
  Status s;
  if (uploader_.initialized()) {
    const int64_t deadline = opts_.syncer.clock->MonotonicMs() + opts_.shutdown_sync_timeout_ms;
    while (true) {
      auto n = uploader_.UploadPending(syncer_.Position());
      s = n.ok() ? Status::OK() : n.status();
      if (s.ok() || opts_.syncer.clock->MonotonicMs() >= deadline) break;
      WLOG_WARN("{}: final upload failed, retrying: {}", db_path(), s.message());
      std::this_thread::sleep_for(std::chrono::milliseconds(opts_.shutdown_sync_interval_ms));
    }
  }
  Status c = syncer_.Close();
  final_status_ = s.ok() ? c : s;
  return final_status_;
}

}  // namespace walship::replicate
