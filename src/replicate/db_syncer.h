#pragma once
// DbSyncer: holds one SQLite database's WAL steady, captures every committed
// WAL frame, and turns what was captured since the last cut into one local L0
// LTX file in the meta directory (<meta>/ltx/0/<txid>-<txid>.ltx), Litestream
// v0.5 compatible (compat reference section 3). It never uploads; the
// Uploader does.
//
// How the WAL is held steady: a read transaction on a dedicated connection
// pins the WAL (no other connection can restart it while we hold a read mark
// >= 1; with read mark 0 nothing can be backfilled, so at most one restart),
// so frames cannot vanish before they are captured.
//
// Capture and cut: Capture() copies the newest version of each page of the
// newly committed frames into a pending file (<meta>/walship-pending, not
// durable) and moves the cursor; a cut (SyncOnce) writes the pending pages as
// one L0 file. The cursor can cross WAL generations between cuts.
//
// Hand-off (MaybeHandOff): a pinned WAL cannot restart, so it grows, and an
// app with SQLite's default autocheckpoint then tries (and fails) to
// checkpoint on every commit: a writer at full speed loses a third of its
// throughput. So once the generation holds handoff_frames frames, the syncer
// captures them, checkpoints what it captured, and lets go of the WAL for at
// most handoff_wait_us: the app checkpoints and restarts the WAL as if walship
// were not there. No write barrier is taken. The syncer then pins the new
// generation and reads the end of the old one (frames committed while it let
// go) from the file, proving that the new generation has not reached them
// (its valid frames end before them); otherwise, or if the WAL restarted more
// than once, it writes a full L0 (correct, just bigger) and stops handing off.
//
// Thread safety: not thread-safe; one thread (the monitor) calls everything.
// Position() may be read from other threads.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/file.h"
#include "base/status.h"
#include "ltx/encoder.h"
#include "ltx/format.h"
#include "replicate/local_state.h"
#include "sqlite/sqlite.h"
#include "wal/wal_reader.h"

namespace walship::replicate {

struct SyncerOptions {
  std::string db_path;
  std::string meta_dir;  // default: <dir>/.<base>-litestream
  int busy_timeout_ms = 1000;
  int64_t min_checkpoint_page_count = 1000;
  int64_t checkpoint_interval_ms = 60'000;
  uint64_t max_sync_wal_bytes = 64ull << 20;
  ltx::PageEncoding encoding = ltx::PageEncoding::kBlock;
  const Clock* clock = SystemClock::Default();
  // Checkpoint in two phases: first without the write barrier (the app keeps
  // writing while most frames are copied), then under it for the rest.
  bool pre_checkpoint = true;
  // Hand-off (see above): once the WAL generation holds this many captured
  // frames: a little below SQLite's default autocheckpoint (1000), so a fast
  // writer reaches it while walship has let go and never pays for failed
  // checkpoints. 0 disables it (the WAL then restarts only at our checkpoints,
  // under the write barrier).
  int64_t handoff_frames = 800;
  // Backfill the captured frames ourselves before letting go (PASSIVE, up to
  // our cursor), so the app's own checkpoint has little left to copy and sync.
  bool handoff_checkpoint = true;
  // The longest the WAL is left unpinned in a hand-off.
  int64_t handoff_wait_us = 20000;
  // Tests: runs in the unpinned window of a hand-off instead of the wait.
  std::function<void()> on_unpinned;
};

// Default meta dir, as Litestream: <dir>/.<basename>-litestream
std::string DefaultMetaDir(const std::string& db_path);
std::string LocalL0Dir(const std::string& meta_dir);
std::string LocalSnapshotDir(const std::string& meta_dir);
// The lock a replicator holds (flock, exclusive) while it runs, and the file
// it captures WAL frames into between cuts.
std::string LockPath(const std::string& meta_dir);
std::string PendingPath(const std::string& meta_dir);
// TXIDs of the local L0 files in `dir` (names MIN-MAX.ltx with MIN = MAX),
// newest first.
std::vector<uint64_t> LocalL0Txids(const std::string& dir);

struct SyncResult {
  bool wrote = false;          // a new L0 file was written
  bool snapshot = false;       // it holds every page (TXID 1 or a forced full L0)
  std::string reason;          // why a full L0 was forced
  uint64_t txid = 0;
  bool caught_up = true;       // false if bounded by max_sync_wal_bytes
};

class DbSyncer {
 public:
  explicit DbSyncer(SyncerOptions opts);
  ~DbSyncer();
  DbSyncer(const DbSyncer&) = delete;
  DbSyncer& operator=(const DbSyncer&) = delete;

  // Takes the meta-dir lock (a second replicator on the same database fails
  // with kAlreadyExists), opens connections, converts to WAL, creates the
  // _litestream_seq/_litestream_lock tables, starts the read transaction, and
  // loads the local position from the newest local L0 file. kNotFound if the
  // database file does not exist yet.
  Status Open();
  bool is_open() const { return open_.load(); }  // any thread

  // Reconciles the local position with the replica's L0 position (the #781
  // trap). remote_txid > local: local L0 files are dropped and `remote_l0`
  // (the newest remote L0 file, fetched by the caller) becomes the local
  // position, so the next sync continues at remote+1 and never rewrites an
  // existing object. remote < local with local files missing in between: the
  // local state is reset so the next sync writes a full L0 at remote+1.
  Status ReconcileWithReplica(uint64_t remote_txid, const std::string& remote_l0_path);

  // Captures new committed frames (at most max_sync_wal_bytes of WAL), then
  // writes what is pending as one L0 file (the cut). At most one file, or two
  // when the WAL had to be read whole (a full L0).
  Result<SyncResult> SyncOnce();

  // Captures new committed frames into the pending file without writing an
  // L0 file (unless a full L0 is needed). Returns the number of WAL frames read.
  Result<int64_t> Capture();

  // Hands the WAL back to the app for a restart if the generation holds
  // handoff_frames captured frames (see above). Returns true if the WAL
  // restarted.
  Result<bool> MaybeHandOff();

  bool handoff_enabled() const { return handoff_enabled_; }
  uint64_t pending_bytes() const { return pending_size_; }
  // Frames of the current WAL generation captured so far.
  int64_t generation_frames() const {
    return end_offset_ > wal::kHeaderSize && page_size_ > 0
               ? int64_t((end_offset_ - wal::kHeaderSize) / wal::FrameSize(page_size_))
               : 0;
  }
  // Hand-offs that restarted the WAL, and full L0 files written since Open.
  int64_t handoffs() const { return handoffs_; }
  int64_t full_l0s() const { return full_l0s_; }

  // Syncs, then runs a PASSIVE checkpoint under a write barrier if the WAL is
  // over min_checkpoint_page_count frames or checkpoint_interval has passed
  // with something synced. force=true checkpoints regardless of thresholds.
  // Returns true if a checkpoint ran.
  Result<bool> MaybeCheckpoint(bool force = false);

  // Writes a level-9 snapshot (MinTXID 1, MaxTXID = position) of the state at
  // the current position into `path`, built from the live database (WAL pages
  // of the current generation + database file) under the read transaction.
  // Requires a position (SyncOnce wrote at least one file since Open).
  // At TXID 1 the local L0 file of TXID 1 already is that snapshot (it holds
  // every page): it is hard-linked to `path` instead, so the database is not
  // read and compressed a second time.
  Result<ltx::Header> WriteSnapshot(const std::string& path);

  uint64_t Position() const { return txid_.load(); }
  int64_t position_timestamp_ms() const { return last_.timestamp_ms; }
  uint32_t page_size() const { return page_size_; }
  uint64_t synced_wal_end() const { return end_offset_; }

  // Releases the read transaction and connections, then the lock.
  Status Close();

 private:
  // WriteSnapshot at TXID 1: links the local L0 file of TXID 1 to `path` if
  // its header says it is that snapshot.
  Result<ltx::Header> LinkFirstL0AsSnapshot(const std::string& path);
  struct PageMap {
    std::map<uint32_t, uint64_t> pages;  // pgno -> WAL frame offset of the latest committed version
    uint32_t commit = 0;                 // db size in pages after the last commit; 0 if none
    uint64_t start = 0, end = 0;         // WAL byte range covered [start, end)
    uint32_t last_ck1 = 0, last_ck2 = 0; // checksum of the last committed frame
    bool frames_seen = false;            // at least one commit frame was read
    bool bounded = false;                // stopped early at max_sync_wal_bytes
    uint64_t valid_end = 0;              // end of the last valid frame, committed or not
    int64_t frames_read = 0;
  };
  struct Decision {
    uint64_t offset = 0;
    bool snapshot = false;
    std::string reason;
    bool tail = false;  // one WAL restart since the cursor: read the old generation's end first
  };

  Status OpenConnections();
  Status BeginReadTx();
  Status EndReadTx();
  Status SeqBump();
  Status EnsureWalHeader();
  Status LoadLocalPosition();
  Result<Decision> Verify(const File& wal, const wal::Header& hdr);
  Result<bool> LastFrameMatches(const File& wal, uint64_t frame_offset);
  Result<PageMap> ScanWal(const File& wal, uint64_t from, uint64_t limit, bool bounded);
  Result<PageMap> ScanFrom(wal::Reader& r, uint64_t from, uint64_t limit, bool bounded);
  Status ReadDbPage(uint32_t pgno, uint8_t* buf);
  Result<uint64_t> DbFileSize();  // through SQLite's handle
  Result<RestoredState> DbFileState();  // size and CRC-64 of the database file
  Result<uint32_t> DbFilePageCount();
  // Pages from `src` (page data at map offset + skip) or, if absent, from the
  // database file. If wal_check is set, the WAL must still be in the
  // generation of h's salts after every page was read (else kUnavailable and
  // nothing is written): a read mark 0 allows one restart.
  Status WriteLtx(const std::string& path, const ltx::Header& h, const std::map<uint32_t, uint64_t>& pages,
                  const File& src, uint64_t skip, bool all_pages, uint32_t prev_commit, const File* wal_check);
  // Capture until caught up (or one bounded chunk); may write a full L0.
  Result<bool> CaptureLocked(bool bounded, SyncResult* res);
  Result<bool> FullL0(const File& wal, const wal::Header& hdr, const std::string& reason, SyncResult* res);
  Status CaptureTail(const File& wal, const wal::Header& hdr);
  // Copies m's pages into the pending file; false if a frame may have been
  // overwritten by a new WAL generation before it was copied.
  Result<bool> Stash(const File& wal, const PageMap& m, uint32_t salt1, uint32_t salt2);
  void ResetPending();
  // An L0 header at txid for the WAL range [wal_from, wal_to) of the generation with these salts.
  ltx::Header L0Header(uint64_t txid, uint32_t commit, uint64_t wal_from, uint64_t wal_to, uint32_t salt1,
                       uint32_t salt2) const;
  void Advance(const PageMap& m, const wal::Header& gen);
  void EnterGeneration(const wal::Header& hdr);  // cursor at the start of hdr's generation
  Result<SyncResult> Cut();
  Status CaptureToEnd();   // unbounded capture until caught up
  Status EnsurePinned();   // our read transaction, begun again if it was lost
  // PASSIVE checkpoint on conn_r_ (no read transaction of ours open); busy is OK.
  Status CheckpointPassive(const char* what, int* nlog, int* nckpt);
  // Captures to the end, then moves our read transaction across a PASSIVE checkpoint.
  Status SyncAndCheckpoint(const char* what);
  Status PreCheckpoint();
  Result<bool> CheckpointWithBarrier();  // false: busy, not run

  SyncerOptions opts_;
  int lock_fd_ = -1;
  // Pages are read through conn_r_'s own file handle: opening and closing a
  // second fd on the DB file would drop this process's POSIX locks.
  sqlite3_file* db_file_ = nullptr;
  std::atomic<bool> open_{false};
  sqlite::Db conn_r_;     // holds the long read transaction
  sqlite::Db conn_w_;     // seq bumps, write barrier
  bool in_read_tx_ = false;
  uint32_t page_size_ = 0;

  // Position: the newest local L0 file.
  std::atomic<uint64_t> txid_{0};
  ltx::Header last_;                 // its header
  // Cursor: where the next capture continues (the position plus what is
  // pending). Generation = WAL salts.
  uint32_t cur_salt1_ = 0, cur_salt2_ = 0;
  uint64_t end_offset_ = 0;          // after the last captured commit frame
  std::optional<std::pair<uint32_t, uint32_t>> last_frame_ck_;  // in-memory only
  std::optional<wal::Header> gen_hdr_;  // the cursor generation's WAL header, once read
  // Pending: captured since the last cut.
  File pending_;
  std::map<uint32_t, uint64_t> pending_pages_;  // pgno -> offset in pending_
  uint64_t pending_size_ = 0;
  uint32_t pending_commit_ = 0;      // db size after the last captured commit; 0: nothing pending
  uint64_t pending_start_ = 0;       // where the pending frames of the cursor generation start
  // Set by our own checkpoint: the WAL may restart exactly once, and we had
  // captured every frame of the old generation under the barrier.
  bool expect_restart_ = false;
  bool force_full_ = false;   // the next file holds every page
  // What a restore recorded (TakeRestoredState at Open), for the first Verify.
  std::optional<RestoredState> restored_;
  std::string full_reason_ = "local state reset";
  bool caught_up_ = false;    // the last sync read every committed frame
  bool handoff_enabled_ = true;
  int64_t next_handoff_frames_ = 0;
  int64_t handoff_step_ = 0;  // after hand-offs without a restart: frames until the next try
  int64_t handoffs_ = 0;
  int64_t full_l0s_ = 0;
  int64_t last_checkpoint_ms_ = 0;
  bool synced_since_checkpoint_ = false;
  std::vector<uint8_t> page_buf_;
};

}  // namespace walship::replicate
