// `databases`, `status` and `reset`: the configured databases and their local
// state, offline (no replica is contacted), as Litestream v0.5's commands of
// the same names (compat reference 7.1).
#include <nlohmann/json.hpp>

#include <cstdio>

#include "base/file.h"
#include "base/timefmt.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/exit_codes.h"
#include "ltx/format.h"
#include "replicate/local_state.h"

namespace walship::cli {

namespace {

// Where a replica is, without secrets: file:///dir or s3://bucket/path.
std::string DescribeReplica(const daemon::ReplicaConfig& r) {
  if (r.type == "file") return "file://" + r.path;
  if (!r.bucket.empty()) return r.type + "://" + r.bucket + (r.path.empty() ? "" : "/" + r.path);
  return r.url.substr(0, r.url.find('?'));
}

// Loads -config (or the default config file).
Result<daemon::Config> Load(std::string* config_path, bool expand_env) {
  if (config_path->empty()) *config_path = DefaultConfigPath();
  return LoadConfig(*config_path, expand_env);
}

// The database's meta-path from the config, or the default beside it when
// no config file exists (with the config's error when it exists but fails,
// or does not list the database).
Result<std::string> MetaPathFor(const std::string& db_path, std::string config_path, bool expand_env) {
  const bool explicit_config = !config_path.empty();
  auto cfg = Load(&config_path, expand_env);
  if (!cfg.ok()) {
    if (cfg.status().code() == Code::kNotFound && !explicit_config) return std::string();
    return cfg.status();
  }
  WALSHIP_ASSIGN_OR_RETURN(daemon::DbConfig db, FindDb(*cfg, db_path, config_path));
  return db.meta_path;
}

}  // namespace

int CmdDatabases(std::vector<std::string> args) {
  CLI::App app{"List the databases of the config file and their replicas.\n\nUsage: walship databases [flags]",
               "databases"};
  std::string config_path;
  bool no_expand_env = false, json = false;
  app.add_option("--config", config_path, "config file (default $WALSHIP_CONFIG or /etc/walship.yml)");
  app.add_flag("--no-expand-env", no_expand_env, "do not expand $VARS in the config file");
  app.add_flag("--json", json, "print JSON");
  if (auto rc = Parse(app, args)) return *rc;
  auto cfg = Load(&config_path, !no_expand_env);
  if (!cfg.ok()) return Fail(cfg.status());
  nlohmann::json out = nlohmann::json::array();
  if (!json) std::printf("%-40s %s\n", "path", "replica");
  for (const auto& db : cfg->dbs) {
    const std::string rep = DescribeReplica(db.replica);
    if (json) {
      out.push_back({{"path", db.path}, {"replica", rep}, {"type", db.replica.type}, {"meta_path", db.meta_path}});
    } else {
      std::printf("%-40s %s\n", db.path.c_str(), rep.c_str());
    }
  }
  if (json) std::printf("%s\n", out.dump(2).c_str());
  return kExitOk;
}

int CmdStatus(std::vector<std::string> args) {
  CLI::App app{
      "Show each configured database's local replication state (offline: the database, its WAL and walship's "
      "local files; the replica is not contacted).\n\nUsage: walship status [flags] [DB_PATH]",
      "status"};
  std::string config_path, only;
  bool no_expand_env = false, json = false;
  app.add_option("--config", config_path, "config file (default $WALSHIP_CONFIG or /etc/walship.yml)");
  app.add_flag("--no-expand-env", no_expand_env, "do not expand $VARS in the config file");
  app.add_flag("--json", json, "print JSON");
  app.add_option("db", only, "only this database");
  if (auto rc = Parse(app, args)) return *rc;
  auto cfg = Load(&config_path, !no_expand_env);
  if (!cfg.ok()) return Fail(cfg.status());
  std::vector<daemon::DbConfig> dbs = cfg->dbs;
  if (!only.empty()) {
    auto db = FindDb(*cfg, only, config_path);
    if (!db.ok()) return Fail(db.status());
    dbs = {*db};
  }
  nlohmann::json out = nlohmann::json::array();
  if (!json) std::printf("%-40s %-16s %-17s %-10s %s\n", "database", "status", "local txid", "wal size", "replicator");
  Status first;
  for (const auto& db : dbs) {
    auto st = replicate::ReadLocalStatus(db.path, db.meta_path);
    std::string status = "ok", error;
    if (!st.ok()) {
      status = "error";
      error = st.status().message();
      if (first.ok()) first = st.status();
    } else if (!st->db_exists) {
      status = "no database";
    } else if (!st->initialized) {
      status = "not initialized";
    }
    const replicate::LocalStatus s = st.ok() ? *st : replicate::LocalStatus{};
    const std::string txid = s.initialized ? ltx::FormatTxid(s.local_txid) : "-";
    if (json) {
      nlohmann::json j = {{"database", db.path},
                          {"status", status},
                          {"local_txid", s.initialized ? nlohmann::json(txid) : nlohmann::json()},
                          {"wal_size", s.wal_size},
                          {"replicating", s.replicating}};
      if (!error.empty()) j["error"] = error;
      out.push_back(std::move(j));
    } else {
      std::printf("%-40s %-16s %-17s %-10s %s\n", db.path.c_str(), status.c_str(), txid.c_str(),
                  FormatBytes(s.wal_size).c_str(), s.replicating ? "running" : "-");
      if (!error.empty()) std::fprintf(stderr, "walship: %s: %s\n", db.path.c_str(), error.c_str());
    }
  }
  if (json) std::printf("%s\n", out.dump(2).c_str());
  return first.ok() ? kExitOk : ExitCodeFor(first);
}

int CmdReset(std::vector<std::string> args) {
  CLI::App app{
      "Remove a database's local replication state (local L0 files, snapshots waiting for upload, the pending "
      "capture): the next replicate starts from the replica's position. The database, its WAL and the replica "
      "are not touched. Refused while a replicate runs for it.\n\nUsage: walship reset [flags] DB_PATH",
      "reset"};
  std::string config_path, db_path;
  bool no_expand_env = false, dry_run = false;
  app.add_option("--config", config_path, "config file, for the database's meta-path (default: beside the database)");
  app.add_flag("--no-expand-env", no_expand_env, "do not expand $VARS in the config file");
  app.add_flag("--dry-run", dry_run, "print what would be removed");
  app.add_option("db", db_path, "DB_PATH")->required();
  if (auto rc = Parse(app, args)) return *rc;
  db_path = AbsPath(db_path);
  auto meta = MetaPathFor(db_path, config_path, !no_expand_env);
  if (!meta.ok()) return Fail(meta.status());
  std::vector<std::string> removed;
  Status s = replicate::ResetLocalState(db_path, *meta, dry_run, &removed);
  if (!s.ok()) return Fail(s.WithContext("reset " + db_path));
  for (const auto& p : removed) std::printf("%s%s\n", dry_run ? "would remove " : "removed ", p.c_str());
  if (removed.empty()) std::printf("%s: no local state to remove\n", db_path.c_str());
  return kExitOk;
}

}  // namespace walship::cli
