#include "compact/compactor.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <random>

#include "base/file.h"
#include "compact/schedule.h"
#include "ltx/format.h"
#include "ltx/test_util.h"
#include "restore/plan.h"
#include "restore/restore.h"
#include "storage/fault/fault_store.h"
#include "storage/mem_store.h"

namespace walship::compact {
namespace {

using ltx::testing::Page;
using replica::LtxFileInfo;

constexpr uint32_t kPageSize = 512;
constexpr int64_t kT0 = 1'700'000'000'000;  // 22:13:20 UTC: 20 s after a 30 s boundary... (see Align)

std::string ReadAll(Source* s) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto n = s->Read(buf, sizeof(buf));
    if (!n.ok() || *n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

// A database history: which pages each TXID wrote, and the commit after it.
struct Model {
  std::map<uint64_t, std::vector<Page>> writes;
  std::map<uint64_t, uint32_t> commit;
  std::map<uint64_t, int64_t> ts;

  // The pages of the merge of TXIDs [a, b] (latest version wins, <= commit(b)).
  std::vector<Page> Merged(uint64_t a, uint64_t b) const {
    std::map<uint32_t, std::string> m;
    for (uint64_t k = a; k <= b; k++) {
      for (const Page& p : writes.at(k)) m[p.pgno] = p.data;
    }
    std::vector<Page> out;
    for (auto& [pgno, data] : m) {
      if (pgno <= commit.at(b)) out.push_back({pgno, data});
    }
    return out;
  }
  // The database file after TXID k.
  std::string Database(uint64_t k) const {
    std::string db;
    for (const Page& p : Merged(1, k)) {
      EXPECT_EQ(p.pgno, db.size() / kPageSize + 1);
      db += p.data;
    }
    return db;
  }
};

class CompactorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/walship-compact-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    tmp_dir_ = JoinPath(dir_, "tmp");
    l0_dir_ = JoinPath(dir_, "l0");
    ASSERT_TRUE(MakeDirs(tmp_dir_).ok());
    ASSERT_TRUE(MakeDirs(l0_dir_).ok());
    mem_ = std::make_shared<storage::MemStore>();
    fault_ = std::make_shared<storage::FaultStore>(mem_);
    replica_ = std::make_shared<replica::Replica>(fault_, "db", storage::KeyLayout::kFile);
    catalog_ = std::make_shared<Catalog>(replica_);
    // Start 1 s after a 1-hour boundary, so every level is due at start-up
    // and then at its boundaries.
    clock_.Set(TruncateMs(kT0, 3'600'000) + 3'600'000 + 1000);
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }

  CompactorOptions Opts() {
    CompactorOptions o;
    o.level_intervals_ms = {30'000, 300'000};
    o.tmp_dir = tmp_dir_;
    o.clock = &clock_;
    o.name = "test.db";
    return o;
  }

  // Writes TXID k as an L0 file created now (and a local copy if asked).
  // TXID 1 is a snapshot of 4 pages; later ones rewrite a random subset and
  // sometimes grow the database by one page.
  std::string WriteL0(uint64_t k, bool local = false, bool remote = true) {
    std::mt19937_64 rng(k * 1000003);
    std::vector<Page> pages;
    uint32_t commit;
    if (k == 1) {
      commit = 4;
      for (uint32_t p = 1; p <= commit; p++) pages.push_back({p, ltx::testing::MakePage(kPageSize, p, 1)});
    } else {
      const uint32_t prev = model_.commit.at(k - 1);
      commit = prev + (rng() % 3 == 0 ? 1 : 0);
      for (uint32_t p = 1; p <= commit; p++) {
        if (p > prev || rng() % 3 == 0) pages.push_back({p, ltx::testing::MakePage(kPageSize, p, uint32_t(k))});
      }
      if (pages.empty()) pages.push_back({1, ltx::testing::MakePage(kPageSize, 1, uint32_t(k))});
    }
    const int64_t ts = clock_.NowMs();
    model_.writes[k] = pages;
    model_.commit[k] = commit;
    model_.ts[k] = ts;
    std::string bytes = ltx::testing::EncodeFile(ltx::testing::MakeHeader(kPageSize, commit, k, k, ts), pages);
    if (remote) {
      storage::PutOptions po;
      po.timestamp_ms = ts;
      EXPECT_TRUE(mem_->PutBytes(replica_->Key(0, k, k), bytes, po).ok());
      LtxFileInfo f{0, k, k, bytes.size(), ts, replica_->Key(0, k, k)};
      catalog_->Add(f);
    }
    if (local) {
      EXPECT_TRUE(WriteFileAtomic(JoinPath(l0_dir_, ltx::FormatFileName(k, k)), bytes).ok());
    }
    return bytes;
  }

  // A level-9 snapshot 1-k created now.
  void WriteSnapshot(uint64_t k) {
    const int64_t ts = clock_.NowMs();
    std::vector<Page> pages = model_.Merged(1, k);
    std::string bytes = ltx::testing::EncodeFile(ltx::testing::MakeHeader(kPageSize, model_.commit.at(k), 1, k, ts),
                                                 pages);
    storage::PutOptions po;
    po.timestamp_ms = ts;
    ASSERT_TRUE(mem_->PutBytes(replica_->Key(9, 1, k), bytes, po).ok());
    catalog_->Add({9, 1, k, bytes.size(), ts, replica_->Key(9, 1, k)});
  }

  std::string Object(const std::string& key) {
    auto src = mem_->Open(key);
    EXPECT_TRUE(src.ok()) << key << ": " << src.status().ToString();
    return src.ok() ? ReadAll(src->get()) : std::string();
  }

  // Decodes the object of f and compares it with the model.
  void ExpectMerged(const LtxFileInfo& f) {
    SCOPED_TRACE(f.key);
    auto d = ltx::testing::DecodeAll(Object(f.key));
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->header.min_txid, f.min_txid);
    EXPECT_EQ(d->header.max_txid, f.max_txid);
    EXPECT_EQ(d->header.commit, model_.commit.at(f.max_txid));
    EXPECT_EQ(d->header.timestamp_ms, model_.ts.at(f.max_txid));
    EXPECT_EQ(f.created_ms, model_.ts.at(f.max_txid));
    EXPECT_TRUE(d->pages == model_.Merged(f.min_txid, f.max_txid));
  }

  // Restores the replica (latest or at a TXID) and compares with the model.
  void ExpectRestores(uint64_t txid, bool at_txid = false) {
    SCOPED_TRACE("restore TXID " + std::to_string(txid));
    restore::RestoreOptions ro;
    ro.output = JoinPath(dir_, "restored-" + std::to_string(restores_++) + ".db");
    ro.integrity = restore::IntegrityCheck::kNone;
    if (at_txid) ro.point.txid = txid;
    auto res = restore::Restore(*replica_, ro);
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    EXPECT_EQ(res->plan.txid, txid);
    auto db = ReadFileToString(ro.output);
    ASSERT_TRUE(db.ok());
    EXPECT_TRUE(*db == model_.Database(txid)) << "restored database differs";
  }

  std::vector<std::string> TmpFiles() {
    auto names = ListDir(tmp_dir_);
    return names.ok() ? *names : std::vector<std::string>{"<error>"};
  }

  std::string dir_, tmp_dir_, l0_dir_;
  FakeClock clock_;
  std::shared_ptr<storage::MemStore> mem_;
  std::shared_ptr<storage::FaultStore> fault_;
  std::shared_ptr<replica::Replica> replica_;
  std::shared_ptr<Catalog> catalog_;
  Model model_;
  int restores_ = 0;
};

std::vector<std::pair<uint64_t, uint64_t>> Ranges(const std::vector<LtxFileInfo>& v) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& f : v) out.push_back({f.min_txid, f.max_txid});
  return out;
}

TEST_F(CompactorTest, Level1MergesEveryL0FileIntoOne) {
  for (uint64_t k = 1; k <= 10; k++) {
    WriteL0(k);
    clock_.Advance(1000);
  }
  Compactor c(Opts(), catalog_);
  auto out = c.CompactLevel(1);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  const LtxFileInfo& f = (*out)[0];
  EXPECT_EQ(f.level, 1);
  EXPECT_EQ(f.key, "db/ltx/1/" + ltx::FormatFileName(1, 10));
  ExpectMerged(f);
  EXPECT_EQ(f.size, Object(f.key).size());
  // Recorded in the catalog; the temp file is gone.
  EXPECT_EQ(Ranges(catalog_->Files(1)), Ranges(*out));
  EXPECT_EQ(catalog_->MaxTxid(1), 10u);
  EXPECT_TRUE(TmpFiles().empty());
  // Nothing new: nothing written, even when forced.
  auto again = c.CompactLevel(1, true);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(mem_->object_count(), 11u);
}

TEST_F(CompactorTest, Level2FromLevel1) {
  Compactor c(Opts(), catalog_);
  for (uint64_t k = 1; k <= 5; k++) WriteL0(k);
  ASSERT_TRUE(c.CompactLevel(1).ok());
  clock_.Advance(30'000);
  for (uint64_t k = 6; k <= 12; k++) WriteL0(k);
  auto l1 = c.CompactLevel(1);
  ASSERT_TRUE(l1.ok());
  ASSERT_EQ(Ranges(*l1), (std::vector<std::pair<uint64_t, uint64_t>>{{6, 12}}));
  auto l2 = c.CompactLevel(2);
  ASSERT_TRUE(l2.ok()) << l2.status().ToString();
  ASSERT_EQ(Ranges(*l2), (std::vector<std::pair<uint64_t, uint64_t>>{{1, 12}}));
  ExpectMerged((*l2)[0]);
  EXPECT_TRUE(l2->front().key.find("/ltx/2/") != std::string::npos);
}

TEST_F(CompactorTest, NotDueUntilTheNextBoundaryUnlessForced) {
  Compactor c(Opts(), catalog_);
  WriteL0(1);
  ASSERT_EQ(c.CompactLevel(1)->size(), 1u);  // due at start-up
  clock_.Advance(1000);
  WriteL0(2);
  EXPECT_TRUE(c.CompactLevel(1)->empty()) << "too early: L1 was written after the last boundary";
  EXPECT_GE(c.NextDueInMs(), 1);
  EXPECT_LE(c.NextDueInMs(), 28'000);
  // Forced: runs now.
  auto forced = c.CompactLevel(1, true);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ(Ranges(*forced), (std::vector<std::pair<uint64_t, uint64_t>>{{2, 2}}));
  WriteL0(3);
  EXPECT_TRUE(c.CompactLevel(1)->empty());
  // At the boundary it is due again.
  clock_.Set(NextBoundaryMs(clock_.NowMs(), 30'000));
  auto due = c.CompactLevel(1);
  ASSERT_TRUE(due.ok());
  EXPECT_EQ(Ranges(*due), (std::vector<std::pair<uint64_t, uint64_t>>{{3, 3}}));
  // Ran at this boundary already (even though the L0 file predates it).
  clock_.Advance(1000);
  WriteL0(4);
  EXPECT_TRUE(c.CompactLevel(1)->empty());
}

TEST_F(CompactorTest, LevelOutOfRangeIsInvalidArgument) {
  Compactor c(Opts(), catalog_);
  for (int level : {0, 3, -1, 9}) {
    auto r = c.CompactLevel(level);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
}

TEST_F(CompactorTest, MaxInputsSplitsIntoSeveralOutputs) {
  auto o = Opts();
  o.max_inputs = 3;
  Compactor c(o, catalog_);
  for (uint64_t k = 1; k <= 10; k++) WriteL0(k);
  auto out = c.CompactLevel(1);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Ranges(*out), (std::vector<std::pair<uint64_t, uint64_t>>{{1, 3}, {4, 6}, {7, 9}, {10, 10}}));
  for (const auto& f : *out) ExpectMerged(f);
  ExpectRestores(10);
}

TEST_F(CompactorTest, GapInSourceCompactsOnlyTheContiguousPrefix) {
  Compactor c(Opts(), catalog_);
  for (uint64_t k = 1; k <= 8; k++) WriteL0(k);
  // TXID 5 is missing from the replica.
  ASSERT_TRUE(mem_->Delete({replica_->Key(0, 5, 5)}).ok());
  catalog_->Invalidate();
  auto out = c.CompactLevel(1);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Ranges(*out), (std::vector<std::pair<uint64_t, uint64_t>>{{1, 4}}));
  ExpectMerged((*out)[0]);
  // The rest after the gap, as its own output: never one spanning 4..6.
  auto rest = c.CompactLevel(1, true);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(Ranges(*rest), (std::vector<std::pair<uint64_t, uint64_t>>{{6, 8}}));
  ExpectMerged((*rest)[0]);
}

TEST_F(CompactorTest, Level1PrefersLocalL0Files) {
  auto o = Opts();
  o.local_l0_dir = l0_dir_;
  Compactor c(o, catalog_);
  for (uint64_t k = 1; k <= 6; k++) WriteL0(k, /*local=*/k != 4);
  ASSERT_TRUE(catalog_->Load().ok());
  // The remote copy of 2 is corrupt: a GET of it would fail the merge.
  mem_->Corrupt(replica_->Key(0, 2, 2), 200);
  const int gets = mem_->gets.load();
  auto out = c.CompactLevel(1);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(mem_->gets.load() - gets, 1) << "only TXID 4 (no local copy) is fetched";
  ExpectMerged((*out)[0]);

  // Without the local copies, the corrupt remote object is read and named.
  auto cat2 = std::make_shared<Catalog>(replica_);
  auto o2 = Opts();
  Compactor c2(o2, cat2);
  ASSERT_TRUE(mem_->Delete({replica_->Key(1, 1, 6)}).ok());
  auto bad = c2.CompactLevel(1, true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kCorruption) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find(ltx::FormatFileName(2, 2)), std::string::npos) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find("compact L1"), std::string::npos) << bad.status().ToString();
  EXPECT_TRUE(TmpFiles().empty());
}

TEST_F(CompactorTest, UploadCollisionKeepsTheExistingObject) {
  for (uint64_t k = 1; k <= 4; k++) WriteL0(k);
  ASSERT_TRUE(catalog_->Load().ok());
  // Another writer puts L1 1-4 after our listing, with its own timestamp.
  const std::string key = replica_->Key(1, 1, 4);
  std::string theirs = ltx::testing::EncodeFile(ltx::testing::MakeHeader(kPageSize, 4, 1, 4, 12345),
                                                model_.Merged(1, 4), ltx::PageEncoding::kBlock);
  storage::PutOptions po;
  po.timestamp_ms = 12345;
  ASSERT_TRUE(mem_->PutBytes(key, theirs, po).ok());
  Compactor c(Opts(), catalog_);
  auto out = c.CompactLevel(1);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].created_ms, 12345) << "the listed (existing) object's info";
  EXPECT_EQ((*out)[0].size, theirs.size());
  EXPECT_EQ(Object(key), theirs) << "never overwritten";
  EXPECT_EQ(catalog_->MaxTxid(1), 4u);
  EXPECT_TRUE(TmpFiles().empty());
}

TEST_F(CompactorTest, CompactedReplicaRestoresTheSamePages) {
  auto o = Opts();
  o.max_inputs = 4;
  o.l0_retention_ms = 60'000;
  Compactor c(o, catalog_);
  for (uint64_t k = 1; k <= 20; k++) {
    WriteL0(k);
    clock_.Advance(1000);
  }
  ASSERT_TRUE(c.CompactLevel(1).ok());
  ASSERT_TRUE(c.CompactLevel(2).ok());
  ExpectRestores(20);
  ExpectRestores(12, /*at_txid=*/true);  // an L1 boundary
  ExpectRestores(7, /*at_txid=*/true);   // an L0 file inside L1 4-8... 5-8
  // L0 retention removes the L0 files L1 covers (except the newest).
  clock_.Advance(120'000);
  auto del = c.EnforceL0Retention();
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_EQ(del->size(), 19u);
  auto l0 = replica_->ListLevel(0);
  ASSERT_TRUE(l0.ok());
  EXPECT_EQ(Ranges(*l0), (std::vector<std::pair<uint64_t, uint64_t>>{{20, 20}}));
  ExpectRestores(20);
  ExpectRestores(16, /*at_txid=*/true);
  // The catalog matches the replica.
  auto all = replica_->ListAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Ranges(*all), Ranges(catalog_->All()));
}

TEST_F(CompactorTest, SnapshotRetentionDeletesAndKeepsTheCoveringSnapshot) {
  auto o = Opts();
  o.snapshot_retention_ms = 600'000;
  o.local_l0_dir = l0_dir_;
  Compactor c(o, catalog_);
  for (uint64_t k = 1; k <= 30; k++) {
    WriteL0(k, /*local=*/true);
    if (k % 10 == 0) WriteSnapshot(k);
    clock_.Advance(60'000);  // a snapshot every 10 minutes
  }
  ASSERT_TRUE(c.CompactLevel(1, true).ok());
  // now = t(30) + 60 s; window start = now - 10 min = t(21): snapshot 1-20
  // (created at t(20)) covers it and stays; 1-10 goes; floor 20.
  auto del = c.EnforceSnapshotRetention();
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  std::vector<std::pair<uint64_t, uint64_t>> want = {};
  for (uint64_t k = 1; k <= 20; k++) want.push_back({k, k});
  want.push_back({1, 10});
  std::sort(want.begin(), want.end());
  auto got = Ranges(*del);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
  // Local L0 copies of deleted files are gone; later ones are not.
  EXPECT_FALSE(FileExists(JoinPath(l0_dir_, ltx::FormatFileName(20, 20))));
  EXPECT_TRUE(FileExists(JoinPath(l0_dir_, ltx::FormatFileName(21, 21))));
  ExpectRestores(30);
  ExpectRestores(21, true);
  // Every minute of the window restores.
  auto files = replica_->ListAll();
  ASSERT_TRUE(files.ok());
  for (uint64_t k = 21; k <= 30; k++) {
    auto p = restore::CalcPlan(*files, {.timestamp_ms = model_.ts.at(k)}, "r");
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ(p->txid, k);
  }
  // Idempotent.
  auto again = c.EnforceSnapshotRetention();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

TEST_F(CompactorTest, RetentionDisabledDeletesNothingRemote) {
  auto o = Opts();
  o.snapshot_retention_ms = 600'000;
  o.retention_enabled = false;
  o.local_l0_dir = l0_dir_;
  Compactor c(o, catalog_);
  for (uint64_t k = 1; k <= 30; k++) {
    WriteL0(k, true);
    if (k % 10 == 0) WriteSnapshot(k);
    clock_.Advance(60'000);
  }
  const size_t objects = mem_->object_count();
  auto del = c.EnforceSnapshotRetention();
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(del->empty());
  EXPECT_EQ(mem_->object_count(), objects);
  EXPECT_EQ(mem_->deletes.load(), 0);
  EXPECT_FALSE(FileExists(JoinPath(l0_dir_, ltx::FormatFileName(5, 5)))) << "local copies still go";
  EXPECT_TRUE(FileExists(JoinPath(l0_dir_, ltx::FormatFileName(30, 30))));
}

TEST_F(CompactorTest, StoreErrorInvalidatesTheCatalogAndTheNextCallRecovers) {
  Compactor c(Opts(), catalog_);
  for (uint64_t k = 1; k <= 5; k++) WriteL0(k);
  ASSERT_TRUE(catalog_->Load().ok());
  const int lists = mem_->lists.load();
  // The upload of the L1 output fails.
  int rule = fault_->AddRule(storage::FaultRule::FailNth(storage::FaultOp::kPut, 1));
  auto bad = c.CompactLevel(1);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("compact L1"), std::string::npos) << bad.status().ToString();
  EXPECT_NE(bad.status().message().find(replica_->Key(1, 1, 5)), std::string::npos) << bad.status().ToString();
  EXPECT_FALSE(catalog_->loaded());
  EXPECT_TRUE(TmpFiles().empty());
  fault_->RemoveRule(rule);
  // The failed run does not count as this interval's run: retried at once.
  auto good = c.CompactLevel(1);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(Ranges(*good), (std::vector<std::pair<uint64_t, uint64_t>>{{1, 5}}));
  EXPECT_EQ(mem_->lists.load() - lists, 10) << "re-listed every level once";
  ExpectMerged((*good)[0]);

  // Ack lost: the object lands but the reply fails. The next call re-lists,
  // sees it, and does not compact the range again.
  clock_.Set(NextBoundaryMs(clock_.NowMs(), 30'000) + 10);
  for (uint64_t k = 6; k <= 8; k++) WriteL0(k);
  fault_->AddRule(storage::FaultRule::AckLostNth(storage::FaultOp::kPut, 1));
  auto lost = c.CompactLevel(1);
  ASSERT_FALSE(lost.ok());
  EXPECT_FALSE(catalog_->loaded());
  fault_->ClearRules();
  const int puts = mem_->puts.load();
  auto after = c.CompactLevel(1, true);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_TRUE(after->empty());
  EXPECT_EQ(mem_->puts.load(), puts);
  EXPECT_EQ(catalog_->MaxTxid(1), 8u);
  ExpectRestores(8);

  // A failing delete in retention invalidates too.
  auto o = Opts();
  o.l0_retention_ms = 1000;
  Compactor r(o, catalog_);
  clock_.Advance(10'000);
  fault_->AddRule(storage::FaultRule::FailNth(storage::FaultOp::kDelete, 1));
  auto del = r.EnforceL0Retention();
  ASSERT_FALSE(del.ok());
  EXPECT_NE(del.status().message().find("L0 retention"), std::string::npos) << del.status().ToString();
  EXPECT_FALSE(catalog_->loaded());
  auto del2 = r.EnforceL0Retention();
  ASSERT_TRUE(del2.ok()) << del2.status().ToString();
  EXPECT_EQ(del2->size(), 7u);
  ExpectRestores(8);
}

TEST_F(CompactorTest, FailedRunDueIsRetriedAfterADelay) {
  Compactor c(Opts(), catalog_);
  WriteL0(1);
  EXPECT_EQ(c.NextDueInMs(), 1) << "due at start-up";
  fault_->AddRule(storage::FaultRule::FailNext(storage::FaultOp::kList, 100));
  catalog_->Invalidate();
  auto bad = c.RunDue();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("compact L1"), std::string::npos) << bad.status().ToString();
  EXPECT_EQ(c.NextDueInMs(), Compactor::kRetryDelayMs);
  clock_.Advance(400);
  EXPECT_EQ(c.NextDueInMs(), Compactor::kRetryDelayMs - 400);
  fault_->ClearRules();
  clock_.Advance(600);
  auto good = c.RunDue();
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->files_written, 2);  // L1 1-1 and L2 1-1
  EXPECT_GE(c.NextDueInMs(), 1);
  EXPECT_LE(c.NextDueInMs(), 30'000);
}

TEST_F(CompactorTest, RunDueOverAnHour) {
  auto o = Opts();  // L1 every 30 s, L2 every 5 min
  o.l0_retention_ms = 120'000;
  o.l0_retention_check_interval_ms = 15'000;
  o.snapshot_retention_ms = 1'200'000;  // 20 min
  Compactor c(o, catalog_);
  const int64_t start = clock_.NowMs();  // 1 s after an hour boundary
  uint64_t txid = 0;
  int64_t next_run = start;
  int runs = 0, written = 0, deleted = 0;
  for (int64_t t = start; t < start + 3'600'000; t += 1000) {
    clock_.Set(t);
    if ((t - start) % 5000 == 0) WriteL0(++txid);         // a sync every 5 s
    if ((t - start) % 600'000 == 0) WriteSnapshot(txid);  // a snapshot every 10 min
    if (t >= next_run) {
      auto st = c.RunDue();
      ASSERT_TRUE(st.ok()) << st.status().ToString();
      runs++;
      written += st->files_written;
      deleted += st->files_deleted;
      next_run = t + c.NextDueInMs();
    }
  }
  // Steady state needs no LIST: the catalog was loaded once.
  EXPECT_EQ(mem_->lists.load(), 10);
  // The clock ran from H+0:01 to H+60:00 (inclusive), with 720 syncs
  // (TXID 1 at H+0:01, TXID i at H+0:01 + 5 s * (i-1)).
  // Written: L1 at start-up + 120 boundaries (H+0:30 .. H+60:00); L2 at
  // start-up + 12 boundaries.
  EXPECT_EQ(written, 121 + 13);
  // Snapshots at H+0, 10, ..., 50 min (+1 s). At H+60:00 the window starts
  // at H+40:00: 40 and 50 are inside, 30 covers the start, 0/10/20 go.
  // floor = TXID 361 (the snapshot at H+30:01).
  auto l9 = replica_->ListLevel(9);
  ASSERT_TRUE(l9.ok());
  EXPECT_EQ(l9->size(), 3u);
  EXPECT_EQ(l9->front().max_txid, 361u);
  // L1 outputs from H+30:30 on end above the floor (60 of them); the one at
  // H+30:00 ends at 360 and went. L2: those from H+35:00 on (6).
  auto l1 = replica_->ListLevel(1);
  auto l2 = replica_->ListLevel(2);
  ASSERT_TRUE(l1.ok() && l2.ok());
  EXPECT_EQ(l1->size(), 60u);
  EXPECT_EQ(l2->size(), 6u);
  // L0 at the last check (H+60:00, cutoff H+58:00): 696 (created H+57:56)
  // is the state until 697 (H+58:01), inside the L0 retention period, so
  // 696..720 stay.
  auto l0 = replica_->ListLevel(0);
  ASSERT_TRUE(l0.ok());
  ASSERT_EQ(l0->size(), 25u);
  EXPECT_EQ(l0->front().max_txid, 696u);
  EXPECT_EQ(l0->back().max_txid, txid);
  EXPECT_EQ(deleted, (720 - 25) + (121 - 60) + (13 - 6) + (6 - 3));
  // Runs happen at boundaries and L0 checks only: 4 per minute.
  EXPECT_LE(runs, 60 * 4 + 2);
  auto all = replica_->ListAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Ranges(*all), Ranges(catalog_->All()));
  std::printf("runs %d, written %d, deleted %d; L0 %zu L1 %zu L2 %zu L9 %zu\n", runs, written, deleted, l0->size(),
              l1->size(), l2->size(), l9->size());
  ExpectRestores(txid);
  // Every sync in the last 20 minutes restores by time (to itself, or to
  // the L1 boundary when its L0 file is gone).
  for (uint64_t k = txid - 239; k <= txid; k++) {
    auto p = restore::CalcPlan(*all, {.timestamp_ms = model_.ts.at(k)}, "r");
    ASSERT_TRUE(p.ok()) << "TXID " << k << ": " << p.status().ToString();
    EXPECT_LE(p->txid, k);
    EXPECT_GE(p->txid + 6, k);
  }
}

}  // namespace
}  // namespace walship::compact
