#include "compact/retention.h"

#include <algorithm>
#include <limits>

#include "ltx/format.h"

namespace walship::compact {
namespace {

bool LevelMinLess(const LtxFileInfo& a, const LtxFileInfo& b) {
  if (a.level != b.level) return a.level < b.level;
  if (a.min_txid != b.min_txid) return a.min_txid < b.min_txid;
  return a.max_txid < b.max_txid;
}

// Index of the file with the highest MaxTXID (ties: the later created), or -1.
template <typename Pred>
ptrdiff_t NewestIndex(const std::vector<LtxFileInfo>& files, Pred pred) {
  ptrdiff_t best = -1;
  for (size_t i = 0; i < files.size(); i++) {
    if (!pred(files[i])) continue;
    if (best < 0) {
      best = ptrdiff_t(i);
      continue;
    }
    const LtxFileInfo& b = files[size_t(best)];
    if (files[i].max_txid > b.max_txid || (files[i].max_txid == b.max_txid && files[i].created_ms > b.created_ms)) {
      best = ptrdiff_t(i);
    }
  }
  return best;
}

}  // namespace

RetentionPlan PlanSnapshotRetention(const std::vector<LtxFileInfo>& files, int64_t now_ms,
                                    int64_t snapshot_retention_ms) {
  RetentionPlan plan;
  if (snapshot_retention_ms <= 0) return plan;
  const int64_t start = now_ms - snapshot_retention_ms;
  auto is_snap = [](const LtxFileInfo& f) { return f.level == ltx::kSnapshotLevel; };

  const ptrdiff_t newest = NewestIndex(files, is_snap);
  if (newest < 0) return plan;
  // The newest snapshot created before the window start: a restore to the
  // start (and to any point until the next snapshot) begins there.
  ptrdiff_t covering = -1;
  for (size_t i = 0; i < files.size(); i++) {
    const LtxFileInfo& f = files[i];
    if (!is_snap(f) || f.created_ms >= start) continue;
    if (covering < 0) {
      covering = ptrdiff_t(i);
      continue;
    }
    const LtxFileInfo& c = files[size_t(covering)];
    if (f.created_ms > c.created_ms || (f.created_ms == c.created_ms && f.max_txid > c.max_txid)) {
      covering = ptrdiff_t(i);
    }
  }
  uint64_t floor = std::numeric_limits<uint64_t>::max();
  for (size_t i = 0; i < files.size(); i++) {
    const LtxFileInfo& f = files[i];
    if (!is_snap(f)) continue;
    const bool keep = f.created_ms >= start || ptrdiff_t(i) == covering || ptrdiff_t(i) == newest;
    if (keep) {
      floor = std::min(floor, f.max_txid);  // the lowest kept snapshot position
    } else {
      plan.deletes.push_back(f);
    }
  }
  if (plan.deletes.empty()) return plan;  // floor 0: nothing below it goes
  plan.floor_txid = floor;

  for (int level = 0; level < ltx::kSnapshotLevel; level++) {
    auto at_level = [level](const LtxFileInfo& f) { return f.level == level; };
    const ptrdiff_t level_newest = NewestIndex(files, at_level);
    for (size_t i = 0; i < files.size(); i++) {
      const LtxFileInfo& f = files[i];
      if (f.level != level || ptrdiff_t(i) == level_newest) continue;
      if (f.max_txid <= floor) plan.deletes.push_back(f);
    }
  }
  std::sort(plan.deletes.begin(), plan.deletes.end(), LevelMinLess);
  return plan;
}

// An L0 file f is deleted when all of these hold:
//  - it is not the newest L0 file, and it and the next L0 file were created
//    before now - l0_retention (f is the state until the next file: every
//    point of the L0 retention period keeps its own L0 file);
//  - level 1 covers [f.min, f.max] (one L1 file, or a contiguous run);
//  - no kept L0 file with a higher MaxTXID was created before the L1 files
//    covering f were (avail(f): the latest creation time among the L1 files
//    of the run that intersect f). Otherwise a restore to a time between that
//    kept file's creation and avail(f) would target the kept file but could
//    not cross f's range: f was deleted and the L1 files were not yet
//    created at that time. (Litestream's rule misses this case.)
// Files are decided from the highest MaxTXID down, so "kept" is known for
// every file above the one being decided.
std::vector<LtxFileInfo> PlanL0Retention(const std::vector<LtxFileInfo>& l0, const std::vector<LtxFileInfo>& l1,
                                         int64_t now_ms, int64_t l0_retention_ms) {
  std::vector<LtxFileInfo> out;
  if (l0_retention_ms <= 0 || l0.empty() || l1.empty()) return out;
  const int64_t cutoff = now_ms - l0_retention_ms;

  std::vector<LtxFileInfo> v1 = l1;
  std::sort(v1.begin(), v1.end(), [](const LtxFileInfo& a, const LtxFileInfo& b) {
    return a.min_txid != b.min_txid ? a.min_txid < b.min_txid : a.max_txid < b.max_txid;
  });
  uint64_t max_l1 = 0;
  std::vector<uint64_t> prefix_max(v1.size());  // max MaxTXID of v1[0..i]
  for (size_t i = 0; i < v1.size(); i++) {
    max_l1 = std::max(max_l1, v1[i].max_txid);
    prefix_max[i] = max_l1;
  }
  // Contiguous runs of level 1: [min, max] and the index range of their files.
  struct Run {
    uint64_t min, max;
    size_t first, last;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < v1.size(); i++) {
    if (!runs.empty() && v1[i].min_txid <= runs.back().max + 1) {
      runs.back().max = std::max(runs.back().max, v1[i].max_txid);
      runs.back().last = i;
    } else {
      runs.push_back({v1[i].min_txid, v1[i].max_txid, i, i});
    }
  }
  // When level 1 can stand in for [lo, hi]: INT64_MAX if it cannot.
  auto avail = [&](uint64_t lo, uint64_t hi) -> int64_t {
    auto it = std::upper_bound(runs.begin(), runs.end(), lo, [](uint64_t x, const Run& r) { return x < r.min; });
    if (it == runs.begin()) return std::numeric_limits<int64_t>::max();
    const Run& r = *std::prev(it);
    if (r.max < hi) return std::numeric_limits<int64_t>::max();
    // Files of the run with min <= hi, scanned down while one may still reach lo.
    auto end = std::upper_bound(v1.begin() + ptrdiff_t(r.first), v1.begin() + ptrdiff_t(r.last) + 1, hi,
                                [](uint64_t x, const LtxFileInfo& f) { return x < f.min_txid; });
    int64_t t = std::numeric_limits<int64_t>::min();
    for (size_t j = size_t(end - v1.begin()); j-- > r.first;) {
      if (prefix_max[j] < lo) break;
      if (v1[j].max_txid >= lo) t = std::max(t, v1[j].created_ms);
    }
    return t;
  };

  const ptrdiff_t newest = NewestIndex(l0, [](const LtxFileInfo&) { return true; });
  std::vector<size_t> order(l0.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return l0[a].max_txid > l0[b].max_txid; });

  std::vector<bool> del(l0.size(), false);
  int64_t min_kept_created = std::numeric_limits<int64_t>::max();  // over kept files above the current group
  int64_t min_later_created = std::numeric_limits<int64_t>::max();  // over all files above the current group
  for (size_t g = 0; g < order.size();) {
    size_t e = g;
    while (e < order.size() && l0[order[e]].max_txid == l0[order[g]].max_txid) e++;
    for (size_t k = g; k < e; k++) {
      const size_t i = order[k];
      const LtxFileInfo& f = l0[i];
      if (ptrdiff_t(i) == newest || f.created_ms >= cutoff || f.max_txid > max_l1 || f.min_txid > f.max_txid) continue;
      // f is the state until the next L0 file: keep it while that reaches into the retention period.
      if (min_later_created >= cutoff) continue;
      const int64_t a = avail(f.min_txid, f.max_txid);
      if (a == std::numeric_limits<int64_t>::max() || min_kept_created < a) continue;
      del[i] = true;
    }
    for (size_t k = g; k < e; k++) {
      if (!del[order[k]]) min_kept_created = std::min(min_kept_created, l0[order[k]].created_ms);
      min_later_created = std::min(min_later_created, l0[order[k]].created_ms);
    }
    g = e;
  }
  for (size_t i = 0; i < l0.size(); i++) {
    if (del[i]) out.push_back(l0[i]);
  }
  std::sort(out.begin(), out.end(), LevelMinLess);
  return out;
}

}  // namespace walship::compact
