// ReadLocalStatus / ResetLocalState against a real DbSyncer on a real SQLite
// database (what `walship status` and `walship reset` run).
#include "replicate/local_state.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "base/file.h"
#include "ltx/format.h"
#include "replicate/db_syncer.h"
#include "sqlite/sqlite.h"

namespace walship::replicate {
namespace {

class LocalStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/walship-local-state-XXXXXX";
    dir_ = mkdtemp(tmpl);
    db_ = JoinPath(dir_, "app.db");
    meta_ = DefaultMetaDir(db_);
  }
  void TearDown() override {
    syncer_.reset();
    app_.Close().IgnoreError();
    RemoveTree(dir_).IgnoreError();
  }
  void CreateDb() {
    auto app = sqlite::Db::Open(db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(app.ok());
    app_ = std::move(app).value();
    ASSERT_TRUE(app_.Exec("PRAGMA journal_mode = wal").ok());
    ASSERT_TRUE(app_.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)").ok());
  }
  void Write() { ASSERT_TRUE(app_.Exec("INSERT INTO t (v) VALUES (randomblob(3000))").ok()); }
  // A syncer that has written local L0 files up to TXID n.
  void SyncTo(uint64_t n) {
    SyncerOptions o;
    o.db_path = db_;
    o.min_checkpoint_page_count = 0;
    o.checkpoint_interval_ms = 0;
    syncer_ = std::make_unique<DbSyncer>(o);
    ASSERT_TRUE(syncer_->Open().ok());
    while (syncer_->Position() < n) {
      Write();
      auto r = syncer_->SyncOnce();
      ASSERT_TRUE(r.ok()) << r.status().message();
    }
  }
  LocalStatus Local() {
    auto s = ReadLocalStatus(db_, "");
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : LocalStatus{};
  }

  std::string dir_, db_, meta_;
  sqlite::Db app_;
  std::unique_ptr<DbSyncer> syncer_;
};

TEST_F(LocalStateTest, AMissingDatabaseAndAFreshOneAreStatesNotErrors) {
  LocalStatus s = Local();
  EXPECT_FALSE(s.db_exists);
  EXPECT_FALSE(s.initialized);
  EXPECT_FALSE(s.replicating);
  EXPECT_FALSE(FileExists(meta_)) << "status must not create the meta directory";
  CreateDb();
  s = Local();
  EXPECT_TRUE(s.db_exists);
  EXPECT_FALSE(s.initialized);
  EXPECT_GT(s.wal_size, 0u);
  EXPECT_EQ(s.wal_size, *FileSize(db_ + "-wal"));
}

TEST_F(LocalStateTest, ShowsTheNewestLocalTxidAndARunningReplicator) {
  CreateDb();
  SyncTo(3);
  LocalStatus s = Local();
  EXPECT_TRUE(s.initialized);
  EXPECT_EQ(s.local_txid, 3u);
  EXPECT_TRUE(s.replicating) << "the syncer holds the lock";
  ASSERT_TRUE(syncer_->Close().ok());
  s = Local();
  EXPECT_EQ(s.local_txid, 3u);
  EXPECT_FALSE(s.replicating);
}

TEST_F(LocalStateTest, ResetIsRefusedWhileAReplicatorRunsAndRemovesOnlyLocalStateAfter) {
  CreateDb();
  SyncTo(3);
  std::vector<std::string> removed;
  Status busy = ResetLocalState(db_, "", false, &removed);
  EXPECT_EQ(busy.code(), Code::kAlreadyExists) << busy.ToString();
  EXPECT_EQ(Local().local_txid, 3u) << "nothing removed while it runs";
  ASSERT_TRUE(syncer_->Close().ok());

  // A snapshot waiting for upload and a pending capture file are local state too.
  ASSERT_TRUE(MakeDirs(LocalSnapshotDir(meta_)).ok());
  const std::string snap = JoinPath(LocalSnapshotDir(meta_), ltx::FormatFileName(1, 3));
  ASSERT_TRUE(WriteFileAtomic(snap, "x").ok());
  ASSERT_TRUE(WriteFileAtomic(PendingPath(meta_), "y").ok());
  const auto db_bytes = ReadFileToString(db_);
  const auto wal_bytes = ReadFileToString(db_ + "-wal");

  ASSERT_TRUE(ResetLocalState(db_, "", /*dry_run=*/true, &removed).ok());
  ASSERT_EQ(removed.size(), 5u);  // 3 L0 files, the snapshot, the pending file
  for (const auto& p : removed) EXPECT_TRUE(FileExists(p)) << "dry run removed " << p;
  EXPECT_EQ(Local().local_txid, 3u);

  ASSERT_TRUE(ResetLocalState(db_, "", false, &removed).ok());
  ASSERT_EQ(removed.size(), 5u);
  for (const auto& p : removed) EXPECT_FALSE(FileExists(p)) << p;
  LocalStatus s = Local();
  EXPECT_FALSE(s.initialized);
  EXPECT_TRUE(s.db_exists);
  EXPECT_EQ(*ReadFileToString(db_), *db_bytes) << "the database is not touched";
  EXPECT_EQ(*ReadFileToString(db_ + "-wal"), *wal_bytes) << "nor its WAL";

  // A replicator starts again from nothing local: a full L0 at TXID 1 here
  // (no replica in this test), and the status follows.
  SyncTo(1);
  EXPECT_EQ(Local().local_txid, 1u);
}

TEST_F(LocalStateTest, AStatusLookDoesNotMakeAStartingReplicatorGiveUp) {
  CreateDb();
  ASSERT_TRUE(MakeDirs(meta_).ok());
  // What ReadLocalStatus does for an instant: a shared lock on the lock file.
  int fd = ::open(LockPath(meta_).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_SH | LOCK_NB), 0);
  std::thread release([fd] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ::close(fd);
  });
  SyncerOptions o;
  o.db_path = db_;
  DbSyncer s(o);
  Status opened = s.Open();
  release.join();
  EXPECT_TRUE(opened.ok()) << opened.ToString();
}

TEST_F(LocalStateTest, ResetWithoutLocalStateRemovesNothing) {
  std::vector<std::string> removed{"stale"};
  ASSERT_TRUE(ResetLocalState(db_, "", false, &removed).ok());
  EXPECT_TRUE(removed.empty());
  EXPECT_FALSE(FileExists(meta_));
}

}  // namespace
}  // namespace walship::replicate
