#pragma once
// The set of replicated databases in one `walship replicate` process, and its
// signals. SIGINT/SIGTERM: every database does one final sync and upload
// (bounded by shutdown-sync-timeout), then the process exits 0.

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

// Blocks SIGINT/SIGTERM in the calling thread (call before starting threads).
void BlockStopSignals();

// Runs every job until SIGINT or SIGTERM, then stops them all.
Status RunForeground(std::vector<DbJob> jobs);
// -once: sync every database once (snapshot if due or forced), upload, return.
Status RunOnce(std::vector<DbJob> jobs, bool force_snapshot, bool enforce_retention = false);

}  // namespace walship::daemon
