#include <sqlite3.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"

#ifndef WALSHIP_VERSION
#define WALSHIP_VERSION "0.0.0-dev"
#endif

namespace walship::cli {

int CmdVersion(std::vector<std::string> args) {
  CLI::App app{"Print the version.", "version"};
  bool verbose = false;
  app.add_flag("--verbose", verbose, "also print library versions and formats");
  if (auto rc = Parse(app, args)) return *rc;
  std::printf("walship v%s\n", WALSHIP_VERSION);
  if (verbose) {
    std::printf("replica format: LTX v3, Litestream v0.5 layout\nsqlite: %s\n", sqlite3_libversion());
  }
  return 0;
}

}  // namespace walship::cli
