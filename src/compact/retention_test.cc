#include "compact/retention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "ltx/format.h"
#include "restore/plan.h"

namespace walship::compact {
namespace {

LtxFileInfo F(int level, uint64_t mn, uint64_t mx, int64_t created) {
  LtxFileInfo f;
  f.level = level;
  f.min_txid = mn;
  f.max_txid = mx;
  f.created_ms = created;
  f.size = 100;
  f.key = "ltx/" + std::to_string(level) + "/" + ltx::FormatFileName(mn, mx);
  return f;
}

using Id = std::tuple<int, uint64_t, uint64_t>;
Id IdOf(const LtxFileInfo& f) { return {f.level, f.min_txid, f.max_txid}; }

std::set<Id> Ids(const std::vector<LtxFileInfo>& v) {
  std::set<Id> s;
  for (const auto& f : v) s.insert(IdOf(f));
  return s;
}

std::vector<LtxFileInfo> Without(const std::vector<LtxFileInfo>& all, const std::vector<LtxFileInfo>& del) {
  const std::set<Id> d = Ids(del);
  std::vector<LtxFileInfo> out;
  for (const auto& f : all) {
    if (!d.count(IdOf(f))) out.push_back(f);
  }
  return out;
}

std::vector<LtxFileInfo> Level(const std::vector<LtxFileInfo>& all, int level) {
  std::vector<LtxFileInfo> out;
  for (const auto& f : all) {
    if (f.level == level) out.push_back(f);
  }
  std::sort(out.begin(), out.end(), [](const LtxFileInfo& a, const LtxFileInfo& b) {
    return std::tie(a.min_txid, a.max_txid) < std::tie(b.min_txid, b.max_txid);
  });
  return out;
}

// ---- snapshot retention: tables ----

TEST(SnapshotRetention, KeepsTheSnapshotCoveringTheWindowStart) {
  // Snapshots at t=100,200,300,400 (TXIDs 10,20,30,40); window [350, 1000].
  std::vector<LtxFileInfo> v = {F(9, 1, 10, 100), F(9, 1, 20, 200), F(9, 1, 30, 300), F(9, 1, 40, 400)};
  RetentionPlan p = PlanSnapshotRetention(v, 1000, 650);
  EXPECT_EQ(Ids(p.deletes), Ids({F(9, 1, 10, 0), F(9, 1, 20, 0)}));
  EXPECT_EQ(p.floor_txid, 30u);  // the snapshot created at 300 covers t=350
}

TEST(SnapshotRetention, SnapshotExactlyAtWindowStartIsInside) {
  std::vector<LtxFileInfo> v = {F(9, 1, 10, 100), F(9, 1, 20, 200), F(9, 1, 30, 350)};
  RetentionPlan p = PlanSnapshotRetention(v, 1000, 650);
  // 350 is in the window; 200 is the newest before it and covers 350 - 1 ms... kept.
  EXPECT_EQ(Ids(p.deletes), Ids({F(9, 1, 10, 0)}));
  EXPECT_EQ(p.floor_txid, 20u);
}

TEST(SnapshotRetention, NeverDeletesTheOnlyOrNewestSnapshot) {
  std::vector<LtxFileInfo> v = {F(9, 1, 10, 100), F(0, 1, 1, 10), F(0, 2, 2, 20), F(1, 1, 5, 50)};
  RetentionPlan p = PlanSnapshotRetention(v, 1'000'000, 1000);
  EXPECT_TRUE(p.deletes.empty());
  EXPECT_EQ(p.floor_txid, 0u);  // nothing deleted: no floor

  v.push_back(F(9, 1, 5, 50));
  p = PlanSnapshotRetention(v, 1'000'000, 1000);
  EXPECT_EQ(Ids(p.deletes), Ids({F(9, 1, 5, 0), F(0, 1, 1, 0)}))
      << "L0 2-2 and L1 1-5 are the newest of their levels and stay";
  EXPECT_EQ(p.floor_txid, 10u);
}

TEST(SnapshotRetention, NeverDeletesTheNewestFileOfALevel) {
  std::vector<LtxFileInfo> v = {F(9, 1, 4, 10), F(9, 1, 50, 500), F(9, 1, 60, 600)};
  for (int level = 0; level <= 8; level++) {
    v.push_back(F(level, 1, 10, 100));
    v.push_back(F(level, 11, 20, 200));
  }
  RetentionPlan p = PlanSnapshotRetention(v, 2000, 1000);  // window [1000, 2000]: keep 60 (covering)
  EXPECT_EQ(p.floor_txid, 60u);
  std::set<Id> want = {{9, 1, 4}, {9, 1, 50}};
  for (int level = 0; level <= 8; level++) want.insert({level, 1, 10});
  EXPECT_EQ(Ids(p.deletes), want);
  // Sorted by (level, min).
  for (size_t i = 1; i < p.deletes.size(); i++) {
    EXPECT_LE(std::tie(p.deletes[i - 1].level, p.deletes[i - 1].min_txid),
              std::tie(p.deletes[i].level, p.deletes[i].min_txid));
  }
}

TEST(SnapshotRetention, LevelFilesStraddlingTheFloorAreKept) {
  std::vector<LtxFileInfo> v = {F(9, 1, 3, 30), F(9, 1, 8, 80), F(1, 1, 5, 50), F(1, 6, 10, 100),
                                F(1, 11, 15, 150), F(2, 1, 8, 80), F(2, 9, 15, 150),
                                F(0, 8, 8, 80), F(0, 9, 9, 90)};
  RetentionPlan p = PlanSnapshotRetention(v, 1000, 500);  // window [500, 1000]: keep 1-8 only
  EXPECT_EQ(p.floor_txid, 8u);
  EXPECT_EQ(Ids(p.deletes), Ids({F(9, 1, 3, 0), F(1, 1, 5, 0), F(2, 1, 8, 0), F(0, 8, 8, 0)}));
}

TEST(SnapshotRetention, AllSnapshotsInsideTheWindowDeleteNothing) {
  std::vector<LtxFileInfo> v = {F(9, 1, 10, 600), F(9, 1, 20, 700), F(0, 1, 1, 1), F(0, 2, 2, 2), F(0, 21, 21, 800)};
  RetentionPlan p = PlanSnapshotRetention(v, 1000, 500);
  EXPECT_TRUE(p.deletes.empty());
  EXPECT_EQ(p.floor_txid, 0u);
  EXPECT_TRUE(PlanSnapshotRetention({}, 1000, 500).deletes.empty());
  EXPECT_TRUE(PlanSnapshotRetention(v, 1000, 0).deletes.empty());
}

// ---- L0 retention: tables ----

// L0 1..10 at t=100*txid; L1 1-5 (t=500), 6-8 (t=800).
std::vector<LtxFileInfo> L0s(uint64_t lo, uint64_t hi) {
  std::vector<LtxFileInfo> v;
  for (uint64_t t = lo; t <= hi; t++) v.push_back(F(0, t, t, int64_t(t) * 100));
  return v;
}

TEST(L0Retention, DeletesOldFilesCoveredByL1) {
  auto l0 = L0s(1, 10);
  std::vector<LtxFileInfo> l1 = {F(1, 1, 5, 500), F(1, 6, 8, 800)};
  auto d = PlanL0Retention(l0, l1, 10'000, 1000);  // cutoff 9000: every file is old
  EXPECT_EQ(Ids(d), Ids(L0s(1, 8)));
  EXPECT_TRUE(std::is_sorted(d.begin(), d.end(),
                             [](const LtxFileInfo& a, const LtxFileInfo& b) { return a.min_txid < b.min_txid; }));
}

TEST(L0Retention, KeepsFilesNotCoveredByL1) {
  auto l0 = L0s(1, 10);
  std::vector<LtxFileInfo> l1 = {F(1, 1, 3, 300), F(1, 6, 8, 800)};  // 4-5 not compacted (a gap in L1)
  auto d = PlanL0Retention(l0, l1, 10'000, 1000);
  EXPECT_EQ(Ids(d), Ids({F(0, 1, 1, 0), F(0, 2, 2, 0), F(0, 3, 3, 0), F(0, 6, 6, 0), F(0, 7, 7, 0), F(0, 8, 8, 0)}));
  // An L0 file spanning a boundary of contiguous L1 files is covered.
  std::vector<LtxFileInfo> l0b = {F(0, 1, 4, 400), F(0, 5, 7, 700), F(0, 8, 9, 900)};
  std::vector<LtxFileInfo> l1b = {F(1, 1, 2, 200), F(1, 3, 5, 500), F(1, 6, 7, 700)};
  EXPECT_EQ(Ids(PlanL0Retention(l0b, l1b, 10'000, 1000)), Ids({F(0, 1, 4, 0), F(0, 5, 7, 0)}));
}

TEST(L0Retention, NeverDeletesTheNewestL0File) {
  auto l0 = L0s(1, 5);
  std::vector<LtxFileInfo> l1 = {F(1, 1, 5, 500)};
  EXPECT_EQ(Ids(PlanL0Retention(l0, l1, 10'000, 1000)), Ids(L0s(1, 4)));
  EXPECT_TRUE(PlanL0Retention(L0s(5, 5), l1, 10'000, 1000).empty());
}

TEST(L0Retention, KeepsRecentFilesAndZeroDisables) {
  auto l0 = L0s(1, 10);
  std::vector<LtxFileInfo> l1 = {F(1, 1, 3, 300), F(1, 4, 4, 400), F(1, 5, 9, 900)};
  // cutoff = 450: files created before 450 and covered: 1..4 (L1 1-3 and
  // 4-4 were created by 400); but 4 is the state until 500, inside the L0
  // retention period, so it stays.
  EXPECT_EQ(Ids(PlanL0Retention(l0, l1, 1450, 1000)), Ids(L0s(1, 3)));
  EXPECT_EQ(Ids(PlanL0Retention(l0, l1, 1550, 1000)), Ids(L0s(1, 4)));
  EXPECT_TRUE(PlanL0Retention(l0, l1, 1450, 0).empty());
  EXPECT_TRUE(PlanL0Retention(l0, {}, 1450, 1000).empty());
}

TEST(L0Retention, KeepsFilesWhoseL1IsNewerThanAKeptL0File) {
  // L1 1-9 was created at 900. cutoff 550: L0 1..5 are old, 6..10 are kept.
  // Deleting 1..5 would break a restore to t=600 (target 6 via L0 6, but
  // 1-5 gone and L1 1-9 not yet created at 600). Litestream deletes them.
  auto l0 = L0s(1, 10);
  std::vector<LtxFileInfo> l1 = {F(1, 1, 9, 900)};
  EXPECT_TRUE(PlanL0Retention(l0, l1, 1550, 1000).empty());
  // Once every L0 file up to the L1 end is old, they go together.
  EXPECT_EQ(Ids(PlanL0Retention(l0, l1, 2050, 1000)), Ids(L0s(1, 9)));
  // With L1 split, the first chunk's L0 files go as soon as they are old
  // (cutoff 650: 6 is old too, but L1 6-9 is newer than the kept 7).
  std::vector<LtxFileInfo> l1s = {F(1, 1, 5, 500), F(1, 6, 9, 900)};
  EXPECT_EQ(Ids(PlanL0Retention(l0, l1s, 1650, 1000)), Ids(L0s(1, 5)));
}

// ---- property: a random history, both retention passes, every point of
// the window restores ----

struct History {
  std::vector<LtxFileInfo> files;
  std::vector<int64_t> t;  // t[k]: creation time of TXID k's L0 file
  uint64_t n = 0;
  int64_t now = 0, retention = 0, l0_retention = 0;
};

// Chunks [lo, hi] into consecutive ranges of random lengths, ends in `ends`.
std::vector<std::pair<uint64_t, uint64_t>> Chunks(std::mt19937_64& rng, uint64_t lo, uint64_t hi, int max_len) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (uint64_t a = lo; a <= hi;) {
    uint64_t b = std::min(hi, a + rng() % uint64_t(max_len));
    out.push_back({a, b});
    a = b + 1;
  }
  return out;
}

History Generate(uint64_t seed) {
  std::mt19937_64 rng(seed);
  History h;
  h.n = 20 + rng() % 100;
  h.t.assign(h.n + 2, 0);
  h.t[0] = 1'700'000'000'000;
  for (uint64_t k = 1; k <= h.n + 1; k++) h.t[k] = h.t[k - 1] + 1 + int64_t(rng() % 20'000);
  auto created_snap = [&](uint64_t k) { return h.t[k] + int64_t(rng() % uint64_t(h.t[k + 1] - h.t[k])); };
  // L0 from s0 (earlier ones were removed by past retention), the first
  // snapshot at k0 >= s0 - 1, further snapshots at random.
  const uint64_t s0 = 1 + rng() % (h.n / 3);
  const uint64_t k0 = std::max<uint64_t>(1, s0 - 1 + rng() % 4);
  for (uint64_t k = s0; k <= h.n; k++) h.files.push_back(F(0, k, k, h.t[k]));
  h.files.push_back(F(9, 1, k0, created_snap(k0)));
  for (uint64_t k = k0 + 1; k <= h.n; k++) {
    if (rng() % 12 == 0) h.files.push_back(F(9, 1, k, created_snap(k)));
  }
  // L1 up to m1 (lagging L0), L2 on L1 boundaries up to m2 <= m1. Chunks
  // entirely below the first snapshot may be gone already.
  const uint64_t m1 = h.n / 2 + rng() % (h.n / 2 + 1);
  auto l1 = Chunks(rng, 1, m1, 8);
  size_t m2_chunks = l1.size() - rng() % (l1.size() + 1) / 2;
  for (const auto& [a, b] : l1) {
    if (b < k0 && rng() % 2) continue;
    h.files.push_back(F(1, a, b, h.t[b]));
  }
  for (size_t i = 0; i < m2_chunks;) {
    size_t j = std::min(m2_chunks, i + 1 + size_t(rng() % 4));
    const uint64_t a = l1[i].first, b = l1[j - 1].second;
    if (!(b < k0 && rng() % 2)) h.files.push_back(F(2, a, b, h.t[b]));
    i = j;
  }
  h.now = h.t[h.n] + int64_t(rng() % 60'000);
  const int64_t span = h.now - h.t[1];
  h.retention = 1 + int64_t(rng() % uint64_t(span));
  h.l0_retention = rng() % 5 == 0 ? 0 : int64_t(rng() % uint64_t(span / 2 + 1));
  return h;
}

uint64_t MaxBoundaryAt(const std::vector<LtxFileInfo>& files, int64_t ts) {
  uint64_t m = 0;
  for (const auto& f : files) {
    if (f.created_ms <= ts) m = std::max(m, f.max_txid);
  }
  return m;
}

bool IsBoundary(const std::vector<LtxFileInfo>& files, uint64_t txid,
                int64_t ts = std::numeric_limits<int64_t>::max()) {
  for (const auto& f : files) {
    if (f.max_txid == txid && f.created_ms <= ts) return true;
  }
  return false;
}

TEST(RetentionProperty, EveryPointOfTheWindowStillRestores) {
  int checked_ts = 0, checked_txid = 0, coarsened = 0;
  size_t deleted_snap = 0, deleted_l0 = 0;
  for (uint64_t seed = 1; seed <= 300; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    History h = Generate(seed);
    const auto& before = h.files;
    RetentionPlan p1 = PlanSnapshotRetention(before, h.now, h.retention);
    const auto after1 = Without(before, p1.deletes);
    const auto d2 = PlanL0Retention(Level(after1, 0), Level(after1, 1), h.now, h.l0_retention);
    const auto after2 = Without(after1, d2);
    deleted_snap += p1.deletes.size();
    deleted_l0 += d2.size();
    for (const auto& f : d2) ASSERT_EQ(f.level, 0);
    // Each level's newest file survives both passes.
    for (int level = 0; level <= 9; level++) {
      auto lv = Level(before, level);
      if (lv.empty()) continue;
      uint64_t mx = 0;
      for (const auto& f : lv) mx = std::max(mx, f.max_txid);
      EXPECT_TRUE(IsBoundary(Level(after2, level), mx)) << "level " << level;
    }

    const int64_t start = h.now - h.retention;
    const int64_t l0_cutoff = h.now - h.l0_retention;
    std::vector<int64_t> times = {start, h.now};
    std::mt19937_64 rng(seed * 7919);
    for (const auto& f : before) {
      if (f.created_ms >= start && f.created_ms <= h.now) {
        times.push_back(f.created_ms);
        times.push_back(f.created_ms - 1);
      }
    }
    for (int i = 0; i < 10; i++) times.push_back(start + int64_t(rng() % uint64_t(h.retention + 1)));
    for (int64_t ts : times) {
      if (ts < start) continue;
      auto p0 = restore::CalcPlan(before, {.timestamp_ms = ts}, "before");
      if (!p0.ok()) continue;  // not restorable before (e.g. before the first snapshot)
      checked_ts++;
      auto q1 = restore::CalcPlan(after1, {.timestamp_ms = ts}, "after snapshot retention");
      ASSERT_TRUE(q1.ok()) << "ts " << ts << ": " << q1.status().ToString();
      EXPECT_EQ(q1->txid, p0->txid) << "snapshot retention never coarsens, ts " << ts;
      auto q2 = restore::CalcPlan(after2, {.timestamp_ms = ts}, "after L0 retention");
      ASSERT_TRUE(q2.ok()) << "ts " << ts << ": " << q2.status().ToString();
      EXPECT_EQ(q2->txid, MaxBoundaryAt(after2, ts));
      if (ts >= l0_cutoff || h.l0_retention == 0 || IsBoundary(after2, p0->txid, ts)) {
        EXPECT_EQ(q2->txid, p0->txid) << "ts " << ts << " cutoff " << l0_cutoff << [&] {
          std::string o;
          for (const auto& f : before) {
            o += "\n" + std::to_string(f.level) + " " + std::to_string(f.min_txid) + "-" + std::to_string(f.max_txid) +
                 " @" + std::to_string(f.created_ms) + (Ids(d2).count(IdOf(f)) ? " L0DEL" : "") +
                 (Ids(p1.deletes).count(IdOf(f)) ? " SNAPDEL" : "");
          }
          return o;
        }();
      } else {
        // Coarsened: only because the L0 file(s) ending there were deleted.
        EXPECT_LE(q2->txid, p0->txid);
        bool l0_deleted = false;
        for (const auto& f : d2) l0_deleted |= f.max_txid == p0->txid;
        EXPECT_TRUE(l0_deleted) << "ts " << ts;
        if (q2->txid != p0->txid) coarsened++;
      }
    }
    // TXID points whose L0 file was created inside the window.
    for (uint64_t k = 1; k <= h.n; k++) {
      if (h.t[k] < start) continue;
      auto p0 = restore::CalcPlan(before, {.txid = k}, "before");
      if (!p0.ok()) continue;
      checked_txid++;
      auto q1 = restore::CalcPlan(after1, {.txid = k}, "after snapshot retention");
      ASSERT_TRUE(q1.ok()) << "txid " << k << ": " << q1.status().ToString();
      EXPECT_EQ(q1->txid, k);
      auto q2 = restore::CalcPlan(after2, {.txid = k}, "after L0 retention");
      if (IsBoundary(after2, k)) {
        ASSERT_TRUE(q2.ok()) << "txid " << k << ": " << q2.status().ToString();
        EXPECT_EQ(q2->txid, k);
      } else {
        EXPECT_FALSE(q2.ok());
        bool l0_deleted = false;
        for (const auto& f : d2) l0_deleted |= f.max_txid == k;
        EXPECT_TRUE(l0_deleted) << "txid " << k;
        EXPECT_LT(h.t[k], l0_cutoff);
      }
    }
  }
  // The generator exercises what it claims.
  EXPECT_GT(checked_ts, 3000);
  EXPECT_GT(checked_txid, 3000);
  EXPECT_GT(deleted_snap, 500u);
  EXPECT_GT(deleted_l0, 500u);
  EXPECT_GT(coarsened, 50);
  std::printf("checked %d timestamps, %d txids; deleted %zu (snapshot retention) + %zu (L0); %d coarsened\n",
              checked_ts, checked_txid, deleted_snap, deleted_l0, coarsened);
}

}  // namespace
}  // namespace walship::compact
