#pragma once
// Retention: which replica files may be deleted. Pure functions over a
// listing, so "every file retention deletes is unneeded" is tested directly:
// after applying them, every point of the retention window still restores.
//
// The guarantee (stronger than Litestream v0.5's, which could delete the
// snapshot a point inside the window needed, LS#771/#224): for every time t in
// [now - snapshot_retention, now], the snapshot a restore to t starts from is
// kept, and so is every file a restore from it to any later point needs.
//
// Snapshots (level 9): keep every snapshot created at or after the window
// start, plus the newest one created before it (it covers the window start),
// plus always the newest. Delete the rest. floor = MaxTXID of the oldest kept
// snapshot. Levels 0..8: delete files with MaxTXID <= floor (no restore from a
// kept snapshot reads them), except each level's newest file (it carries the
// level's position for compaction and for the replicator's restart).
//
// L0: files with MaxTXID <= the highest L1 MaxTXID whose range is covered by
// level-1 files are deleted once they and the next L0 file were created
// before now - l0_retention (so every point of the L0 retention period keeps
// its own file), except the newest L0 file, and except a file f for which a
// kept L0 file with a higher MaxTXID was created before the L1 files covering
// f were: a restore to a time in between would aim at that kept file but
// could not cross f's range (Litestream's rule misses this case). L0 files
// are per-sync; once deleted, points inside their range restore at level-1
// granularity (see README "Point-in-time granularity"). l0_retention 0
// disables L0 retention.

#include <cstdint>
#include <vector>

#include "replica/replica.h"

namespace walship::compact {

using replica::LtxFileInfo;

struct RetentionPlan {
  std::vector<LtxFileInfo> deletes;  // in (level, min_txid) order
  uint64_t floor_txid = 0;           // MaxTXID of the oldest kept snapshot (0: none deleted)
};

// files: a whole listing (all levels). snapshot_retention_ms > 0.
RetentionPlan PlanSnapshotRetention(const std::vector<LtxFileInfo>& files, int64_t now_ms,
                                    int64_t snapshot_retention_ms);

// l0: level-0 files; l1: level-1 files (both sorted by min_txid).
std::vector<LtxFileInfo> PlanL0Retention(const std::vector<LtxFileInfo>& l0, const std::vector<LtxFileInfo>& l1,
                                         int64_t now_ms, int64_t l0_retention_ms);

}  // namespace walship::compact
