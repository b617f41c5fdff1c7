#include "daemon/daemon.h"

#include <pthread.h>
#include <signal.h>

#include <memory>
#include <thread>

#include "base/log.h"
#include "replica/replica.h"
#include "storage/url.h"

namespace walship::daemon {

Result<std::vector<DbJob>> JobsFromConfig(const Config& cfg) {
  std::vector<DbJob> jobs;
  for (const auto& db : cfg.dbs) {
    DbJob j;
    auto& o = j.opts;
    o.syncer.db_path = db.path;
    o.syncer.meta_dir = db.meta_path;
    o.syncer.busy_timeout_ms = int(db.busy_timeout_ms);
    o.syncer.min_checkpoint_page_count = db.min_checkpoint_page_count;
    o.syncer.checkpoint_interval_ms = db.checkpoint_interval_ms;
    o.syncer.max_sync_wal_bytes = db.max_sync_wal_bytes > 0 ? uint64_t(db.max_sync_wal_bytes) : UINT64_MAX;
    o.monitor_interval_ms = db.monitor_interval_ms;
    o.sync_interval_ms = db.replica.sync_interval_ms;
    o.snapshot_interval_ms = cfg.snapshot_interval_ms;
    o.shutdown_sync_timeout_ms = cfg.shutdown_sync_timeout_ms;
    o.shutdown_sync_interval_ms = cfg.shutdown_sync_interval_ms;
    if (!db.replica.url.empty()) {
      j.replica_url = db.replica.url;
    } else if (!db.replica.path.empty()) {
      j.replica_url = db.replica.path;
    } else {
      return InvalidArgument("database " + db.path + ": replica has neither url nor path");
    }
    if (db.replica.type != "file" && db.replica.type != "") {
      return InvalidArgument("database " + db.path + ": replica type " + db.replica.type +
                             " is not built yet (only file replicas are)");
    }
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
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

namespace {

Result<std::vector<std::unique_ptr<replicate::Replicator>>> MakeReplicators(std::vector<DbJob>& jobs) {
  std::vector<std::unique_ptr<replicate::Replicator>> reps;
  for (auto& j : jobs) {
    auto opened = storage::OpenReplicaUrl(j.replica_url);
    if (!opened.ok()) return opened.status().WithContext("database " + j.opts.syncer.db_path);
    auto replica = std::make_shared<replica::Replica>(std::move(opened).value());
    reps.push_back(std::make_unique<replicate::Replicator>(j.opts, std::move(replica)));
  }
  return reps;
}

}  // namespace

Status RunForeground(std::vector<DbJob> jobs) {
  WALSHIP_ASSIGN_OR_RETURN(auto reps, MakeReplicators(jobs));
  // Open every database now so that a second replicate on the same database
  // refuses to start; a missing database or an unreachable replica is only
  // logged: the monitor keeps trying.
  for (auto& r : reps) {
    Status s = r->OpenAndReconcile();
    if (s.code() == Code::kAlreadyExists || s.code() == Code::kInvalidArgument) return s;
    if (!s.ok()) WLOG_WARN("{}: {} (will retry)", r->db_path(), s.message());
  }
  for (auto& r : reps) r->Start();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  WLOG_INFO("received signal {}: final sync and upload", sig == SIGINT ? "SIGINT" : "SIGTERM");
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

Status RunOnce(std::vector<DbJob> jobs, bool force_snapshot) {
  WALSHIP_ASSIGN_OR_RETURN(auto reps, MakeReplicators(jobs));
  Status first;
  for (auto& r : reps) {
    Status s = r->RunOnce(force_snapshot);
    if (!s.ok()) {
      WLOG_ERROR("{}: {}", r->db_path(), s.message());
      if (first.ok()) first = s;
    }
  }
  return first;
}

}  // namespace walship::daemon
