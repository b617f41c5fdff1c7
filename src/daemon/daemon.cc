#include "daemon/daemon.h"

#include <pthread.h>
#include <signal.h>

#include <memory>
#include <thread>

#include "base/file.h"
#include "base/log.h"
#include "daemon/exec.h"
#include "ltx/format.h"
#include "replica/replica.h"
#include "replicate/local_state.h"
#include "restore/restore.h"
#include "storage/retry/retrying_store.h"
#include "storage/s3/options.h"
#include "storage/url.h"

namespace walship::daemon {

Result<DbJob> JobFromConfig(const Config& cfg, const DbConfig& db) {
  DbJob j;
  auto& o = j.opts;
  o.syncer.db_path = db.path;
  o.syncer.meta_dir = db.meta_path;
  o.syncer.busy_timeout_ms = int(db.busy_timeout_ms);
  o.syncer.min_checkpoint_page_count = db.min_checkpoint_page_count;
  o.syncer.handoff_frames = db.handoff_frames;
  o.syncer.checkpoint_interval_ms = db.checkpoint_interval_ms;
  o.syncer.max_sync_wal_bytes = db.max_sync_wal_bytes > 0 ? uint64_t(db.max_sync_wal_bytes) : UINT64_MAX;
  o.monitor_interval_ms = db.monitor_interval_ms;
  o.sync_interval_ms = db.replica.sync_interval_ms;
  o.snapshot_interval_ms = cfg.snapshot_interval_ms;
  o.compact.level_intervals_ms = cfg.levels;
  o.compact.snapshot_retention_ms = cfg.snapshot_retention_ms;
  o.compact.l0_retention_ms = cfg.l0_retention_ms;
  o.compact.l0_retention_check_interval_ms = cfg.l0_retention_check_interval_ms;
  o.compact.retention_enabled = cfg.retention_enabled;
  o.shutdown_sync_timeout_ms = cfg.shutdown_sync_timeout_ms;
  o.shutdown_sync_interval_ms = cfg.shutdown_sync_interval_ms;
  j.restore_if_db_not_exists = db.restore_if_db_not_exists;
  if (db.replica.type == "s3") {
    auto s3 = S3OptionsFromConfig(db.replica);
    if (!s3.ok()) return s3.status().WithContext("database " + db.path + ": replica");
    j.s3 = std::move(s3).value();
    j.replica_url = db.replica.url;
  } else if (db.replica.type == "file" || db.replica.type.empty()) {
    j.replica_url = !db.replica.path.empty() ? db.replica.path : db.replica.url;
    if (j.replica_url.empty()) return InvalidArgument("database " + db.path + ": replica has neither url nor path");
  } else {
    return InvalidArgument("database " + db.path + ": replica type " + db.replica.type + " is not supported");
  }
  return j;
}

Result<std::vector<DbJob>> JobsFromConfig(const Config& cfg) {
  std::vector<DbJob> jobs;
  for (const auto& db : cfg.dbs) {
    WALSHIP_ASSIGN_OR_RETURN(DbJob j, JobFromConfig(cfg, db));
    jobs.push_back(std::move(j));
  }
  if (jobs.empty()) return InvalidArgument("no databases configured");
  return jobs;
}

void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

Result<storage::S3Options> S3OptionsFromConfig(const ReplicaConfig& rc) {
  storage::S3Options o;
  if (!rc.url.empty()) {
    WALSHIP_ASSIGN_OR_RETURN(o, storage::s3::ParseS3Url(rc.url));
  }
  if (!rc.bucket.empty()) o.bucket = rc.bucket;
  if (!rc.path.empty()) o.prefix = storage::s3::LitestreamPrefix(rc.path);
  if (!rc.endpoint.empty()) o.endpoint = rc.endpoint;
  if (!rc.region.empty()) o.region = rc.region;
  if (!rc.access_key_id.empty()) o.access_key_id = rc.access_key_id;
  if (!rc.secret_access_key.empty()) o.secret_access_key = rc.secret_access_key;
  if (rc.force_path_style) o.force_path_style = *rc.force_path_style;
  if (rc.sign_payload) o.sign_payload = *rc.sign_payload;
  if (rc.require_content_md5) o.require_content_md5 = *rc.require_content_md5;
  if (rc.skip_verify) o.skip_verify = true;
  if (rc.part_size) o.part_size = *rc.part_size;
  if (rc.concurrency) o.concurrency = *rc.concurrency;
  if (!rc.storage_class.empty()) o.storage_class = rc.storage_class;
  if (o.bucket.empty()) return InvalidArgument("s3 replica needs a bucket (bucket: or url: s3://BUCKET/...)");
  return o;
}

namespace {

std::shared_ptr<replica::Replica> WithRetries(storage::OpenedReplica r) {
  if (r.layout != storage::KeyLayout::kFile) {
    storage::RetryOptions ro;
    ro.max_elapsed_ms = 120'000;  // the uploader's own backoff takes over after that
    r.store = std::make_shared<storage::RetryingStore>(std::move(r.store), ro);
  }
  return std::make_shared<replica::Replica>(std::move(r));
}

Result<std::vector<std::unique_ptr<replicate::Replicator>>> MakeReplicators(std::vector<DbJob>& jobs) {
  std::vector<std::unique_ptr<replicate::Replicator>> reps;
  for (auto& j : jobs) {
    auto replica = OpenJobReplica(j);
    if (!replica.ok()) return replica.status().WithContext("database " + j.opts.syncer.db_path);
    reps.push_back(std::make_unique<replicate::Replicator>(j.opts, std::move(replica).value()));
  }
  return reps;
}

}  // namespace

Result<std::shared_ptr<replica::Replica>> OpenJobReplica(const DbJob& job) {
  if (job.s3) {
    WALSHIP_ASSIGN_OR_RETURN(storage::OpenedReplica r, storage::OpenS3Replica(*job.s3));
    return WithRetries(std::move(r));
  }
  return OpenReplicaUrlWithRetries(job.replica_url);
}

Result<std::shared_ptr<replica::Replica>> OpenReplicaUrlWithRetries(const std::string& url) {
  WALSHIP_ASSIGN_OR_RETURN(storage::OpenedReplica r, storage::OpenReplicaUrl(url));
  return WithRetries(std::move(r));
}

Result<bool> RestoreIfMissing(const DbJob& job, const std::function<void(uint64_t, uint64_t)>& progress) {
  const std::string& db = job.opts.syncer.db_path;
  if (FileExists(db)) return false;
  const std::string what = "restore-if-db-not-exists: " + db;
  auto replica = OpenJobReplica(job);
  if (!replica.ok()) return replica.status().WithContext(what);
  restore::RestoreOptions o;
  o.output = db;
  o.integrity = restore::IntegrityCheck::kQuick;
  o.progress = progress;
  auto plan = restore::PlanRestore(**replica, o.point);
  if (!plan.ok()) {
    if (plan.status().code() != Code::kNotFound) return plan.status().WithContext(what);
    WLOG_WARN("{}: no backup in {} ({}): starting without one", db, (*replica)->Describe(), plan.status().message());
    return false;
  }
  WLOG_INFO("{}: the database does not exist: restoring it from {} at TXID {} ({} files)", db, (*replica)->Describe(),
            ltx::FormatTxid(plan->txid), plan->files.size());
  auto res = restore::ApplyPlan(**replica, *plan, o);
  if (!res.ok()) return res.status().WithContext(what);
  WLOG_INFO("{}: restored at TXID {} ({} pages of {} bytes; quick_check ok)", db, ltx::FormatTxid(plan->txid),
            res->pages, res->page_size);
  // So that the first sync continues the replica instead of uploading the
  // whole database again (it checks the file is still this state).
  Status rec = replicate::RecordRestoredState(db, job.opts.syncer.meta_dir, plan->txid);
  if (!rec.ok()) WLOG_WARN("{}: the next sync will write a full L0 file: {}", db, rec.message());
  return true;
}

namespace {

// Stops every replicator (each one's final sync and upload, in parallel).
// Returns the first failure, with its database's path.
Status StopAll(std::vector<std::unique_ptr<replicate::Replicator>>& reps) {
  Status first;
  std::vector<std::thread> stoppers;
  std::vector<Status> results(reps.size());
  for (size_t i = 0; i < reps.size(); i++) {
    stoppers.emplace_back([&, i] { results[i] = reps[i]->Stop(); });
  }
  for (auto& t : stoppers) t.join();
  for (size_t i = 0; i < reps.size(); i++) {
    if (!results[i].ok()) {
      WLOG_ERROR("{}: {}", reps[i]->db_path(), results[i].message());
      if (first.ok()) first = results[i].WithContext(reps[i]->db_path());
    }
  }
  if (first.ok()) WLOG_INFO("stopped cleanly");
  return first;
}

const char* SignalName(int sig) { return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal"; }

// Waits (sigwait) until a stop signal arrives, or with a child, until it
// exits (stop signals are forwarded to it meanwhile). Returns the child's
// failure, if it is one.
Status WaitForStop(ChildProcess* child, const std::string& command) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGCHLD);
  bool forwarded = false;
  for (;;) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGCHLD) {
      if (!child) continue;
      std::optional<ChildExit> e = child->Poll();
      if (!e) continue;
      WLOG_INFO("exec: {} {}: final sync and upload", command, e->Describe());
      // As Litestream: after a forwarded signal, dying of a signal is the
      // expected end; a non-zero exit code is still a failure.
      if (e->ok() || (forwarded && e->signaled)) return Status::OK();
      return Internal("exec: " + command + " " + e->Describe());
    }
    if (!child) {
      WLOG_INFO("received {}: final sync and upload", SignalName(sig));
      return Status::OK();
    }
    WLOG_INFO("received {}: forwarding it to {} (pid {}) and waiting for it to exit", SignalName(sig), command,
              child->pid());
    child->Signal(sig);
    forwarded = true;
  }
}

}  // namespace

Status RunForeground(std::vector<DbJob> jobs, const std::vector<std::string>& exec_argv) {
  WALSHIP_ASSIGN_OR_RETURN(auto reps, MakeReplicators(jobs));
  // Open every database now so that a second replicate on the same database
  // refuses to start; a missing database or an unreachable replica is only
  // logged: the monitor keeps trying.
  for (auto& r : reps) {
    Status s = r->OpenAndReconcile();
    if (s.code() == Code::kAlreadyExists || s.code() == Code::kInvalidArgument) return s;
    // A missing database is reported by the monitor, which waits for it.
    if (!s.ok() && s.code() != Code::kNotFound) WLOG_WARN("{}: {} (will retry)", r->db_path(), s.message());
  }
  for (auto& r : reps) r->Start();
  std::optional<ChildProcess> child;
  if (!exec_argv.empty()) {
    auto c = ChildProcess::Spawn(exec_argv);
    if (!c.ok()) {
      StopAll(reps).IgnoreError();  // logged there
      return c.status();
    }
    child.emplace(std::move(c).value());
    WLOG_INFO("exec: started {} (pid {})", exec_argv[0], child->pid());
  }
  Status child_status = WaitForStop(child ? &*child : nullptr, exec_argv.empty() ? "" : exec_argv[0]);
  Status stopped = StopAll(reps);
  return child_status.ok() ? stopped : child_status;
}

Status RunOnce(std::vector<DbJob> jobs, bool force_snapshot, bool enforce_retention) {
  WALSHIP_ASSIGN_OR_RETURN(auto reps, MakeReplicators(jobs));
  Status first;
  for (auto& r : reps) {
    Status s = r->RunOnce(force_snapshot, enforce_retention);
    if (!s.ok()) {
      WLOG_ERROR("{}: {}", r->db_path(), s.message());
      if (first.ok()) first = s;
    }
  }
  return first;
}

}  // namespace walship::daemon
