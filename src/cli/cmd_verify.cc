// walship verify: check a replica without restoring (chain, checksums, window).
#include <nlohmann/json.hpp>

#include <cstdio>

#include "base/clock.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "ltx/format.h"
#include "restore/verify.h"

namespace walship::cli {

Result<std::shared_ptr<replica::Replica>> ResolveReplica(const std::string& arg, const std::string& config_path,
                                                         bool expand_env, std::string* db_path);

namespace {

// 4 when any object is corrupt, else 7 for chain problems, else the code of
// the first other problem (storage errors while reading).
int ExitCodeForReport(const restore::VerifyReport& rep) {
  if (rep.ok()) return kExitOk;
  if (rep.HasCode(Code::kCorruption)) return kExitCorruption;
  if (rep.HasCode(Code::kFailedPrecondition)) return kExitPrecondition;
  return ExitCodeFor(Status(rep.problems[0].code, rep.problems[0].problem));
}

nlohmann::json ReportJson(const restore::VerifyReport& rep) {
  nlohmann::json levels = nlohmann::json::array();
  for (const auto& l : rep.levels) {
    levels.push_back({{"level", l.level},
                      {"files", l.files},
                      {"bytes", l.bytes},
                      {"min_txid", ltx::FormatTxid(l.min_txid)},
                      {"max_txid", ltx::FormatTxid(l.max_txid)}});
  }
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : rep.problems) {
    problems.push_back({{"key", p.key}, {"problem", p.problem}, {"code", std::string(CodeName(p.code))}});
  }
  nlohmann::json j = {{"replica", rep.replica}, {"ok", rep.ok()},       {"files", rep.files},
                      {"bytes", rep.bytes},     {"bytes_read", rep.bytes_read}, {"vanished", rep.vanished},
                      {"page_size", rep.page_size}, {"levels", levels}, {"problems", problems},
                      {"reachable_txid", rep.window ? nlohmann::json(ltx::FormatTxid(rep.reachable_txid)) : nullptr}};
  if (rep.window) {
    j["window"] = {{"first_txid", ltx::FormatTxid(rep.window->first_txid)},
                   {"first_time", FormatRfc3339Ms(rep.window->first_ms)},
                   {"last_txid", ltx::FormatTxid(rep.window->last_txid)},
                   {"last_time", FormatRfc3339Ms(rep.window->last_ms)}};
  } else {
    j["window"] = nullptr;
  }
  if (rep.exact_from_txid) {
    j["exact_from_txid"] = ltx::FormatTxid(*rep.exact_from_txid);
    j["exact_from_time"] = FormatRfc3339Ms(rep.exact_from_ms);
  } else {
    j["exact_from_txid"] = nullptr;
    j["exact_from_time"] = nullptr;
  }
  return j;
}

void PrintReport(const restore::VerifyReport& rep, int64_t ms) {
  std::printf("replica: %s\n", rep.replica.c_str());
  std::printf("%-6s %8s %12s  %-16s  %-16s\n", "level", "files", "size", "min_txid", "max_txid");
  for (const auto& l : rep.levels) {
    std::printf("%-6d %8llu %12s  %-16s  %-16s\n", l.level, static_cast<unsigned long long>(l.files),
                FormatBytes(l.bytes).c_str(), ltx::FormatTxid(l.min_txid).c_str(), ltx::FormatTxid(l.max_txid).c_str());
  }
  std::printf("%-6s %8llu %12s\n", "total", static_cast<unsigned long long>(rep.files), FormatBytes(rep.bytes).c_str());
  if (rep.window) {
    std::printf("restorable:      TXID %s (%s) to TXID %s (%s)\n", ltx::FormatTxid(rep.window->first_txid).c_str(),
                FormatRfc3339Ms(rep.window->first_ms).c_str(), ltx::FormatTxid(rep.window->last_txid).c_str(),
                FormatRfc3339Ms(rep.window->last_ms).c_str());
    if (rep.reachable_txid < rep.window->last_txid) {
      std::printf("                 but the TXID chain breaks after TXID %s: later points cannot be restored\n",
                  ltx::FormatTxid(rep.reachable_txid).c_str());
    }
  } else {
    std::printf("restorable:      nothing (no snapshot)\n");
  }
  if (rep.exact_from_txid) {
    std::printf("per transaction: TXID %s (%s) to TXID %s\n", ltx::FormatTxid(*rep.exact_from_txid).c_str(),
                FormatRfc3339Ms(rep.exact_from_ms).c_str(), ltx::FormatTxid(rep.window->last_txid).c_str());
  } else if (rep.window) {
    std::printf("per transaction: none (the latest point cannot be restored)\n");
  }
  std::printf("checked %llu files (%s read, page size %u) in %.2fs: %s\n", static_cast<unsigned long long>(rep.files),
              FormatBytes(rep.bytes_read).c_str(), rep.page_size, double(ms) / 1000.0,
              rep.ok() ? "OK" : (std::to_string(rep.problems.size()) + " problem(s)").c_str());
}

}  // namespace

int CmdVerify(std::vector<std::string> args) {
  CLI::App app{
      "Check a replica without restoring: the TXID chain of every level, every file's checksum and\n"
      "header, and the restorable window. Exit 0 when OK; 4 when a file is corrupt; 7 when the chain\n"
      "has gaps, overlaps or unreachable points (4 if both); 3 when the replica holds no backups.\n\n"
      "Usage: walship verify [flags] REPLICA_URL\n"
      "       walship verify -config FILE [flags] DB_PATH",
      "verify"};
  std::string config_path, log_level = "warn", target;
  bool no_expand_env = false, json = false;
  int parallelism = 8;
  app.add_option("--config", config_path, "config file; the argument is then a database path");
  app.add_flag("--no-expand-env", no_expand_env, "do not expand $VARS in the config file");
  app.add_option("--parallelism", parallelism, "files downloaded and checked at once (default 8)");
  app.add_flag("--json", json, "print the report as one JSON object");
  app.add_option("--log-level", log_level, "trace, debug, info, warn (default), error");
  app.add_option("target", target, "REPLICA_URL, directory, or (with -config) DB_PATH")->required();
  if (auto rc = Parse(app, args)) return *rc;
  SetupLogging(log_level);
  if (parallelism < 1) return Fail(InvalidArgument("-parallelism must be at least 1"));

  auto replica = ResolveReplica(target, config_path, !no_expand_env, nullptr);
  if (!replica.ok()) return Fail(replica.status());
  const int64_t start = SystemClock::Default()->MonotonicMs();
  Progress progress("verify");
  restore::VerifyOptions opts;
  opts.parallelism = parallelism;
  opts.progress = [&](uint64_t done, uint64_t total) { progress.Update(done, total); };
  auto rep = restore::Verify(**replica, opts);
  progress.Finish();
  if (!rep.ok()) return Fail(rep.status().WithContext("verify"));
  const int64_t ms = SystemClock::Default()->MonotonicMs() - start;
  if (json) {
    nlohmann::json j = ReportJson(*rep);
    j["duration_ms"] = ms;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    PrintReport(*rep, ms);
  }
  std::fflush(stdout);
  if (rep->vanished) {
    std::fprintf(stderr, "walship verify: %llu file(s) were deleted while verifying (compaction or retention of a "
                 "live replica); run verify again for a full check\n", static_cast<unsigned long long>(rep->vanished));
  }
  for (const auto& p : rep->problems) {
    std::fprintf(stderr, "walship verify: %s: %s\n", p.key.c_str(), p.problem.c_str());
  }
  return ExitCodeForReport(*rep);
}

}  // namespace walship::cli
