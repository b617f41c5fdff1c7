#include "replicate/db_syncer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/io.h"
#include "base/log.h"
#include "ltx/decoder.h"

namespace walship::replicate {

std::string DefaultMetaDir(const std::string& db_path) {
  return JoinPath(DirName(db_path), "." + BaseName(db_path) + "-litestream");
}
std::string LocalL0Dir(const std::string& meta_dir) { return JoinPath(meta_dir, "ltx/0"); }
std::string LocalSnapshotDir(const std::string& meta_dir) { return JoinPath(meta_dir, "walship-snapshots"); }
std::string LockPath(const std::string& meta_dir) { return JoinPath(meta_dir, "walship.lock"); }
std::string PendingPath(const std::string& meta_dir) { return JoinPath(meta_dir, "walship-pending"); }

std::vector<uint64_t> LocalL0Txids(const std::string& dir) {
  std::vector<uint64_t> out;
  auto names = ListDir(dir);
  if (!names.ok()) return out;
  for (const auto& n : *names) {
    uint64_t mn, mx;
    if (ltx::ParseFileName(n, &mn, &mx) && mn == mx) out.push_back(mx);
  }
  std::sort(out.rbegin(), out.rend());
  return out;
}

namespace {

// Removes "*.tmp" files left by a crash.
void RemoveStrayTemps(const std::string& dir) {
  auto names = ListDir(dir);
  if (!names.ok()) return;
  for (const auto& n : *names) {
    if (n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0) {
      WLOG_INFO("removing stray temp file {}", JoinPath(dir, n));
      RemoveFile(JoinPath(dir, n)).IgnoreError();
    }
  }
}

Result<ltx::Header> DecodeWholeFile(const std::string& path) {
  WALSHIP_ASSIGN_OR_RETURN(auto src, FileSource::Open(path));
  auto st = ltx::VerifyFile(src.get());
  if (!st.ok()) return st.status().WithContext("verify " + path);
  return st;
}

}  // namespace

DbSyncer::DbSyncer(SyncerOptions opts) : opts_(std::move(opts)) {
  if (opts_.meta_dir.empty()) opts_.meta_dir = DefaultMetaDir(opts_.db_path);
}

DbSyncer::~DbSyncer() { Close().IgnoreError(); }

Status DbSyncer::Open() {
  if (!FileExists(opts_.db_path)) return NotFound("database " + opts_.db_path + " does not exist");
  WALSHIP_RETURN_IF_ERROR(MakeDirs(LocalL0Dir(opts_.meta_dir)));
  WALSHIP_RETURN_IF_ERROR(MakeDirs(LocalSnapshotDir(opts_.meta_dir)));

  std::string lock_path = LockPath(opts_.meta_dir);
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", lock_path, errno);
  // `walship status` holds a shared lock for an instant: a few tries before
  // concluding that another replicator runs.
  for (int tries = 1; ::flock(fd, LOCK_EX | LOCK_NB) != 0; tries++) {
    int err = errno;
    if (err == EWOULDBLOCK && tries < 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return AlreadyExists("another walship replicate is already running for " + opts_.db_path + " (lock " +
                           lock_path + ")");
    }
    return ErrnoStatus("lock", lock_path, err);
  }
  lock_fd_ = fd;

  RemoveStrayTemps(LocalL0Dir(opts_.meta_dir));
  RemoveStrayTemps(LocalSnapshotDir(opts_.meta_dir));
  // What a previous run captured but did not cut is gone with it: the cursor
  // restarts at the position (the newest local L0 file).
  auto pending = File::OpenWrite(PendingPath(opts_.meta_dir), /*truncate=*/true);
  if (!pending.ok()) {
    Close().IgnoreError();
    return pending.status().WithContext("open " + opts_.db_path);
  }
  pending_ = std::move(pending).value();
  ResetPending();
  handoff_enabled_ = true;
  next_handoff_frames_ = 0;
  handoff_step_ = 0;

  Status s = OpenConnections();
  if (s.ok()) s = EnsureWalHeader();
  if (s.ok()) s = BeginReadTx();
  if (s.ok()) s = LoadLocalPosition();
  if (!s.ok()) {
    Close().IgnoreError();
    return s.WithContext("open " + opts_.db_path);
  }
  restored_ = TakeRestoredState(opts_.meta_dir);
  last_checkpoint_ms_ = opts_.clock->MonotonicMs();
  open_ = true;
  return Status::OK();
}

Status DbSyncer::OpenConnections() {
  for (sqlite::Db* c : {&conn_w_, &conn_r_}) {
    WALSHIP_ASSIGN_OR_RETURN(*c, sqlite::Db::Open(opts_.db_path, SQLITE_OPEN_READWRITE, opts_.busy_timeout_ms));
    int persist = 1;
    sqlite3_file_control(c->raw(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    WALSHIP_RETURN_IF_ERROR(c->Exec("PRAGMA wal_autocheckpoint = 0"));
  }
  WALSHIP_ASSIGN_OR_RETURN(std::string mode, conn_w_.QueryText("PRAGMA journal_mode = wal"));
  if (mode != "wal") return FailedPrecondition("could not switch to WAL mode (journal_mode is " + mode + ")");
  WALSHIP_RETURN_IF_ERROR(
      conn_w_.Exec("CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER)"));
  WALSHIP_RETURN_IF_ERROR(conn_w_.Exec("CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER)"));
  sqlite3_file* f = nullptr;
  if (sqlite3_file_control(conn_r_.raw(), "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK || f == nullptr ||
      f->pMethods == nullptr) {
    return Internal("cannot get the database file handle");
  }
  db_file_ = f;
  WALSHIP_ASSIGN_OR_RETURN(int64_t ps, conn_r_.QueryInt("PRAGMA page_size"));
  if (!ltx::IsValidPageSize(uint32_t(ps))) return Corruption("invalid page size " + std::to_string(ps));
  page_size_ = uint32_t(ps);
  page_buf_.resize(page_size_);
  return Status::OK();
}

Status DbSyncer::BeginReadTx() {
  if (in_read_tx_) return Status::OK();
  WALSHIP_RETURN_IF_ERROR(conn_r_.Exec("BEGIN"));
  auto n = conn_r_.QueryInt("SELECT COUNT(1) FROM _litestream_seq");
  if (!n.ok()) {
    conn_r_.Exec("ROLLBACK").IgnoreError();
    return n.status().WithContext("begin read transaction");
  }
  in_read_tx_ = true;
  return Status::OK();
}

Status DbSyncer::EndReadTx() {
  if (!in_read_tx_) return Status::OK();
  in_read_tx_ = false;
  return conn_r_.Exec("ROLLBACK");
}

Status DbSyncer::SeqBump() {
  return conn_w_.Exec(
      "INSERT INTO _litestream_seq (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1");
}

Status DbSyncer::EnsureWalHeader() {
  auto size = FileSize(opts_.db_path + "-wal");
  if (size.ok() && *size >= wal::kHeaderSize) return Status::OK();
  return SeqBump().WithContext("initialise WAL");
}

Status DbSyncer::LoadLocalPosition() {
  const std::string dir = LocalL0Dir(opts_.meta_dir);
  for (uint64_t txid : LocalL0Txids(dir)) {
    std::string path = JoinPath(dir, ltx::FormatFileName(txid, txid));
    auto h = DecodeWholeFile(path);
    if (h.ok()) {
      last_ = *h;
      txid_ = txid;
      end_offset_ = h->wal_offset + h->wal_size;
      cur_salt1_ = h->wal_salt1;
      cur_salt2_ = h->wal_salt2;
      pending_start_ = end_offset_;
      gen_hdr_.reset();
      return Status::OK();
    }
    // A damaged local file is never uploaded: drop it and fall back to the
    // previous one; the replica check at start-up fills in from there.
    WLOG_WARN("local L0 file is damaged and will be removed: {}", h.status().message());
    WALSHIP_RETURN_IF_ERROR(RemoveFile(path));
  }
  last_ = ltx::Header{};
  txid_ = 0;
  end_offset_ = 0;
  cur_salt1_ = cur_salt2_ = 0;
  gen_hdr_.reset();
  return Status::OK();
}

Status DbSyncer::ReconcileWithReplica(uint64_t remote_txid, const std::string& remote_l0_path) {
  const std::string dir = LocalL0Dir(opts_.meta_dir);
  uint64_t local = txid_.load();
  if (remote_txid > local) {
    WLOG_INFO("{}: local position {} is behind the replica ({}): continuing from the replica", opts_.db_path,
              ltx::FormatTxid(local), ltx::FormatTxid(remote_txid));
    for (uint64_t t : LocalL0Txids(dir)) WALSHIP_RETURN_IF_ERROR(RemoveFile(JoinPath(dir, ltx::FormatFileName(t, t))));
    std::string dst = JoinPath(dir, ltx::FormatFileName(remote_txid, remote_txid));
    WALSHIP_RETURN_IF_ERROR(RenameFile(remote_l0_path, dst));
    WALSHIP_RETURN_IF_ERROR(FsyncDir(dir));
    last_frame_ck_.reset();
    return LoadLocalPosition();
  }
  if (remote_txid < local) {
    for (uint64_t t = remote_txid + 1; t <= local; t++) {
      if (!FileExists(JoinPath(dir, ltx::FormatFileName(t, t)))) {
        WLOG_WARN("{}: replica is at {} but local L0 files from {} are gone: writing a full L0 at {}", opts_.db_path,
                  ltx::FormatTxid(remote_txid), ltx::FormatTxid(t), ltx::FormatTxid(remote_txid + 1));
        for (uint64_t x : LocalL0Txids(dir)) WALSHIP_RETURN_IF_ERROR(RemoveFile(JoinPath(dir, ltx::FormatFileName(x, x))));
        last_ = ltx::Header{};
        last_.max_txid = remote_txid;
        txid_ = remote_txid;
        end_offset_ = 0;
        force_full_ = remote_txid > 0;
        full_reason_ = "local state reset";
        last_frame_ck_.reset();
        ResetPending();
        return Status::OK();
      }
    }
  }
  return Status::OK();
}

Result<bool> DbSyncer::LastFrameMatches(const File& wal, uint64_t frame_offset) {
  WALSHIP_ASSIGN_OR_RETURN(wal::Frame f, wal::ReadFrameHeader(wal, frame_offset));
  if (f.salt1 != cur_salt1_ || f.salt2 != cur_salt2_) return false;
  if (last_frame_ck_) return f.checksum1 == last_frame_ck_->first && f.checksum2 == last_frame_ck_->second;
  // After a restart we only have the last L0 file: its version of that page
  // must equal the frame's page. (The file was fully verified, checksum and
  // all, when the position was loaded; here we only look for one page.)
  WALSHIP_RETURN_IF_ERROR(wal.PReadFull(page_buf_.data(), page_size_, frame_offset + wal::kFrameHeaderSize));
  std::string path = JoinPath(LocalL0Dir(opts_.meta_dir), ltx::FormatFileName(txid_, txid_));
  WALSHIP_ASSIGN_OR_RETURN(auto src, FileSource::Open(path));
  ltx::Decoder dec(src.get());
  WALSHIP_RETURN_IF_ERROR(dec.DecodeHeader());
  std::vector<uint8_t> buf(page_size_);
  uint32_t pgno;
  while (true) {
    WALSHIP_ASSIGN_OR_RETURN(bool more, dec.NextPage(&pgno, buf.data()));
    if (!more) return false;
    if (pgno == f.pgno) return std::memcmp(buf.data(), page_buf_.data(), page_size_) == 0;
  }
}

Result<DbSyncer::Decision> DbSyncer::Verify(const File& wal, const wal::Header& hdr) {
  if (txid_ == 0) return Decision{wal::kHeaderSize, true, "no position: initial snapshot"};
  if (force_full_) return Decision{wal::kHeaderSize, true, full_reason_};
  const bool same_generation = hdr.salt1 == cur_salt1_ && hdr.salt2 == cur_salt2_;
  if (restored_) {
    const RestoredState r = *restored_;
    restored_.reset();
    if (!same_generation && r.txid == txid_) {
      // A restore wrote the database at our position, and its file still has
      // exactly those bytes (size and CRC-64, read now, under our read
      // transaction): the state at txid_ is the file, and everything since is
      // in this WAL. A checkpoint can copy frames into the file meanwhile, but
      // only frames of this generation (our read mark keeps it from
      // restarting), which we capture from its start. Any difference: full L0.
      auto now = DbFileState();
      if (now.ok() && now->size == r.size && now->crc == r.crc) {
        WLOG_INFO("{}: the database is the state restored at {}: continuing with incremental L0 files",
                  opts_.db_path, ltx::FormatTxid(txid_));
        return Decision{wal::kHeaderSize, false, ""};
      }
      WLOG_INFO("{}: the database changed since it was restored at {}: writing a full L0", opts_.db_path,
                ltx::FormatTxid(txid_));
    }
  }
  if (!same_generation) {
    // One restart increments salt-1 by exactly one.
    if (hdr.salt1 == cur_salt1_ + 1) {
      // Our own checkpoint captured every frame first, under the write barrier.
      if (expect_restart_) return Decision{wal::kHeaderSize, false, ""};
      // A hand-off, or a read mark 0: the old generation may have frames after
      // the cursor; readable while the new generation has not reached them.
      if (last_frame_ck_ && gen_hdr_ && end_offset_ > wal::kHeaderSize) {
        return Decision{wal::kHeaderSize, false, "", /*tail=*/true};
      }
    }
    return Decision{wal::kHeaderSize, true, "wal restarted while not watched (salts changed)"};
  }
  WALSHIP_ASSIGN_OR_RETURN(uint64_t wal_size, wal.Size());
  if (wal_size < end_offset_) return Decision{wal::kHeaderSize, true, "wal truncated by another process"};
  if (end_offset_ <= wal::kHeaderSize) return Decision{wal::kHeaderSize, false, ""};
  const uint64_t fsz = wal::FrameSize(page_size_);
  if (end_offset_ < wal::kHeaderSize + fsz || (end_offset_ - wal::kHeaderSize) % fsz != 0) {
    return Decision{wal::kHeaderSize, true, "position is not on a frame boundary"};
  }
  WALSHIP_ASSIGN_OR_RETURN(bool match, LastFrameMatches(wal, end_offset_ - fsz));
  if (!match) return Decision{wal::kHeaderSize, true, "wal overwritten by another process"};
  return Decision{end_offset_, false, ""};
}

Result<DbSyncer::PageMap> DbSyncer::ScanWal(const File& wal, uint64_t from, uint64_t limit, bool bounded) {
  WALSHIP_ASSIGN_OR_RETURN(wal::Reader r, wal::Reader::Open(&wal));
  if (from > wal::kHeaderSize) WALSHIP_RETURN_IF_ERROR(r.Seek(from));
  return ScanFrom(r, from, limit, bounded);
}

Result<DbSyncer::PageMap> DbSyncer::ScanFrom(wal::Reader& r, uint64_t from, uint64_t limit, bool bounded) {
  PageMap m;
  m.start = m.end = m.valid_end = from;
  std::vector<std::pair<uint32_t, uint64_t>> staged;
  wal::Frame f;
  const uint64_t fsz = wal::FrameSize(page_size_);
  while (r.offset() < limit) {
    WALSHIP_ASSIGN_OR_RETURN(bool more, r.Next(&f, nullptr));
    if (!more) break;
    m.frames_read++;
    m.valid_end = f.offset + fsz;
    staged.emplace_back(f.pgno, f.offset);
    if (f.commit == 0) continue;
    for (const auto& [pgno, off] : staged) m.pages[pgno] = off;
    staged.clear();
    m.commit = f.commit;
    m.end = f.offset + fsz;
    m.last_ck1 = f.checksum1;
    m.last_ck2 = f.checksum2;
    m.frames_seen = true;
    if (bounded && m.end - from >= opts_.max_sync_wal_bytes) {
      m.bounded = true;
      break;
    }
  }
  // Pages beyond the final size were truncated away (shrink, VACUUM).
  if (m.commit != 0) m.pages.erase(m.pages.upper_bound(m.commit), m.pages.end());
  return m;
}

Status DbSyncer::ReadDbPage(uint32_t pgno, uint8_t* buf) {
  int rc = db_file_->pMethods->xRead(db_file_, buf, int(page_size_), sqlite3_int64(pgno - 1) * page_size_);
  if (rc == SQLITE_IOERR_SHORT_READ) {
    return OutOfRange("read " + opts_.db_path + ": page " + std::to_string(pgno) + " is past the end of the file");
  }
  if (rc != SQLITE_OK) return sqlite::FromRc(rc, nullptr, "read " + opts_.db_path + " page " + std::to_string(pgno));
  return Status::OK();
}

Result<uint64_t> DbSyncer::DbFileSize() {
  sqlite3_int64 size = 0;
  int rc = db_file_->pMethods->xFileSize(db_file_, &size);
  if (rc != SQLITE_OK) return sqlite::FromRc(rc, nullptr, "size of " + opts_.db_path);
  return uint64_t(size);
}

Result<RestoredState> DbSyncer::DbFileState() {
  WALSHIP_ASSIGN_OR_RETURN(uint64_t size, DbFileSize());
  // Through SQLite's handle, never a descriptor of our own (see StateOf).
  return StateOf(size, [&](void* buf, size_t n, uint64_t off) -> Status {
    int r = db_file_->pMethods->xRead(db_file_, buf, int(n), sqlite3_int64(off));
    if (r != SQLITE_OK) return sqlite::FromRc(r, nullptr, "read " + opts_.db_path);
    return Status::OK();
  });
}

Result<uint32_t> DbSyncer::DbFilePageCount() {
  WALSHIP_ASSIGN_OR_RETURN(uint64_t size, DbFileSize());
  return uint32_t(size / page_size_);
}

namespace {
// True if the WAL file's header still carries these salts. The header is
// rewritten before any frame of a new generation: if it is unchanged after
// pages were read, no frame had been overwritten when they were read.
Result<bool> WalStillIn(const File& wal, uint32_t salt1, uint32_t salt2) {
  uint8_t buf[wal::kHeaderSize];
  WALSHIP_ASSIGN_OR_RETURN(size_t got, wal.PRead(buf, sizeof buf, 0));
  auto h = wal::ParseHeader(buf, got);
  if (!h.ok()) return false;
  return h->salt1 == salt1 && h->salt2 == salt2;
}
}  // namespace

Status DbSyncer::WriteLtx(const std::string& path, const ltx::Header& h, const std::map<uint32_t, uint64_t>& pages,
                          const File& src, uint64_t skip, bool all_pages, uint32_t prev_commit,
                          const File* wal_check) {
  WALSHIP_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(path));
  FileSink sink(&out.file());
  ltx::Encoder enc(&sink, opts_.encoding);
  WALSHIP_RETURN_IF_ERROR(enc.EncodeHeader(h));
  const uint32_t lock = ltx::LockPgno(page_size_);
  auto emit = [&](uint32_t pgno) -> Status {
    if (pgno == lock) return Status::OK();
    auto it = pages.find(pgno);
    if (it != pages.end()) {
      WALSHIP_RETURN_IF_ERROR(src.PReadFull(page_buf_.data(), page_size_, it->second + skip));
    } else {
      WALSHIP_RETURN_IF_ERROR(ReadDbPage(pgno, page_buf_.data()));
    }
    return enc.EncodePage(pgno, page_buf_.data());
  };
  if (all_pages) {
    for (uint32_t pgno = 1; pgno <= h.commit; pgno++) WALSHIP_RETURN_IF_ERROR(emit(pgno));
  } else {
    // Captured pages plus every page the database grew by (compat reference
    // 3.3 step 5, the growth fill), in ascending order.
    auto it = pages.begin();
    uint32_t g = prev_commit + 1;
    while ((it != pages.end() && it->first <= h.commit) || g <= h.commit) {
      uint32_t next_map = it != pages.end() && it->first <= h.commit ? it->first : UINT32_MAX;
      uint32_t next_grow = g <= h.commit ? g : UINT32_MAX;
      uint32_t pgno = std::min(next_map, next_grow);
      WALSHIP_RETURN_IF_ERROR(emit(pgno));
      if (next_map == pgno) ++it;
      if (next_grow == pgno) g++;
    }
  }
  WALSHIP_RETURN_IF_ERROR(enc.Close());
  WALSHIP_RETURN_IF_ERROR(sink.Flush());
  if (wal_check != nullptr) {
    WALSHIP_ASSIGN_OR_RETURN(bool same, WalStillIn(*wal_check, h.wal_salt1, h.wal_salt2));
    if (!same) return Unavailable("the WAL restarted while " + path + " was written; it is written again");
  }
  WALSHIP_RETURN_IF_ERROR(out.Commit(/*no_clobber=*/true));
  return SetMtimeMs(path, h.timestamp_ms);
}

ltx::Header DbSyncer::L0Header(uint64_t txid, uint32_t commit, uint64_t wal_from, uint64_t wal_to, uint32_t salt1,
                               uint32_t salt2) const {
  ltx::Header h;
  h.flags = ltx::kHeaderFlagNoChecksum;
  h.page_size = page_size_;
  h.commit = commit;
  h.min_txid = h.max_txid = txid;
  h.timestamp_ms = opts_.clock->NowMs();  // after the capture: every commit in the file happened before it
  h.wal_offset = wal_from;
  h.wal_size = wal_to - wal_from;
  h.wal_salt1 = salt1;
  h.wal_salt2 = salt2;
  return h;
}

void DbSyncer::ResetPending() {
  pending_pages_.clear();
  pending_size_ = 0;
  pending_commit_ = 0;
  pending_.Truncate(0).IgnoreError();
}

Result<bool> DbSyncer::Stash(const File& wal, const PageMap& m, uint32_t salt1, uint32_t salt2) {
  if (m.pages.empty()) return true;
  // Batched: up to 64 pages per write.
  const size_t batch = std::max<size_t>(1, (256u << 10) / page_size_);
  std::vector<uint8_t> buf;
  buf.reserve(batch * page_size_);
  uint64_t at = pending_size_;
  std::vector<std::pair<uint32_t, uint64_t>> placed;
  placed.reserve(m.pages.size());
  auto flush = [&]() -> Status {
    if (buf.empty()) return Status::OK();
    WALSHIP_RETURN_IF_ERROR_CTX(pending_.PWriteFull(buf.data(), buf.size(), at), "write " + pending_.path());
    at += buf.size();
    buf.clear();
    return Status::OK();
  };
  for (const auto& [pgno, off] : m.pages) {
    size_t n = buf.size();
    buf.resize(n + page_size_);
    WALSHIP_RETURN_IF_ERROR(wal.PReadFull(buf.data() + n, page_size_, off + wal::kFrameHeaderSize));
    placed.emplace_back(pgno, at + n);
    if (buf.size() >= batch * page_size_) WALSHIP_RETURN_IF_ERROR(flush());
  }
  WALSHIP_RETURN_IF_ERROR(flush());
  WALSHIP_ASSIGN_OR_RETURN(bool same, WalStillIn(wal, salt1, salt2));
  if (!same) {
    // A new generation began: a frame whose header still carries our salts
    // after its page was copied had not been overwritten when it was copied
    // (a frame's header is written before its page).
    for (const auto& [pgno, off] : m.pages) {
      auto f = wal::ReadFrameHeader(wal, off);
      if (!f.ok() || f->salt1 != salt1 || f->salt2 != salt2) return false;
    }
  }
  for (const auto& [pgno, off] : placed) pending_pages_[pgno] = off;
  pending_size_ = at;
  return true;
}

void DbSyncer::Advance(const PageMap& m, const wal::Header& gen) {
  gen_hdr_ = gen;
  cur_salt1_ = gen.salt1;
  cur_salt2_ = gen.salt2;
  if (!m.frames_seen) return;
  pending_commit_ = m.commit;
  end_offset_ = m.end;
  last_frame_ck_ = std::make_pair(m.last_ck1, m.last_ck2);
  expect_restart_ = false;
  synced_since_checkpoint_ = true;
}

Result<bool> DbSyncer::FullL0(const File& wal, const wal::Header& hdr, const std::string& reason,
                              SyncResult* res) {
  ResetPending();
  WALSHIP_ASSIGN_OR_RETURN(PageMap m, ScanWal(wal, wal::kHeaderSize, UINT64_MAX, false));
  uint32_t commit = m.commit;
  if (commit == 0) {
    WALSHIP_ASSIGN_OR_RETURN(commit, DbFilePageCount());
  }
  if (commit == 0) return true;  // an empty database: nothing to capture yet
  const uint64_t txid = txid_ + 1;
  const ltx::Header h = L0Header(txid, commit, wal::kHeaderSize, m.end, hdr.salt1, hdr.salt2);
  const std::string path = JoinPath(LocalL0Dir(opts_.meta_dir), ltx::FormatFileName(txid, txid));
  WALSHIP_RETURN_IF_ERROR_CTX(WriteLtx(path, h, m.pages, wal, wal::kFrameHeaderSize, /*all_pages=*/true, 0, &wal),
                              "write " + path);
  last_ = h;
  txid_ = txid;
  gen_hdr_ = hdr;
  cur_salt1_ = hdr.salt1;
  cur_salt2_ = hdr.salt2;
  end_offset_ = m.end;
  pending_start_ = m.end;
  if (m.frames_seen) last_frame_ck_ = std::make_pair(m.last_ck1, m.last_ck2);
  else last_frame_ck_.reset();
  expect_restart_ = false;
  force_full_ = false;
  synced_since_checkpoint_ = true;
  full_l0s_++;
  res->wrote = true;
  res->snapshot = true;
  res->reason = reason;
  res->txid = txid;
  WLOG_INFO("{}: wrote full L0 {} ({} pages): {}", opts_.db_path, ltx::FormatTxid(txid), commit, reason);
  return true;
}

Status DbSyncer::CaptureTail(const File& wal, const wal::Header& hdr) {
  const uint64_t fsz = wal::FrameSize(page_size_);
  wal::Reader old = wal::Reader::Resume(&wal, *gen_hdr_, end_offset_, last_frame_ck_->first, last_frame_ck_->second);
  WALSHIP_ASSIGN_OR_RETURN(PageMap tail, ScanFrom(old, end_offset_, UINT64_MAX, false));
  WALSHIP_ASSIGN_OR_RETURN(bool copied, Stash(wal, tail, gen_hdr_->salt1, gen_hdr_->salt2));
  // 1-based index of the first frame that did not continue the old
  // generation. The new generation has written at most one frame past its
  // valid ones; if that is before this frame, the old generation really ended
  // there. Measured after the tail was read: it only grows.
  const uint64_t first_bad = (tail.valid_end - wal::kHeaderSize) / fsz + 1;
  // The old generation must end on a whole frame that does not continue it
  // (an older generation's, or never written), not at the end of the file:
  // the app may have truncated the WAL (wal_checkpoint(TRUNCATE),
  // journal_size_limit) after it restarted, cutting frames we never saw.
  std::vector<uint8_t> probe(fsz);
  WALSHIP_ASSIGN_OR_RETURN(size_t got, wal.PRead(probe.data(), fsz, tail.valid_end));
  WALSHIP_ASSIGN_OR_RETURN(PageMap fresh, ScanWal(wal, wal::kHeaderSize, UINT64_MAX, false));
  const uint64_t new_frames = uint64_t(fresh.frames_read);
  if (!copied || got < fsz || new_frames + 1 >= first_bad) {
    force_full_ = true;
    full_reason_ = got < fsz ? "the WAL restarted and was shortened before the end of its old generation was read"
                             : "the WAL restarted and its new frames reached the end of the old generation "
                               "before it was read";
    return Status::OK();
  }
  if (tail.frames_seen) {
    WLOG_DEBUG("{}: read {} frames of the previous WAL generation after a restart", opts_.db_path,
               (tail.end - end_offset_) / fsz);
  }
  Advance(tail, *gen_hdr_);
  EnterGeneration(hdr);
  // The new generation was read whole to count its frames: capture it from that read.
  WALSHIP_ASSIGN_OR_RETURN(bool fresh_copied, Stash(wal, fresh, hdr.salt1, hdr.salt2));
  if (!fresh_copied) {
    force_full_ = true;
    full_reason_ = "the WAL restarted while its frames were read";
    return Status::OK();
  }
  Advance(fresh, hdr);
  return Status::OK();
}

void DbSyncer::EnterGeneration(const wal::Header& hdr) {
  gen_hdr_ = hdr;
  cur_salt1_ = hdr.salt1;
  cur_salt2_ = hdr.salt2;
  end_offset_ = wal::kHeaderSize;
  pending_start_ = wal::kHeaderSize;
  last_frame_ck_ = std::make_pair(hdr.checksum1, hdr.checksum2);
}

Result<bool> DbSyncer::CaptureLocked(bool bounded, SyncResult* res) {
  for (int attempt = 0;; attempt++) {
    WALSHIP_RETURN_IF_ERROR(EnsureWalHeader());
    WALSHIP_ASSIGN_OR_RETURN(File wal, File::OpenRead(opts_.db_path + "-wal"));
    WALSHIP_ASSIGN_OR_RETURN(wal::Reader reader, wal::Reader::Open(&wal));
    const wal::Header hdr = reader.header();
    if (hdr.page_size != page_size_) {
      return FailedPrecondition("WAL page size " + std::to_string(hdr.page_size) +
                                " differs from database page size " + std::to_string(page_size_));
    }
    WALSHIP_ASSIGN_OR_RETURN(Decision d, Verify(wal, hdr));
    if (d.tail) {
      WALSHIP_RETURN_IF_ERROR(CaptureTail(wal, hdr));
      if (force_full_) d = Decision{wal::kHeaderSize, true, full_reason_};
      else d.offset = end_offset_;  // after what CaptureTail read of the new generation
    } else if (!d.snapshot && (hdr.salt1 != cur_salt1_ || hdr.salt2 != cur_salt2_)) {
      EnterGeneration(hdr);  // after our own checkpoint: nothing was left behind
    }
    if (d.snapshot && !force_full_ && txid_ != 0 && attempt < 3) {
      // A restart since the header was read makes the position look wrong:
      // look again (the old generation's end is then read as a tail).
      WALSHIP_ASSIGN_OR_RETURN(bool same, WalStillIn(wal, hdr.salt1, hdr.salt2));
      if (!same) continue;
    }
    if (d.snapshot) {
      auto full = FullL0(wal, hdr, d.reason, res);
      // A read mark 0 lets the WAL restart once while the file is written.
      if (!full.ok() && full.status().code() == Code::kUnavailable && attempt < 3) {
        WLOG_DEBUG("{}: {}", opts_.db_path, full.status().message());
        force_full_ = true;
        full_reason_ = d.reason;
        continue;
      }
      if (!full.ok()) return full.status();
      caught_up_ = true;
      return true;
    }
    // The reader keeps the header Verify saw, even if the WAL restarts now.
    Status seek = d.offset > wal::kHeaderSize ? reader.Seek(d.offset) : Status::OK();
    if (!seek.ok()) {
      // The frame before our position no longer carries this generation's
      // salts: a restart since Verify (then the next pass reads the old
      // generation's end), or the WAL was rewritten under us.
      WALSHIP_ASSIGN_OR_RETURN(bool same, WalStillIn(wal, hdr.salt1, hdr.salt2));
      if (same || attempt >= 3) {
        force_full_ = true;
        full_reason_ = "wal changed under the position: " + seek.message();
      }
      continue;
    }
    WALSHIP_ASSIGN_OR_RETURN(PageMap m, ScanFrom(reader, d.offset, UINT64_MAX, bounded));
    if (!m.frames_seen) {
      Advance(m, hdr);
      caught_up_ = true;
      return true;
    }
    WALSHIP_ASSIGN_OR_RETURN(bool copied, Stash(wal, m, hdr.salt1, hdr.salt2));
    if (!copied) {
      force_full_ = true;
      full_reason_ = "the WAL restarted while its frames were read";
      continue;
    }
    Advance(m, hdr);
    caught_up_ = !m.bounded;
    return caught_up_;
  }
}

Result<SyncResult> DbSyncer::Cut() {
  SyncResult res;
  res.txid = txid_;
  if (pending_commit_ == 0) return res;
  const uint64_t txid = txid_ + 1;
  const ltx::Header h =
      L0Header(txid, pending_commit_, std::min(pending_start_, end_offset_), end_offset_, cur_salt1_, cur_salt2_);
  const std::string path = JoinPath(LocalL0Dir(opts_.meta_dir), ltx::FormatFileName(txid, txid));
  WALSHIP_RETURN_IF_ERROR_CTX(WriteLtx(path, h, pending_pages_, pending_, 0, false, last_.commit, nullptr),
                              "write " + path);
  const size_t npages = pending_pages_.size();
  last_ = h;
  txid_ = txid;
  pending_start_ = end_offset_;
  ResetPending();
  res.wrote = true;
  res.txid = txid;
  WLOG_DEBUG("{}: wrote L0 {} ({} pages captured, commit {})", opts_.db_path, ltx::FormatTxid(txid), npages,
             h.commit);
  return res;
}

Status DbSyncer::CaptureToEnd() {
  SyncResult ignored;
  while (true) {
    WALSHIP_ASSIGN_OR_RETURN(bool caught_up, CaptureLocked(/*bounded=*/false, &ignored));
    if (caught_up) return Status::OK();
  }
}

Status DbSyncer::EnsurePinned() {
  if (db_file_ == nullptr) return FailedPrecondition("database is not open");
  if (in_read_tx_) return Status::OK();
  // The pin was lost (e.g. an error during a checkpoint): any restart since
  // then was not watched, so a changed WAL generation forces a full L0.
  expect_restart_ = false;
  return BeginReadTx();
}

Result<int64_t> DbSyncer::Capture() {
  WALSHIP_RETURN_IF_ERROR(EnsurePinned());
  const uint64_t before = end_offset_;
  const uint32_t salt = cur_salt1_;
  SyncResult ignored;
  auto r = CaptureLocked(/*bounded=*/true, &ignored);
  if (!r.ok()) return r.status().WithContext("capture " + opts_.db_path);
  if (cur_salt1_ != salt || end_offset_ < before) return int64_t(1);
  return int64_t((end_offset_ - before) / wal::FrameSize(page_size_));
}

Result<SyncResult> DbSyncer::SyncOnce() {
  WALSHIP_RETURN_IF_ERROR(EnsurePinned());
  SyncResult full;
  auto caught = CaptureLocked(/*bounded=*/true, &full);
  if (!caught.ok()) return caught.status().WithContext("sync " + opts_.db_path);
  auto r = Cut();
  if (!r.ok()) return r.status().WithContext("sync " + opts_.db_path);
  SyncResult res = *r;
  if (full.wrote && !res.wrote) res = full;
  else if (full.wrote) {
    res.snapshot = true;
    res.reason = full.reason;
  }
  res.caught_up = *caught;
  return res;
}

namespace {
// Rolls back the second connection's transaction when it goes out of scope.
struct TxRollback {
  sqlite::Db* c;
  bool armed = true;
  ~TxRollback() {
    if (armed) c->Exec("ROLLBACK").IgnoreError();
  }
};
}  // namespace

// PASSIVE checkpoint on our connection (no read transaction of ours may be
// open); busy (another checkpointer) is not an error.
Status DbSyncer::CheckpointPassive(const char* what, int* nlog, int* nckpt) {
  const int rc = sqlite3_wal_checkpoint_v2(conn_r_.raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nlog, nckpt);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    return sqlite::FromRc(rc, conn_r_.raw(), std::string(what) + " " + opts_.db_path);
  }
  return Status::OK();
}

Status DbSyncer::SyncAndCheckpoint(const char* what) {
  WALSHIP_RETURN_IF_ERROR(CaptureToEnd());
  WALSHIP_RETURN_IF_ERROR(EndReadTx());
  int nlog = 0, nckpt = 0;
  Status ck = CheckpointPassive(what, &nlog, &nckpt);
  // A WAL restart after this (by our seq bump, or by the app once our new
  // read transaction holds read mark 0 on a fully backfilled WAL) comes after
  // every frame was captured: salt-1 + 1 is expected.
  expect_restart_ = true;
  Status re = BeginReadTx();
  if (!re.ok()) expect_restart_ = false;
  WALSHIP_RETURN_IF_ERROR(ck);
  WALSHIP_RETURN_IF_ERROR(re);
  WLOG_DEBUG("{}: {} (PASSIVE): {} frames in WAL, {} backfilled", opts_.db_path, what, nlog, nckpt);
  return Status::OK();
}

Status DbSyncer::PreCheckpoint() {
  // Phase 1, without blocking the app: most of the copying. The second
  // connection pins the WAL at its current end (a read mark >= 1, so nobody
  // can restart the WAL), we capture past that mark, and our own read
  // transaction is ended and restarted around a PASSIVE checkpoint that can
  // then backfill up to the pin, i.e. only frames we have already captured.
  // (If the WAL ends up fully backfilled, nothing was committed since the
  // pin, so an app-made restart also comes after every frame was captured.)
  WALSHIP_RETURN_IF_ERROR(conn_w_.Exec("BEGIN"));
  TxRollback rollback{&conn_w_};
  WALSHIP_RETURN_IF_ERROR(conn_w_.QueryInt("SELECT COUNT(1) FROM _litestream_seq").status());
  return SyncAndCheckpoint("pre-checkpoint");
}

Result<bool> DbSyncer::MaybeHandOff() {
  if (!is_open() || opts_.handoff_frames <= 0 || !handoff_enabled_) return false;
  const uint64_t fsz = wal::FrameSize(page_size_);
  const int64_t frames = generation_frames();
  if (next_handoff_frames_ <= 0) next_handoff_frames_ = opts_.handoff_frames;
  if (frames < next_handoff_frames_ || force_full_) return false;
  {
    // The frames the app commits while we let go must land on older frames
    // of the file, so the old generation ends on a whole frame we can read
    // (see CaptureTail). At the file's end (a growing WAL), restart it under
    // the write barrier instead once it holds twice as many frames: that
    // leaves room for the next ones.
    WALSHIP_ASSIGN_OR_RETURN(uint64_t size, FileSize(opts_.db_path + "-wal"));
    const uint64_t room = uint64_t(std::max<int64_t>(opts_.handoff_frames / 4, 16)) * fsz;
    if (size < end_offset_ + room) {
      if (frames < 2 * opts_.handoff_frames) return false;
      WALSHIP_ASSIGN_OR_RETURN(bool ran, MaybeCheckpoint(/*force=*/true));
      return ran;
    }
  }
  const int64_t fulls = full_l0s_;
  const uint32_t salt = cur_salt1_;
  const int64_t t0 = opts_.clock->MonotonicMs();
  {
    // 1. The second connection pins the WAL at its end while we capture past
    //    it and end our own read transaction.
    WALSHIP_RETURN_IF_ERROR(conn_w_.Exec("BEGIN"));
    TxRollback pin{&conn_w_};
    WALSHIP_RETURN_IF_ERROR(conn_w_.QueryInt("SELECT COUNT(1) FROM _litestream_seq").status());
    WALSHIP_RETURN_IF_ERROR(CaptureToEnd());
    WALSHIP_RETURN_IF_ERROR(EndReadTx());
    if (opts_.handoff_checkpoint) {
      // Backfill what we captured ourselves (PASSIVE: no waiting, no write
      // lock; conn_w_'s pin stops it at our cursor, so only captured frames
      // are copied). The copying and the fsyncs are then done in our process,
      // not the app's: its own checkpoint finds little left to do (a writer
      // at full speed ran at 1.02x instead of 0.91x of its speed alone,
      // median of 10 paired runs).
      int nlog = 0, nckpt = 0;
      Status ck = CheckpointPassive("hand-off checkpoint", &nlog, &nckpt);
      if (!ck.ok()) WLOG_DEBUG("{}", ck.ToString());  // not needed for correctness: the app checkpoints
    }
    // 2. Let go: everything before the cursor is in the pending file.
    pin.armed = false;
    WALSHIP_RETURN_IF_ERROR(conn_w_.Exec("ROLLBACK"));
  }
  if (opts_.on_unpinned) {
    opts_.on_unpinned();
  } else {
    // The app's next commit checkpoints what is left and its next write
    // restarts the WAL (rewriting the header first).
    File wal;
    if (auto f = File::OpenRead(opts_.db_path + "-wal"); f.ok()) wal = std::move(f).value();
    // Real time, not the injected clock: this only bounds how long we let go.
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(opts_.handoff_wait_us);
    while (wal.valid()) {
      auto same = WalStillIn(wal, cur_salt1_, cur_salt2_);
      if (!same.ok() || !*same) break;
      if (std::chrono::steady_clock::now() >= until) break;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  // 3. Pin again and follow: the end of the old generation, then the new one.
  WALSHIP_RETURN_IF_ERROR(BeginReadTx());
  WALSHIP_RETURN_IF_ERROR(CaptureToEnd());
  if (full_l0s_ != fulls) {
    handoff_enabled_ = false;
    WLOG_WARN("{}: the WAL could not be followed through a hand-off (it restarted more than once, or too fast); "
              "walship now checkpoints under a write barrier instead",
              opts_.db_path);
    return false;
  }
  const bool restarted = cur_salt1_ != salt;
  WLOG_DEBUG("{}: hand-off at {} frames: {} in {} ms", opts_.db_path, frames, restarted ? "restarted" : "no restart",
             opts_.clock->MonotonicMs() - t0);
  if (restarted) {
    handoffs_++;
    next_handoff_frames_ = opts_.handoff_frames;
    handoff_step_ = 0;
  } else {
    // The app did not checkpoint (below its own threshold, or busy): try
    // again after as many frames more.
    handoff_step_ = handoff_step_ <= 0 ? std::max<int64_t>(opts_.handoff_frames / 4, 1)
                                       : std::min<int64_t>(handoff_step_ * 2, 8 * opts_.handoff_frames);
    next_handoff_frames_ = frames + handoff_step_;
  }
  return restarted;
}

Result<bool> DbSyncer::CheckpointWithBarrier() {
  // Most frames are copied first without blocking the app; the barrier then
  // only covers the frames committed since.
  if (opts_.pre_checkpoint) WALSHIP_RETURN_IF_ERROR(PreCheckpoint());
  // Write barrier: holding the write lock, no app commit can slip in between
  // our last sync and the checkpoint, so nothing unseen is backfilled.
  Status s = conn_w_.Exec("BEGIN IMMEDIATE");
  if (!s.ok()) {
    if (s.code() == Code::kBusy) return false;  // the app is writing: try next time
    return s;
  }
  TxRollback rollback{&conn_w_};
  WALSHIP_RETURN_IF_ERROR(conn_w_.Exec("INSERT INTO _litestream_lock (id) VALUES (1)"));
  WALSHIP_RETURN_IF_ERROR(SyncAndCheckpoint("checkpoint"));
  return true;
}

Result<bool> DbSyncer::MaybeCheckpoint(bool force) {
  if (!is_open()) return false;
  const uint64_t fsz = wal::FrameSize(page_size_);
  const int64_t frames = end_offset_ > wal::kHeaderSize ? int64_t((end_offset_ - wal::kHeaderSize) / fsz) : 0;
  const int64_t now = opts_.clock->MonotonicMs();
  // With hand-offs the app restarts the WAL; the barrier is the fallback
  // for when it does not (autocheckpoint off, or long readers).
  const int64_t min_frames = handoff_enabled_ && opts_.handoff_frames > 0
                                 ? std::max(opts_.min_checkpoint_page_count, 4 * opts_.handoff_frames)
                                 : opts_.min_checkpoint_page_count;
  bool due = force || (opts_.min_checkpoint_page_count > 0 && frames >= min_frames) ||
             (opts_.checkpoint_interval_ms > 0 && synced_since_checkpoint_ &&
              now - last_checkpoint_ms_ >= opts_.checkpoint_interval_ms && frames > 1);
  if (!due) return false;
  auto ran = CheckpointWithBarrier();
  if (!ran.ok()) return ran.status().WithContext("checkpoint " + opts_.db_path);
  if (!*ran) return false;  // busy: the app holds the write lock; next time
  last_checkpoint_ms_ = now;
  synced_since_checkpoint_ = false;
  // Keep the WAL non-empty so the read mark pins it; this write also restarts
  // the WAL if the checkpoint backfilled everything.
  WALSHIP_RETURN_IF_ERROR_CTX(SeqBump(), "checkpoint " + opts_.db_path + ": seq bump");
  return true;
}

Result<ltx::Header> DbSyncer::LinkFirstL0AsSnapshot(const std::string& path) {
  const std::string l0 = JoinPath(LocalL0Dir(opts_.meta_dir), ltx::FormatFileName(1, 1));
  WALSHIP_ASSIGN_OR_RETURN(File f, File::OpenRead(l0));
  uint8_t buf[ltx::kHeaderSize];
  WALSHIP_RETURN_IF_ERROR(f.PReadFull(buf, sizeof(buf), 0));
  WALSHIP_ASSIGN_OR_RETURN(ltx::Header h, ltx::Header::Decode(buf, sizeof(buf)));
  if (h.min_txid != 1 || h.max_txid != 1 || h.commit != last_.commit || h.page_size != page_size_) {
    return FailedPrecondition(l0 + " is not the snapshot at TXID 1");
  }
  if (::link(l0.c_str(), path.c_str()) != 0) return ErrnoStatus("link " + l0 + " to", path, errno);
  WALSHIP_RETURN_IF_ERROR(FsyncDir(DirName(path)));
  return h;
}

Result<ltx::Header> DbSyncer::WriteSnapshot(const std::string& path) {
  if (txid_ == 0 || force_full_) return FailedPrecondition("no position yet: sync first");
  if (!caught_up_ || pending_commit_ != 0) return FailedPrecondition("not caught up with the WAL: sync first");
  if (txid_ == 1) {
    auto linked = LinkFirstL0AsSnapshot(path);
    if (linked.ok()) return linked;
    WLOG_DEBUG("{}: snapshot at TXID 1 is written from the database: {}", opts_.db_path, linked.status().message());
  }
  WALSHIP_ASSIGN_OR_RETURN(File wal, File::OpenRead(opts_.db_path + "-wal"));
  WALSHIP_ASSIGN_OR_RETURN(wal::Reader reader, wal::Reader::Open(&wal));
  const wal::Header hdr = reader.header();
  if (end_offset_ > wal::kHeaderSize && (hdr.salt1 != cur_salt1_ || hdr.salt2 != cur_salt2_)) {
    return FailedPrecondition("WAL restarted since the last sync: sync first");
  }
  // Every committed frame of this generation up to our position, plus the
  // database file (which only holds frames at or before the read mark).
  WALSHIP_ASSIGN_OR_RETURN(PageMap m, ScanWal(wal, wal::kHeaderSize, std::max<uint64_t>(end_offset_, wal::kHeaderSize), false));
  if (m.frames_seen && m.end != end_offset_) {
    return Internal("snapshot scan ended at " + std::to_string(m.end) + ", position is at " + std::to_string(end_offset_));
  }
  ltx::Header h;
  h.flags = ltx::kHeaderFlagNoChecksum;
  h.page_size = page_size_;
  h.commit = last_.commit;
  h.min_txid = 1;
  h.max_txid = txid_;
  h.timestamp_ms = last_.timestamp_ms;
  if (m.frames_seen) {
    h.wal_offset = m.end - wal::FrameSize(page_size_);
    h.wal_size = wal::FrameSize(page_size_);
  } else {
    h.wal_offset = wal::kHeaderSize;
    h.wal_size = 0;
  }
  h.wal_salt1 = hdr.salt1;
  h.wal_salt2 = hdr.salt2;
  WALSHIP_RETURN_IF_ERROR_CTX(WriteLtx(path, h, m.pages, wal, wal::kFrameHeaderSize, /*all_pages=*/true, 0, &wal), "write snapshot " + path);
  return h;
}

Status DbSyncer::Close() {
  Status first;
  if (in_read_tx_) {
    Status s = EndReadTx();
    if (first.ok()) first = s;
  }
  open_ = false;
  db_file_ = nullptr;
  if (pending_.valid()) {
    std::string p = pending_.path();
    pending_.Close().IgnoreError();
    RemoveFile(p).IgnoreError();
  }
  pending_pages_.clear();
  pending_size_ = 0;
  pending_commit_ = 0;
  Status s1 = conn_r_.Close();
  Status s2 = conn_w_.Close();
  if (first.ok()) first = s1;
  if (first.ok()) first = s2;
  if (lock_fd_ >= 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
  }
  return first;
}

}  // namespace walship::replicate
