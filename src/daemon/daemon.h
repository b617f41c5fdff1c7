#pragma once
// The set of replicated databases in one `walship replicate` process, and its
// signals. SIGINT/SIGTERM: every database does one final sync and upload
// (bounded by shutdown-sync-timeout), then the process exits 0.

#include <string>
#include <vector>

#include "base/status.h"
#include "daemon/config.h"
#include "replicate/replicator.h"

namespace walship::daemon {

struct DbJob {
  replicate::ReplicatorOptions opts;
  std::string replica_url;
};

// Turns a parsed config into jobs (one per database).
Result<std::vector<DbJob>> JobsFromConfig(const Config& cfg);

// Blocks SIGINT/SIGTERM in the calling thread (call before starting threads).
void BlockStopSignals();

// Runs every job until SIGINT or SIGTERM, then stops them all.
Status RunForeground(std::vector<DbJob> jobs);
// -once: sync every database once (snapshot if due or forced), upload, return.
Status RunOnce(std::vector<DbJob> jobs, bool force_snapshot);

}  // namespace walship::daemon
