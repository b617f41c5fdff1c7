#pragma once
// Helpers shared by the commands: flag parsing, config lookup, replica opening.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "daemon/config.h"
#include "replica/replica.h"

namespace walship::cli {

// Parses args (already normalised). Returns nullopt to continue, or the exit
// code to return (0 after -h).
std::optional<int> Parse(CLI::App& app, std::vector<std::string> args);

// -config, else $WALSHIP_CONFIG, /etc/walship.yml, $LITESTREAM_CONFIG, /etc/litestream.yml.
std::string DefaultConfigPath();
Result<daemon::Config> LoadConfig(const std::string& path, bool expand_env);
// The config entry for a database path (compared as absolute paths).
Result<daemon::DbConfig> FindDb(const daemon::Config& cfg, const std::string& db_path, const std::string& cfg_path);
Result<std::shared_ptr<replica::Replica>> OpenReplica(const std::string& url_or_dir);

void SetupLogging(const std::string& level);

// LTX file listings, as `ltx` and `restore -dry-run` print them:
// columns level, min_txid, max_txid, size, created; JSON with the same keys.
void PrintLtxTable(const std::vector<replica::LtxFileInfo>& files);
nlohmann::json LtxFilesJson(const std::vector<replica::LtxFileInfo>& files);

}  // namespace walship::cli
