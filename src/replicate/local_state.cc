#include "replicate/local_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <vector>

#include "base/crc64.h"
#include "base/file.h"
#include "ltx/format.h"
#include "replicate/db_syncer.h"

namespace walship::replicate {

namespace {

std::string MetaOrDefault(const std::string& db_path, const std::string& meta_dir) {
  return meta_dir.empty() ? DefaultMetaDir(db_path) : meta_dir;
}

std::string RestoredPath(const std::string& meta) { return JoinPath(meta, "walship-restored.json"); }

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
  for (const std::string& f : {PendingPath(meta), RestoredPath(meta)}) {
    if (FileExists(f)) removed->push_back(f);
  }
  std::sort(removed->begin(), removed->end());
  if (dry_run) return Status::OK();
  for (const auto& p : *removed) WALSHIP_RETURN_IF_ERROR(RemoveFile(p));
  for (const std::string& dir : {LocalL0Dir(meta), LocalSnapshotDir(meta)}) {
    if (FileExists(dir)) WALSHIP_RETURN_IF_ERROR(FsyncDir(dir));
  }
  return FsyncDir(meta);
}

Result<RestoredState> StateOf(uint64_t size, const std::function<Status(void*, size_t, uint64_t)>& read) {
  RestoredState st;
  st.size = size;
  Crc64 crc;
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t off = 0; off < size;) {
    const size_t n = size_t(std::min<uint64_t>(buf.size(), size - off));
    WALSHIP_RETURN_IF_ERROR(read(buf.data(), n, off));
    crc.Update(buf.data(), n);
    off += n;
  }
  st.crc = crc.Sum();
  return st;
}

Status RecordRestoredState(const std::string& db_path, const std::string& meta_dir, uint64_t txid) {
  const std::string meta = MetaOrDefault(db_path, meta_dir);
  WALSHIP_ASSIGN_OR_RETURN(File f, File::OpenRead(db_path));
  WALSHIP_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  WALSHIP_ASSIGN_OR_RETURN(RestoredState st,
                           StateOf(size, [&](void* buf, size_t n, uint64_t off) { return f.PReadFull(buf, n, off); }));
  WALSHIP_RETURN_IF_ERROR(MakeDirs(meta));
  nlohmann::json j = {{"version", 1},
                      {"txid", ltx::FormatTxid(txid)},
                      {"size", st.size},
                      {"crc64", ltx::FormatChecksum(st.crc)}};
  return WriteFileAtomic(RestoredPath(meta), j.dump());
}

std::optional<RestoredState> TakeRestoredState(const std::string& meta_dir) {
  const std::string path = RestoredPath(meta_dir);
  auto text = ReadFileToString(path);
  if (!text.ok()) return std::nullopt;
  RemoveFile(path).IgnoreError();
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("version", 0) != 1 || !j["size"].is_number_unsigned() ||
      !j["txid"].is_string() || !j["crc64"].is_string()) {
    return std::nullopt;
  }
  auto txid = ltx::ParseTxid(j["txid"].get<std::string>());
  const std::string crc = j["crc64"].get<std::string>();
  char* end = nullptr;
  const uint64_t crc_value = std::strtoull(crc.c_str(), &end, 16);
  if (!txid.ok() || *txid == 0 || crc.size() != 16 || end != crc.c_str() + crc.size()) return std::nullopt;
  return RestoredState{*txid, j["size"].get<uint64_t>(), crc_value};
}

}  // namespace walship::replicate
