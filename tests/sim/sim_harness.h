#pragma once
// Compaction/retention simulation harness: a real SQLite database in a temp
// dir written through the app's own connection, a Replicator driven step by
// step under a FakeClock, a MemStore replica, and a log of the writer's state
// at every TXID (content hash + capture time) to judge restores against.
//
// The oracle (what a restore *should* give) is computed here from the listing
// alone, independently of restore::CalcPlan:
//   reachable endpoints R: starting at each snapshot (a file with MinTXID 1),
//   a file [a, b] of level 0..8 extends a position p when a <= p+1 and b > p.
//   W(t): the writer's TXID at time t (the last sync with capture time <= t).
//   expected restore at t: max { x in R : x <= W(t) }.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "replica/replica.h"
#include "replicate/replicator.h"
#include "restore/plan.h"
#include "sqlite/sqlite.h"
#include "storage/mem_store.h"

namespace walship::sim {

using replica::LtxFileInfo;

// The seed: WALSHIP_SIM_SEED if set, else `fallback`.
uint64_t SeedFromEnv(uint64_t fallback);
// A fresh temp dir: under $WALSHIP_SIM_TMPDIR, else /dev/shm when writable
// (the simulation does thousands of fsyncs), else /tmp.
std::string MakeTempDir(const std::string& tag);

// A deterministic hash of every user table's schema and rows (the
// _litestream_* tables are excluded).
Result<uint64_t> ContentHash(sqlite::Db& db);
Result<uint64_t> FileContentHash(const std::string& path);

// Reachable restore endpoints of a listing (see the header comment).
std::set<uint64_t> ReachableEndpoints(const std::vector<LtxFileInfo>& files);

struct SimOptions {
  uint64_t seed = 1;
  std::vector<int64_t> level_intervals_ms = {10'000, 60'000, 300'000};
  int64_t snapshot_interval_ms = 20 * 60'000;
  int64_t snapshot_retention_ms = 60 * 60'000;
  int64_t l0_retention_ms = 2 * 60'000;
  int64_t l0_check_interval_ms = 5'000;
  int64_t start_ms = 1'700'000'000'000;
  int max_rows = 300;  // ids are drawn from [1, max_rows]
};

struct LevelCounts {
  std::map<int, int> written, deleted;
};

class Sim {
 public:
  explicit Sim(SimOptions o);
  ~Sim();
  Sim(const Sim&) = delete;
  Sim& operator=(const Sim&) = delete;

  // Creates the database and the replicator, opens and reconciles.
  Status Open();

  // A few random transactions (insert/update/delete; rarely a VACUUM or a
  // bulk change). Returns the number of transactions.
  Result<int> RandomWrites();
  // Sync until caught up and log the position's state.
  Status Sync();
  // The replicator's steps after a sync: snapshot when due, upload.
  Status SnapshotAndUpload(bool force_snapshot = false);
  Status Checkpoint(bool force);
  // A process restart after everything was uploaded: closes the database
  // and builds a new Replicator (optionally without its meta dir, as after a
  // lost disk), then opens and reconciles with the replica.
  Status Restart(bool lose_meta);
  int restarts() const { return restarts_; }
  // Re-lists the replica and updates the per-level counts. Returns the files
  // deleted since the last call (and checks new compacted files' timestamps).
  Result<std::vector<LtxFileInfo>> Observe(std::vector<std::string>* failures);

  // --- the oracle ---
  // Writer's TXID at time t (0 if none yet).
  uint64_t WriterTxidAt(int64_t t) const;
  std::optional<uint64_t> HashAt(uint64_t txid) const;
  std::optional<int64_t> TimeOf(uint64_t txid) const;
  int64_t first_sync_ms() const { return log_.empty() ? 0 : log_.begin()->second.time_ms; }

  // Checks every point of [max(now - retention, first sync), now] on a
  // listing with restore::CalcPlan against the oracle: the window start
  // restores, every file end inside the window is a reachable endpoint and
  // plans exactly, and `samples` random timestamps and TXIDs plan to the
  // expected TXID (timestamps whose writer sync is inside the L0 window:
  // exactly W(t)). samples < 0: every distinct sync time and every file end.
  void CheckWindow(const std::vector<LtxFileInfo>& files, int samples, std::vector<std::string>* failures);

  // Restores (restore::Restore) at a point into a temp file; on success
  // compares its content with the logged state at the restored TXID.
  // Returns the restore's status; *txid gets the restored TXID.
  Status RestoreAndCompare(const restore::Point& p, uint64_t* txid, std::vector<std::string>* failures);

  std::mt19937_64& rng() { return rng_; }
  FakeClock& clock() { return clock_; }
  replicate::Replicator& rep() { return *rep_; }
  storage::MemStore& store() { return *store_; }
  std::shared_ptr<replica::Replica> replica() { return replica_; }
  const SimOptions& options() const { return o_; }
  const LevelCounts& counts() const { return counts_; }
  const std::vector<LtxFileInfo>& listing() const { return listing_; }
  const std::string& dir() const { return dir_; }
  uint64_t last_txid() const { return log_.empty() ? 0 : log_.rbegin()->first; }
  int vacuums() const { return vacuums_; }
  int checkpoints() const { return checkpoints_; }
  int unknown_txids() const { return unknown_txids_; }

 private:
  struct Logged {
    int64_t time_ms;
    uint64_t hash;
  };
  Status WriteTx(int kind);

  SimOptions o_;
  std::mt19937_64 rng_;
  FakeClock clock_;
  std::string dir_, db_path_;
  sqlite::Db app_;
  std::shared_ptr<storage::MemStore> store_;
  std::shared_ptr<replica::Replica> replica_;
  replicate::ReplicatorOptions ro_;
  std::unique_ptr<replicate::Replicator> rep_;
  std::map<uint64_t, Logged> log_;
  std::map<int64_t, uint64_t> by_time_;  // sync time -> TXID
  std::vector<LtxFileInfo> listing_;
  LevelCounts counts_;
  int restores_ = 0;
  int vacuums_ = 0;
  int checkpoints_ = 0;
  int unknown_txids_ = 0;
  int restarts_ = 0;
};

}  // namespace walship::sim
