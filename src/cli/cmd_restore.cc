#include <nlohmann/json.hpp>

#include <cstdio>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "base/clock.h"
#include "base/file.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "ltx/format.h"
#include "restore/restore.h"

namespace walship::cli {

Result<std::shared_ptr<replica::Replica>> ResolveReplica(const std::string& arg, const std::string& config_path,
                                                         bool expand_env, std::string* db_path);

namespace {

void PrintPlan(const restore::Plan& plan, bool json) {
  if (json) {
    nlohmann::json j = {{"txid", ltx::FormatTxid(plan.txid)}, {"timestamp", FormatRfc3339Ms(plan.timestamp_ms)},
                        {"bytes", plan.bytes}, {"files", LtxFilesJson(plan.files)}};
    std::printf("%s\n", j.dump(2).c_str());
    return;
  }
  PrintLtxTable(plan.files);
  std::printf("restore to TXID %s (%s): %zu files, %s\n", ltx::FormatTxid(plan.txid).c_str(),
              FormatRfc3339Ms(plan.timestamp_ms).c_str(), plan.files.size(), FormatBytes(plan.bytes).c_str());
}

}  // namespace

int CmdRestore(std::vector<std::string> args) {
  CLI::App app{
      "Rebuild a database from a replica at the latest point, a TXID or a timestamp.\n\n"
      "Usage: walship restore -o OUT [flags] REPLICA_URL\n"
      "       walship restore -config FILE [-o OUT] [flags] DB_PATH",
      "restore"};
  std::string config_path, output, txid_s, ts_s, integrity = "quick", log_level = "info", target;
  bool no_expand_env = false, if_db_not_exists = false, if_replica_exists = false, dry_run = false, force = false,
       json = false;
  int parallelism = 8;
  app.add_option("--config", config_path, "config file; the argument is then a database path");
  app.add_flag("--no-expand-env", no_expand_env, "do not expand $VARS in the config file");
  app.add_option("-o,--output", output, "output database path (default with -config: the database's path)");
  app.add_option("--txid", txid_s, "restore the state after this TXID (hex, e.g. 000000000000002a)");
  app.add_option("--timestamp", ts_s, "restore the state at this time (RFC 3339, e.g. 2026-01-02T15:04:05Z)");
  app.add_flag("--if-db-not-exists", if_db_not_exists, "exit 0 without restoring if the output exists");
  app.add_flag("--if-replica-exists", if_replica_exists, "exit 0 without restoring if the replica has no backups");
  app.add_option("--parallelism", parallelism, "concurrent ranged downloads (default 8)");
  app.add_flag("--dry-run", dry_run, "print the plan and exit");
  app.add_flag("--force", force, "replace an existing output (and its -wal/-shm)");
  app.add_flag("--json", json, "print the result as JSON");
  app.add_option("--integrity-check", integrity, "none, quick (default) or full");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  app.add_option("target", target, "REPLICA_URL, directory, or (with -config) DB_PATH")->required();
  if (auto rc = Parse(app, args)) return *rc;
  SetupLogging(log_level);

  restore::RestoreOptions opts;
  if (!txid_s.empty() && !ts_s.empty()) return Fail(InvalidArgument("use -txid or -timestamp, not both"));
  if (!txid_s.empty()) {
    auto t = ltx::ParseTxid(txid_s);
    if (!t.ok()) return Fail(t.status().WithContext("-txid"));
    opts.point.txid = *t;
  }
  if (!ts_s.empty()) {
    auto t = ParseRfc3339(ts_s);
    if (!t.ok()) return Fail(t.status().WithContext("-timestamp"));
    opts.point.timestamp_ms = *t;
  }
  if (integrity == "none") opts.integrity = restore::IntegrityCheck::kNone;
  else if (integrity == "quick") opts.integrity = restore::IntegrityCheck::kQuick;
  else if (integrity == "full") opts.integrity = restore::IntegrityCheck::kFull;
  else return Fail(InvalidArgument("invalid -integrity-check \"" + integrity + "\": want none, quick or full"));
  if (parallelism < 1) return Fail(InvalidArgument("-parallelism must be at least 1"));

  std::string db_path;
  auto replica = ResolveReplica(target, config_path, !no_expand_env, &db_path);
  if (!replica.ok()) return Fail(replica.status());
  if (output.empty()) output = db_path;
  if (output.empty() && !dry_run) return Fail(InvalidArgument("-o OUT is required when restoring from a replica URL"));
  if (!output.empty()) output = AbsPath(output);
  opts.output = output;
  opts.force = force;
  opts.parallelism = parallelism;

  if (if_db_not_exists && !output.empty() && FileExists(output)) {
    std::fprintf(stderr, "walship: %s already exists; skipping restore (-if-db-not-exists)\n", output.c_str());
    return kExitOk;
  }
  if (!dry_run) {
    Status s = restore::CheckOutput(output, force);
    if (!s.ok()) return Fail(s);
  }
  auto plan = restore::PlanRestore(**replica, opts.point);
  if (!plan.ok()) {
    if (plan.status().code() == Code::kNotFound && if_replica_exists) {
      std::fprintf(stderr, "walship: %s; nothing to restore (-if-replica-exists)\n", plan.status().message().c_str());
      return kExitOk;
    }
    return Fail(plan.status().WithContext("restore"));
  }
  if (dry_run) {
    PrintPlan(*plan, json);
    return kExitOk;
  }
#ifdef __GLIBC__
  // Restore threads allocate and free read, write and transfer buffers.
  // glibc's adaptive mmap threshold would move them into per-thread arenas
  // that keep their peak: a fixed threshold returns them, and few arenas
  // keep the worker threads' small allocations from each holding its own.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_ARENA_MAX, 2);
#endif
  const int64_t start = SystemClock::Default()->MonotonicMs();
  Progress progress("restore " + BaseName(output));
  opts.progress = [&](uint64_t done, uint64_t total) { progress.Update(done, total); };
  auto res = restore::ApplyPlan(**replica, *plan, opts);
  progress.Finish();
  if (!res.ok()) return Fail(res.status());
  const int64_t ms = SystemClock::Default()->MonotonicMs() - start;
  if (res->bytes_resumed > 0 && !json) {
    std::fprintf(stderr, "resumed: %s were already fetched by an interrupted run\n",
                 FormatBytes(res->bytes_resumed).c_str());
  }
  if (json) {
    nlohmann::json j = {{"db_path", output},
                        {"replica", (*replica)->Describe()},
                        {"txid", ltx::FormatTxid(res->plan.txid)},
                        {"timestamp", FormatRfc3339Ms(res->plan.timestamp_ms)},
                        {"pages", res->pages},
                        {"bytes_read", res->bytes_read},
                        {"bytes_resumed", res->bytes_resumed},
                        {"duration_ms", ms},
                        {"integrity_check", integrity}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::fprintf(stderr, "restored %s at TXID %s (%s): %u pages from %zu files, %s read in %.2fs\n", output.c_str(),
                 ltx::FormatTxid(res->plan.txid).c_str(), FormatRfc3339Ms(res->plan.timestamp_ms).c_str(), res->pages,
                 res->plan.files.size(), FormatBytes(res->bytes_read).c_str(), double(ms) / 1000.0);
  }
  return kExitOk;
}

}  // namespace walship::cli
