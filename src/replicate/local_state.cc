#include "replicate/local_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/file.h"
#include "ltx/format.h"
#include "replicate/db_syncer.h"

namespace walship::replicate {

namespace {

std::string MetaOrDefault(const std::string& db_path, const std::string& meta_dir) {
  return meta_dir.empty() ? DefaultMetaDir(db_path) : meta_dir;
}

// An fd holding the lock file's flock (closing it releases the lock).
struct LockFd {
  int fd = -1;
  ~LockFd() {
    if (fd >= 0) ::close(fd);
  }
};

// Takes the replicator's lock in `mode` (LOCK_SH to look, LOCK_EX to reset)
// without waiting. Returns false if a replicator holds it; true with
// lock->fd = -1 if there is no lock file and create is false.
Result<bool> TryLock(const std::string& meta, int mode, bool create, LockFd* lock) {
  const std::string path = LockPath(meta);
  lock->fd = ::open(path.c_str(), (create ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
  if (lock->fd < 0) {
    if (errno == ENOENT && !create) return true;
    return ErrnoStatus("open", path, errno);
  }
  if (::flock(lock->fd, mode | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return false;
    return ErrnoStatus("lock", path, errno);
  }
  return true;
}

}  // namespace

Result<LocalStatus> ReadLocalStatus(const std::string& db_path, const std::string& meta_dir) {
  const std::string meta = MetaOrDefault(db_path, meta_dir);
  LocalStatus st;
  st.db_exists = FileExists(db_path);
  if (auto wal = FileSize(db_path + "-wal"); wal.ok()) st.wal_size = *wal;
  const std::vector<uint64_t> txids = LocalL0Txids(LocalL0Dir(meta));
  st.initialized = !txids.empty();
  st.local_txid = txids.empty() ? 0 : txids.front();
  if (FileExists(meta)) {
    LockFd lock;
    WALSHIP_ASSIGN_OR_RETURN(bool free, TryLock(meta, LOCK_SH, /*create=*/false, &lock));
    st.replicating = !free;
  }
  return st;
}

Status ResetLocalState(const std::string& db_path, const std::string& meta_dir, bool dry_run,
                       std::vector<std::string>* removed) {
  const std::string meta = MetaOrDefault(db_path, meta_dir);
  removed->clear();
  if (!FileExists(meta)) return Status::OK();
  LockFd lock;
  WALSHIP_ASSIGN_OR_RETURN(bool free, TryLock(meta, LOCK_EX, /*create=*/!dry_run, &lock));
  if (!free) {
    return AlreadyExists("a walship replicate is running for " + db_path + " (lock " + LockPath(meta) +
                         "): stop it first");
  }
  for (const std::string& dir : {LocalL0Dir(meta), LocalSnapshotDir(meta)}) {
    auto names = ListDir(dir);
    if (!names.ok()) continue;  // no such directory: nothing there
    for (const auto& n : *names) removed->push_back(JoinPath(dir, n));
  }
  if (FileExists(PendingPath(meta))) removed->push_back(PendingPath(meta));
  std::sort(removed->begin(), removed->end());
  if (dry_run) return Status::OK();
  for (const auto& p : *removed) WALSHIP_RETURN_IF_ERROR(RemoveFile(p));
  for (const std::string& dir : {LocalL0Dir(meta), LocalSnapshotDir(meta)}) {
    if (FileExists(dir)) WALSHIP_RETURN_IF_ERROR(FsyncDir(dir));
  }
  return FsyncDir(meta);
}

}  // namespace walship::replicate
