#include "cli/common.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "base/file.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "ltx/format.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "daemon/daemon.h"
#include "storage/url.h"

namespace walship::cli {

int Fail(const Status& s) {
  std::fprintf(stderr, "walship: %s\n", s.message().c_str());
  return ExitCodeFor(s);
}

std::optional<int> Parse(CLI::App& app, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end());  // CLI11 consumes from the back
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "walship %s: %s\nRun 'walship %s -h' for help.\n", app.get_name().c_str(), e.what(),
                 app.get_name().c_str());
    return kExitUsage;
  }
  return std::nullopt;
}

std::string DefaultConfigPath() {
  for (const char* env : {"WALSHIP_CONFIG", "LITESTREAM_CONFIG"}) {
    const char* v = std::getenv(env);
    if (v && *v) return v;
  }
  for (const char* p : {"/etc/walship.yml", "/etc/litestream.yml"}) {
    if (FileExists(p)) return p;
  }
  return "/etc/walship.yml";
}

Result<daemon::Config> LoadConfig(const std::string& path, bool expand_env) {
  auto cfg = daemon::LoadConfigFile(path, expand_env);
  if (!cfg.ok()) return cfg.status();
  for (const auto& w : cfg->warnings) WLOG_WARN("config {}: {}", path, w);
  return cfg;
}

Result<daemon::DbConfig> FindDb(const daemon::Config& cfg, const std::string& db_path, const std::string& cfg_path) {
  std::string want = AbsPath(db_path);
  for (const auto& db : cfg.dbs) {
    if (AbsPath(db.path) == want) return db;
  }
  return NotFound("database " + want + " is not in config " + cfg_path);
}

Result<std::shared_ptr<replica::Replica>> OpenReplica(const std::string& url_or_dir) {
  return daemon::OpenReplicaUrlWithRetries(url_or_dir);
}

void PrintLtxTable(const std::vector<replica::LtxFileInfo>& files) {
  std::printf("%-6s %-17s %-17s %12s  %s\n", "level", "min_txid", "max_txid", "size", "created");
  for (const auto& f : files) {
    std::printf("%-6d %-17s %-17s %12llu  %s\n", f.level, ltx::FormatTxid(f.min_txid).c_str(),
                ltx::FormatTxid(f.max_txid).c_str(), static_cast<unsigned long long>(f.size),
                FormatRfc3339Ms(f.created_ms).c_str());
  }
}

nlohmann::json LtxFilesJson(const std::vector<replica::LtxFileInfo>& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : files) {
    out.push_back({{"level", f.level},
                   {"min_txid", ltx::FormatTxid(f.min_txid)},
                   {"max_txid", ltx::FormatTxid(f.max_txid)},
                   {"size", f.size},
                   {"created", FormatRfc3339Ms(f.created_ms)},
                   {"key", f.key}});
  }
  return out;
}

void SetupLogging(const std::string& level) {
  if (!InitLogging(level)) {
    InitLogging("info");
    WLOG_WARN("unknown log level \"{}\"; using info", level);
  }
}

}  // namespace walship::cli
