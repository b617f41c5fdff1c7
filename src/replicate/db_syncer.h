#pragma once
// DbSyncer: holds one SQLite database's WAL steady and turns each sync's newly
// committed WAL frames into one local L0 LTX file in the meta directory
// (<meta>/ltx/0/<txid>-<txid>.ltx), Litestream v0.5 compatible (compat
// reference section 3). It never uploads; the Uploader does.
//
// How the WAL is held steady: a long-running read transaction on a dedicated
// connection pins the WAL (no other connection can restart it or backfill
// frames past the read mark), so "DB file + synced WAL frames" is always a
// consistent snapshot. The only WAL restarts while running happen inside
// Checkpoint(), under a write barrier, after everything was synced.
//
// Thread safety: not thread-safe; one thread (the monitor) calls everything.
// Position() may be read from other threads.

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/file.h"
#include "base/status.h"
#include "ltx/encoder.h"
#include "ltx/format.h"
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
};

// Default meta dir, as Litestream: <dir>/.<basename>-litestream
std::string DefaultMetaDir(const std::string& db_path);
std::string LocalL0Dir(const std::string& meta_dir);
std::string LocalSnapshotDir(const std::string& meta_dir);

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

  // Reads new committed frames and writes at most one L0 file.
  Result<SyncResult> SyncOnce();

  // Syncs, then runs a PASSIVE checkpoint under a write barrier if the WAL is
  // over min_checkpoint_page_count frames or checkpoint_interval has passed
  // with something synced. force=true checkpoints regardless of thresholds.
  // Returns true if a checkpoint ran.
  Result<bool> MaybeCheckpoint(bool force = false);

  // Writes a level-9 snapshot (MinTXID 1, MaxTXID = position) of the state at
  // the current position into `path`, built from the live database (WAL pages
  // of the current generation + database file) under the read transaction.
  // Requires a position (SyncOnce wrote at least one file since Open).
  Result<ltx::Header> WriteSnapshot(const std::string& path);

  uint64_t Position() const { return txid_.load(); }
  int64_t position_timestamp_ms() const { return last_.timestamp_ms; }
  uint32_t page_size() const { return page_size_; }
  uint64_t synced_wal_end() const { return end_offset_; }

  // Releases the read transaction and connections, then the lock.
  Status Close();

 private:
  struct PageMap {
    std::map<uint32_t, uint64_t> pages;  // pgno -> WAL frame offset of the latest committed version
    uint32_t commit = 0;                 // db size in pages after the last commit; 0 if none
    uint64_t start = 0, end = 0;         // WAL byte range covered [start, end)
    uint32_t last_ck1 = 0, last_ck2 = 0; // checksum of the last committed frame
    bool frames_seen = false;            // at least one commit frame was read
    bool bounded = false;                // stopped early at max_sync_wal_bytes
  };
  struct Decision {
    uint64_t offset = 0;
    bool snapshot = false;
    std::string reason;
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
  Status ReadDbPage(uint32_t pgno, uint8_t* buf);
  Result<uint32_t> DbFilePageCount();
  Status WriteLtx(const std::string& path, const ltx::Header& h, const PageMap& m, const File& wal,
                  bool all_pages, uint32_t prev_commit);
  Result<SyncResult> SyncLocked(bool bounded);
  // Syncs to the end, then moves our read transaction across a PASSIVE checkpoint.
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
  uint64_t end_offset_ = 0;          // last_.wal_offset + last_.wal_size
  std::optional<std::pair<uint32_t, uint32_t>> last_frame_ck_;  // in-memory only
  // Set by our own checkpoint: the WAL may restart exactly once, and we had
  // synced every frame of the old generation under the barrier.
  bool expect_restart_ = false;
  bool force_full_ = false;   // local state was reset: the next file holds every page
  bool caught_up_ = false;    // the last sync read every committed frame
  int64_t last_checkpoint_ms_ = 0;
  bool synced_since_checkpoint_ = false;
  std::vector<uint8_t> page_buf_;
};

}  // namespace walship::replicate
