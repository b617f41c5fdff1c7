// walship_compact_replica: a test tool (not installed) that runs walship's
// compactor on a file replica, for tests/e2e/e2e_compaction_interop.py: the
// Litestream VFS (v0.5.17) writes L0 files but never compacts, so walship
// compacts the replica the VFS wrote and the test restores it.
//
//   walship_compact_replica REPLICA_DIR TMP_DIR OP...
//     compact:N         CompactLevel(N, force) (levels 1..8)
//     l0-retention:MS   L0 retention with l0-retention MS at the system time
// Prints one line per file written or deleted ("wrote L1 <key>", "deleted
// L0 <key>"). Exit 0 on success, 1 on an error (printed to stderr), 2 on
// usage errors.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "compact/catalog.h"
#include "compact/compactor.h"
#include "replica/replica.h"
#include "storage/file_store.h"

using namespace walship;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s REPLICA_DIR TMP_DIR compact:N|l0-retention:MS...\n", argv[0]);
    return 2;
  }
  auto store = storage::FileStore::Create(argv[1]);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", argv[1], store.status().ToString().c_str());
    return 1;
  }
  auto rep = std::make_shared<replica::Replica>(std::shared_ptr<storage::ObjectStore>(std::move(store).value()), "",
                                                storage::KeyLayout::kFile);
  auto catalog = std::make_shared<compact::Catalog>(rep);
  int max_level = 1;
  for (int i = 3; i < argc; i++) {
    const std::string op = argv[i];
    if (op.rfind("compact:", 0) == 0) max_level = std::max(max_level, std::atoi(op.c_str() + 8));
  }
  if (max_level < 1 || max_level > 8) {
    std::fprintf(stderr, "levels are 1..8\n");
    return 2;
  }
  compact::CompactorOptions opts;
  opts.level_intervals_ms.assign(size_t(max_level), 1000);
  opts.tmp_dir = argv[2];
  opts.name = argv[1];
  for (int i = 3; i < argc; i++) {
    const std::string op = argv[i];
    std::vector<replica::LtxFileInfo> files;
    const char* verb = "wrote";
    if (op.rfind("compact:", 0) == 0) {
      compact::Compactor c(opts, catalog);
      auto r = c.CompactLevel(std::atoi(op.c_str() + 8), /*force=*/true);
      if (!r.ok()) {
        std::fprintf(stderr, "%s: %s\n", op.c_str(), r.status().ToString().c_str());
        return 1;
      }
      files = std::move(r).value();
    } else if (op.rfind("l0-retention:", 0) == 0) {
      compact::CompactorOptions o = opts;
      o.l0_retention_ms = std::atoll(op.c_str() + 13);
      compact::Compactor c(o, catalog);
      auto r = c.EnforceL0Retention();
      if (!r.ok()) {
        std::fprintf(stderr, "%s: %s\n", op.c_str(), r.status().ToString().c_str());
        return 1;
      }
      files = std::move(r).value();
      verb = "deleted";
    } else {
      std::fprintf(stderr, "unknown op %s\n", op.c_str());
      return 2;
    }
    for (const auto& f : files) std::printf("%s L%d %s\n", verb, f.level, f.key.c_str());
  }
  return 0;
}
