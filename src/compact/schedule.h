#pragma once
// Compaction and retention schedule: pure functions of the clock and the
// catalog, so tests drive hours of history with a fake clock.
//
// Intervals are aligned to absolute (UTC) time as in Litestream v0.5 (compat
// reference 4.1): a level with interval I is due at start-up and then at every
// multiple of I, unless its newest file was created after the last boundary
// (Truncate(now, I)) -- "too early".

#include <cstdint>
#include <optional>

namespace walship::compact {

// now rounded down to a multiple of interval (both > 0).
int64_t TruncateMs(int64_t now_ms, int64_t interval_ms);
// The next multiple of interval strictly after now.
int64_t NextBoundaryMs(int64_t now_ms, int64_t interval_ms);
// True unless newest_created_ms is after TruncateMs(now, interval).
bool IsDue(int64_t now_ms, int64_t interval_ms, std::optional<int64_t> newest_created_ms);

}  // namespace walship::compact
