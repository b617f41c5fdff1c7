#include "replicate/uploader.h"

#include <algorithm>

#include "base/coding.h"
#include "base/file.h"
#include "base/io.h"
#include "base/log.h"
#include "ltx/format.h"
#include "replicate/db_syncer.h"

namespace walship::replicate {

Uploader::Uploader(std::string db_path, std::string meta_dir, std::shared_ptr<replica::Replica> replica,
                   const Clock* clock, std::shared_ptr<compact::Catalog> catalog, bool keep_l0_for_l1)
    : db_path_(std::move(db_path)),
      meta_dir_(std::move(meta_dir)),
      replica_(std::move(replica)),
      clock_(clock),
      catalog_(catalog ? std::move(catalog) : std::make_shared<compact::Catalog>(replica_)),
      keep_l0_for_l1_(keep_l0_for_l1) {}

Status Uploader::Init() {
  std::lock_guard lk(op_mu_);
  return InitLocked();
}

Status Uploader::InitLocked() {
  WALSHIP_RETURN_IF_ERROR(catalog_->Load());
  const auto snaps = catalog_->Files(ltx::kSnapshotLevel);
  // The replica's position is its highest TXID at any level: a replica may
  // hold snapshots or compacted files beyond its L0 (L0 removed by retention,
  // or written by another tool). Continuing below it would rewrite TXIDs.
  remote_txid_ = catalog_->MaxTxidAllLevels();
  uint64_t st = 0;
  int64_t sts = 0;
  for (const auto& f : snaps) {
    if (f.max_txid >= st) {
      st = f.max_txid;
      sts = f.created_ms;
    }
  }
  // Snapshots written locally but not uploaded yet (a crash in between) count
  // too: they are uploaded once the replica's L0 reaches them.
  WALSHIP_ASSIGN_OR_RETURN(auto pending, ListDir(LocalSnapshotDir(meta_dir_)));
  for (const auto& n : pending) {
    uint64_t mn, mx;
    if (!ltx::ParseFileName(n, &mn, &mx) || mx < st) continue;
    auto mtime = MtimeMs(JoinPath(LocalSnapshotDir(meta_dir_), n));
    st = mx;
    sts = mtime.ok() ? *mtime : 0;
  }
  snapshot_txid_ = st;
  snapshot_time_ms_ = sts;
  initialized_ = true;
  return Status::OK();
}

Result<std::string> Uploader::FetchRemoteL0(uint64_t txid) {
  std::lock_guard lk(op_mu_);
  // The newest position may be a snapshot or a compacted file only; prefer
  // the smallest file (L0 first).
  WALSHIP_RETURN_IF_ERROR(catalog_->EnsureLoaded());
  replica::LtxFileInfo info;
  bool found = false;
  for (int level = 0; level <= ltx::kSnapshotLevel && !found; level++) {
    for (const auto& f : catalog_->Files(level)) {
      if (f.max_txid == txid) {
        info = f;
        found = true;
      }
    }
  }
  if (!found) return NotFound("replica has no file ending at TXID " + ltx::FormatTxid(txid));
  std::string tmp = JoinPath(LocalL0Dir(meta_dir_), "remote-" + ltx::FormatTxid(txid) + ".ltx.tmp");
  WALSHIP_ASSIGN_OR_RETURN(auto src, replica_->Open(info));
  WALSHIP_ASSIGN_OR_RETURN(File f, File::OpenWrite(tmp, true));
  std::string buf(1 << 20, '\0');
  while (true) {
    WALSHIP_ASSIGN_OR_RETURN(size_t n, src->Read(buf.data(), buf.size()));
    if (n == 0) break;
    WALSHIP_RETURN_IF_ERROR(f.Append(buf.data(), n));
  }
  WALSHIP_RETURN_IF_ERROR(f.Sync());
  WALSHIP_RETURN_IF_ERROR(f.Close());
  return tmp;
}

void Uploader::SnapshotWritten(uint64_t txid, int64_t timestamp_ms) {
  snapshot_txid_ = txid;
  snapshot_time_ms_ = timestamp_ms;
}

Result<uint64_t> LocalFileChecksum(const std::string& path) {
  WALSHIP_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  WALSHIP_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  if (size < ltx::kHeaderSize + ltx::kTrailerSize) return Corruption(path + ": too small for an LTX file");
  uint8_t b[8];
  WALSHIP_RETURN_IF_ERROR(f.PReadFull(b, 8, size - 8));
  return GetBE64(b);
}

Status Uploader::UploadOne(int level, uint64_t min_txid, uint64_t max_txid, const std::string& path) {
  WALSHIP_ASSIGN_OR_RETURN(int64_t mtime, MtimeMs(path));
  const std::string key = replica_->Key(level, min_txid, max_txid);
  // Init() listed the replica since our last error (errors force a new
  // listing), so the key is known to be absent.
  Status s = replica_->Upload(level, min_txid, max_txid, path, mtime, /*absent_per_listing=*/true);
  if (s.code() == Code::kAlreadyExists) {
    // Our earlier PUT may have landed with its acknowledgement lost. Same
    // file checksum -> it is ours; anything else is somebody else's object.
    WALSHIP_ASSIGN_OR_RETURN(uint64_t local_ck, LocalFileChecksum(path));
    WALSHIP_ASSIGN_OR_RETURN(auto head, replica_->store()->Head(key));
    if (head.size >= 8) {
      WALSHIP_ASSIGN_OR_RETURN(std::string tail, replica_->store()->GetBytes(key, head.size - 8, 8));
      if (tail.size() == 8 && GetBE64(reinterpret_cast<const uint8_t*>(tail.data())) == local_ck) {
        WLOG_INFO("{}: {} was already on the replica (earlier upload); keeping it", db_path_, key);
        catalog_->Add({level, min_txid, max_txid, head.size, mtime, key});
        if (min_txid == 1) ours_[key] = local_ck;
        return Status::OK();
      }
    }
    return FailedPrecondition("upload " + key + ": a different object already exists on the replica; is another "
                              "replicator writing to " + replica_->Describe() + "? (never overwritten)");
  }
  if (!s.ok()) return s;  // already names the key
  WLOG_DEBUG("{}: uploaded {}", db_path_, key);
  WALSHIP_ASSIGN_OR_RETURN(uint64_t size, FileSize(path));
  catalog_->Add({level, min_txid, max_txid, size, mtime, key});
  if (min_txid == 1) {
    if (auto ck = LocalFileChecksum(path); ck.ok()) ours_[key] = *ck;
  }
  return Status::OK();
}

bool Uploader::CopyFromLowerLevel(uint64_t min_txid, uint64_t max_txid, const std::string& path) {
  auto size = FileSize(path);
  auto local_ck = LocalFileChecksum(path);
  auto mtime = MtimeMs(path);
  if (!size.ok() || !local_ck.ok() || !mtime.ok()) return false;  // UploadOne reports it
  std::optional<replica::LtxFileInfo> src;
  for (int level = 0; level < ltx::kSnapshotLevel && !src; level++) {
    for (const auto& f : catalog_->Files(level)) {
      if (f.min_txid == min_txid && f.max_txid == max_txid && f.size == *size) src = f;
    }
  }
  if (!src) return false;
  storage::ObjectStore* store = replica_->store();
  const std::string from = src->key.empty() ? replica_->Key(src->level, min_txid, max_txid) : src->key;
  const std::string to = replica_->Key(ltx::kSnapshotLevel, min_txid, max_txid);
  // Same size and same file checksum (the trailer's CRC-64 over every byte
  // before it): the object is this file. Known without asking when this
  // process put it there.
  auto known = ours_.find(from);
  if (known == ours_.end() || known->second != *local_ck) {
    auto tail = store->GetBytes(from, *size - 8, 8);
    if (!tail.ok() || tail->size() != 8 || GetBE64(reinterpret_cast<const uint8_t*>(tail->data())) != *local_ck) {
      WLOG_DEBUG("{}: {} is not the local snapshot's bytes; uploading them", db_path_, from);
      return false;
    }
  }
  storage::PutOptions opts;
  opts.no_overwrite = true;
  opts.timestamp_ms = *mtime;
  opts.absent_per_listing = true;  // as for UploadOne: listed since the last error
  Status s = store->Copy(from, to, opts);
  if (!s.ok()) {
    if (s.code() == Code::kUnimplemented) {
      WLOG_DEBUG("{}: {}; uploading the snapshot", db_path_, s.message());
    } else {
      WLOG_INFO("{}: server-side copy failed ({}); uploading the snapshot instead", db_path_, s.message());
    }
    return false;  // a kAlreadyExists is settled by UploadOne's checksum comparison
  }
  catalog_->Add({ltx::kSnapshotLevel, min_txid, max_txid, *size, *mtime, to});
  return true;
}

Result<int> Uploader::UploadPending(uint64_t local_txid) {
  std::lock_guard lk(op_mu_);
  if (!initialized_) WALSHIP_RETURN_IF_ERROR(InitLocked());
  auto r = UploadPendingInitialized(local_txid);
  // After any error the replica's position is recomputed from a new listing
  // before the next upload (an upload may have landed with its reply lost).
  if (!r.ok()) {
    initialized_ = false;
    catalog_->Invalidate();
  }
  return r;
}

Result<int> Uploader::UploadPendingInitialized(uint64_t local_txid) {
  int uploaded = 0;
  const std::string l0dir = LocalL0Dir(meta_dir_);
  while (remote_txid_ < local_txid) {
    uint64_t t = remote_txid_ + 1;
    std::string path = JoinPath(l0dir, ltx::FormatFileName(t, t));
    if (!FileExists(path)) {
      return FailedPrecondition("local L0 file " + path + " is missing; the replica is at " +
                                ltx::FormatTxid(remote_txid_));
    }
    WALSHIP_RETURN_IF_ERROR(UploadOne(0, t, t, path));
    remote_txid_ = t;
    uploaded++;
  }
  // Snapshots whose TXID the replica's L0 has reached.
  const std::string sdir = LocalSnapshotDir(meta_dir_);
  WALSHIP_ASSIGN_OR_RETURN(auto names, ListDir(sdir));
  for (const auto& n : names) {
    uint64_t mn, mx;
    if (!ltx::ParseFileName(n, &mn, &mx) || mx > remote_txid_) continue;
    std::string path = JoinPath(sdir, n);
    if (CopyFromLowerLevel(mn, mx, path)) {
      WLOG_INFO("{}: snapshot {} copied on the replica from the same file at a lower level", db_path_,
                replica_->Key(ltx::kSnapshotLevel, mn, mx));
    } else {
      WALSHIP_RETURN_IF_ERROR(UploadOne(ltx::kSnapshotLevel, mn, mx, path));
      WLOG_INFO("{}: uploaded snapshot {}", db_path_, replica_->Key(ltx::kSnapshotLevel, mn, mx));
    }
    WALSHIP_RETURN_IF_ERROR(RemoveFile(path));
    uploaded++;
  }
  if (uploaded > 0) PruneLocal();
  return uploaded;
}

void Uploader::PruneLocal() {
  // Local L0 files below the replica's position are no longer needed (the
  // newest one stays: it is the syncer's position), unless level 1 still has
  // to read them: then they stay until level 1 covers them.
  uint64_t below = remote_txid_;
  if (keep_l0_for_l1_) below = std::min<uint64_t>(below, catalog_->MaxTxid(1) + 1);
  const std::string dir = LocalL0Dir(meta_dir_);
  auto names = ListDir(dir);
  if (!names.ok()) return;
  for (const auto& n : *names) {
    uint64_t mn, mx;
    if (ltx::ParseFileName(n, &mn, &mx) && mx < below) RemoveFile(JoinPath(dir, n)).IgnoreError();
  }
}

}  // namespace walship::replicate
