#pragma once
// The set of replicated databases in one `walship replicate` process, and its
// signals. SIGINT/SIGTERM: every database does one final sync and upload
// (bounded by shutdown-sync-timeout), then the process exits 0. With an exec
// command (exec.h) the signals go to the child first, and its exit stops
// replication the same way.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "daemon/config.h"
#include "replica/replica.h"
#include "replicate/replicator.h"
#include "storage/url.h"

namespace walship::daemon {

struct DbJob {
  replicate::ReplicatorOptions opts;
  std::string replica_url;                    // file:///dir, a directory, or s3://...
  std::optional<storage::S3Options> s3;       // from config keys (type: s3); wins over replica_url
  // Restore the database from the replica before replicating if its file is
  // missing (restore-if-db-not-exists / -restore-if-db-not-exists).
  bool restore_if_db_not_exists = false;
};

// Opens a job's replica. Object-store replicas are wrapped in a RetryingStore
// (backoff with jitter on retryable errors, a bounded attempt count).
Result<std::shared_ptr<replica::Replica>> OpenJobReplica(const DbJob& job);
// Opens a replica URL or directory the same way (CLI restore/ltx).
Result<std::shared_ptr<replica::Replica>> OpenReplicaUrlWithRetries(const std::string& url);
// S3 options from a replica's config keys (url first, then explicit keys override).
Result<storage::S3Options> S3OptionsFromConfig(const ReplicaConfig& rc);

// One database's job from the config.
Result<DbJob> JobFromConfig(const Config& cfg, const DbConfig& db);
// Turns a parsed config into jobs (one per database).
Result<std::vector<DbJob>> JobsFromConfig(const Config& cfg);

// restore-if-db-not-exists, for one job: if the database file does not exist,
// restores the replica's latest state into it (temp file, quick integrity
// check, moved into place: restore::ApplyPlan). Returns whether it restored.
// A replica with no backups is not an error (false: the application will
// create the database); any other failure is, with nothing left at the path
// (a stale -wal or -shm beside it is kAlreadyExists, as for restore).
// `progress` is restore::RestoreOptions::progress.
Result<bool> RestoreIfMissing(const DbJob& job, const std::function<void(uint64_t, uint64_t)>& progress);

// Blocks SIGINT, SIGTERM and SIGCHLD in the calling thread (call before
// starting threads: RunForeground waits for them with sigwait) and ignores
// SIGPIPE.
void BlockStopSignals();

// Runs every job until SIGINT or SIGTERM, then stops them all. With a
// non-empty exec_argv, starts that command once replication runs and stops
// when it exits instead: SIGINT/SIGTERM are forwarded to it (and walship
// waits for it). The child's failure is the result (kInternal, "exec: ...
// exited with code N"), unless it ended by the signal walship forwarded;
// else the first replicator's failure. Every database gets its final sync
// and upload either way.
Status RunForeground(std::vector<DbJob> jobs, const std::vector<std::string>& exec_argv = {});
// -once: sync every database once (snapshot if due or forced), upload, return.
Status RunOnce(std::vector<DbJob> jobs, bool force_snapshot, bool enforce_retention = false);

}  // namespace walship::daemon
