#include "compact/schedule.h"

#include <gtest/gtest.h>

namespace walship::compact {
namespace {

constexpr int64_t kMin = 60'000;
constexpr int64_t kHour = 3'600'000;
// 2023-11-14T22:13:20Z: not aligned to anything coarser than 20 s.
constexpr int64_t kT = 1'700'000'000'000;

TEST(Schedule, TruncateAlignsToAbsoluteTime) {
  EXPECT_EQ(TruncateMs(kT, 30'000), 1'699'999'980'000);  // :13:00
  EXPECT_EQ(TruncateMs(kT, kHour), 1'699'999'200'000);    // 22:00:00
  EXPECT_EQ(TruncateMs(kT, 24 * kHour), 1'699'920'000'000);  // midnight UTC
  EXPECT_EQ(TruncateMs(1'699'999'980'000, 30'000), 1'699'999'980'000);  // a boundary is its own truncation
  EXPECT_EQ(TruncateMs(0, kMin), 0);
  EXPECT_EQ(TruncateMs(-1, kMin), -kMin);  // floor, not toward zero
}

TEST(Schedule, NextBoundaryIsStrictlyAfter) {
  EXPECT_EQ(NextBoundaryMs(kT, 30'000), 1'700'000'010'000);
  EXPECT_EQ(NextBoundaryMs(1'700'000'010'000, 30'000), 1'700'000'040'000);
  EXPECT_EQ(NextBoundaryMs(1'700'000'009'999, 30'000), 1'700'000'010'000);
  for (int64_t now = kT; now < kT + 5 * kMin; now += 7'777) {
    const int64_t b = NextBoundaryMs(now, kMin);
    EXPECT_GT(b, now);
    EXPECT_LE(b - now, kMin);
    EXPECT_EQ(b % kMin, 0);
  }
}

TEST(Schedule, DueAtStartUpWithoutFiles) {
  EXPECT_TRUE(IsDue(kT, 30'000, std::nullopt));
  EXPECT_TRUE(IsDue(kT, 24 * kHour, std::nullopt));
}

TEST(Schedule, TooEarlyWhenNewestIsAfterTheLastBoundary) {
  const int64_t boundary = TruncateMs(kT, 30'000);
  EXPECT_FALSE(IsDue(kT, 30'000, boundary + 1));
  EXPECT_FALSE(IsDue(kT, 30'000, kT));
  EXPECT_TRUE(IsDue(kT, 30'000, boundary));  // created exactly at the boundary: due
  EXPECT_TRUE(IsDue(kT, 30'000, boundary - 1));
  // Once the next boundary passes, the same file no longer holds it back.
  EXPECT_TRUE(IsDue(NextBoundaryMs(kT, 30'000), 30'000, kT));
  EXPECT_FALSE(IsDue(NextBoundaryMs(kT, 30'000) - 1, 30'000, kT));
}

TEST(Schedule, DueOncePerIntervalWhenFilesAreWrittenAtEachRun) {
  // Simulate a level that writes a file (created = now) whenever it is due,
  // checked every second (off the boundaries by 500 ms: a file created
  // exactly at a boundary does not hold the level back) for an hour: exactly one run per 5-minute interval,
  // plus the start-up run.
  std::optional<int64_t> newest;
  int runs = 0;
  for (int64_t now = kT + 500; now < kT + kHour; now += 1000) {
    if (IsDue(now, 5 * kMin, newest)) {
      runs++;
      newest = now;
    }
  }
  EXPECT_EQ(runs, 13);  // start-up + 12 boundaries in the hour
}

}  // namespace
}  // namespace walship::compact
