#pragma once
// Restore planning (compat reference 5.2): the fewest files that rebuild the
// database at a point. A snapshot (level 9) plus, repeatedly, the file from
// the highest level that extends the chain furthest. Pure function over a
// listing, so it is tested without storage.
//
// Points: latest; a TXID (state after that L0 file); a timestamp (state after
// the last file created at or before it). Errors name the replica, the
// restorable window and the offending object:
//   kNotFound   empty replica;
//   kOutOfRange a point before the first or after the last position;
//   kFailedPrecondition a gap in the TXID chain, or a TXID inside a compacted range.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "replica/replica.h"

namespace walship::restore {

struct Point {
  std::optional<uint64_t> txid;
  std::optional<int64_t> timestamp_ms;
};

struct Plan {
  std::vector<replica::LtxFileInfo> files;  // in apply order; files[0].min_txid == 1
  uint64_t txid = 0;                        // position after applying
  int64_t timestamp_ms = 0;                 // created time of the last file
  uint64_t bytes = 0;                       // total size of the files
};

// Restorable window of a listing: the earliest and latest points.
struct Window {
  uint64_t first_txid = 0, last_txid = 0;
  int64_t first_ms = 0, last_ms = 0;
};
std::optional<Window> CalcWindow(const std::vector<replica::LtxFileInfo>& files);

Result<Plan> CalcPlan(const std::vector<replica::LtxFileInfo>& files, const Point& point, const std::string& where);
Result<Plan> PlanRestore(const replica::Replica& r, const Point& point);

}  // namespace walship::restore
