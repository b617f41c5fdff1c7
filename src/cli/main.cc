// walship: continuous, point-in-time backup of live SQLite databases.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "base/log.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"

namespace {

const char* kUsage = R"(walship: continuous, point-in-time backup of SQLite databases (Litestream v0.5 replica format)

Usage: walship <command> [flags] [args]

Commands:
  replicate   replicate databases to their replicas (foreground; SIGINT/SIGTERM: final sync, exit 0)
  restore     rebuild a database from a replica, at the latest point, a TXID or a timestamp
  ltx         list the LTX files of a replica
  verify      check a replica's TXID chain and every file's checksum, and report the restorable window
  databases   list the config's databases and their replicas
  status      show each database's local replication state (offline)
  reset       remove a database's local replication state (the next replicate starts from the replica)
  version     print the version

Run 'walship <command> -h' for a command's flags. Flags take one or two dashes (-config, --config).
)";

int Main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? walship::cli::kExitUsage : 0;
  }
  std::string cmd = args[0];
  args.erase(args.begin());
  args = walship::cli::NormalizeArgs(args);
  if (cmd == "replicate") return walship::cli::CmdReplicate(args);
  if (cmd == "restore") return walship::cli::CmdRestore(args);
  if (cmd == "ltx" || cmd == "wal") return walship::cli::CmdLtx(args);
  if (cmd == "verify") return walship::cli::CmdVerify(args);
  if (cmd == "databases") return walship::cli::CmdDatabases(args);
  if (cmd == "status") return walship::cli::CmdStatus(args);
  if (cmd == "reset") return walship::cli::CmdReset(args);
  if (cmd == "version" || cmd == "-version" || cmd == "--version") return walship::cli::CmdVersion(args);
  std::fprintf(stderr, "walship: unknown command \"%s\"\n\n%s", cmd.c_str(), kUsage);
  return walship::cli::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "walship: internal error: %s\n", e.what());
    return walship::cli::kExitFailure;
  } catch (...) {
    std::fprintf(stderr, "walship: internal error\n");
    return walship::cli::kExitFailure;
  }
}
