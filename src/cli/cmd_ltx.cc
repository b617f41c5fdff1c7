#include <nlohmann/json.hpp>

#include <cstdio>

#include "base/file.h"
#include "base/timefmt.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/exit_codes.h"
#include "ltx/format.h"
#include "daemon/daemon.h"
#include "storage/url.h"

namespace walship::cli {

// Opens the replica named by the positional argument of ltx/restore: with
// -config a database path, else a replica URL or directory.
Result<std::shared_ptr<replica::Replica>> ResolveReplica(const std::string& arg, const std::string& config_path,
                                                         bool expand_env, std::string* db_path) {
  if (config_path.empty()) return OpenReplica(arg);
  WALSHIP_ASSIGN_OR_RETURN(daemon::Config cfg, LoadConfig(config_path, expand_env));
  WALSHIP_ASSIGN_OR_RETURN(daemon::DbConfig db, FindDb(cfg, arg, config_path));
  if (db_path) *db_path = db.path;
  WALSHIP_ASSIGN_OR_RETURN(daemon::DbJob job, daemon::JobFromConfig(cfg, db));
  return daemon::OpenJobReplica(job);
}

int CmdLtx(std::vector<std::string> args) {
  CLI::App app{"List the LTX files of a replica.\n\nUsage: walship ltx [flags] REPLICA_URL | -config FILE DB_PATH",
               "ltx"};
  std::string config_path, level_s = "0", target;
  bool no_expand_env = false, json = false;
  app.add_option("--config", config_path, "config file; the argument is then a database path");
  app.add_flag("--no-expand-env", no_expand_env, "do not expand $VARS in the config file");
  app.add_flag("--json", json, "print JSON");
  app.add_option("--level", level_s, "level 0..9 or 'all' (default 0)");
  app.add_option("target", target, "REPLICA_URL, directory, or (with -config) DB_PATH")->required();
  if (auto rc = Parse(app, args)) return *rc;
  SetupLogging("warn");
  std::vector<int> levels;
  if (level_s == "all") {
    for (int l = 0; l <= ltx::kMaxLevel; l++) levels.push_back(l);
  } else {
    if (level_s.empty() || level_s.size() > 1 || level_s[0] < '0' || level_s[0] > '9') {
      return Fail(InvalidArgument("invalid -level \"" + level_s + "\": want 0..9 or all"));
    }
    levels.push_back(level_s[0] - '0');
  }
  auto r = ResolveReplica(target, config_path, !no_expand_env, nullptr);
  if (!r.ok()) return Fail(r.status());
  std::vector<replica::LtxFileInfo> all;
  for (int level : levels) {
    auto files = (*r)->ListLevel(level);
    if (!files.ok()) return Fail(files.status().WithContext("ltx"));
    all.insert(all.end(), files->begin(), files->end());
  }
  if (json) {
    std::printf("%s\n", LtxFilesJson(all).dump(2).c_str());
  } else {
    PrintLtxTable(all);
  }
  return kExitOk;
}

}  // namespace walship::cli
