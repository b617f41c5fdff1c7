#include "restore/verify.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <mutex>

#include "base/file.h"
#include "ltx/format.h"
#include "ltx/test_util.h"
#include "storage/file_store.h"
#include "storage/mem_store.h"

namespace walship::restore {
namespace {

using ltx::testing::EncodeFile;
using ltx::testing::MakeHeader;
using ltx::testing::MakePage;
using ltx::testing::Page;
using replica::LtxFileInfo;
using replica::Replica;

constexpr uint32_t kPageSize = 512;
constexpr uint32_t kCommit = 4;

// A real LTX file for [min, max]: a snapshot (pages 1..4) when min == 1 at
// level 9, else one or two changed pages. Created at max * 1000 ms.
std::string MakeLtx(int level, uint64_t min, uint64_t max, uint32_t page_size = kPageSize) {
  std::vector<Page> pages;
  if (level == ltx::kSnapshotLevel || min == 1) {
    for (uint32_t p = 1; p <= kCommit; p++) pages.push_back(Page{p, MakePage(page_size, p, uint32_t(max))});
  } else {
    pages.push_back(Page{uint32_t(max % kCommit) + 1, MakePage(page_size, uint32_t(max % kCommit) + 1, uint32_t(max))});
  }
  return EncodeFile(MakeHeader(page_size, kCommit, min, max, int64_t(max) * 1000), pages);
}

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_shared<storage::MemStore>();
    replica_ = std::make_unique<Replica>(store_, "db", storage::KeyLayout::kFile);
  }
  std::string Key(int level, uint64_t min, uint64_t max) const { return replica_->Key(level, min, max); }
  void Put(int level, uint64_t min, uint64_t max, std::string data) {
    storage::PutOptions o;
    o.timestamp_ms = int64_t(max) * 1000;
    o.no_overwrite = false;
    ASSERT_TRUE(store_->PutBytes(Key(level, min, max), std::move(data), o).ok());
  }
  void PutLtx(int level, uint64_t min, uint64_t max) { Put(level, min, max, MakeLtx(level, min, max)); }
  void Remove(int level, uint64_t min, uint64_t max) { ASSERT_TRUE(store_->Delete({Key(level, min, max)}).ok()); }
  std::string Get(int level, uint64_t min, uint64_t max) {
    auto b = store_->GetBytes(Key(level, min, max));
    EXPECT_TRUE(b.ok());
    return b.ok() ? *b : "";
  }
  // Snapshot 1-3, L1 4-6, L0 4..8: a replica after compaction and L0 retention.
  void Build() {
    PutLtx(9, 1, 3);
    PutLtx(1, 4, 6);
    for (uint64_t t = 4; t <= 8; t++) PutLtx(0, t, t);
  }
  VerifyReport Run(int parallelism = 4) {
    VerifyOptions o;
    o.parallelism = parallelism;
    auto r = Verify(*replica_, o);
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : VerifyReport{};
  }

  std::shared_ptr<storage::MemStore> store_;
  std::unique_ptr<Replica> replica_;
};

std::string Dump(const VerifyReport& r) {
  std::string s;
  for (const auto& p : r.problems) s += "  [" + std::string(CodeName(p.code)) + "] " + p.key + ": " + p.problem + "\n";
  return s;
}

size_t CountWith(const VerifyReport& r, const std::string& key, Code code) {
  return size_t(std::count_if(r.problems.begin(), r.problems.end(),
                              [&](const VerifyProblem& p) { return p.key == key && p.code == code; }));
}

bool Mentions(const VerifyProblem& p, const std::string& s) { return p.problem.find(s) != std::string::npos; }

TEST_F(VerifyTest, CleanReplicaIsOkWithItsWindow) {
  Build();
  auto rep = Run();
  EXPECT_TRUE(rep.ok()) << Dump(rep);
  EXPECT_EQ(rep.files, 7u);
  EXPECT_EQ(rep.bytes_read, rep.bytes);
  EXPECT_EQ(rep.page_size, kPageSize);
  EXPECT_EQ(rep.vanished, 0u);
  ASSERT_TRUE(rep.window);
  EXPECT_EQ(rep.window->first_txid, 3u);
  EXPECT_EQ(rep.window->first_ms, 3000);
  EXPECT_EQ(rep.window->last_txid, 8u);
  EXPECT_EQ(rep.window->last_ms, 8000);
  ASSERT_TRUE(rep.exact_from_txid);
  EXPECT_EQ(*rep.exact_from_txid, 3u);  // the snapshot, then every L0 file
  EXPECT_EQ(rep.reachable_txid, 8u);
  EXPECT_EQ(rep.exact_from_ms, 3000);
  ASSERT_EQ(rep.levels.size(), 3u);
  EXPECT_EQ(rep.levels[0].level, 0);
  EXPECT_EQ(rep.levels[0].files, 5u);
  EXPECT_EQ(rep.levels[0].min_txid, 4u);
  EXPECT_EQ(rep.levels[0].max_txid, 8u);
  EXPECT_EQ(rep.levels[1].level, 1);
  EXPECT_EQ(rep.levels[2].level, 9);
  EXPECT_EQ(rep.levels[2].max_txid, 3u);
  uint64_t sum = 0;
  for (const auto& l : rep.levels) sum += l.bytes;
  EXPECT_EQ(sum, rep.bytes);
}

TEST_F(VerifyTest, CleanFileReplica) {
  char tmpl[] = "/tmp/walship-verify-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto fs = storage::FileStore::Create(dir);
  ASSERT_TRUE(fs.ok()) << fs.status().message();
  Replica r(std::shared_ptr<storage::ObjectStore>(std::move(*fs)), "", storage::KeyLayout::kFile);
  for (auto [level, min, max] : std::vector<std::tuple<int, uint64_t, uint64_t>>{{9, 1, 2}, {0, 1, 1}, {0, 2, 2}, {0, 3, 3}}) {
    storage::PutOptions o;
    o.timestamp_ms = int64_t(max) * 1000;
    ASSERT_TRUE(r.store()->PutBytes(r.Key(level, min, max), MakeLtx(level, min, max), o).ok());
  }
  auto rep = Verify(r, {.parallelism = 2, .progress = nullptr});
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_TRUE(rep->ok()) << Dump(*rep);
  ASSERT_TRUE(rep->window);
  EXPECT_EQ(rep->window->first_txid, 1u);  // L0 1-1 starts a chain too
  EXPECT_EQ(rep->window->last_txid, 3u);
  EXPECT_EQ(*rep->exact_from_txid, 1u);
  EXPECT_EQ(rep->bytes_read, rep->bytes);
  ASSERT_TRUE(RemoveTree(dir).ok());
}

TEST_F(VerifyTest, EmptyReplicaIsNotFound) {
  auto r = Verify(*replica_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("no backups found in mem:// prefix db"), std::string::npos)
      << r.status().message();
}

TEST_F(VerifyTest, MissingFileIsAGapNamingBothNeighbours) {
  Build();
  Remove(0, 6, 6);
  auto rep = Run();
  ASSERT_EQ(rep.problems.size(), 1u) << Dump(rep);  // L1 4-6 still bridges it: restorable
  const auto& p = rep.problems[0];
  EXPECT_EQ(p.code, Code::kFailedPrecondition);
  EXPECT_EQ(p.key, Key(0, 7, 7));
  EXPECT_TRUE(Mentions(p, Key(0, 5, 5)) && Mentions(p, Key(0, 7, 7))) << p.problem;
  EXPECT_TRUE(Mentions(p, "gap in the TXID chain at level 0: TXID 0000000000000006 is missing")) << p.problem;
  EXPECT_EQ(*rep.exact_from_txid, 6u);  // L1 ends at 6, then L0 7, 8
}

TEST_F(VerifyTest, GapThatBreaksTheChainReportsUnreachablePoints) {
  Build();
  Remove(1, 4, 6);
  Remove(0, 5, 5);
  auto rep = Run();
  ASSERT_EQ(rep.problems.size(), 2u) << Dump(rep);
  EXPECT_TRUE(Mentions(rep.problems[0], "gap") && Mentions(rep.problems[0], Key(0, 4, 4))) << Dump(rep);
  // The gap, then one problem for the run of points 6..8 (not one per file), both at L0 6.
  EXPECT_EQ(CountWith(rep, Key(0, 6, 6), Code::kFailedPrecondition), 2u) << Dump(rep);
  bool run = false;
  for (const auto& p : rep.problems) run |= Mentions(p, "restore points TXID 0000000000000006..0000000000000008");
  EXPECT_TRUE(run) << Dump(rep);
  EXPECT_FALSE(rep.HasCode(Code::kCorruption));
  EXPECT_EQ(rep.reachable_txid, 4u);
  EXPECT_EQ(rep.window->last_txid, 8u);  // as the listing says
  EXPECT_FALSE(rep.exact_from_txid);     // the latest point cannot be reached
}

class FlipTest : public VerifyTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(FlipTest, FlippedByteIsCorruptionNamingTheKey) {
  Build();
  const std::string data = Get(0, 7, 7);
  const std::string key = Key(0, 7, 7);
  size_t off = 0;
  if (GetParam() == "header") off = 36;                               // timestamp
  if (GetParam() == "page") off = ltx::kHeaderSize + 6 + 4 + 3;        // inside the first LZ4 block
  if (GetParam() == "index") off = data.size() - ltx::kTrailerSize - 8 - 3;
  if (GetParam() == "trailer") off = data.size() - 1;                  // file checksum
  if (GetParam() == "magic") off = 0;
  store_->Corrupt(key, off);
  auto rep = Run();
  ASSERT_FALSE(rep.ok());
  for (const auto& p : rep.problems) {
    EXPECT_EQ(p.key, key) << Dump(rep);
    EXPECT_EQ(p.code, Code::kCorruption) << Dump(rep);
  }
  EXPECT_TRUE(Mentions(rep.problems[0], "corrupt")) << Dump(rep);
  std::printf("%s: %s\n", GetParam().c_str(), rep.problems[0].problem.c_str());
}

INSTANTIATE_TEST_SUITE_P(Where, FlipTest, ::testing::Values("magic", "header", "page", "index", "trailer"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_F(VerifyTest, TruncatedFileIsCorruption) {
  Build();
  std::string data = Get(9, 1, 3);
  for (size_t keep : {data.size() - 1, data.size() / 2, size_t(120)}) {
    Put(9, 1, 3, data.substr(0, keep));
    auto rep = Run();
    ASSERT_EQ(rep.problems.size(), 1u) << keep << "\n" << Dump(rep);
    EXPECT_EQ(rep.problems[0].key, Key(9, 1, 3));
    EXPECT_EQ(rep.problems[0].code, Code::kCorruption);
  }
  Put(9, 1, 3, data.substr(0, 60));  // not even a header
  auto rep = Run();
  ASSERT_EQ(rep.problems.size(), 1u) << Dump(rep);
  EXPECT_TRUE(Mentions(rep.problems[0], "smaller than an LTX header")) << Dump(rep);
}

TEST_F(VerifyTest, OverlappingRangeNamesBothFiles) {
  Build();
  PutLtx(0, 5, 6);  // a well-formed file whose range overlaps L0 5 and L0 6
  auto rep = Run();
  ASSERT_FALSE(rep.ok());
  EXPECT_FALSE(rep.HasCode(Code::kCorruption)) << Dump(rep);
  bool named = false;
  for (const auto& p : rep.problems) {
    EXPECT_EQ(p.code, Code::kFailedPrecondition);
    named |= Mentions(p, "overlapping") && Mentions(p, Key(0, 5, 6)) && Mentions(p, Key(0, 5, 5));
  }
  EXPECT_TRUE(named) << Dump(rep);
}

TEST_F(VerifyTest, CopyToAnOverlappingNameIsBothChainAndCorruption) {
  Build();
  Put(0, 6, 7, Get(0, 6, 6));  // what `cp 6-6 6-7` does
  auto rep = Run();
  EXPECT_TRUE(rep.HasCode(Code::kFailedPrecondition)) << Dump(rep);
  EXPECT_EQ(CountWith(rep, Key(0, 6, 7), Code::kCorruption), 1u) << Dump(rep);
}

TEST_F(VerifyTest, NameHeaderMismatch) {
  Build();
  Put(0, 8, 8, MakeLtx(0, 9, 9));
  auto rep = Run();
  ASSERT_EQ(rep.problems.size(), 1u) << Dump(rep);
  EXPECT_EQ(rep.problems[0].key, Key(0, 8, 8));
  EXPECT_EQ(rep.problems[0].code, Code::kCorruption);
  EXPECT_TRUE(Mentions(rep.problems[0], "do not match the name")) << Dump(rep);
}

TEST_F(VerifyTest, SnapshotNotStartingAtOne) {
  Build();
  PutLtx(9, 2, 5);
  auto rep = Run();
  ASSERT_EQ(rep.problems.size(), 1u) << Dump(rep);
  EXPECT_EQ(rep.problems[0].key, Key(9, 2, 5));
  EXPECT_EQ(rep.problems[0].code, Code::kFailedPrecondition);
  EXPECT_TRUE(Mentions(rep.problems[0], "does not start at TXID 1")) << Dump(rep);
}

TEST_F(VerifyTest, NoSnapshot) {
  for (uint64_t t = 4; t <= 6; t++) PutLtx(0, t, t);
  auto rep = Run();
  ASSERT_EQ(rep.problems.size(), 1u) << Dump(rep);
  EXPECT_TRUE(Mentions(rep.problems[0], "no snapshot")) << Dump(rep);
  EXPECT_FALSE(rep.window);
  EXPECT_FALSE(rep.exact_from_txid);
}

TEST_F(VerifyTest, PageSizeDisagreement) {
  Build();
  Put(0, 8, 8, MakeLtx(0, 8, 8, 1024));
  auto rep = Run();
  ASSERT_EQ(rep.problems.size(), 1u) << Dump(rep);
  EXPECT_EQ(rep.problems[0].key, Key(0, 8, 8));
  EXPECT_EQ(rep.problems[0].code, Code::kFailedPrecondition);
  EXPECT_TRUE(Mentions(rep.problems[0], "page size 1024 differs from 512")) << Dump(rep);
}

TEST_F(VerifyTest, SeveralProblemsAtOnce) {
  Build();
  Remove(0, 5, 5);                                 // gap (bridged by L1)
  store_->Corrupt(Key(1, 4, 6), ltx::kHeaderSize + 20);  // corrupt L1
  std::string snap = Get(9, 1, 3);
  Put(9, 1, 3, snap.substr(0, snap.size() - 5));   // truncated snapshot
  PutLtx(9, 3, 4);                                 // bad snapshot name
  for (int par : {1, 3, 16}) {
    auto rep = Run(par);
    EXPECT_EQ(CountWith(rep, Key(0, 6, 6), Code::kFailedPrecondition), 1u) << Dump(rep);
    EXPECT_EQ(CountWith(rep, Key(1, 4, 6), Code::kCorruption), 1u) << Dump(rep);
    EXPECT_EQ(CountWith(rep, Key(9, 1, 3), Code::kCorruption), 1u) << Dump(rep);
    EXPECT_EQ(CountWith(rep, Key(9, 3, 4), Code::kFailedPrecondition), 1u) << Dump(rep);
    EXPECT_EQ(rep.problems.size(), 4u) << Dump(rep);
    EXPECT_EQ(rep.files, 7u);
  }
}

TEST_F(VerifyTest, ProgressReachesTheTotalInOrder) {
  Build();
  std::mutex mu;
  uint64_t last = 0, total = 0;
  bool monotonic = true;
  VerifyOptions o;
  o.parallelism = 3;
  o.progress = [&](uint64_t done, uint64_t t) {
    std::lock_guard<std::mutex> lock(mu);  // also checks the callback is never run concurrently
    monotonic &= done >= last;
    last = done;
    total = t;
  };
  auto rep = Verify(*replica_, o);
  ASSERT_TRUE(rep.ok());
  EXPECT_TRUE(monotonic);
  EXPECT_EQ(last, rep->bytes);
  EXPECT_EQ(total, rep->bytes);
}

// Lists one phantom object (gone when opened, as after retention of a live
// replica) and fails reads of one key with kUnavailable.
class FlakyStore final : public storage::ObjectStore {
 public:
  std::string Describe() const override { return "flaky://"; }
  Status Put(const std::string& k, Source* b, uint64_t n, const storage::PutOptions& o) override {
    return mem.Put(k, b, n, o);
  }
  Result<std::unique_ptr<Source>> Open(const std::string& k, uint64_t off, std::optional<uint64_t> len) override {
    if (k == unavailable) return Unavailable("flaky: 503 SlowDown");
    return mem.Open(k, off, len);
  }
  Result<storage::ObjectInfo> Head(const std::string& k) override { return mem.Head(k); }
  Result<std::vector<storage::ObjectInfo>> List(const std::string& p, const std::string& after) override {
    auto l = mem.List(p, after);
    if (l.ok() && phantom.starts_with(p) && phantom > after) {
      l->push_back(storage::ObjectInfo{phantom, 500, 9000});
      std::sort(l->begin(), l->end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    }
    return l;
  }
  Status Delete(const std::vector<std::string>& keys) override { return mem.Delete(keys); }

  storage::MemStore mem;
  std::string phantom, unavailable;
};

TEST(VerifyStore, VanishedFilesAreCountedAndStorageErrorsKeepTheirCode) {
  auto store = std::make_shared<FlakyStore>();
  Replica r(store, "db", storage::KeyLayout::kS3);
  for (auto [level, min, max] : std::vector<std::tuple<int, uint64_t, uint64_t>>{{9, 1, 1}, {0, 2, 2}, {0, 3, 3}}) {
    storage::PutOptions o;
    o.timestamp_ms = int64_t(max) * 1000;
    ASSERT_TRUE(store->PutBytes(r.Key(level, min, max), MakeLtx(level, min, max), o).ok());
  }
  store->phantom = r.Key(0, 4, 4);
  auto rep = Verify(r);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  EXPECT_TRUE(rep->ok()) << Dump(*rep);
  EXPECT_EQ(rep->vanished, 1u);
  EXPECT_EQ(rep->files, 4u);
  EXPECT_EQ(rep->window->last_txid, 4u);

  store->unavailable = r.Key(0, 2, 2);
  rep = Verify(r);
  ASSERT_TRUE(rep.ok()) << rep.status().message();
  ASSERT_EQ(rep->problems.size(), 1u) << Dump(*rep);
  EXPECT_EQ(rep->problems[0].key, r.Key(0, 2, 2));
  EXPECT_EQ(rep->problems[0].code, Code::kUnavailable);
  EXPECT_TRUE(Mentions(rep->problems[0], "503 SlowDown")) << Dump(*rep);
}

TEST(CheckChain, ExactRangeStartsAtTheFirstReachableL0File) {
  auto F = [](int level, uint64_t mn, uint64_t mx) {
    LtxFileInfo f;
    f.level = level;
    f.min_txid = mn;
    f.max_txid = mx;
    f.created_ms = int64_t(mx) * 10;
    f.size = 200;
    f.key = "ltx/" + std::to_string(level) + "/" + ltx::FormatFileName(mn, mx);
    return f;
  };
  // L0 retention kept 6..9 but compaction covers up to 7 in L1: L0 6 is not
  // reachable by itself (needs 5) but lies inside L1 4-7, which is: no
  // problem; the exact range is 7..9.
  std::vector<LtxFileInfo> files = {F(0, 6, 6), F(0, 7, 7), F(0, 8, 8), F(0, 9, 9), F(1, 4, 7), F(9, 1, 3)};
  auto rep = CheckChain(files, "r");
  EXPECT_TRUE(rep.ok()) << Dump(rep);
  ASSERT_TRUE(rep.exact_from_txid);
  EXPECT_EQ(*rep.exact_from_txid, 7u);
  EXPECT_EQ(rep.exact_from_ms, 70);
  // Without L1 the L0 files after the snapshot cannot be reached; the latest
  // point is not restorable.
  files.erase(files.begin() + 4);
  rep = CheckChain(files, "r");
  ASSERT_EQ(rep.problems.size(), 1u) << Dump(rep);
  EXPECT_TRUE(Mentions(rep.problems[0], "restore points TXID 0000000000000006..0000000000000009 (4 files"))
      << Dump(rep);
  EXPECT_EQ(rep.problems[0].key, "ltx/0/" + ltx::FormatFileName(6, 6));
}

}  // namespace
}  // namespace walship::restore
