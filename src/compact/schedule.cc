#include "compact/schedule.h"

namespace walship::compact {

int64_t TruncateMs(int64_t now_ms, int64_t interval_ms) {
  if (interval_ms <= 0) return now_ms;
  int64_t q = now_ms / interval_ms;
  if (now_ms % interval_ms != 0 && now_ms < 0) q--;  // floor, also before the epoch
  return q * interval_ms;
}

int64_t NextBoundaryMs(int64_t now_ms, int64_t interval_ms) {
  if (interval_ms <= 0) return now_ms + 1;
  return TruncateMs(now_ms, interval_ms) + interval_ms;
}

bool IsDue(int64_t now_ms, int64_t interval_ms, std::optional<int64_t> newest_created_ms) {
  return !newest_created_ms || *newest_created_ms <= TruncateMs(now_ms, interval_ms);
}

}  // namespace walship::compact
