#include <cstdio>

#include "base/file.h"
#include "base/log.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "daemon/daemon.h"
#include "daemon/exec.h"

namespace walship::cli {

int CmdReplicate(std::vector<std::string> args) {
  CLI::App app{
      "Replicate SQLite databases to their replicas, in the foreground, until SIGINT or SIGTERM (then one final "
      "sync and exit 0).\n\nUsage: walship replicate [flags] [DB_PATH REPLICA_URL]\n"
      "With DB_PATH and REPLICA_URL (file:///dir or a directory) no config file is read.\n"
      "With -exec CMD the command runs as a child once replication runs; SIGINT/SIGTERM go to it, and when it "
      "exits walship does its final sync and exits (1 if the command failed).",
      "replicate"};
  std::string config_path, log_level, exec;
  bool no_expand_env = false, once = false, force_snapshot = false, enforce_retention = false;
  bool restore_if_missing = false;
  std::vector<std::string> pos;
  app.add_option("--config", config_path, "config file (default $WALSHIP_CONFIG or /etc/walship.yml)");
  app.add_flag("--no-expand-env", no_expand_env, "do not expand $VARS in the config file");
  app.add_flag("--once", once, "sync every database once, upload, and exit");
  app.add_flag("--force-snapshot", force_snapshot, "with -once: also write a snapshot");
  app.add_flag("--enforce-retention", enforce_retention,
               "with -once: also delete snapshots and L0 files past retention (as the daemon does)");
  app.add_option("--exec", exec, "run this command (split like a shell, without one) as a child; stop when it exits");
  app.add_flag("--restore-if-db-not-exists", restore_if_missing,
               "restore a database that does not exist from its replica first (no backup: start without)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  app.add_option("args", pos, "DB_PATH REPLICA_URL");
  if (auto rc = Parse(app, args)) return *rc;
  if (force_snapshot && !once) return Fail(InvalidArgument("-force-snapshot requires -once"));
  if (enforce_retention && !once) return Fail(InvalidArgument("-enforce-retention requires -once"));

  std::vector<daemon::DbJob> jobs;
  std::string level = log_level.empty() ? "info" : log_level;
  if (!pos.empty()) {
    if (pos.size() != 2) return Fail(InvalidArgument("replicate takes DB_PATH and REPLICA_URL, or -config"));
    if (!config_path.empty()) return Fail(InvalidArgument("use either -config or DB_PATH REPLICA_URL, not both"));
    daemon::DbJob j;
    j.opts.syncer.db_path = AbsPath(pos[0]);
    j.replica_url = pos[1];
    jobs.push_back(std::move(j));
    SetupLogging(level);
  } else {
    if (config_path.empty()) config_path = DefaultConfigPath();
    auto cfg = LoadConfig(config_path, !no_expand_env);
    if (!cfg.ok()) return Fail(cfg.status());
    if (log_level.empty() && !cfg->log_level.empty()) level = cfg->log_level;
    SetupLogging(level);
    auto j = daemon::JobsFromConfig(*cfg);
    if (!j.ok()) return Fail(j.status().WithContext("config " + config_path));
    jobs = std::move(j).value();
    if (exec.empty()) exec = cfg->exec;
  }
  std::vector<std::string> exec_argv;
  if (!exec.empty()) {
    if (once) return Fail(InvalidArgument("-once cannot be used with -exec (or the config's exec:)"));
    auto words = daemon::SplitShellWords(exec);
    if (!words.ok()) return Fail(words.status());
    exec_argv = std::move(words).value();
  }
  for (auto& j : jobs) {
    j.restore_if_db_not_exists = j.restore_if_db_not_exists || restore_if_missing;
    if (!j.restore_if_db_not_exists) continue;
    Progress progress("restore " + BaseName(j.opts.syncer.db_path));
    auto restored = daemon::RestoreIfMissing(j, [&](uint64_t done, uint64_t total) { progress.Update(done, total); });
    progress.Finish();
    if (!restored.ok()) return Fail(restored.status());
  }
  Status s;
  if (once) {
    s = daemon::RunOnce(std::move(jobs), force_snapshot, enforce_retention);
  } else {
    daemon::BlockStopSignals();
    s = daemon::RunForeground(std::move(jobs), exec_argv);
  }
  if (!s.ok()) return Fail(s);
  return kExitOk;
}

}  // namespace walship::cli
