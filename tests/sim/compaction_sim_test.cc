// Compaction and retention simulation with an injected clock (issue 5): hours
// of writes with fast levels, every step of the replicator driven by hand.
// After every retention pass that deleted something, the listing is checked
// with restore::CalcPlan against an independent oracle (sim_harness.h): every
// point of the retention window still plans, to the newest restorable point,
// and every file ending in the window is an exact TXID restore point -- so
// every file retention deleted is proven unneeded. At the end, 50 restores at
// random timestamps and 20+ at random restorable TXIDs each give exactly the
// writer's logged state, and points outside the window fail with kOutOfRange.
//
// WALSHIP_SIM_SEED=N reproduces a run (the seed is printed);
// WALSHIP_SIM_HOURS=H changes the simulated duration (default 3);
// WALSHIP_SIM_KEEP=1 keeps the temp dir.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>

#include "base/timefmt.h"
#include "ltx/format.h"
#include "sim_harness.h"

namespace walship::sim {
namespace {

constexpr uint64_t kDefaultSeed = 0x5eed2026;

double SimHours() {
  const char* s = getenv("WALSHIP_SIM_HOURS");
  return s != nullptr && *s != '\0' ? atof(s) : 3.0;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += "\n  " + s;
  return out;
}

TEST(CompactionSim, HoursOfWritesEveryPointInTheWindowRestores) {
  const uint64_t seed = SeedFromEnv(kDefaultSeed);
  const double hours = SimHours();
  std::printf("compaction sim: seed %llu (rerun with WALSHIP_SIM_SEED=%llu), %.2f simulated hours\n",
              (unsigned long long)seed, (unsigned long long)seed, hours);
  std::fflush(stdout);
  const auto t0 = std::chrono::steady_clock::now();

  SimOptions o;
  o.seed = seed;
  o.start_ms = 1'700'000'000'000 + int64_t(seed % 3'600'000);  // boundaries fall anywhere
  Sim sim(o);
  Status s = sim.Open();
  ASSERT_TRUE(s.ok()) << s.ToString();

  std::vector<std::string> failures;
  int passes_checked = 0, transactions = 0;
  const int ticks = int(hours * 3600);
  for (int i = 0; i < ticks && failures.empty(); i++) {
    sim.clock().Advance(1000);
    auto w = sim.RandomWrites();
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    transactions += *w;
    s = sim.Sync();
    ASSERT_TRUE(s.ok()) << "tick " << i << ": " << s.ToString();
    if (i % 7 == 3) {
      s = sim.Checkpoint(/*force=*/i % 601 == 3);
      ASSERT_TRUE(s.ok()) << "tick " << i << ": " << s.ToString();
    }
    s = sim.SnapshotAndUpload();
    ASSERT_TRUE(s.ok()) << "tick " << i << ": " << s.ToString();
    s = sim.rep().CompactDue();
    ASSERT_TRUE(s.ok()) << "tick " << i << ": " << s.ToString();
    auto deleted = sim.Observe(&failures);
    ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
    if (!deleted->empty()) {
      passes_checked++;
      sim.CheckWindow(sim.listing(), 4, &failures);
    }
  }
  ASSERT_TRUE(failures.empty()) << "at " << FormatRfc3339Ms(sim.clock().NowMs()) << Join(failures);
  EXPECT_EQ(sim.unknown_txids(), 0) << "some TXIDs were synced without the writer logging their state";

  const auto& c = sim.counts();
  auto get = [](const std::map<int, int>& m, int k) {
    auto it = m.find(k);
    return it == m.end() ? 0 : it->second;
  };
  std::printf("  %d ticks, %d transactions, %d vacuums, %d checkpoints, last TXID %s\n", ticks, transactions,
              sim.vacuums(), sim.checkpoints(), ltx::FormatTxid(sim.last_txid()).c_str());
  for (int level = 0; level <= ltx::kMaxLevel; level++) {
    if (get(c.written, level) || get(c.deleted, level)) {
      std::printf("  level %d: %d written, %d deleted\n", level, get(c.written, level), get(c.deleted, level));
    }
  }
  std::printf("  %d retention passes deleted files; each was checked on the listing\n", passes_checked);
  std::fflush(stdout);
  // The schedule did run: every level wrote, and retention deleted at L0,
  // the levels and the snapshots (otherwise this test proves nothing).
  if (hours >= 2.5) {
    for (int level = 1; level <= 3; level++) EXPECT_GT(get(c.written, level), 0) << "level " << level;
    EXPECT_GE(get(c.written, ltx::kSnapshotLevel), 5);
    EXPECT_GT(get(c.deleted, 0), 0);
    EXPECT_GT(get(c.deleted, 1), 0);
    EXPECT_GT(get(c.deleted, ltx::kSnapshotLevel), 0);
    EXPECT_GT(passes_checked, 100);
  }

  // Full check of the final listing: every sync time and every file end.
  sim.CheckWindow(sim.listing(), -1, &failures);
  ASSERT_TRUE(failures.empty()) << Join(failures);

  // Timestamps end at the newest file (a later one is refused, as in Litestream).
  int64_t now = 0;
  for (const auto& f : sim.listing()) now = std::max(now, f.created_ms);
  const int64_t ws = std::max(sim.clock().NowMs() - o.snapshot_retention_ms, sim.first_sync_ms());
  const std::set<uint64_t> reach = ReachableEndpoints(sim.listing());
  auto expected = [&](uint64_t w) -> uint64_t {
    auto it = reach.upper_bound(w);
    return it == reach.begin() ? 0 : *std::prev(it);
  };
  // Retention bounds the replica: the oldest snapshot is the one covering
  // the window start (snapshots are taken every interval while writing).
  int64_t oldest_snap = now;
  for (const auto& f : sim.listing()) {
    if (f.level == ltx::kSnapshotLevel) oldest_snap = std::min(oldest_snap, f.created_ms);
  }
  if (hours >= 2.5) {
    EXPECT_LE(oldest_snap, ws);
    EXPECT_GE(oldest_snap, ws - o.snapshot_interval_ms - 60'000) << "retention kept an older snapshot than needed";
  }

  // 50 restores at random timestamps in the window (10 inside the L0 window).
  int exact_in_l0 = 0, coarse = 0;
  for (int i = 0; i < 50; i++) {
    const int64_t lo = i < 10 ? std::max(ws, sim.clock().NowMs() - o.l0_retention_ms) : ws;
    const int64_t t = lo + int64_t(sim.rng()() % uint64_t(now - lo + 1));
    const uint64_t w = sim.WriterTxidAt(t);
    restore::Point p;
    p.timestamp_ms = t;
    uint64_t got = 0;
    s = sim.RestoreAndCompare(p, &got, &failures);
    ASSERT_TRUE(s.ok()) << "restore at " << FormatRfc3339Ms(t) << ": " << s.ToString();
    EXPECT_EQ(got, expected(w)) << "restore at " << FormatRfc3339Ms(t) << " (writer TXID " << w
                                << ") did not restore the newest restorable point";
    const auto tw = sim.TimeOf(w);
    if (tw && *tw >= sim.clock().NowMs() - o.l0_retention_ms) {
      exact_in_l0++;
      EXPECT_EQ(got, w) << "restore at " << FormatRfc3339Ms(t) << " is inside the L0 window but not exact";
    } else if (got != w) {
      coarse++;
    }
  }
  EXPECT_GE(exact_in_l0, 5);
  // 20+ restores at random restorable TXIDs of the window (every level's ends).
  const uint64_t w0 = sim.WriterTxidAt(ws);
  std::vector<uint64_t> ends;
  for (const auto& f : sim.listing()) {
    if (f.max_txid >= w0) ends.push_back(f.max_txid);
  }
  ASSERT_FALSE(ends.empty());
  std::vector<uint64_t> txids = {sim.last_txid(), *std::min_element(ends.begin(), ends.end())};
  for (int i = 0; i < 22; i++) txids.push_back(ends[sim.rng()() % ends.size()]);
  for (uint64_t x : txids) {
    restore::Point p;
    p.txid = x;
    uint64_t got = 0;
    s = sim.RestoreAndCompare(p, &got, &failures);
    ASSERT_TRUE(s.ok()) << "restore at TXID " << ltx::FormatTxid(x) << ": " << s.ToString();
    EXPECT_EQ(got, x);
  }
  {
    uint64_t got = 0;
    s = sim.RestoreAndCompare(restore::Point{}, &got, &failures);
    ASSERT_TRUE(s.ok()) << "restore latest: " << s.ToString();
    EXPECT_EQ(got, sim.last_txid());
  }
  ASSERT_TRUE(failures.empty()) << Join(failures);
  std::printf("  restores: 50 timestamps (%d exact inside the L0 window, %d at level-1 granularity), %zu TXIDs, latest\n",
              exact_in_l0, coarse, txids.size());

  // Outside the window: kOutOfRange naming the window; nothing written.
  if (hours >= 2.5) {
    std::vector<restore::Point> outside(4);
    outside[0].timestamp_ms = ws - 2 * o.snapshot_interval_ms;
    outside[1].timestamp_ms = now + 3'600'000;
    outside[2].txid = sim.last_txid() + 10;
    outside[3].txid = 1;
    for (const auto& p : outside) {
      uint64_t got = 0;
      s = sim.RestoreAndCompare(p, &got, &failures);
      EXPECT_EQ(s.code(), Code::kOutOfRange) << s.ToString();
      EXPECT_NE(s.message().find("restorable window"), std::string::npos) << s.message();
    }
    // A TXID inside a compacted range of the window (its L0 files are gone).
    uint64_t inside = 0;
    for (uint64_t x = w0 + 1; x < sim.last_txid() && inside == 0; x++) {
      if (!reach.count(x)) inside = x;
    }
    ASSERT_NE(inside, 0u) << "L0 retention deleted nothing inside the window";
    restore::Point p;
    p.txid = inside;
    uint64_t got = 0;
    s = sim.RestoreAndCompare(p, &got, &failures);
    EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("nearest restorable"), std::string::npos) << s.message();
    EXPECT_TRUE(failures.empty()) << Join(failures);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  done in %.1f s\n", secs);
}


// The oracle is not vacuous: a retention that deletes the snapshot covering
// the window start (Litestream LS#771), or an L0 file inside the L0 window,
// is reported.
TEST(CompactionSim, OracleCatchesFilesThatWereStillNeeded) {
  SimOptions o;
  o.seed = SeedFromEnv(kDefaultSeed) + 1;
  o.snapshot_interval_ms = 5 * 60'000;
  o.snapshot_retention_ms = 15 * 60'000;
  Sim sim(o);
  Status s = sim.Open();
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::vector<std::string> failures;
  for (int i = 0; i < 45 * 60; i++) {
    sim.clock().Advance(1000);
    ASSERT_TRUE(sim.RandomWrites().ok());
    ASSERT_TRUE(sim.Sync().ok());
    ASSERT_TRUE(sim.SnapshotAndUpload().ok());
    ASSERT_TRUE(sim.rep().CompactDue().ok());
    ASSERT_TRUE(sim.Observe(&failures).ok());
  }
  sim.CheckWindow(sim.listing(), -1, &failures);
  ASSERT_TRUE(failures.empty()) << Join(failures);

  const int64_t ws = sim.clock().NowMs() - o.snapshot_retention_ms;
  const LtxFileInfo* covering = nullptr;
  const LtxFileInfo* recent_l0 = nullptr;
  for (const auto& f : sim.listing()) {
    if (f.level == ltx::kSnapshotLevel && f.created_ms <= ws && (!covering || f.created_ms > covering->created_ms)) {
      covering = &f;
    }
  }
  for (const auto& f : sim.listing()) {
    // An L0 file of the L0 window whose TXID no other file ends at.
    if (f.level != 0 || f.created_ms < sim.clock().NowMs() - 60'000 || recent_l0) continue;
    bool alone = true;
    for (const auto& g : sim.listing()) alone = alone && (g.level == 0 || g.max_txid != f.max_txid);
    if (alone) recent_l0 = &f;
  }
  ASSERT_NE(covering, nullptr);
  ASSERT_NE(recent_l0, nullptr);
  std::vector<LtxFileInfo> without = sim.listing();
  std::erase_if(without, [&](const LtxFileInfo& f) { return f.key == covering->key; });
  sim.CheckWindow(without, 20, &failures);
  EXPECT_FALSE(failures.empty()) << "deleting " << covering->key << " went unnoticed";
  failures.clear();
  without = sim.listing();
  std::erase_if(without, [&](const LtxFileInfo& f) { return f.key == recent_l0->key; });
  sim.CheckWindow(without, -1, &failures);
  EXPECT_FALSE(failures.empty()) << "deleting " << recent_l0->key << " went unnoticed";
}

}  // namespace
}  // namespace walship::sim
