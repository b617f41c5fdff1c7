#pragma once
// A database's local replication state as `walship status` and `walship
// reset` see it, offline: the database file, its WAL and the meta directory
// (local L0 files, snapshots waiting for upload, the pending capture file,
// the replicator's lock). No replica is contacted.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace walship::replicate {

struct LocalStatus {
  bool db_exists = false;
  bool initialized = false;  // a local L0 file exists
  uint64_t local_txid = 0;   // the newest local L0 file's TXID (0 if none)
  uint64_t wal_size = 0;     // bytes of <db>-wal (0 if there is none)
  bool replicating = false;  // a `walship replicate` holds the meta directory's lock
};

// meta_dir "" = the default beside the database. Errors only for what cannot
// be read (kIOError naming the path); a missing database or meta directory
// is a state, not an error.
Result<LocalStatus> ReadLocalStatus(const std::string& db_path, const std::string& meta_dir);

// Removes the local L0 files, the snapshots waiting for upload and the
// pending capture file, so that the next `replicate` starts from the
// replica's position (continuing from its newest L0 file if the WAL still
// matches it, else with a full L0 file): Litestream's `reset`, for a local
// state that is damaged or belongs to another database. Holds the
// replicator's lock while it removes; kAlreadyExists if a replicator runs.
// The paths removed (with dry_run: that would be) go to *removed, sorted.
// Never touches the database, its WAL or the replica.
Status ResetLocalState(const std::string& db_path, const std::string& meta_dir, bool dry_run,
                       std::vector<std::string>* removed);

// The state a restore left (restore-if-db-not-exists): the database file as
// restored at `txid`, identified by its size and CRC-64. The first sync after
// it uses this to continue the replica with incremental L0 files instead of a
// full one (DbSyncer::Verify): only if the file still has exactly these bytes
// (then every change since is in the WAL), never on a guess.
struct RestoredState {
  uint64_t txid = 0;
  uint64_t size = 0;
  uint64_t crc = 0;
};

// Size and CRC-64 of `size` bytes read with `read(buf, n, offset)` in 1 MiB
// steps. (DbSyncer reads through SQLite's own file handle: opening and closing
// another descriptor of the database would drop every POSIX lock this process
// holds on it, SQLite's included.)
Result<RestoredState> StateOf(uint64_t size, const std::function<Status(void*, size_t, uint64_t)>& read);

// Records db_path's current size and CRC-64 as the state restored at txid,
// in the meta directory (created if needed; written atomically). Opens the
// database with a descriptor of its own: call it while no SQLite connection
// of this process has the database open.
Status RecordRestoredState(const std::string& db_path, const std::string& meta_dir, uint64_t txid);

// Reads and removes the record (it is good for one start only). nullopt if
// there is none, or it is unreadable (then it is removed too).
std::optional<RestoredState> TakeRestoredState(const std::string& meta_dir);

}  // namespace walship::replicate
