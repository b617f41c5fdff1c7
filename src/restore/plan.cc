#include "restore/plan.h"

#include <algorithm>

#include "base/timefmt.h"
#include "ltx/format.h"

namespace walship::restore {

using replica::LtxFileInfo;

namespace {

std::string Describe(const Window& w) {
  return "restorable window (TXID " + ltx::FormatTxid(w.first_txid) + " at " + FormatRfc3339Ms(w.first_ms) +
         " to TXID " + ltx::FormatTxid(w.last_txid) + " at " + FormatRfc3339Ms(w.last_ms) + ")";
}

// Better candidate per compat 5.2: highest MaxTXID, then lowest MinTXID, then
// higher level, then earlier creation.
bool Better(const LtxFileInfo& a, const LtxFileInfo& b) {
  if (a.max_txid != b.max_txid) return a.max_txid > b.max_txid;
  if (a.min_txid != b.min_txid) return a.min_txid < b.min_txid;
  if (a.level != b.level) return a.level > b.level;
  return a.created_ms < b.created_ms;
}

}  // namespace

std::optional<Window> CalcWindow(const std::vector<LtxFileInfo>& files) {
  std::optional<Window> w;
  for (const auto& f : files) {
    if (f.min_txid != 1) continue;  // a chain can only start at a snapshot
    if (!w || f.max_txid < w->first_txid) {
      if (!w) w = Window{};
      w->first_txid = f.max_txid;
      w->first_ms = f.created_ms;
    }
  }
  if (!w) return w;
  for (const auto& f : files) {
    if (f.max_txid > w->last_txid || (f.max_txid == w->last_txid && f.created_ms > w->last_ms)) {
      w->last_txid = f.max_txid;
      w->last_ms = f.created_ms;
    }
  }
  return w;
}

Result<Plan> CalcPlan(const std::vector<LtxFileInfo>& files, const Point& point, const std::string& where) {
  if (files.empty()) return NotFound("no backups found in " + where);
  auto window = CalcWindow(files);
  if (!window) {
    return FailedPrecondition("no snapshot in " + where + ": no file starts at TXID 1, nothing can be restored");
  }
  // The target position.
  uint64_t target = window->last_txid;
  if (point.txid) {
    if (*point.txid < window->first_txid || *point.txid > window->last_txid) {
      return OutOfRange("TXID " + ltx::FormatTxid(*point.txid) + " is outside the " + Describe(*window) + " of " + where);
    }
    target = *point.txid;
  }
  if (point.timestamp_ms) {
    const int64_t ts = *point.timestamp_ms;
    if (ts < window->first_ms) {
      return OutOfRange("timestamp " + FormatRfc3339Ms(ts) + " is before the earliest restorable point: the " +
                        Describe(*window) + " of " + where);
    }
    if (ts > window->last_ms) {
      return OutOfRange("timestamp " + FormatRfc3339Ms(ts) + " is after the latest replicated point: the " +
                        Describe(*window) + " of " + where + " (omit -timestamp to restore the latest)");
    }
    uint64_t t = 0;
    for (const auto& f : files) {
      if (f.created_ms <= ts) t = std::max(t, f.max_txid);
    }
    target = std::min(target, t);
  }
  auto eligible = [&](const LtxFileInfo& f) {
    return f.max_txid <= target && (!point.timestamp_ms || f.created_ms <= *point.timestamp_ms);
  };

  Plan plan;
  uint64_t current = 0;
  // The newest eligible snapshot.
  for (const auto& f : files) {
    if (f.level == ltx::kSnapshotLevel && f.min_txid == 1 && eligible(f) &&
        (plan.files.empty() || f.max_txid > plan.files[0].max_txid)) {
      plan.files.assign(1, f);
    }
  }
  if (!plan.files.empty()) current = plan.files[0].max_txid;
  while (current < target) {
    const LtxFileInfo* best = nullptr;
    for (const auto& f : files) {
      if (f.level == ltx::kSnapshotLevel && current > 0) continue;
      if (f.min_txid > current + 1 || f.max_txid <= current || !eligible(f)) continue;
      if (current == 0 && f.min_txid != 1) continue;
      if (!best || Better(f, *best)) best = &f;
    }
    if (!best) break;
    plan.files.push_back(*best);
    current = best->max_txid;
  }
  if (current < target) {
    // Why not: a gap, or the target sits inside a compacted range.
    const LtxFileInfo* next = nullptr;
    for (const auto& f : files) {
      if (f.min_txid > current && (!next || f.min_txid < next->min_txid)) next = &f;
    }
    for (const auto& f : files) {
      if (f.min_txid <= current + 1 && f.max_txid > target && f.min_txid <= target) {
        return FailedPrecondition("TXID " + ltx::FormatTxid(target) + " is inside compacted file " + f.key +
                                  " of " + where + "; the nearest restorable TXIDs are " + ltx::FormatTxid(current) +
                                  " and " + ltx::FormatTxid(f.max_txid));
      }
    }
    std::string msg = "gap in the TXID chain of " + where + ": nothing continues after TXID " + ltx::FormatTxid(current);
    if (next) msg += "; the next file " + next->key + " starts at " + ltx::FormatTxid(next->min_txid);
    return FailedPrecondition(msg);
  }
  plan.txid = current;
  for (const auto& f : plan.files) {
    plan.bytes += f.size;
    plan.timestamp_ms = std::max(plan.timestamp_ms, f.created_ms);
  }
  return plan;
}

Result<Plan> PlanRestore(const replica::Replica& r, const Point& point) {
  WALSHIP_ASSIGN_OR_RETURN(auto files, r.ListAll());
  if (point.timestamp_ms) WALSHIP_RETURN_IF_ERROR_CTX(r.ResolveCreatedTimes(&files, *point.timestamp_ms), "restore");
  return CalcPlan(files, point, r.Describe());
}

}  // namespace walship::restore
