// The parallel restore engine against a reference: merging the plan's files
// with ltx::PageMerger (the sequential path ApplyPlan used before), byte for
// byte; corruption, missing pages, store failures and resume.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/coding.h"
#include "base/file.h"
#include "ltx/compactor.h"
#include "ltx/decoder.h"
#include "ltx/test_util.h"
#include "restore/restore.h"
#include "storage/fault/fault_store.h"
#include "storage/mem_store.h"

namespace walship::restore {
namespace {

using ltx::testing::EncodeFile;
using ltx::testing::MakeHeader;
using ltx::testing::MakePage;
using ltx::testing::Page;

constexpr uint32_t kPs = 512;

// A replica built in memory: files appended in plan order.
struct Built {
  std::shared_ptr<storage::MemStore> mem = std::make_shared<storage::MemStore>();
  std::map<std::string, std::string> bytes;  // key -> file
  Plan plan;

  void Add(int level, const ltx::Header& h, const std::vector<Page>& pages, uint64_t post_apply = 0,
           ltx::PageEncoding enc = ltx::PageEncoding::kBlock) {
    AddBytes(level, h, EncodeFile(h, pages, enc, post_apply));
  }
  void AddBytes(int level, const ltx::Header& h, const std::string& data) {
    replica::LtxFileInfo f;
    f.level = level;
    f.min_txid = h.min_txid;
    f.max_txid = h.max_txid;
    f.size = data.size();
    f.created_ms = h.timestamp_ms;
    f.key = "ltx/" + std::to_string(level) + "/" + ltx::FormatFileName(h.min_txid, h.max_txid);
    ASSERT_TRUE(mem->PutBytes(f.key, data).ok());
    bytes[f.key] = data;
    plan.files.push_back(f);
    plan.txid = h.max_txid;
    plan.bytes += f.size;
  }
};

// The old ApplyPlan: merge every file, pages 1..Commit in order, zeros at the lock page.
std::string Reference(const Built& b) {
  std::vector<std::unique_ptr<Source>> srcs;
  std::vector<ltx::MergeInput> in;
  for (const auto& f : b.plan.files) {
    srcs.push_back(std::make_unique<StringSource>(b.bytes.at(f.key)));
    in.push_back({f.key, srcs.back().get()});
  }
  ltx::PageMerger m(std::move(in));
  EXPECT_TRUE(m.Init().ok());
  const uint32_t ps = m.header().page_size;
  const uint32_t lock = ltx::LockPgno(ps);
  std::string out;
  uint32_t pgno;
  const uint8_t* data;
  for (;;) {
    auto more = m.Next(&pgno, &data);
    EXPECT_TRUE(more.ok()) << more.status().message();
    if (!more.ok() || !*more) break;
    if (out.size() / ps + 1 == lock) out.append(ps, '\0');
    EXPECT_EQ(out.size() / ps + 1, pgno);
    out.append(reinterpret_cast<const char*>(data), ps);
  }
  return out;
}

class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "restore_apply_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    RemoveTree(dir_).IgnoreError();
    ASSERT_TRUE(MakeDirs(dir_).ok());
    out_ = dir_ + "/out.db";
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }

  RestoreOptions Opts(int parallelism, uint64_t chunk) const {
    RestoreOptions o;
    o.output = out_;
    o.integrity = IntegrityCheck::kNone;  // test pages are not SQLite pages
    o.parallelism = parallelism;
    o.chunk_bytes = chunk;
    o.max_chunk_bytes = chunk;
    return o;
  }
  std::string ReadOut() const {
    auto s = ReadFileToString(out_);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? *s : "";
  }

  std::string dir_, out_;
};

// Snapshot of 300 pages (with checksums), then random updates, a shrink to
// 120 pages, a regrow to 260, and a last update.
// Pages of 512 bytes are compressible (files under 64 KiB: read whole);
// larger pages are random bytes (files read by ranges, chunk by chunk).
Built RandomReplica(uint64_t seed, ltx::PageEncoding enc = ltx::PageEncoding::kBlock, uint32_t ps = kPs) {
  std::mt19937_64 rng(seed);
  auto MakePage = [&](uint32_t size, uint32_t pgno, uint32_t version) {
    std::string d = ltx::testing::MakePage(size, pgno, version);
    if (size > kPs) {
      for (auto& c : d) c = char(rng());
    }
    return d;
  };
  Built b;
  std::vector<Page> snap;
  uint64_t sum = 0;
  for (uint32_t p = 1; p <= 300; p++) {
    snap.push_back({p, MakePage(ps, p, 0)});
    sum ^= ltx::PageChecksum(p, reinterpret_cast<const uint8_t*>(snap.back().data.data()), ps);
  }
  ltx::Header h = MakeHeader(ps, 300, 1, 1);
  h.flags = 0;
  b.Add(9, h, snap, ltx::kChecksumFlag | sum, enc);
  uint32_t commit = 300;
  const uint32_t commits[] = {300, 300, 120, 260, 260};
  for (uint64_t tx = 2; tx <= 6; tx++) {
    const uint32_t next = commits[tx - 2];
    std::vector<Page> pages;
    for (uint32_t p = 1; p <= next; p++) {
      // Growth must supply every new page; otherwise a random subset.
      if (p > commit || rng() % 5 == 0) pages.push_back({p, MakePage(ps, p, uint32_t(tx))});
    }
    commit = next;
    b.Add(0, MakeHeader(ps, commit, tx, tx), pages, 0, enc);
  }
  return b;
}

TEST_F(ApplyTest, MatchesTheMergeAtAnyParallelismAndChunkSize) {
  for (uint32_t ps : {kPs, 4096u}) {
    const uint64_t seed = ps;
    SCOPED_TRACE("seed " + std::to_string(seed));
    Built b = RandomReplica(seed, ltx::PageEncoding::kBlock, ps);
    const std::string want = Reference(b);
    ASSERT_EQ(want.size(), 260u * ps);
    replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
    for (int par : {1, 8}) {
      for (uint64_t chunk : {uint64_t{4096}, uint64_t{2} << 20}) {
        SCOPED_TRACE("parallelism " + std::to_string(par) + " chunk " + std::to_string(chunk));
        RemoveFile(out_).IgnoreError();
        uint64_t last_done = 0, calls = 0;
        RestoreOptions o = Opts(par, chunk);
        o.progress = [&](uint64_t done, uint64_t total) {
          EXPECT_GE(done, last_done);
          EXPECT_EQ(total, b.plan.bytes);
          last_done = done;
          calls++;
        };
        auto res = ApplyPlan(r, b.plan, o);
        ASSERT_TRUE(res.ok()) << res.status().message();
        EXPECT_EQ(res->pages, 260u);
        EXPECT_EQ(ReadOut(), want);
        EXPECT_EQ(last_done, b.plan.bytes);
        EXPECT_GT(calls, 0u);
        EXPECT_FALSE(FileExists(TempPath(out_)));
        EXPECT_FALSE(FileExists(JournalPath(out_)));
      }
    }
  }
}

TEST_F(ApplyTest, LegacyFrameEncodedPages) {
  Built b = RandomReplica(3, ltx::PageEncoding::kFrame);
  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  auto res = ApplyPlan(r, b.plan, Opts(4, 4096));
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(ReadOut(), Reference(b));
}

// Flips one byte of one file at an offset chosen by `where`, expects kCorruption naming it.
void ExpectCorruption(ApplyTest* t, const std::string& out, const std::function<size_t(const std::string&)>& where,
                      const std::string& what, size_t file = 1) {
  SCOPED_TRACE(what + " of file " + std::to_string(file));
  Built b = RandomReplica(4, ltx::PageEncoding::kBlock, 4096);  // a snapshot big enough to be streamed
  const std::string key = b.plan.files[file].key;
  const size_t at = where(b.bytes[key]);
  b.mem->Corrupt(key, at);
  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  RestoreOptions o;
  o.output = out;
  o.integrity = IntegrityCheck::kNone;
  o.parallelism = 4;
  o.chunk_bytes = 4096;
  o.max_chunk_bytes = 4096;
  auto res = ApplyPlan(r, b.plan, o);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kCorruption) << res.status().message();
  EXPECT_NE(res.status().message().find(key), std::string::npos) << res.status().message();
  EXPECT_FALSE(FileExists(out));
  EXPECT_FALSE(FileExists(TempPath(out)));
  EXPECT_FALSE(FileExists(JournalPath(out)));
  (void)t;
}

// A whole file's page index.
std::vector<ltx::PageIndexEntry> IndexOf(const std::string& d) {
  uint64_t need = 0;
  auto idx = ltx::DecodePageIndexFromTail(reinterpret_cast<const uint8_t*>(d.data()), d.size(), d.size(), &need);
  EXPECT_TRUE(idx.ok());
  return idx.ok() ? *idx : std::vector<ltx::PageIndexEntry>{};
}

// Of a later file, and of the snapshot, whose chunks are cut from its stream
// and whose index is read at the stream's end.
TEST_F(ApplyTest, CorruptPayloadIndexOrTrailerIsCorruptionNamingTheKey) {
  for (size_t file : {1, 0}) {
    // A byte inside the first page's compressed payload.
    ExpectCorruption(this, out_, [](const std::string&) { return ltx::kHeaderSize + 12; }, "payload", file);
    // A byte of the page index (its first entry's pgno varint).
    ExpectCorruption(
        this, out_,
        [](const std::string& d) {
          const auto last = IndexOf(d).back();
          return size_t(last.offset + last.size + ltx::kPageHeaderSize + 1);
        },
        "index", file);
    // The index length.
    ExpectCorruption(this, out_, [](const std::string& d) { return d.size() - 17; }, "index length", file);
    // The stored file checksum.
    ExpectCorruption(this, out_, [](const std::string& d) { return d.size() - 3; }, "trailer", file);
    // The header's Commit.
    ExpectCorruption(this, out_, [](const std::string&) { return size_t(12); }, "header", file);
    // The second frame's page number.
    ExpectCorruption(this, out_, [](const std::string& d) { return size_t(IndexOf(d)[1].offset + 3); },
                     "frame's page number", file);
  }
}

// Frames whose checksums are right but whose pages are out of order (a
// buggy writer): the snapshot's stream stops at the first such frame,
// before writing it anywhere.
TEST_F(ApplyTest, SnapshotFramesOutOfOrderStopTheStream) {
  Built b;
  std::mt19937_64 rng(5);
  std::vector<ltx::testing::RawFrame> frames;
  for (uint32_t p = 1; p <= 40; p++) {
    std::string d(4096, '\0');
    for (auto& c : d) c = char(rng());  // incompressible: the file is streamed, not read whole
    frames.push_back(ltx::testing::BlockFrame(p, d));
  }
  frames[2].pgno = 40000;  // far past Commit: a write there would grow the output
  const ltx::Header h = MakeHeader(4096, 40, 1, 1);
  b.AddBytes(9, h, ltx::testing::BuildRaw(h, frames));
  ASSERT_GT(b.plan.files[0].size, 64u << 10);
  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  RestoreOptions o = Opts(2, 4096);
  auto res = ApplyPlan(r, b.plan, o);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kCorruption) << res.status().message();
  EXPECT_NE(res.status().message().find("holds page 40000, want page 3"), std::string::npos) << res.status().message();
  EXPECT_NE(res.status().message().find(b.plan.files[0].key), std::string::npos) << res.status().message();
  EXPECT_FALSE(FileExists(out_));
  EXPECT_FALSE(FileExists(TempPath(out_)));
}

TEST_F(ApplyTest, MissingPageIsCorruption) {
  Built b;
  std::vector<Page> snap;
  for (uint32_t p = 1; p <= 4; p++) snap.push_back({p, MakePage(kPs, p, 0)});
  b.Add(9, MakeHeader(kPs, 4, 1, 1), snap);
  // Grows to 6 pages but holds only page 6.
  b.Add(0, MakeHeader(kPs, 6, 2, 2), {{6, MakePage(kPs, 6, 2)}});
  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  auto res = ApplyPlan(r, b.plan, Opts(2, 4096));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kCorruption);
  EXPECT_NE(res.status().message().find("page 5 is missing"), std::string::npos) << res.status().message();
  EXPECT_FALSE(FileExists(out_));
  EXPECT_FALSE(FileExists(TempPath(out_)));
}

TEST_F(ApplyTest, TruncatedPageThatReturnsWithoutDataIsMissing) {
  // Shrink to 3 pages, then grow back to 5 supplying only page 5: page 4's
  // old version must not count.
  Built b;
  std::vector<Page> snap;
  for (uint32_t p = 1; p <= 5; p++) snap.push_back({p, MakePage(kPs, p, 0)});
  b.Add(9, MakeHeader(kPs, 5, 1, 1), snap);
  b.Add(0, MakeHeader(kPs, 3, 2, 2), {{1, MakePage(kPs, 1, 2)}});
  b.Add(0, MakeHeader(kPs, 5, 3, 3), {{5, MakePage(kPs, 5, 3)}});
  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  auto res = ApplyPlan(r, b.plan, Opts(3, 4096));
  ASSERT_FALSE(res.ok());
  EXPECT_NE(res.status().message().find("page 4 is missing"), std::string::npos) << res.status().message();
}

TEST_F(ApplyTest, ExistingOutputIsNotClobbered) {
  Built b = RandomReplica(5);
  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  ASSERT_TRUE(WriteFileAtomic(out_, "keep").ok());
  auto res = ApplyPlan(r, b.plan, Opts(2, 4096));
  EXPECT_EQ(res.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(ReadOut(), "keep");
  RestoreOptions o = Opts(2, 4096);
  o.force = true;
  ASSERT_TRUE(ApplyPlan(r, b.plan, o).ok());
  EXPECT_EQ(ReadOut(), Reference(b));
}

// A FaultStore view of a MemStore; Fail(n) cuts the snapshot's stream (its
// first read, of the whole object) after about n chunks of 4 KiB.
struct Faulty {
  void Fail(int64_t n) {
    auto rule = storage::FaultRule::TruncateReads(ltx::kHeaderSize + uint64_t(n) * 4096, 1);
    rule.key_prefix = "ltx/9/";
    fault.AddRule(rule);
  }
  storage::FaultStore fault;
  std::shared_ptr<storage::ObjectStore> view;
  explicit Faulty(storage::MemStore* mem) : fault(mem) {
    view = std::shared_ptr<storage::ObjectStore>(&fault, [](storage::ObjectStore*) {});
  }
};

TEST_F(ApplyTest, StoreFailureKeepsPartialAndRerunResumes) {
  Built b = RandomReplica(6, ltx::PageEncoding::kBlock, 4096);
  const std::string want = Reference(b);
  Faulty f(b.mem.get());
  f.Fail(20);
  replica::Replica faulty(f.view, "", storage::KeyLayout::kFile);
  auto first = ApplyPlan(faulty, b.plan, Opts(1, 4096));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), Code::kUnavailable) << first.status().message();
  EXPECT_NE(first.status().message().find("rerun the same command to resume"), std::string::npos);
  EXPECT_FALSE(FileExists(out_));
  EXPECT_TRUE(FileExists(TempPath(out_)));
  EXPECT_TRUE(FileExists(JournalPath(out_)));

  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  auto second = ApplyPlan(r, b.plan, Opts(8, 4096));
  ASSERT_TRUE(second.ok()) << second.status().message();
  EXPECT_GT(second->bytes_resumed, 0u);
  EXPECT_EQ(ReadOut(), want);
  EXPECT_FALSE(FileExists(TempPath(out_)));
  EXPECT_FALSE(FileExists(JournalPath(out_)));

  // A restore from zero reads more than the resumed one: the difference is
  // what the resumed run kept.
  RemoveFile(out_).IgnoreError();
  auto full = ApplyPlan(r, b.plan, Opts(8, 4096));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->bytes_resumed, 0u);
  EXPECT_LT(second->bytes_read, full->bytes_read);
  // The run from zero read the snapshot's index at the end of its stream;
  // the resumed one reads the snapshot's tail (at most 64 KiB here) for it.
  EXPECT_GE(second->bytes_read + second->bytes_resumed, full->bytes_read);
  EXPECT_LE(second->bytes_read + second->bytes_resumed, full->bytes_read + (64 << 10));
}

TEST_F(ApplyTest, ResumeKeepsTheCommonPrefixWhenThePlanGrows) {
  Built b = RandomReplica(7, ltx::PageEncoding::kBlock, 4096);
  Built shorter = b;  // the same store and bytes, plan without the last file
  const auto last = shorter.plan.files.back();
  shorter.plan.files.pop_back();
  shorter.plan.bytes -= last.size;
  Faulty f(b.mem.get());
  f.Fail(30);
  replica::Replica faulty(f.view, "", storage::KeyLayout::kFile);
  ASSERT_FALSE(ApplyPlan(faulty, shorter.plan, Opts(1, 4096)).ok());
  ASSERT_TRUE(FileExists(JournalPath(out_)));

  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  auto res = ApplyPlan(r, b.plan, Opts(4, 4096));
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_GT(res->bytes_resumed, 0u);
  EXPECT_EQ(ReadOut(), Reference(b));
}

TEST_F(ApplyTest, JournalWithOtherChecksumsStartsFromZero) {
  Built b = RandomReplica(8, ltx::PageEncoding::kBlock, 4096);
  Faulty f(b.mem.get());
  f.Fail(25);
  replica::Replica faulty(f.view, "", storage::KeyLayout::kFile);
  ASSERT_FALSE(ApplyPlan(faulty, b.plan, Opts(1, 4096)).ok());
  auto text = ReadFileToString(JournalPath(out_));
  ASSERT_TRUE(text.ok());
  auto j = nlohmann::json::parse(*text);
  j["files"][0]["header_crc"] = "8000000000000001";
  ASSERT_TRUE(WriteFileAtomic(JournalPath(out_), j.dump()).ok());
  // Scribble over the partial file: starting from zero must not use it.
  {
    auto fo = File::OpenWrite(TempPath(out_), false);
    ASSERT_TRUE(fo.ok());
    std::string junk(4096, 'x');
    ASSERT_TRUE(fo->PWriteFull(junk.data(), junk.size(), 0).ok());
  }
  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  auto res = ApplyPlan(r, b.plan, Opts(4, 4096));
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(res->bytes_resumed, 0u);
  EXPECT_EQ(ReadOut(), Reference(b));
}

TEST_F(ApplyTest, CorruptionAfterAPartialRunRemovesTheJournal) {
  Built b = RandomReplica(9, ltx::PageEncoding::kBlock, 4096);
  Faulty f(b.mem.get());
  f.Fail(10);
  replica::Replica faulty(f.view, "", storage::KeyLayout::kFile);
  ASSERT_FALSE(ApplyPlan(faulty, b.plan, Opts(1, 4096)).ok());
  b.mem->Corrupt(b.plan.files.back().key, ltx::kHeaderSize + 12);
  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  auto res = ApplyPlan(r, b.plan, Opts(4, 4096));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kCorruption);
  EXPECT_FALSE(FileExists(TempPath(out_)));
  EXPECT_FALSE(FileExists(JournalPath(out_)));
  EXPECT_FALSE(FileExists(out_));
}

TEST_F(ApplyTest, RandomFailuresThenRerunsConverge) {
  const uint64_t seed = 11;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  Built b = RandomReplica(seed, ltx::PageEncoding::kBlock, 4096);
  const std::string want = Reference(b);
  storage::FaultOptions fo;
  fo.seed = seed;
  storage::FaultStore fault(b.mem.get(), fo);
  fault.AddRule(storage::FaultRule::FailWithProbability(storage::FaultOp::kOpen, 0.02));
  auto view = std::shared_ptr<storage::ObjectStore>(&fault, [](storage::ObjectStore*) {});
  replica::Replica r(view, "", storage::KeyLayout::kFile);
  int failures = 0;
  uint64_t resumed = 0;
  for (int run = 0; run < 200; run++) {
    auto res = ApplyPlan(r, b.plan, Opts(8, 4096));
    if (res.ok()) {
      resumed = res->bytes_resumed;
      break;
    }
    failures++;
    ASSERT_EQ(res.status().code(), Code::kUnavailable) << res.status().message();
    ASSERT_FALSE(FileExists(out_));
  }
  EXPECT_GT(failures, 0);
  EXPECT_GT(resumed, 0u);
  EXPECT_EQ(ReadOut(), want);
}

TEST_F(ApplyTest, ResumeAfterFailureInALaterFileKeepsTheEarlierFiles) {
  Built b = RandomReplica(12, ltx::PageEncoding::kBlock, 4096);
  storage::FaultStore fault(b.mem.get());
  // The last file: its header and tail, then its first chunk fails.
  auto rule = storage::FaultRule::FailNth(storage::FaultOp::kOpen, 3);
  rule.key_prefix = b.plan.files.back().key;
  fault.AddRule(rule);
  auto view = std::shared_ptr<storage::ObjectStore>(&fault, [](storage::ObjectStore*) {});
  replica::Replica faulty(view, "", storage::KeyLayout::kFile);
  ASSERT_FALSE(ApplyPlan(faulty, b.plan, Opts(1, 4096)).ok());
  replica::Replica r(b.mem, "", storage::KeyLayout::kFile);
  auto res = ApplyPlan(r, b.plan, Opts(8, 4096));
  ASSERT_TRUE(res.ok()) << res.status().message();
  uint64_t earlier = 0;
  for (size_t i = 0; i + 1 < b.plan.files.size(); i++) earlier += b.plan.files[i].size;
  EXPECT_GT(res->bytes_resumed, earlier / 2);
  EXPECT_EQ(ReadOut(), Reference(b));
}

// Records the ranges opened, then reads through to the store it wraps (each
// read through `wrap`, if set).
class RecordingStore final : public storage::ObjectStore {
 public:
  explicit RecordingStore(storage::ObjectStore* inner) : inner_(inner) {}
  std::function<std::unique_ptr<Source>(const std::string& key, std::unique_ptr<Source>)> wrap;
  std::string Describe() const override { return inner_->Describe(); }
  Status Put(const std::string& key, Source* body, uint64_t size, const storage::PutOptions& opts) override {
    return inner_->Put(key, body, size, opts);
  }
  Result<std::unique_ptr<Source>> Open(const std::string& key, uint64_t offset,
                                       std::optional<uint64_t> length) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      opens_.push_back({offset, length.value_or(UINT64_MAX)});
    }
    WALSHIP_ASSIGN_OR_RETURN(std::unique_ptr<Source> src, inner_->Open(key, offset, length));
    return wrap ? wrap(key, std::move(src)) : std::move(src);
  }
  Result<storage::ObjectInfo> Head(const std::string& key) override { return inner_->Head(key); }
  Result<std::vector<storage::ObjectInfo>> List(const std::string& prefix, const std::string& start_after) override {
    return inner_->List(prefix, start_after);
  }
  Status Delete(const std::vector<std::string>& keys) override { return inner_->Delete(keys); }
  std::vector<std::pair<uint64_t, uint64_t>> opens() {
    std::lock_guard<std::mutex> l(mu_);
    return opens_;
  }

 private:
  storage::ObjectStore* inner_;
  std::mutex mu_;
  std::vector<std::pair<uint64_t, uint64_t>> opens_;  // (offset, length)
};

// Applies b's plan with o, reading through store (whose reads a test may wrap).
Result<RestoreResult> ApplyThrough(RecordingStore* store, const Built& b, const RestoreOptions& o) {
  auto view = std::shared_ptr<storage::ObjectStore>(store, [](storage::ObjectStore*) {});
  replica::Replica r(view, "", storage::KeyLayout::kFile);
  return ApplyPlan(r, b.plan, o);
}

// A snapshot of 600 random 4 KiB pages (about 2.5 MB).
Built BigSnapshot() {
  std::mt19937_64 rng(13);
  Built b;
  std::vector<Page> snap;
  uint64_t sum = 0;
  for (uint32_t p = 1; p <= 600; p++) {
    std::string d(4096, '\0');
    for (auto& c : d) c = char(rng());
    sum ^= ltx::PageChecksum(p, reinterpret_cast<const uint8_t*>(d.data()), 4096);
    snap.push_back({p, d});
  }
  ltx::Header h = MakeHeader(4096, 600, 1, 1);
  h.flags = 0;
  b.Add(9, h, snap, ltx::kChecksumFlag | sum);
  return b;
}

// The snapshot is one stream: one read of the whole object (offset 0, no
// length: one GET without Range on S3) that brings the header, the frames
// (cut into chunks as they arrive, decoded by all workers) and, at its end,
// the page index. Nothing else is read.
TEST_F(ApplyTest, SnapshotIsOneRead) {
  Built b = BigSnapshot();
  const uint64_t size = b.plan.files[0].size;
  RecordingStore rec(b.mem.get());
  RestoreOptions o = Opts(4, 64 << 10);
  o.split_after_ms = -1;
  auto res = ApplyThrough(&rec, b, o);
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(ReadOut(), Reference(b));
  const auto opens = rec.opens();
  ASSERT_EQ(opens.size(), 1u);
  EXPECT_EQ(opens[0].first, 0u);
  EXPECT_EQ(opens[0].second, UINT64_MAX);
  EXPECT_EQ(res->bytes_read, size);
}

// Reads that are slower than the decoding: an idle worker reads the page
// index from the tail (the chunks ahead of the stream are not known yet),
// then idle workers split the stream's span and read their halves with
// ranged reads of their own; every chunk is still read once, and the output
// is exact.
// 8 KiB per 2 ms (about 4 MB/s per read).
class SlowSource final : public Source {
 public:
  explicit SlowSource(std::unique_ptr<Source> inner) : inner_(std::move(inner)) {}
  Result<size_t> Read(void* buf, size_t n) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return inner_->Read(buf, std::min<size_t>(n, 8192));
  }

 private:
  std::unique_ptr<Source> inner_;
};

TEST_F(ApplyTest, SlowStreamIsSplitAcrossReads) {
  Built b = BigSnapshot();
  const uint64_t size = b.plan.files[0].size;
  RecordingStore slow(b.mem.get());
  slow.wrap = [](const std::string&, std::unique_ptr<Source> s) -> std::unique_ptr<Source> {
    return std::make_unique<SlowSource>(std::move(s));
  };
  RestoreOptions o = Opts(4, 32 << 10);
  o.split_after_ms = 20;
  auto res = ApplyThrough(&slow, b, o);
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(ReadOut(), Reference(b));
  int ranged = 0, tail = 0;
  for (auto [off, len] : slow.opens()) {
    if (off > 0 && off + len < size) ranged++;  // a split's read: inside the frames
    if (off > 0 && off + len == size) tail++;
  }
  EXPECT_GE(ranged, 1);
  EXPECT_EQ(tail, 1);
  // Each chunk is read once: the stream stops where a split begins (it may
  // have read one read ahead, 8 KiB here), and the tail (64 KiB) once more.
  EXPECT_LE(res->bytes_read, size + (64 << 10) + (8 << 10));
}

// A slow stream whose first bytes took long (a server that reads the whole
// object before it answers any GET, as moto does): a second read would wait
// as long again, more than splitting can save, so the snapshot stays one
// read: neither its tail nor a split span is read.
class FirstByteDelay final : public Source {
 public:
  FirstByteDelay(std::unique_ptr<Source> inner, std::chrono::milliseconds d) : inner_(std::move(inner)), d_(d) {}
  Result<size_t> Read(void* buf, size_t n) override {
    if (!started_) std::this_thread::sleep_for(d_);
    started_ = true;
    return inner_->Read(buf, n);
  }

 private:
  std::unique_ptr<Source> inner_;
  std::chrono::milliseconds d_;
  bool started_ = false;
};

TEST_F(ApplyTest, SlowStreamIsNotSplitWhenAReadWaitsLongerThanItSaves) {
  Built b = BigSnapshot();
  const uint64_t size = b.plan.files[0].size;
  RecordingStore slow(b.mem.get());
  slow.wrap = [](const std::string&, std::unique_ptr<Source> s) -> std::unique_ptr<Source> {
    // About 0.6 s of streaming left after the first bytes: a split saves
    // about 0.3 s, a new read costs 0.6 s.
    return std::make_unique<FirstByteDelay>(std::make_unique<SlowSource>(std::move(s)), std::chrono::milliseconds(600));
  };
  RestoreOptions o = Opts(4, 32 << 10);
  o.split_after_ms = 20;
  auto res = ApplyThrough(&slow, b, o);
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(ReadOut(), Reference(b));
  const auto opens = slow.opens();
  ASSERT_EQ(opens.size(), 1u);
  EXPECT_EQ(opens[0].first, 0u);
  EXPECT_EQ(res->bytes_read, size);
}

// Calls on_eof once its Source has reported the end.
class EofSource final : public Source {
 public:
  EofSource(std::unique_ptr<Source> inner, std::function<void()> on_eof)
      : inner_(std::move(inner)), on_eof_(std::move(on_eof)) {}
  Result<size_t> Read(void* buf, size_t n) override {
    auto r = inner_->Read(buf, n);
    if (r.ok() && *r == 0 && on_eof_) {
      on_eof_();
      on_eof_ = nullptr;
    }
    return r;
  }

 private:
  std::unique_ptr<Source> inner_;
  std::function<void()> on_eof_;
};

// A later file's chunks of 1 MiB or more are fetched while the snapshot is
// still streaming (into the spool, an unlinked file beside the output) and
// applied in their turn: the output is exact and nothing is left behind.
TEST_F(ApplyTest, LaterFilesAreFetchedWhileTheSnapshotStreams) {
  Built b = BigSnapshot();
  std::mt19937_64 rng(17);
  std::vector<Page> pages;
  for (uint32_t p = 1; p <= 600; p += 1) {
    std::string d(4096, '\0');
    for (auto& c : d) c = char(rng());
    pages.push_back({p, d});
  }
  b.Add(0, MakeHeader(4096, 600, 2, 2), pages);
  pages.resize(300);
  for (auto& pg : pages) pg.data[7] ^= 1;
  b.Add(0, MakeHeader(4096, 600, 3, 3), pages);
  ASSERT_GT(b.plan.files[1].size, 2u << 20);  // a chunk of 2 MiB, and the rest

  RecordingStore rec(b.mem.get());
  std::mutex mu;
  bool eof = false;
  int later_opens = 0, later_opens_before_eof = 0;
  rec.wrap = [&](const std::string& key, std::unique_ptr<Source> s) -> std::unique_ptr<Source> {
    if (key.rfind("ltx/9/", 0) == 0) {  // the snapshot: slow, and note its end
      return std::make_unique<EofSource>(std::make_unique<SlowSource>(std::move(s)), [&] {
        std::lock_guard<std::mutex> l(mu);
        eof = true;
      });
    }
    std::lock_guard<std::mutex> l(mu);
    later_opens++;
    if (!eof) later_opens_before_eof++;
    return s;
  };
  auto view = std::shared_ptr<storage::ObjectStore>(&rec, [](storage::ObjectStore*) {});
  replica::Replica r(view, "", storage::KeyLayout::kFile);
  RestoreOptions o = Opts(4, 2 << 20);
  o.max_chunk_bytes = 128 << 20;
  o.split_after_ms = -1;
  auto res = ApplyPlan(r, b.plan, o);
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(ReadOut(), Reference(b));
  EXPECT_TRUE(eof);
  EXPECT_GT(later_opens, 0);
  EXPECT_EQ(later_opens_before_eof, later_opens);
  auto names = ListDir(DirName(out_));
  ASSERT_TRUE(names.ok());
  for (const auto& n : *names) EXPECT_EQ(n.find(".spool"), std::string::npos) << n;
}

// Passes the first `open` bytes, then blocks until released.
class GateSource final : public Source {
 public:
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    void Release() {
      {
        std::lock_guard<std::mutex> l(mu);
        open = true;
      }
      cv.notify_all();
    }
  };
  GateSource(std::unique_ptr<Source> inner, uint64_t free_bytes, Gate* gate)
      : inner_(std::move(inner)), left_(free_bytes), gate_(gate) {}
  Result<size_t> Read(void* buf, size_t n) override {
    if (left_ == 0) {
      std::unique_lock<std::mutex> l(gate_->mu);
      gate_->cv.wait(l, [&] { return gate_->open; });
    } else {
      n = size_t(std::min<uint64_t>(n, left_));
    }
    auto r = inner_->Read(buf, n);
    if (r.ok() && left_ > 0) left_ -= *r;
    return r;
  }

 private:
  std::unique_ptr<Source> inner_;
  uint64_t left_;
  Gate* gate_;
};

// The output is fdatasync'd and the chunks written before it recorded after
// every sync_every_bytes written, without waiting for the journal's clock:
// with the clock at an hour, a run stalled halfway through its snapshot has
// its first chunks in the journal.
TEST_F(ApplyTest, WrittenBytesAreSyncedAndRecordedWithoutWaitingForTheClock) {
  Built b = BigSnapshot();
  const uint64_t size = b.plan.files[0].size;
  RecordingStore rec(b.mem.get());
  GateSource::Gate gate;
  rec.wrap = [&](const std::string&, std::unique_ptr<Source> s) -> std::unique_ptr<Source> {
    return std::make_unique<GateSource>(std::move(s), size / 2, &gate);
  };
  RestoreOptions o = Opts(4, 32 << 10);
  o.split_after_ms = -1;
  o.sync_every_bytes = 64 << 10;
  o.journal_every_ms = 3600 * 1000;
  std::optional<Result<RestoreResult>> res;
  std::thread run([&] { res.emplace(ApplyThrough(&rec, b, o)); });
  size_t recorded = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (recorded == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto data = ReadFileToString(JournalPath(out_));
    if (!data.ok()) continue;
    auto j = nlohmann::json::parse(*data, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j["chunks"].is_array()) recorded = j["chunks"].size();
  }
  gate.Release();
  run.join();
  EXPECT_GT(recorded, 0u) << "no chunk recorded while the snapshot's stream was stalled halfway";
  ASSERT_TRUE(res.has_value());
  ASSERT_TRUE(res->ok()) << res->status().message();
  EXPECT_EQ(ReadOut(), Reference(b));
}

TEST(PageIndexParser, EqualsTheTailDecoderAtAnyFeedSize) {
  Built b = RandomReplica(10);
  std::mt19937_64 rng(10);
  for (const auto& [key, d] : b.bytes) {
    const auto* p = reinterpret_cast<const uint8_t*>(d.data());
    uint64_t need = 0;
    auto want = ltx::DecodePageIndexFromTail(p, d.size(), d.size(), &need);
    ASSERT_TRUE(want.ok());
    const uint64_t len = GetBE64(p + d.size() - 24);
    for (int round = 0; round < 5; round++) {
      ltx::PageIndexParser parser(d.size(), len);
      std::vector<ltx::PageIndexEntry> got;
      const uint8_t* q = p + d.size() - 24 - len;
      size_t left = len;
      while (left > 0) {
        const size_t n = std::min<size_t>(left, 1 + rng() % 7);
        ASSERT_TRUE(parser
                        .Feed(q, n,
                              [&](const ltx::PageIndexEntry& e) {
                                got.push_back(e);
                                return Status::OK();
                              })
                        .ok());
        q += n;
        left -= n;
      }
      ASSERT_TRUE(parser.Finish().ok());
      ASSERT_EQ(got.size(), want->size());
      for (size_t i = 0; i < got.size(); i++) {
        EXPECT_EQ(got[i].pgno, (*want)[i].pgno);
        EXPECT_EQ(got[i].offset, (*want)[i].offset);
        EXPECT_EQ(got[i].size, (*want)[i].size);
      }
    }
    // A truncated feed fails at Finish.
    ltx::PageIndexParser short_parser(d.size(), len);
    ASSERT_TRUE(short_parser.Feed(p + d.size() - 24 - len, len - 1, [](const ltx::PageIndexEntry&) {
      return Status::OK();
    }).ok());
    EXPECT_EQ(short_parser.Finish().code(), Code::kCorruption);
  }
}

}  // namespace
}  // namespace walship::restore
