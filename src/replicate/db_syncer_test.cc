// DbSyncer + Uploader + restore with the real SQLite library on temp dirs.
// Writes come from a connection in this process (deterministic); the
// end-to-end tests in tests/e2e use a writer in a separate process.
#include "replicate/db_syncer.h"
#include "replicate/local_state.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <functional>
#include <memory>
#include <string>

#include "base/file.h"
#include "ltx/format.h"
#include "replica/replica.h"
#include "replicate/replicator.h"
#include "replicate/uploader.h"
#include "restore/restore.h"
#include "sqlite/sqlite.h"
#include "storage/fault/fault_store.h"
#include "storage/file_store.h"
#include "storage/mem_store.h"
#include "wal/wal_reader.h"

namespace walship::replicate {
namespace {

class SyncerTest : public ::testing::TestWithParam<uint32_t> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/walship-syncer-XXXXXX";
    dir_ = mkdtemp(tmpl);
    db_path_ = JoinPath(dir_, "app.db");
    replica_dir_ = JoinPath(dir_, "replica");
    auto app = sqlite::Db::Open(db_path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(app.ok());
    app_ = std::move(app).value();
    ASSERT_TRUE(app_.Exec("PRAGMA page_size = " + std::to_string(GetParam())).ok());
    ASSERT_TRUE(app_.Exec("PRAGMA journal_mode = wal").ok());
    ASSERT_TRUE(app_.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)").ok());
    auto store = storage::FileStore::Create(replica_dir_);
    ASSERT_TRUE(store.ok());
    replica_ = std::make_shared<replica::Replica>(std::shared_ptr<storage::ObjectStore>(std::move(store).value()), "",
                                                  storage::KeyLayout::kFile);
  }
  void TearDown() override {
    syncer_.reset();
    app_.Close().IgnoreError();
    RemoveTree(dir_).IgnoreError();
  }

  SyncerOptions Opts() {
    SyncerOptions o;
    o.db_path = db_path_;
    o.min_checkpoint_page_count = 0;
    o.checkpoint_interval_ms = 0;
    o.handoff_frames = handoff_frames_;
    o.on_unpinned = on_unpinned_;
    o.handoff_checkpoint = handoff_checkpoint_;
    return o;
  }
  // Salt-1 of the WAL file's header: +1 per restart.
  uint32_t WalSalt1() {
    auto f = File::OpenRead(db_path_ + "-wal");
    if (!f.ok()) return 0;
    auto r = wal::Reader::Open(&*f);
    return r.ok() ? r->header().salt1 : 0;
  }
  void OpenSyncer() {
    syncer_ = std::make_unique<DbSyncer>(Opts());
    ASSERT_TRUE(syncer_->Open().ok());
    uploader_ = std::make_unique<Uploader>(db_path_, DefaultMetaDir(db_path_), replica_);
    ASSERT_TRUE(uploader_->Init().ok());
  }
  SyncResult Sync() {
    auto r = syncer_->SyncOnce();
    EXPECT_TRUE(r.ok()) << r.status().message();
    auto n = uploader_->UploadPending(syncer_->Position());
    EXPECT_TRUE(n.ok()) << n.status().message();
    return r.ok() ? *r : SyncResult{};
  }
  void Write(int from, int n, int size = 100) {
    ASSERT_TRUE(app_.Exec("BEGIN").ok());
    for (int i = from; i < from + n; i++) {
      ASSERT_TRUE(app_.Exec("INSERT OR REPLACE INTO t VALUES (" + std::to_string(i) + ", randomblob(" +
                            std::to_string(size) + "))")
                      .ok());
    }
    ASSERT_TRUE(app_.Exec("COMMIT").ok());
  }
  std::string Content(sqlite::Db& db) {
    auto s = db.QueryText("SELECT count(*) || ':' || coalesce(group_concat(id || '=' || hex(v), ','), '') FROM (SELECT * FROM t ORDER BY id)");
    return s.ok() ? *s : "error: " + s.status().message();
  }
  std::string AppContent() { return Content(app_); }
  // Grows the WAL file well past the generations the tests write, then has
  // our checkpoint restart it: hand-offs need frames of older generations
  // after the current one (else walship restarts the WAL itself).
  // Opens the syncer, makes room, writes a generation and hands it off once.
  void HandOffOnce() {
    OpenSyncer();
    Sync();
    MakeRoomInTheWal();
    Write(1, 40, int(GetParam() / 4));
    ASSERT_TRUE(syncer_->Capture().ok());
    auto h = syncer_->MaybeHandOff();
    ASSERT_TRUE(h.ok()) << h.status().message();
  }
  // Rounds of: 40 rows, capture, a hand-off that must restart the WAL
  // (check(round, salt-1 before it) runs after it), 3 more rows, a sync that
  // writes an incremental file. Returns the app's content after each round.
  std::vector<std::string> HandOffRounds(int rounds, const std::function<void(int, uint32_t)>& check) {
    std::vector<std::string> states;
    for (int round = 0; round < rounds; round++) {
      Write(round * 100, 40, int(GetParam() / 4));
      EXPECT_TRUE(syncer_->Capture().ok());
      const uint32_t salt = WalSalt1();
      auto h = syncer_->MaybeHandOff();
      EXPECT_TRUE(h.ok()) << h.status().message();
      EXPECT_TRUE(h.ok() && *h) << "round " << round;
      check(round, salt);
      Write(round * 100 + 50, 3, 300);
      SyncResult r = Sync();
      EXPECT_TRUE(r.wrote);
      EXPECT_FALSE(r.snapshot) << r.reason;
      states.push_back(AppContent());
    }
    return states;
  }
  // states[i] is the content at TXID Position() - states.size() + 1 + i.
  void ExpectRestoresAtEachTxid(const std::vector<std::string>& states) {
    const uint64_t first = syncer_->Position() - states.size() + 1;
    for (size_t i = 0; i < states.size(); i++) EXPECT_EQ(Restored(first + i), states[i]) << "txid " << first + i;
  }
  void MakeRoomInTheWal() {
    Write(900000, 200, int(GetParam()));
    Sync();
    auto c = syncer_->MaybeCheckpoint(/*force=*/true);
    ASSERT_TRUE(c.ok() && *c);
    Sync();
  }
  std::string Restored(std::optional<uint64_t> txid = std::nullopt) {
    restore::RestoreOptions o;
    o.output = JoinPath(dir_, "restored-" + std::to_string(restores_++) + ".db");
    o.point.txid = txid;
    o.integrity = restore::IntegrityCheck::kFull;
    auto r = restore::Restore(*replica_, o);
    if (!r.ok()) return "restore failed: " + r.status().message();
    auto db = sqlite::Db::Open(o.output, SQLITE_OPEN_READONLY);
    if (!db.ok()) return "open failed";
    return Content(*db);
  }

  std::string dir_, db_path_, replica_dir_;
  sqlite::Db app_;
  std::shared_ptr<replica::Replica> replica_;
  std::unique_ptr<DbSyncer> syncer_;
  std::unique_ptr<Uploader> uploader_;
  int restores_ = 0;
  int64_t handoff_frames_ = 0;
  std::function<void()> on_unpinned_;
  // Off by default here: the hand-off tests model the app's own checkpoint
  // inside the unpinned window (frames the syncer did not capture).
  bool handoff_checkpoint_ = false;
};

TEST_P(SyncerTest, FirstSyncIsASnapshotAndRestoresExactly) {
  Write(1, 50);
  OpenSyncer();
  SyncResult r = Sync();
  EXPECT_TRUE(r.wrote);
  EXPECT_TRUE(r.snapshot);
  EXPECT_EQ(r.txid, 1u);
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, EachSyncBecomesOneL0AndEveryTxidRestores) {
  OpenSyncer();
  Sync();
  std::vector<std::string> states = {AppContent()};
  for (int i = 0; i < 6; i++) {
    Write(i * 10, 10 + i, 200 + 37 * i);
    SyncResult r = Sync();
    ASSERT_TRUE(r.wrote);
    EXPECT_FALSE(r.snapshot) << r.reason;
    EXPECT_EQ(r.txid, uint64_t(i + 2));
    states.push_back(AppContent());
  }
  EXPECT_FALSE(syncer_->SyncOnce()->wrote) << "no commits: no file";
  for (uint64_t t = 1; t <= states.size(); t++) EXPECT_EQ(Restored(t), states[t - 1]) << "txid " << t;
}

TEST_P(SyncerTest, OwnCheckpointRestartsTheWalWithoutAFullL0) {
  OpenSyncer();
  Sync();
  for (int round = 0; round < 3; round++) {
    Write(round * 100, 40, 500);
    Sync();
    auto c = syncer_->MaybeCheckpoint(/*force=*/true);
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_TRUE(*c);
    Write(round * 100 + 50, 5);
    SyncResult r = Sync();
    EXPECT_TRUE(r.wrote);
    EXPECT_FALSE(r.snapshot) << r.reason;
  }
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, AppCheckpointsCannotOutrunTheReadTransaction) {
  OpenSyncer();
  Sync();
  Write(1, 30);
  // The app's own PASSIVE checkpoint may backfill, but cannot restart the WAL
  // under our read mark; TRUNCATE gives up (busy) instead of dropping frames.
  ASSERT_TRUE(app_.Exec("PRAGMA wal_checkpoint(PASSIVE)").ok());
  ASSERT_TRUE(app_.Exec("PRAGMA busy_timeout = 10").ok());
  app_.Exec("PRAGMA wal_checkpoint(TRUNCATE)").IgnoreError();
  Write(31, 30);
  SyncResult r = Sync();
  EXPECT_FALSE(r.snapshot) << r.reason;
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, RestartResumesFromTheLocalPosition) {
  OpenSyncer();
  Write(1, 10);
  Sync();
  Write(11, 10);
  Sync();
  ASSERT_TRUE(syncer_->Close().ok());
  Write(21, 10);  // committed while walship is down; the WAL keeps it
  OpenSyncer();
  EXPECT_EQ(syncer_->Position(), 2u);
  SyncResult r = Sync();
  EXPECT_EQ(r.txid, 3u);
  EXPECT_FALSE(r.snapshot) << r.reason;
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, WalRestartWhileDownForcesAFullL0) {
  OpenSyncer();
  Write(1, 10);
  Sync();
  ASSERT_TRUE(syncer_->Close().ok());
  ASSERT_TRUE(app_.Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  Write(11, 10);
  OpenSyncer();
  SyncResult r = Sync();
  EXPECT_TRUE(r.snapshot);
  EXPECT_NE(r.reason.find("salts"), std::string::npos) << r.reason;
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, SecondSyncerOnTheSameDatabaseIsRefused) {
  OpenSyncer();
  DbSyncer second(Opts());
  Status s = second.Open();
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_NE(s.message().find("already running"), std::string::npos);
}

TEST_P(SyncerTest, ShrinkAndVacuumRestoreExactly) {
  OpenSyncer();
  Write(1, 200, 300);
  Sync();
  ASSERT_TRUE(app_.Exec("DELETE FROM t WHERE id > 20").ok());
  Sync();
  ASSERT_TRUE(app_.Exec("VACUUM").ok());
  SyncResult r = Sync();
  EXPECT_TRUE(r.wrote);
  EXPECT_EQ(Restored(), AppContent());
  Write(300, 50, 1000);  // grow again
  Sync();
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, LostMetaDirContinuesAfterTheReplicaWithoutOverwriting) {
  OpenSyncer();
  Write(1, 10);
  Sync();
  Write(11, 10);
  Sync();
  ASSERT_TRUE(syncer_->Close().ok());
  syncer_.reset();
  ASSERT_TRUE(RemoveTree(DefaultMetaDir(db_path_)).ok());
  Write(21, 10);
  ReplicatorOptions ro;
  ro.syncer = Opts();
  Replicator rep(ro, replica_);
  ASSERT_TRUE(rep.OpenAndReconcile().ok());
  EXPECT_EQ(rep.syncer().Position(), 2u);
  ASSERT_TRUE(rep.SyncUntilCaughtUp().ok());
  EXPECT_EQ(rep.syncer().Position(), 3u);
  auto n = rep.uploader().UploadPending(rep.syncer().Position());
  ASSERT_TRUE(n.ok()) << n.status().message();
  ASSERT_TRUE(rep.syncer().Close().ok());
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, SnapshotAtPositionRestoresAlone) {
  ReplicatorOptions ro;
  ro.syncer = Opts();
  Replicator rep(ro, replica_);
  Write(1, 30);
  ASSERT_TRUE(rep.OpenAndReconcile().ok());
  ASSERT_TRUE(rep.SyncUntilCaughtUp().ok());
  ASSERT_TRUE(rep.MaybeSnapshot(false).ok());
  Write(31, 30);
  ASSERT_TRUE(rep.SyncUntilCaughtUp().ok());
  ASSERT_TRUE(rep.MaybeSnapshot(/*force=*/true).ok());
  ASSERT_TRUE(rep.uploader().UploadPending(rep.syncer().Position()).ok());
  auto snaps = replica_->ListLevel(ltx::kSnapshotLevel);
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->size(), 2u);
  EXPECT_EQ((*snaps)[1].max_txid, 2u);
  // Remove L0 so only the snapshot can serve the latest restore.
  auto l0 = replica_->ListLevel(0);
  ASSERT_TRUE(replica_->Delete(*l0).ok());
  ASSERT_TRUE(rep.syncer().Close().ok());
  EXPECT_EQ(Restored(), AppContent());
}

// The first snapshot (TXID 1) is the first L0 file: linked locally, copied
// on the replica instead of uploaded again. Later snapshots are written from
// the database and uploaded.
TEST_P(SyncerTest, FirstSnapshotIsTheFirstL0FileCopiedOnTheReplica) {
  auto mem = std::make_shared<storage::MemStore>();
  replica_ = std::make_shared<replica::Replica>(mem, "db", storage::KeyLayout::kS3);
  ReplicatorOptions ro;
  ro.syncer = Opts();
  Replicator rep(ro, replica_);
  Write(1, 300, 500);
  ASSERT_TRUE(rep.OpenAndReconcile().ok());
  ASSERT_TRUE(rep.SyncUntilCaughtUp().ok());
  ASSERT_EQ(rep.syncer().Position(), 1u);
  ASSERT_TRUE(rep.MaybeSnapshot(false).ok());
  const int puts_before = mem->puts.load(), gets_before = mem->gets.load();
  auto n = rep.uploader().UploadPending(rep.syncer().Position());
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(*n, 2);  // the L0 file and the snapshot
  EXPECT_EQ(mem->copies.load(), 1);
  EXPECT_EQ(mem->puts.load() - puts_before, 1);  // only the L0 file's bytes
  EXPECT_EQ(mem->gets.load() - gets_before, 0);  // it put that L0 object itself: no checksum GET
  const std::string l0_key = replica_->Key(0, 1, 1), snap_key = replica_->Key(ltx::kSnapshotLevel, 1, 1);
  auto l0 = mem->GetBytes(l0_key);
  auto snap = mem->GetBytes(snap_key);
  ASSERT_TRUE(l0.ok() && snap.ok());
  EXPECT_GT(l0->size(), 300u * 500u);
  EXPECT_TRUE(*l0 == *snap);
  auto l0_head = mem->Head(l0_key);
  auto snap_head = mem->Head(snap_key);
  ASSERT_TRUE(l0_head.ok() && snap_head.ok());
  EXPECT_EQ(snap_head->mtime_ms, l0_head->mtime_ms);  // the header's timestamp, not the copy's time
  auto left = ListDir(LocalSnapshotDir(DefaultMetaDir(db_path_)));
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());

  Write(301, 10);
  ASSERT_TRUE(rep.SyncUntilCaughtUp().ok());
  ASSERT_TRUE(rep.MaybeSnapshot(/*force=*/true).ok());
  ASSERT_TRUE(rep.uploader().UploadPending(rep.syncer().Position()).ok());
  EXPECT_EQ(mem->copies.load(), 1);  // TXID 2's snapshot has no twin: uploaded
  ASSERT_TRUE(mem->Head(replica_->Key(ltx::kSnapshotLevel, 1, 2)).ok());
  // Only the snapshots can serve the restores now.
  auto l0s = replica_->ListLevel(0);
  ASSERT_TRUE(l0s.ok());
  ASSERT_TRUE(replica_->Delete(*l0s).ok());
  ASSERT_TRUE(rep.syncer().Close().ok());
  EXPECT_EQ(Restored(), AppContent());
  const std::string at1 = Restored(1);
  EXPECT_EQ(at1.substr(0, 4), "300:") << at1.substr(0, 200);
}

// After a restart between the L0 upload and the snapshot's, the uploader
// did not put the L0 object itself: it reads that object's checksum first,
// copies it if it is the local file, and uploads the snapshot otherwise.
TEST_P(SyncerTest, ASnapshotIsCopiedOnlyFromAnObjectWithItsChecksum) {
  for (bool corrupt : {false, true}) {
    SCOPED_TRACE(corrupt ? "remote L0 differs" : "remote L0 is the local file");
    auto mem = std::make_shared<storage::MemStore>();
    replica_ = std::make_shared<replica::Replica>(mem, "db", storage::KeyLayout::kS3);
    RemoveTree(DefaultMetaDir(db_path_)).IgnoreError();
    ReplicatorOptions ro;
    ro.syncer = Opts();
    auto rep = std::make_unique<Replicator>(ro, replica_);
    Write(corrupt ? 1000 : 1, 40);
    ASSERT_TRUE(rep->OpenAndReconcile().ok());
    ASSERT_TRUE(rep->SyncUntilCaughtUp().ok());
    ASSERT_TRUE(rep->uploader().UploadPending(1).ok());  // the L0 file only
    ASSERT_TRUE(rep->MaybeSnapshot(false).ok());
    const std::string l0_key = replica_->Key(0, 1, 1), snap_key = replica_->Key(ltx::kSnapshotLevel, 1, 1);
    auto local = ReadFileToString(JoinPath(LocalL0Dir(DefaultMetaDir(db_path_)), ltx::FormatFileName(1, 1)));
    ASSERT_TRUE(local.ok());
    if (corrupt) mem->Corrupt(l0_key, local->size() - 1);  // its trailer checksum
    Uploader fresh(db_path_, DefaultMetaDir(db_path_), replica_);
    ASSERT_TRUE(fresh.Init().ok());
    const int gets_before = mem->gets.load(), puts_before = mem->puts.load();
    auto n = fresh.UploadPending(1);
    ASSERT_TRUE(n.ok()) << n.status().message();
    EXPECT_EQ(mem->gets.load() - gets_before, 1);
    EXPECT_EQ(mem->copies.load(), corrupt ? 0 : 1);
    EXPECT_EQ(mem->puts.load() - puts_before, corrupt ? 1 : 0);
    auto snap = mem->GetBytes(snap_key);
    ASSERT_TRUE(snap.ok());
    EXPECT_TRUE(*snap == *local);
    ASSERT_TRUE(rep->syncer().Close().ok());
    rep.reset();
  }
}

// A backend whose copy fails (here: an injected error) gets the snapshot's
// bytes uploaded instead, and the replica ends up the same.
TEST_P(SyncerTest, AFailedCopyUploadsTheSnapshotInstead) {
  auto mem = std::make_shared<storage::MemStore>();
  auto fault = std::make_shared<storage::FaultStore>(mem);
  fault->AddRule(storage::FaultRule::FailNext(storage::FaultOp::kCopy, 1, Unavailable("injected copy failure", false)));
  replica_ = std::make_shared<replica::Replica>(fault, "db", storage::KeyLayout::kS3);
  ReplicatorOptions ro;
  ro.syncer = Opts();
  Replicator rep(ro, replica_);
  Write(1, 50);
  ASSERT_TRUE(rep.RunOnce(/*force_snapshot=*/false).ok());
  EXPECT_EQ(fault->calls(storage::FaultOp::kCopy), 1);
  EXPECT_EQ(mem->copies.load(), 0);
  auto l0 = mem->GetBytes(replica_->Key(0, 1, 1));
  auto snap = mem->GetBytes(replica_->Key(ltx::kSnapshotLevel, 1, 1));
  ASSERT_TRUE(l0.ok() && snap.ok()) << snap.status().message();
  EXPECT_TRUE(*l0 == *snap);
  auto l0s = replica_->ListLevel(0);
  ASSERT_TRUE(l0s.ok());
  ASSERT_TRUE(replica_->Delete(*l0s).ok());
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, RestoreOfACorruptOrMissingFileFailsNamingItAndLeavesNothing) {
  OpenSyncer();
  Write(1, 20);
  Sync();
  for (int i = 0; i < 3; i++) {
    Write(100 + i * 10, 10, 2000);
    Sync();
  }
  const std::string key2 = "ltx/0/" + ltx::FormatFileName(2, 2);
  const std::string path2 = JoinPath(replica_dir_, key2);
  auto bytes = ReadFileToString(path2);
  ASSERT_TRUE(bytes.ok());
  std::string bad = *bytes;
  bad[bad.size() / 2] ^= 0x5a;
  ASSERT_TRUE(RemoveFile(path2).ok());
  ASSERT_TRUE(WriteFileAtomic(path2, bad).ok());

  restore::RestoreOptions o;
  o.output = JoinPath(dir_, "out/corrupt.db");
  auto r = restore::Restore(*replica_, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().message();
  EXPECT_NE(r.status().message().find(key2), std::string::npos) << r.status().message();
  EXPECT_FALSE(FileExists(o.output));
  EXPECT_FALSE(FileExists(o.output + ".tmp"));
  // A point before the damaged file still restores.
  o.point.txid = 1;
  EXPECT_TRUE(restore::Restore(*replica_, o).ok());

  // A missing file is a gap, named by the file after it.
  ASSERT_TRUE(RemoveFile(path2).ok());
  restore::RestoreOptions g;
  g.output = JoinPath(dir_, "out/gap.db");
  auto gr = restore::Restore(*replica_, g);
  ASSERT_FALSE(gr.ok());
  EXPECT_EQ(gr.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(gr.status().message().find("gap in the TXID chain"), std::string::npos) << gr.status().message();
  EXPECT_NE(gr.status().message().find(ltx::FormatFileName(3, 3)), std::string::npos) << gr.status().message();
  EXPECT_FALSE(FileExists(g.output));
}


// Hand-off: the syncer lets go of the WAL so the app restarts it. Here the
// "app" acts inside the unpinned window: it commits frames the syncer has not
// read (the old generation's tail), checkpoints everything and restarts the
// WAL with its next commit. The syncer must pick up the tail from the file.
TEST_P(SyncerTest, HandOffFollowsTheAppsRestartAndReadsTheOldGenerationsTail) {
  handoff_frames_ = 10;
  int next = 100000;
  on_unpinned_ = [&] {
    // The tail: committed after the capture, before the restart, in pages
    // that the new generation's first commit does not rewrite.
    Write(next, 3, int(GetParam() / 3));
    Write(next + 3, 2, int(GetParam() / 3));
    ASSERT_TRUE(app_.Exec("PRAGMA wal_checkpoint(PASSIVE)").ok());
    Write(1, 1, 50);  // restarts the WAL (nothing pins it)
    next += 10;
  };
  OpenSyncer();
  Sync();
  MakeRoomInTheWal();
  auto states = HandOffRounds(4, [&](int, uint32_t salt) {
    EXPECT_EQ(WalSalt1(), salt + 1) << "exactly one restart, made by the app";
  });
  EXPECT_EQ(syncer_->handoffs(), 4);
  EXPECT_EQ(syncer_->full_l0s(), 1) << "only the initial snapshot";
  EXPECT_TRUE(syncer_->handoff_enabled());
  ExpectRestoresAtEachTxid(states);
}

// Between cuts the cursor crosses several generations: one L0 file holds them all.
TEST_P(SyncerTest, OneCutSpansSeveralWalGenerations) {
  handoff_frames_ = 10;
  on_unpinned_ = [&] {
    ASSERT_TRUE(app_.Exec("PRAGMA wal_checkpoint(PASSIVE)").ok());
  };
  OpenSyncer();
  Sync();
  MakeRoomInTheWal();
  const uint64_t pos = syncer_->Position();
  const uint32_t salt0 = WalSalt1();
  for (int round = 0; round < 5; round++) {
    Write(round * 50, 40, int(GetParam() / 4));
    Write(round * 50 + 1, 1, 200);  // the same rows again: newest version wins
    ASSERT_TRUE(syncer_->Capture().ok());
    auto h = syncer_->MaybeHandOff();
    ASSERT_TRUE(h.ok()) << h.status().message();
    EXPECT_FALSE(*h) << "nobody wrote: the WAL restarts with the next commit";
  }
  // Hand-offs without a restart back off, so not every round restarts.
  EXPECT_GE(WalSalt1(), salt0 + 2) << "several generations, all restarted by the app";
  Write(999, 1);
  SyncResult r = Sync();
  EXPECT_TRUE(r.wrote);
  EXPECT_FALSE(r.snapshot) << r.reason;
  EXPECT_EQ(r.txid, pos + 1) << "one file";
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, TwoRestartsWhileUnpinnedWriteAFullL0AndStopHandOffs) {
  handoff_frames_ = 10;
  on_unpinned_ = [&] {
    Write(5000, 2, 300);
    ASSERT_TRUE(app_.Exec("PRAGMA wal_checkpoint(PASSIVE)").ok());
    Write(5002, 2, 300);  // restart 1
    ASSERT_TRUE(app_.Exec("PRAGMA wal_checkpoint(PASSIVE)").ok());
    Write(5004, 2, 300);  // restart 2: the frames of generation 2 are gone
  };
  HandOffOnce();
  EXPECT_FALSE(syncer_->handoff_enabled());
  EXPECT_EQ(syncer_->full_l0s(), 2);
  Write(100, 3);
  SyncResult r = Sync();
  EXPECT_FALSE(r.snapshot) << "the full L0 was already written: " << r.reason;
  EXPECT_EQ(Restored(), AppContent());
  // No more hand-offs: the WAL now only restarts at our checkpoints.
  Write(200, 40, int(GetParam() / 4));
  ASSERT_TRUE(syncer_->Capture().ok());
  EXPECT_FALSE(*syncer_->MaybeHandOff());
}

TEST_P(SyncerTest, NewGenerationOverwritingTheUnreadTailForcesAFullL0) {
  handoff_frames_ = 10;
  on_unpinned_ = [&] {
    Write(7000, 3, 300);  // the tail, not read yet
    ASSERT_TRUE(app_.Exec("PRAGMA wal_checkpoint(PASSIVE)").ok());
    // One restart, then more frames than the old generation had: the tail's
    // frame slots are overwritten before the syncer reads them.
    for (int i = 0; i < 30; i++) Write(7100 + i * 10, 4, 300);
  };
  OpenSyncer();
  Sync();
  MakeRoomInTheWal();
  Write(1, 40, int(GetParam() / 4));
  ASSERT_TRUE(syncer_->Capture().ok());
  const uint32_t salt = WalSalt1();
  auto h = syncer_->MaybeHandOff();
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(WalSalt1(), salt + 1) << "one restart";
  EXPECT_EQ(syncer_->full_l0s(), 2) << "the tail could not be proven intact";
  Sync();
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, WalTruncatedByTheAppWhileUnpinnedForcesAFullL0) {
  handoff_frames_ = 10;
  on_unpinned_ = [&] {
    Write(7000, 3, 300);  // the tail, not read yet
    ASSERT_TRUE(app_.Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());  // and gone with the file's end
    Write(7100, 1, 300);
  };
  HandOffOnce();
  EXPECT_EQ(syncer_->full_l0s(), 2) << "the old generation's end was cut off";
  Sync();
  EXPECT_EQ(Restored(), AppContent());
}

// With the syncer's own checkpoint, everything it captured is backfilled
// before it lets go: the app's next write restarts the WAL without the app
// checkpointing at all, and the syncer follows into the new generation.
TEST_P(SyncerTest, HandOffCheckpointLetsTheAppRestartWithoutItsOwnCheckpoint) {
  handoff_frames_ = 10;
  handoff_checkpoint_ = true;
  int next = 200000;
  uint32_t salt_in_window = 0;
  on_unpinned_ = [&] {
    Write(next, 2, int(GetParam() / 3));  // no checkpoint by the app
    salt_in_window = WalSalt1();
    next += 10;
  };
  OpenSyncer();
  Sync();
  MakeRoomInTheWal();
  auto states = HandOffRounds(3, [&](int, uint32_t salt) {
    EXPECT_EQ(salt_in_window, salt + 1) << "the app's first write restarted the WAL";
  });
  EXPECT_EQ(syncer_->handoffs(), 3);
  EXPECT_EQ(syncer_->full_l0s(), 1) << "only the initial snapshot";
  ExpectRestoresAtEachTxid(states);
}

// The same when the app writes nothing while unpinned (the real wait runs
// out): the syncer pins a fully backfilled WAL (read mark 0), so the app's
// next write restarts it under the pin; the syncer follows.
TEST_P(SyncerTest, HandOffCheckpointWithoutAnAppWriteFollowsTheLaterRestart) {
  handoff_frames_ = 10;
  handoff_checkpoint_ = true;
  HandOffOnce();
  const uint32_t salt = WalSalt1();
  Write(300, 2, 300);
  EXPECT_EQ(WalSalt1(), salt + 1) << "restarted under the syncer's read mark 0";
  SyncResult r = Sync();
  EXPECT_TRUE(r.wrote);
  EXPECT_FALSE(r.snapshot) << r.reason;
  EXPECT_EQ(syncer_->full_l0s(), 1);
  EXPECT_TRUE(syncer_->handoff_enabled());
  EXPECT_EQ(Restored(), AppContent());
  Write(400, 3);
  Sync();
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(SyncerTest, AGrowingWalIsRestartedUnderTheBarrierInsteadOfHandedOff) {
  handoff_frames_ = 10;
  bool called = false;
  on_unpinned_ = [&] { called = true; };
  OpenSyncer();
  Sync();
  Write(1, 80, int(GetParam() / 4));  // the newest generation is the file's end
  ASSERT_TRUE(syncer_->Capture().ok());
  const uint32_t salt = WalSalt1();
  auto h = syncer_->MaybeHandOff();
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_TRUE(*h);
  EXPECT_FALSE(called) << "not unpinned";
  EXPECT_EQ(WalSalt1(), salt + 1);
  Write(100, 2);
  SyncResult r = Sync();
  EXPECT_FALSE(r.snapshot) << r.reason;
  EXPECT_EQ(Restored(), AppContent());
}

// restore-if-db-not-exists: the server is gone (database, WAL and local
// state); the database is restored from the replica and its state recorded
// (as daemon::RestoreIfMissing does), and the app reopens it.
class RestoredSyncerTest : public SyncerTest {
 protected:
  uint64_t BuildReplicaThenVanishAndRestore() {
    OpenSyncer();
    Write(1, 60, 300);
    Sync();
    Write(100, 5);
    Sync();
    const uint64_t at = syncer_->Position();
    syncer_.reset();
    uploader_.reset();
    EXPECT_TRUE(app_.Close().ok());
    for (const char* suffix : {"", "-wal", "-shm"}) EXPECT_TRUE(RemoveFile(db_path_ + suffix).ok());
    EXPECT_TRUE(RemoveTree(DefaultMetaDir(db_path_)).ok());
    restore::RestoreOptions o;
    o.output = db_path_;
    auto plan = restore::PlanRestore(*replica_, o.point);
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    if (!plan.ok()) return 0;
    auto res = restore::ApplyPlan(*replica_, *plan, o);
    EXPECT_TRUE(res.ok()) << res.status().ToString();
    EXPECT_EQ(plan->txid, at);
    EXPECT_TRUE(RecordRestoredState(db_path_, "", plan->txid).ok());
    auto app = sqlite::Db::Open(db_path_, SQLITE_OPEN_READWRITE);
    EXPECT_TRUE(app.ok());
    if (app.ok()) app_ = std::move(app).value();
    return at;
  }
  // As Replicator::OpenAndReconcile: the local position becomes the replica's.
  void OpenAndReconcile() {
    OpenSyncer();
    const uint64_t remote = uploader_->remote_txid();
    ASSERT_GT(remote, syncer_->Position());
    auto l0 = uploader_->FetchRemoteL0(remote);
    ASSERT_TRUE(l0.ok()) << l0.status().ToString();
    ASSERT_TRUE(syncer_->ReconcileWithReplica(remote, *l0).ok());
  }
  std::string RecordPath() { return JoinPath(DefaultMetaDir(db_path_), "walship-restored.json"); }
};

TEST_P(RestoredSyncerTest, ARestoredDatabaseContinuesTheReplicaWithIncrementalFiles) {
  const uint64_t at = BuildReplicaThenVanishAndRestore();
  ASSERT_TRUE(FileExists(RecordPath()));
  Write(200, 3);  // the app writes before walship starts: in the WAL
  OpenAndReconcile();
  EXPECT_FALSE(FileExists(RecordPath())) << "the record is good for one start";
  EXPECT_EQ(syncer_->Position(), at);
  SyncResult r = Sync();
  EXPECT_TRUE(r.wrote);
  EXPECT_FALSE(r.snapshot) << r.reason;
  EXPECT_EQ(r.txid, at + 1);
  EXPECT_EQ(Restored(), AppContent());
  Write(300, 2);
  EXPECT_FALSE(Sync().snapshot);
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(RestoredSyncerTest, ADatabaseChangedSinceItsRestoreIsWrittenWhole) {
  BuildReplicaThenVanishAndRestore();
  Write(200, 3);
  // The app's checkpoint copies its frames into the file and empties the
  // WAL: the file is no longer the restored state.
  ASSERT_TRUE(app_.Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  OpenAndReconcile();
  SyncResult r = Sync();
  EXPECT_TRUE(r.snapshot) << "a changed file must be written whole";
  EXPECT_EQ(Restored(), AppContent());
}

TEST_P(RestoredSyncerTest, ACheckpointAfterWalshipOpenedItNeverLosesACommit) {
  BuildReplicaThenVanishAndRestore();
  OpenAndReconcile();
  // Between walship's open and its first sync the app commits and
  // checkpoints: whatever the first sync decides, the replica must have it.
  Write(200, 30, 500);
  ASSERT_TRUE(app_.Exec("PRAGMA wal_checkpoint(PASSIVE)").ok());
  Write(300, 2);
  Sync();
  EXPECT_EQ(Restored(), AppContent());
}

INSTANTIATE_TEST_SUITE_P(PageSizes, RestoredSyncerTest, ::testing::Values(512u, 4096u, 65536u));

TEST(ReplicatorWaiting, AMissingDatabaseCostsNoReplicaRequests) {
  auto mem = std::make_shared<storage::MemStore>();
  auto r = std::make_shared<replica::Replica>(mem, "db", storage::KeyLayout::kS3);
  ReplicatorOptions ro;
  ro.syncer.db_path = "/tmp/walship-no-such-dir/missing.db";
  Replicator rep(ro, r);
  for (int i = 0; i < 3; i++) EXPECT_EQ(rep.OpenAndReconcile().code(), Code::kNotFound);
  EXPECT_EQ(mem->lists.load(), 0);
  EXPECT_EQ(mem->puts.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(PageSizes, SyncerTest, ::testing::Values(512u, 4096u, 65536u));

}  // namespace
}  // namespace walship::replicate
