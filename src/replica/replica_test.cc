#include "replica/replica.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <random>

#include "base/file.h"
#include "storage/file_store.h"
#include "storage/mem_store.h"

namespace walship::replica {
namespace {

using storage::KeyLayout;
using storage::MemStore;

std::string TempDir() {
  char tmpl[] = "/tmp/walship-replica-XXXXXX";
  return ::mkdtemp(tmpl);
}

storage::PutOptions Stamp(int64_t ms) {
  storage::PutOptions o;
  o.timestamp_ms = ms;
  return o;
}

std::vector<std::pair<uint64_t, uint64_t>> Ranges(const std::vector<LtxFileInfo>& files) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const LtxFileInfo& f : files) out.emplace_back(f.min_txid, f.max_txid);
  return out;
}

// Lists like S3: the upload time in whole seconds, later than the capture
// time; Head returns the stored timestamp.
class UploadTimeListingStore final : public storage::ObjectStore {
 public:
  std::string Describe() const override { return "fake-s3://"; }
  Status Put(const std::string& k, Source* b, uint64_t n, const storage::PutOptions& o) override {
    return mem_.Put(k, b, n, o);
  }
  Result<std::unique_ptr<Source>> Open(const std::string& k, uint64_t off, std::optional<uint64_t> len) override {
    return mem_.Open(k, off, len);
  }
  Result<storage::ObjectInfo> Head(const std::string& k) override {
    heads++;
    return mem_.Head(k);
  }
  Result<std::vector<storage::ObjectInfo>> List(const std::string& p, const std::string& after) override {
    auto l = mem_.List(p, after);
    if (l.ok()) {
      for (auto& o : *l) o.mtime_ms = (o.mtime_ms + 4321) / 1000 * 1000;
    }
    return l;
  }
  Status Delete(const std::vector<std::string>& keys) override { return mem_.Delete(keys); }
  std::atomic<int> heads{0};  // Head is called from several threads

 private:
  storage::MemStore mem_;
};

TEST(ReplicaTimes, ObjectStoreListingsGetTheStoredCaptureTimeForLateFiles) {
  auto store = std::make_shared<UploadTimeListingStore>();
  Replica r(store, "db", storage::KeyLayout::kS3);
  for (uint64_t t = 1; t <= 10; t++) {
    storage::PutOptions o;
    o.timestamp_ms = 100'000 + int64_t(t) * 1000 + 7;
    ASSERT_TRUE(store->PutBytes(r.Key(0, t, t), "x", o).ok());
  }
  auto files = r.ListLevel(0);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ((*files)[4].created_ms, 109'000);  // listed: upload time, rounded
  ASSERT_TRUE(r.ResolveCreatedTimes(&*files, 106'001).ok());
  // Files listed before 105 s keep their listing time (captured earlier still); later ones are exact.
  EXPECT_EQ((*files)[0].created_ms, 105'000);
  for (size_t i = 1; i < files->size(); i++) EXPECT_EQ((*files)[i].created_ms, 100'000 + int64_t(i + 1) * 1000 + 7) << i;
  EXPECT_EQ(store->heads, 9);
}

TEST(ReplicaTimes, StopsAskingAfterABatchWithAFileCapturedAfterTheTarget) {
  auto store = std::make_shared<UploadTimeListingStore>();
  Replica r(store, "db", storage::KeyLayout::kS3);
  auto capture = [](uint64_t t) { return 100'000 + int64_t(t) * 1000 + 7; };
  for (uint64_t t = 1; t <= 100; t++) ASSERT_TRUE(store->PutBytes(r.Key(0, t, t), "x", Stamp(capture(t))).ok());
  auto files = r.ListLevel(0);
  ASSERT_TRUE(files.ok());
  // Listed from 139.5 s on: TXIDs 36..100. The first batch (16: 36..51)
  // holds 41, captured at 141.007 s, after the target: nothing more is asked.
  ASSERT_TRUE(r.ResolveCreatedTimes(&*files, 140'500, 16).ok());
  EXPECT_EQ(store->heads, 16);
  for (const LtxFileInfo& f : *files) {
    const uint64_t t = f.max_txid;
    if (t >= 36 && t <= 51) {
      EXPECT_EQ(f.created_ms, capture(t)) << t;  // asked: exact
    } else if (t > 51) {
      EXPECT_GT(f.created_ms, 140'500) << t;  // not asked: after the target
    } else {
      EXPECT_LT(f.created_ms, 140'500) << t;  // listed well before it
    }
  }
}

// Whatever the batch size, the newest TXID captured at or before a time is
// the one the exact capture times give, with L0 files and compacted L1 files
// (whose time is their last input's) mixed.
TEST(ReplicaTimes, EarlyStopGivesTheSameNewestTxidAsAskingEveryFile) {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 20; round++) {
    auto store = std::make_shared<UploadTimeListingStore>();
    Replica r(store, "db", storage::KeyLayout::kS3);
    std::vector<int64_t> cap(1, 0);  // cap[t]: capture time of TXID t
    const uint64_t n = 40 + rng() % 80;
    for (uint64_t t = 1; t <= n; t++) {
      cap.push_back(100'000 + int64_t(t) * 150 + int64_t(rng() % 140));  // increasing, 10-290 ms apart
      ASSERT_TRUE(store->PutBytes(r.Key(0, t, t), "x", Stamp(cap[t])).ok());
    }
    for (uint64_t lo = 1; lo + 9 <= n; lo += 10) {
      ASSERT_TRUE(store->PutBytes(r.Key(1, lo, lo + 9), "x", Stamp(cap[lo + 9])).ok());
    }
    for (int q = 0; q < 10; q++) {
      const int64_t ts = cap[1] + int64_t(rng() % uint64_t(cap[n] - cap[1]));
      auto files = r.ListAll();
      ASSERT_TRUE(files.ok());
      ASSERT_TRUE(r.ResolveCreatedTimes(&*files, ts, 1 + int(rng() % 20)).ok());
      uint64_t got = 0, want = 0;
      for (const LtxFileInfo& f : *files) {
        if (f.created_ms <= ts) got = std::max(got, f.max_txid);
        if (cap[f.max_txid] <= ts) want = std::max(want, f.max_txid);
        // Never a file captured after ts that counts as before it.
        if (cap[f.max_txid] > ts) {
          EXPECT_GT(f.created_ms, ts) << f.key;
        }
      }
      EXPECT_EQ(got, want) << "round " << round << " ts " << ts;
    }
  }
}

TEST(ReplicaKeys, FileLayoutWithoutPrefix) {
  Replica r(std::make_shared<MemStore>(), "", KeyLayout::kFile);
  EXPECT_EQ(r.LevelDir(0), "ltx/0/");
  EXPECT_EQ(r.LevelDir(9), "ltx/9/");
  EXPECT_EQ(r.Key(0, 1, 1), "ltx/0/0000000000000001-0000000000000001.ltx");
  EXPECT_EQ(r.Key(3, 0xa1, 0xff), "ltx/3/00000000000000a1-00000000000000ff.ltx");
  EXPECT_EQ(r.Key(9, 1, 0x1234abcd), "ltx/9/0000000000000001-000000001234abcd.ltx");
}

TEST(ReplicaKeys, FileLayoutWithPrefix) {
  Replica r(std::make_shared<MemStore>(), "backups/db", KeyLayout::kFile);
  EXPECT_EQ(r.LevelDir(1), "backups/db/ltx/1/");
  EXPECT_EQ(r.Key(1, 2, 5), "backups/db/ltx/1/0000000000000002-0000000000000005.ltx");
}

TEST(ReplicaKeys, S3LayoutUsesFourHexDigitLevels) {
  Replica r(std::make_shared<MemStore>(), "db", KeyLayout::kS3);
  EXPECT_EQ(r.LevelDir(0), "db/0000/");
  EXPECT_EQ(r.LevelDir(9), "db/0009/");
  EXPECT_EQ(r.LevelDir(10), "db/000a/");
  EXPECT_EQ(r.Key(0, 0xa1, 0xa1), "db/0000/00000000000000a1-00000000000000a1.ltx");
  EXPECT_EQ(r.Key(9, 1, 0xffffffffffffffff), "db/0009/0000000000000001-ffffffffffffffff.ltx");
}

TEST(ReplicaKeys, S3LayoutJoinsPrefixLikeLitestream) {
  // Compat reference 2.1: s3://bucket gives prefix "." and s3://bucket/ gives "".
  EXPECT_EQ(Replica(std::make_shared<MemStore>(), ".", KeyLayout::kS3).Key(0, 1, 1),
            "./0000/0000000000000001-0000000000000001.ltx");
  EXPECT_EQ(Replica(std::make_shared<MemStore>(), "", KeyLayout::kS3).Key(0, 1, 1),
            "/0000/0000000000000001-0000000000000001.ltx");
}

TEST(ReplicaKeys, ConstructsFromAnOpenedReplica) {
  storage::OpenedReplica o;
  o.store = std::make_shared<MemStore>();
  o.prefix = "p";
  o.layout = KeyLayout::kS3;
  Replica r(o);
  EXPECT_EQ(r.LevelDir(2), "p/0002/");
  EXPECT_EQ(r.Describe(), "mem:// prefix p");  // the prefix is part of where backups are
}

class ReplicaListing : public ::testing::TestWithParam<KeyLayout> {
 protected:
  void SetUp() override {
    store_ = std::make_shared<MemStore>();
    replica_ = std::make_unique<Replica>(store_, "db", GetParam());
  }
  void PutFile(int level, uint64_t min, uint64_t max, int64_t ts, size_t size = 10) {
    ASSERT_TRUE(store_->PutBytes(replica_->Key(level, min, max), std::string(size, 'x'), Stamp(ts)).ok());
  }
  void PutRaw(const std::string& key) { ASSERT_TRUE(store_->PutBytes(key, "junk").ok()); }

  std::shared_ptr<MemStore> store_;
  std::unique_ptr<Replica> replica_;
};

TEST_P(ReplicaListing, ListLevelSortsAndIgnoresOtherNames) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges = {{5, 5}, {1, 3}, {1, 2}, {4, 4}, {0x10, 0x20}, {0xa, 0xf}};
  std::shuffle(ranges.begin(), ranges.end(), std::mt19937(1));
  for (const auto& [min, max] : ranges) PutFile(1, min, max, int64_t(1'000'000 + min * 10 + max), size_t(min + max));
  const std::string dir = replica_->LevelDir(1);
  PutRaw(dir + "README");
  PutRaw(dir + "00000000000000AB-00000000000000AB.ltx");  // uppercase: not a Litestream name
  PutRaw(dir + "0000000000000001-0000000000000001.ltx.bak");
  PutRaw(dir + "1-1.ltx");
  PutRaw(dir + "sub/0000000000000007-0000000000000007.ltx");  // nested: not in this level
  PutFile(0, 2, 2, 1);
  PutFile(2, 1, 100, 1);
  PutFile(9, 1, 100, 1);

  auto files = replica_->ListLevel(1);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ(Ranges(*files),
            (std::vector<std::pair<uint64_t, uint64_t>>{{1, 2}, {1, 3}, {4, 4}, {5, 5}, {0xa, 0xf}, {0x10, 0x20}}));
  for (const LtxFileInfo& f : *files) {
    EXPECT_EQ(f.level, 1);
    EXPECT_EQ(f.size, f.min_txid + f.max_txid);
    EXPECT_EQ(f.created_ms, int64_t(1'000'000 + f.min_txid * 10 + f.max_txid));
    EXPECT_EQ(f.key, replica_->Key(1, f.min_txid, f.max_txid));
  }
}

TEST_P(ReplicaListing, ListLevelSeeksByMinTxid) {
  for (uint64_t t : {1, 2, 3, 0x10, 0x11}) PutFile(0, t, t, 1);
  PutFile(0, 2, 0x10, 1);
  auto files = replica_->ListLevel(0, 3);
  ASSERT_TRUE(files.ok());
  EXPECT_EQ(Ranges(*files), (std::vector<std::pair<uint64_t, uint64_t>>{{3, 3}, {0x10, 0x10}, {0x11, 0x11}}));
  auto two = replica_->ListLevel(0, 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(Ranges(*two).front(), (std::pair<uint64_t, uint64_t>{2, 2}));
  EXPECT_EQ(two->size(), 5u);
  EXPECT_TRUE(replica_->ListLevel(0, 0x12)->empty());
  EXPECT_EQ(replica_->ListLevel(0, 0)->size(), 6u);
}

TEST_P(ReplicaListing, ListAllGoesLevelByLevel) {
  PutFile(9, 1, 8, 1);
  PutFile(0, 9, 9, 1);
  PutFile(1, 1, 8, 1);
  PutFile(0, 8, 8, 1);
  auto all = replica_->ListAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].level, 0);
  EXPECT_EQ((*all)[0].min_txid, 8u);
  EXPECT_EQ((*all)[1].min_txid, 9u);
  EXPECT_EQ((*all)[2].level, 1);
  EXPECT_EQ((*all)[3].level, 9);
}

TEST_P(ReplicaListing, MaxTxidOfALevel) {
  EXPECT_EQ(*replica_->MaxTxid(0), 0u);
  PutFile(0, 1, 1, 1);
  PutFile(0, 7, 7, 1);
  PutFile(1, 1, 0x20, 1);
  EXPECT_EQ(*replica_->MaxTxid(0), 7u);
  EXPECT_EQ(*replica_->MaxTxid(1), 0x20u);
}

TEST_P(ReplicaListing, UploadStreamsALocalFileOnce) {
  const std::string dir = TempDir();
  const std::string local = dir + "/0000000000000003-0000000000000003.ltx";
  ASSERT_TRUE(WriteFileAtomic(local, std::string(70000, 'q')).ok());
  ASSERT_TRUE(replica_->Upload(0, 3, 3, local, 1'700'000'000'999).ok());
  const std::string key = replica_->Key(0, 3, 3);
  EXPECT_EQ(*store_->GetBytes(key), std::string(70000, 'q'));
  EXPECT_EQ(store_->Head(key)->mtime_ms, 1'700'000'000'999);

  Status again = replica_->Upload(0, 3, 3, local, 1);
  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_NE(again.message().find(key), std::string::npos) << again.ToString();
  EXPECT_EQ(store_->Head(key)->mtime_ms, 1'700'000'000'999);

  Status missing = replica_->Upload(0, 4, 4, dir + "/nope", 1);
  EXPECT_EQ(missing.code(), Code::kNotFound) << missing.ToString();
  EXPECT_FALSE(store_->Head(replica_->Key(0, 4, 4)).ok());
  RemoveTree(dir).IgnoreError();
}

TEST_P(ReplicaListing, OpenReadsFromAnOffset) {
  ASSERT_TRUE(store_->PutBytes(replica_->Key(0, 1, 1), "0123456789").ok());
  LtxFileInfo f;
  f.level = 0;
  f.min_txid = f.max_txid = 1;  // no key: computed
  auto src = replica_->Open(f, 4);
  ASSERT_TRUE(src.ok());
  char buf[16];
  auto n = (*src)->Read(buf, sizeof(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "456789");
  f.min_txid = f.max_txid = 2;
  EXPECT_EQ(replica_->Open(f).status().code(), Code::kNotFound);
}

TEST_P(ReplicaListing, DeleteGoesInBatchesOfAThousand) {
  for (uint64_t t = 1; t <= 2500; t++) PutFile(0, t, t, 1, 1);
  auto files = replica_->ListLevel(0);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 2500u);
  LtxFileInfo missing;
  missing.level = 0;
  missing.min_txid = missing.max_txid = 9999;
  files->push_back(missing);
  const int before = store_->deletes.load();
  ASSERT_TRUE(replica_->Delete(*files).ok());
  EXPECT_EQ(store_->deletes.load() - before, 3);
  EXPECT_EQ(store_->object_count(), 0u);
  ASSERT_TRUE(replica_->Delete({}).ok());
  EXPECT_EQ(store_->deletes.load() - before, 3);
}

std::string LayoutName(const ::testing::TestParamInfo<KeyLayout>& p) {
  return p.param == KeyLayout::kFile ? "File" : "S3";
}
INSTANTIATE_TEST_SUITE_P(Layouts, ReplicaListing, ::testing::Values(KeyLayout::kFile, KeyLayout::kS3), LayoutName);

// A replica directory as Litestream's file backend leaves it: files under
// ltx/<level>/ whose mtime is the LTX header timestamp.
TEST(ReplicaOnFiles, ReadsALitestreamFileReplica) {
  const std::string dir = TempDir();
  const std::string root = dir + "/replica";
  for (const char* name : {"0000000000000001-0000000000000001.ltx", "0000000000000002-0000000000000002.ltx",
                           "0000000000000003-0000000000000003.ltx.tmp"}) {
    ASSERT_TRUE(MakeDirs(root + "/ltx/0").ok());
    ASSERT_TRUE(WriteFileAtomic(root + "/ltx/0/" + name, "abc").ok());
    ASSERT_TRUE(SetMtimeMs(root + "/ltx/0/" + name, 1'600'000'000'250).ok());
  }
  ASSERT_TRUE(MakeDirs(root + "/ltx/9").ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/ltx/9/0000000000000001-0000000000000002.ltx", "snapshot").ok());

  auto opened = storage::OpenReplicaUrl("file://" + root);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Replica r(*opened);
  auto l0 = r.ListLevel(0);
  ASSERT_TRUE(l0.ok()) << l0.status().ToString();
  ASSERT_EQ(l0->size(), 2u);  // the temp file was removed on open
  EXPECT_EQ((*l0)[0].created_ms, 1'600'000'000'250);
  EXPECT_EQ((*l0)[1].key, "ltx/0/0000000000000002-0000000000000002.ltx");
  EXPECT_EQ(*r.MaxTxid(0), 2u);
  auto all = r.ListAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].level, 9);
  EXPECT_EQ((*all)[2].size, 8u);

  // Upload writes the same layout and mtime.
  const std::string local = dir + "/local.ltx";
  ASSERT_TRUE(WriteFileAtomic(local, "new").ok());
  ASSERT_TRUE(r.Upload(0, 3, 3, local, 1'600'000'001'000).ok());
  EXPECT_EQ(*MtimeMs(root + "/ltx/0/0000000000000003-0000000000000003.ltx"), 1'600'000'001'000);
  ASSERT_TRUE(r.Delete(*l0).ok());
  EXPECT_EQ(r.ListLevel(0)->size(), 1u);
  RemoveTree(dir).IgnoreError();
}

}  // namespace
}  // namespace walship::replica
