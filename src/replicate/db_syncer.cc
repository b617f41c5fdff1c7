#include "replicate/db_syncer.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/io.h"
#include "base/log.h"
#include "ltx/decoder.h"

namespace walship::replicate {

std::string DefaultMetaDir(const std::string& db_path) {
  return JoinPath(DirName(db_path), "." + BaseName(db_path) + "-litestream");
}
std::string LocalL0Dir(const std::string& meta_dir) { return JoinPath(meta_dir, "ltx/0"); }
std::string LocalSnapshotDir(const std::string& meta_dir) { return JoinPath(meta_dir, "walship-snapshots"); }

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

// Newest-first list of local L0 txids.
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

  std::string lock_path = JoinPath(opts_.meta_dir, "walship.lock");
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", lock_path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
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

  Status s = OpenConnections();
  if (s.ok()) s = EnsureWalHeader();
  if (s.ok()) s = BeginReadTx();
  if (s.ok()) s = LoadLocalPosition();
  if (!s.ok()) {
    Close().IgnoreError();
    return s.WithContext("open " + opts_.db_path);
  }
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
        last_frame_ck_.reset();
        return Status::OK();
      }
    }
  }
  return Status::OK();
}

Result<bool> DbSyncer::LastFrameMatches(const File& wal, uint64_t frame_offset) {
  WALSHIP_ASSIGN_OR_RETURN(wal::Frame f, wal::ReadFrameHeader(wal, frame_offset));
  if (f.salt1 != last_.wal_salt1 || f.salt2 != last_.wal_salt2) return false;
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
  if (force_full_) return Decision{wal::kHeaderSize, true, "local state reset"};
  const bool same_generation = hdr.salt1 == last_.wal_salt1 && hdr.salt2 == last_.wal_salt2;
  if (!same_generation) {
    // Only our own checkpoint restarts the WAL while we hold the read
    // transaction, and it syncs every frame first under a write barrier. One
    // restart increments salt-1 by exactly one.
    if (expect_restart_ && hdr.salt1 == last_.wal_salt1 + 1) return Decision{wal::kHeaderSize, false, ""};
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
  PageMap m;
  m.start = m.end = from;
  if (from > wal::kHeaderSize) WALSHIP_RETURN_IF_ERROR(r.Seek(from));
  std::vector<std::pair<uint32_t, uint64_t>> staged;
  wal::Frame f;
  while (r.offset() < limit) {
    WALSHIP_ASSIGN_OR_RETURN(bool more, r.Next(&f, nullptr));
    if (!more) break;
    staged.emplace_back(f.pgno, f.offset);
    if (f.commit == 0) continue;
    for (const auto& [pgno, off] : staged) m.pages[pgno] = off;
    staged.clear();
    m.commit = f.commit;
    m.end = f.offset + wal::FrameSize(page_size_);
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

Result<uint32_t> DbSyncer::DbFilePageCount() {
  sqlite3_int64 size = 0;
  int rc = db_file_->pMethods->xFileSize(db_file_, &size);
  if (rc != SQLITE_OK) return sqlite::FromRc(rc, nullptr, "size of " + opts_.db_path);
  return uint32_t(uint64_t(size) / page_size_);
}

Status DbSyncer::WriteLtx(const std::string& path, const ltx::Header& h, const PageMap& m, const File& wal,
                          bool all_pages, uint32_t prev_commit) {
  WALSHIP_ASSIGN_OR_RETURN(AtomicFile out, AtomicFile::Create(path));
  FileSink sink(&out.file());
  ltx::Encoder enc(&sink, opts_.encoding);
  WALSHIP_RETURN_IF_ERROR(enc.EncodeHeader(h));
  const uint32_t lock = ltx::LockPgno(page_size_);
  auto emit = [&](uint32_t pgno) -> Status {
    if (pgno == lock) return Status::OK();
    auto it = m.pages.find(pgno);
    if (it != m.pages.end()) {
      WALSHIP_RETURN_IF_ERROR(wal.PReadFull(page_buf_.data(), page_size_, it->second + wal::kFrameHeaderSize));
    } else {
      WALSHIP_RETURN_IF_ERROR(ReadDbPage(pgno, page_buf_.data()));
    }
    return enc.EncodePage(pgno, page_buf_.data());
  };
  if (all_pages) {
    for (uint32_t pgno = 1; pgno <= h.commit; pgno++) WALSHIP_RETURN_IF_ERROR(emit(pgno));
  } else {
    // WAL pages plus every page the database grew by (compat reference 3.3
    // step 5, the growth fill), in ascending order.
    auto it = m.pages.begin();
    uint32_t g = prev_commit + 1;
    while (it != m.pages.end() || g <= h.commit) {
      uint32_t next_map = it != m.pages.end() ? it->first : UINT32_MAX;
      uint32_t next_grow = g <= h.commit ? g : UINT32_MAX;
      uint32_t pgno = std::min(next_map, next_grow);
      WALSHIP_RETURN_IF_ERROR(emit(pgno));
      if (next_map == pgno) ++it;
      if (next_grow == pgno) g++;
    }
  }
  WALSHIP_RETURN_IF_ERROR(enc.Close());
  WALSHIP_RETURN_IF_ERROR(sink.Flush());
  WALSHIP_RETURN_IF_ERROR(out.Commit(/*no_clobber=*/true));
  return SetMtimeMs(path, h.timestamp_ms);
}

Result<SyncResult> DbSyncer::SyncLocked(bool bounded) {
  SyncResult res;
  res.txid = txid_;
  WALSHIP_RETURN_IF_ERROR(EnsureWalHeader());
  WALSHIP_ASSIGN_OR_RETURN(File wal, File::OpenRead(opts_.db_path + "-wal"));
  WALSHIP_ASSIGN_OR_RETURN(wal::Reader reader, wal::Reader::Open(&wal));
  const wal::Header hdr = reader.header();
  if (hdr.page_size != page_size_) {
    return FailedPrecondition("WAL page size " + std::to_string(hdr.page_size) + " differs from database page size " +
                              std::to_string(page_size_));
  }
  WALSHIP_ASSIGN_OR_RETURN(Decision d, Verify(wal, hdr));
  auto scanned = ScanWal(wal, d.offset, UINT64_MAX, bounded && !d.snapshot);
  if (!scanned.ok() && d.offset > wal::kHeaderSize) {
    // The frame before our position no longer carries this generation's salts.
    d = Decision{wal::kHeaderSize, true, "wal changed under the position: " + scanned.status().message()};
    scanned = ScanWal(wal, d.offset, UINT64_MAX, false);
  }
  if (!scanned.ok()) return scanned.status();
  PageMap m = std::move(scanned).value();
  res.caught_up = !m.bounded;
  if (!d.snapshot && !m.frames_seen) {
    caught_up_ = true;
    return res;  // nothing new committed
  }
  uint32_t commit = m.commit;
  if (commit == 0) {
    WALSHIP_ASSIGN_OR_RETURN(commit, DbFilePageCount());
  }
  if (commit == 0) return res;  // an empty database: nothing to capture yet

  const uint64_t txid = txid_ + 1;
  ltx::Header h;
  h.flags = ltx::kHeaderFlagNoChecksum;
  h.page_size = page_size_;
  h.commit = commit;
  h.min_txid = h.max_txid = txid;
  h.timestamp_ms = opts_.clock->NowMs();  // after the scan: every commit in the file happened before it
  h.wal_offset = d.offset;
  h.wal_size = m.end - d.offset;
  h.wal_salt1 = hdr.salt1;
  h.wal_salt2 = hdr.salt2;
  const std::string path = JoinPath(LocalL0Dir(opts_.meta_dir), ltx::FormatFileName(txid, txid));
  WALSHIP_RETURN_IF_ERROR_CTX(WriteLtx(path, h, m, wal, d.snapshot, last_.commit), "write " + path);

  last_ = h;
  end_offset_ = m.end;
  if (m.frames_seen) last_frame_ck_ = std::make_pair(m.last_ck1, m.last_ck2);
  else last_frame_ck_.reset();
  txid_ = txid;
  expect_restart_ = false;
  force_full_ = false;
  synced_since_checkpoint_ = true;
  caught_up_ = res.caught_up;
  res.wrote = true;
  res.snapshot = d.snapshot;
  res.reason = d.reason;
  res.txid = txid;
  if (d.snapshot) {
    WLOG_INFO("{}: wrote full L0 {} ({} pages): {}", opts_.db_path, ltx::FormatTxid(txid), commit, d.reason);
  } else {
    WLOG_DEBUG("{}: wrote L0 {} ({} pages from WAL, commit {})", opts_.db_path, ltx::FormatTxid(txid),
               m.pages.size(), commit);
  }
  return res;
}

Result<SyncResult> DbSyncer::SyncOnce() {
  if (db_file_ == nullptr) return FailedPrecondition("database is not open");
  if (!in_read_tx_) {
    // The pin was lost (e.g. an error during a checkpoint): any restart since
    // then was not watched, so a changed WAL generation forces a full L0.
    expect_restart_ = false;
    WALSHIP_RETURN_IF_ERROR(BeginReadTx());
  }
  auto r = SyncLocked(/*bounded=*/true);
  if (!r.ok()) return r.status().WithContext("sync " + opts_.db_path);
  return r;
}

namespace {
// Rolls back the second connection's transaction when it goes out of scope.
struct TxRollback {
  sqlite::Db* c;
  ~TxRollback() { c->Exec("ROLLBACK").IgnoreError(); }
};
}  // namespace

Status DbSyncer::SyncAndCheckpoint(const char* what) {
  while (true) {
    WALSHIP_ASSIGN_OR_RETURN(SyncResult r, SyncLocked(/*bounded=*/false));
    if (r.caught_up) break;
  }
  WALSHIP_RETURN_IF_ERROR(EndReadTx());
  int nlog = 0, nckpt = 0;
  int rc = sqlite3_wal_checkpoint_v2(conn_r_.raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
  // A WAL restart after this (by our seq bump, or by the app once our new
  // read transaction holds read mark 0 on a fully backfilled WAL) comes after
  // every frame was synced: salt-1 + 1 is expected.
  expect_restart_ = true;
  Status re = BeginReadTx();
  if (!re.ok()) expect_restart_ = false;
  if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
    return sqlite::FromRc(rc, conn_r_.raw(), std::string(what) + " " + opts_.db_path);
  }
  WALSHIP_RETURN_IF_ERROR(re);
  WLOG_DEBUG("{}: {} (PASSIVE): {} frames in WAL, {} backfilled", opts_.db_path, what, nlog, nckpt);
  return Status::OK();
}

Status DbSyncer::PreCheckpoint() {
  // Phase 1, without blocking the app: most of the copying. The second
  // connection pins the WAL at its current end (a read mark >= 1, so nobody
  // can restart the WAL), we sync past that mark, and our own read
  // transaction is ended and restarted around a PASSIVE checkpoint that can
  // then backfill up to the pin, i.e. only frames we have already captured.
  // (If the WAL ends up fully backfilled, nothing was committed since the
  // pin, so an app-made restart also comes after every frame was synced.)
  WALSHIP_RETURN_IF_ERROR(conn_w_.Exec("BEGIN"));
  TxRollback rollback{&conn_w_};
  WALSHIP_RETURN_IF_ERROR(conn_w_.QueryInt("SELECT COUNT(1) FROM _litestream_seq").status());
  return SyncAndCheckpoint("pre-checkpoint");
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
  bool due = force || (opts_.min_checkpoint_page_count > 0 && frames >= opts_.min_checkpoint_page_count) ||
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

Result<ltx::Header> DbSyncer::WriteSnapshot(const std::string& path) {
  if (txid_ == 0 || force_full_) return FailedPrecondition("no position yet: sync first");
  if (!caught_up_) return FailedPrecondition("not caught up with the WAL: sync first");
  WALSHIP_ASSIGN_OR_RETURN(File wal, File::OpenRead(opts_.db_path + "-wal"));
  WALSHIP_ASSIGN_OR_RETURN(wal::Reader reader, wal::Reader::Open(&wal));
  const wal::Header hdr = reader.header();
  if (end_offset_ > wal::kHeaderSize && (hdr.salt1 != last_.wal_salt1 || hdr.salt2 != last_.wal_salt2)) {
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
  WALSHIP_RETURN_IF_ERROR_CTX(WriteLtx(path, h, m, wal, /*all_pages=*/true, 0), "write snapshot " + path);
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
