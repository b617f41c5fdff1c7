#include "restore/plan.h"

#include <gtest/gtest.h>

#include "ltx/format.h"

namespace walship::restore {
namespace {

using replica::LtxFileInfo;

LtxFileInfo F(int level, uint64_t mn, uint64_t mx, int64_t created) {
  LtxFileInfo f;
  f.level = level;
  f.min_txid = mn;
  f.max_txid = mx;
  f.created_ms = created;
  f.size = 1000;
  f.key = "ltx/" + std::to_string(level) + "/" + ltx::FormatFileName(mn, mx);
  return f;
}

// Snapshot 1-3 at t=300; L0 1..8 at t=100*txid; L1 4-6 at t=600.
std::vector<LtxFileInfo> Replica() {
  std::vector<LtxFileInfo> v;
  for (uint64_t t = 1; t <= 8; t++) v.push_back(F(0, t, t, int64_t(t) * 100));
  v.push_back(F(1, 4, 6, 600));
  v.push_back(F(9, 1, 3, 300));
  return v;
}

std::vector<std::pair<int, uint64_t>> Shape(const Plan& p) {
  std::vector<std::pair<int, uint64_t>> out;
  for (const auto& f : p.files) out.emplace_back(f.level, f.max_txid);
  return out;
}

TEST(CalcPlan, LatestUsesSnapshotThenHighestLevels) {
  auto p = CalcPlan(Replica(), {}, "r");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->txid, 8u);
  std::vector<std::pair<int, uint64_t>> want = {{9, 3}, {1, 6}, {0, 7}, {0, 8}};
  EXPECT_EQ(Shape(*p), want);
  EXPECT_EQ(p->bytes, 4000u);
}

TEST(CalcPlan, TxidStopsExactlyThere) {
  auto p = CalcPlan(Replica(), {.txid = 2}, "r");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->txid, 2u);
  std::vector<std::pair<int, uint64_t>> want = {{0, 1}, {0, 2}};
  EXPECT_EQ(Shape(*p), want);
}

TEST(CalcPlan, TxidInsideCompactedRangeUsesL0WhenPresent) {
  auto p = CalcPlan(Replica(), {.txid = 5}, "r");
  ASSERT_TRUE(p.ok()) << p.status().message();
  std::vector<std::pair<int, uint64_t>> want = {{9, 3}, {0, 4}, {0, 5}};
  EXPECT_EQ(Shape(*p), want);
}

TEST(CalcPlan, TxidInsideCompactedRangeWithoutL0IsAClearError) {
  auto files = Replica();
  std::erase_if(files, [](const LtxFileInfo& f) { return f.level == 0 && f.max_txid >= 4 && f.max_txid <= 6; });
  auto p = CalcPlan(files, {.txid = 5}, "r");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("inside compacted file ltx/1/"), std::string::npos) << p.status().message();
}

TEST(CalcPlan, TimestampPicksLastFileAtOrBeforeIt) {
  auto p = CalcPlan(Replica(), {.timestamp_ms = 550}, "r");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->txid, 5u);  // L1 4-6 was created at 600: not eligible
  auto exact = CalcPlan(Replica(), {.timestamp_ms = 700}, "r");
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->txid, 7u);
}

TEST(CalcPlan, PointsOutsideTheWindowNameTheWindow) {
  auto before = CalcPlan(Replica(), {.timestamp_ms = 50}, "file:///r");
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.status().code(), Code::kOutOfRange);
  EXPECT_NE(before.status().message().find("before the earliest"), std::string::npos);
  EXPECT_NE(before.status().message().find("file:///r"), std::string::npos);
  auto after = CalcPlan(Replica(), {.timestamp_ms = 5000}, "r");
  EXPECT_EQ(after.status().code(), Code::kOutOfRange);
  auto big = CalcPlan(Replica(), {.txid = 99}, "r");
  EXPECT_EQ(big.status().code(), Code::kOutOfRange);
}

TEST(CalcPlan, GapIsReportedWithTheNextFile) {
  auto files = Replica();
  std::erase_if(files, [](const LtxFileInfo& f) { return f.max_txid == 7 || (f.level == 1); });
  auto p = CalcPlan(files, {}, "r");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("gap in the TXID chain"), std::string::npos) << p.status().message();
  EXPECT_NE(p.status().message().find("0000000000000008"), std::string::npos) << p.status().message();
}

TEST(CalcPlan, EmptyReplicaIsNotFound) {
  EXPECT_EQ(CalcPlan({}, {}, "r").status().code(), Code::kNotFound);
}

TEST(CalcPlan, NoSnapshotMeansNothingToRestore) {
  std::vector<LtxFileInfo> files = {F(0, 5, 5, 1), F(0, 6, 6, 2)};
  EXPECT_EQ(CalcPlan(files, {}, "r").status().code(), Code::kFailedPrecondition);
}

TEST(CalcWindow, SpansFirstSnapshotToNewestFile) {
  auto w = CalcWindow(Replica());
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->first_txid, 1u);
  EXPECT_EQ(w->first_ms, 100);
  EXPECT_EQ(w->last_txid, 8u);
  EXPECT_EQ(w->last_ms, 800);
}

}  // namespace
}  // namespace walship::restore
