#pragma once
// Compactor: levels 1..K of one replica (compat reference 4.1), plus
// retention (4.2, with the stronger guarantee of retention.h).
//
// CompactLevel(n) merges every level n-1 file with MinTXID > the newest level
// n file's MaxTXID (at most max_inputs files per output; more -> several
// outputs in one call) into one LTX file <min>-<max>.ltx at level n, by a
// streaming merge (ltx::Compact: one page per input in memory, never a whole
// file). The output is built in tmp_dir, uploaded (never overwriting: an
// existing object with the same name is kept), recorded in the catalog, and
// the temp file removed. Level-1 inputs are read from local_l0_dir when the
// file is there (the replicator keeps local L0 files until level 1 covers
// them), else from the replica. Only files the catalog lists are merged, so a
// level never runs ahead of the replica's L0 position.
//
// Errors name the level and the object. After an error the catalog is
// invalidated (the next call re-lists). Thread-compatible: one thread (the
// replicator's compaction thread, or a test) calls these.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "compact/catalog.h"
#include "ltx/encoder.h"

namespace walship::compact {

struct CompactorOptions {
  // Intervals of levels 1..K (K <= 8). Empty: no compaction levels.
  std::vector<int64_t> level_intervals_ms = {30'000, 300'000, 3'600'000};
  int64_t snapshot_retention_ms = 86'400'000;
  int64_t l0_retention_ms = 300'000;  // 0: L0 files are never deleted
  int64_t l0_retention_check_interval_ms = 15'000;
  bool retention_enabled = true;  // false: nothing is deleted from the replica
  std::string local_l0_dir;       // "" : always read L0 from the replica
  std::string tmp_dir;            // required: where outputs are built
  const Clock* clock = SystemClock::Default();
  size_t max_inputs = 256;
  ltx::PageEncoding encoding = ltx::PageEncoding::kBlock;
  std::string name;  // for log lines, e.g. the database path
};

struct RunStats {
  int files_written = 0;
  int files_deleted = 0;
  uint64_t bytes_written = 0;
};

class Compactor {
 public:
  Compactor(CompactorOptions opts, std::shared_ptr<Catalog> catalog);

  // One compaction of level (1..K). With !force, does nothing when the level
  // is not due (schedule.h), or when this Compactor already ran it (with or
  // without output) since the last interval boundary: like Litestream's
  // aligned ticker, a level runs at most once per interval (plus at
  // start-up). Source files after a gap are left for the next run: an output
  // never spans a gap. Returns the files written (empty: nothing new).
  Result<std::vector<LtxFileInfo>> CompactLevel(int level, bool force = false);

  // Snapshot retention then level cleanup (retention.h). Deletes in batches
  // through Replica::Delete; with !retention_enabled deletes nothing.
  Result<std::vector<LtxFileInfo>> EnforceSnapshotRetention();
  // L0 retention (retention.h).
  Result<std::vector<LtxFileInfo>> EnforceL0Retention();

  // Everything due at clock->NowMs(): levels 1..K in order (each level sees
  // the one below it just written), L0 retention when due or after a level-1
  // compaction, snapshot retention. The scheduler thread's step.
  Result<RunStats> RunDue();
  // Milliseconds from now until RunDue has something to do (>= 1); at least
  // kRetryDelayMs after the last failure of RunDue.
  int64_t NextDueInMs() const;
  static constexpr int64_t kRetryDelayMs = 1000;

  int levels() const { return static_cast<int>(opts_.level_intervals_ms.size()); }
  const CompactorOptions& options() const { return opts_; }

 private:
  static constexpr int64_t kNever = INT64_MIN;

  Result<RunStats> RunDueOnce();
  Result<LtxFileInfo> CompactInputs(int level, const std::vector<LtxFileInfo>& inputs);
  Result<std::vector<LtxFileInfo>> Delete(std::vector<LtxFileInfo> files, const char* why);
  // schedule.h's IsDue, and not already run since the last boundary.
  bool LevelDue(int level, int64_t now_ms) const;
  void RemoveStrayTemps();  // once: "compact-*" files a crash left in tmp_dir
  std::string Prefix() const;  // "<name>: " for log lines

  CompactorOptions opts_;
  std::shared_ptr<Catalog> catalog_;
  int64_t last_l0_check_ms_ = 0;
  std::vector<int64_t> last_run_ms_;  // per level 1..K: last successful CompactLevel (kNever)
  bool cleaned_tmp_ = false;
  int64_t last_failure_ms_ = kNever;  // of RunDue
};

}  // namespace walship::compact
