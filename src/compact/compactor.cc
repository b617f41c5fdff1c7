#include "compact/compactor.h"

#include <algorithm>
#include <limits>

#include "base/file.h"
#include "base/io.h"
#include "base/log.h"
#include "compact/retention.h"
#include "compact/schedule.h"
#include "ltx/compactor.h"
#include "ltx/format.h"

namespace walship::compact {
namespace {

constexpr const char* kTmpPrefix = "compact-";

std::string LevelName(int level) { return "L" + std::to_string(level); }

std::string Range(const LtxFileInfo& f) { return ltx::FormatTxid(f.min_txid) + "-" + ltx::FormatTxid(f.max_txid); }

// Removes the temp output on every path out of CompactInputs.
struct TempFileGuard {
  std::string path;
  ~TempFileGuard() {
    if (!path.empty()) RemoveFile(path).IgnoreError();
  }
};

}  // namespace

Compactor::Compactor(CompactorOptions opts, std::shared_ptr<Catalog> catalog)
    : opts_(std::move(opts)), catalog_(std::move(catalog)), last_run_ms_(opts_.level_intervals_ms.size(), kNever) {}

std::string Compactor::Prefix() const { return opts_.name.empty() ? std::string() : opts_.name + ": "; }

void Compactor::RemoveStrayTemps() {
  if (cleaned_tmp_ || opts_.tmp_dir.empty()) return;
  cleaned_tmp_ = true;
  auto names = ListDir(opts_.tmp_dir);
  if (!names.ok()) return;
  for (const std::string& n : *names) {
    if (n.rfind(kTmpPrefix, 0) == 0) RemoveFile(JoinPath(opts_.tmp_dir, n)).IgnoreError();
  }
}

bool Compactor::LevelDue(int level, int64_t now) const {
  const int64_t interval = opts_.level_intervals_ms[size_t(level - 1)];
  // Aligned ticks: once per interval, like Litestream's per-level ticker, so
  // a level whose last output predates the boundary is not redone at every call.
  if (last_run_ms_[size_t(level - 1)] != kNever && last_run_ms_[size_t(level - 1)] >= TruncateMs(now, interval)) {
    return false;
  }
  auto newest = catalog_->Newest(level);
  return IsDue(now, interval, newest ? std::optional<int64_t>(newest->created_ms) : std::nullopt);
}

Result<std::vector<LtxFileInfo>> Compactor::CompactLevel(int level, bool force) {
  if (level < 1 || level > levels()) {
    return InvalidArgument("compact: level " + std::to_string(level) + " is not a compaction level (1.." +
                           std::to_string(levels()) + ")");
  }
  const std::string ctx = "compact " + LevelName(level);
  if (Status st = catalog_->EnsureLoaded(); !st.ok()) {
    catalog_->Invalidate();
    return st.WithContext(ctx);
  }
  RemoveStrayTemps();
  const int64_t now = opts_.clock->NowMs();
  if (!force && !LevelDue(level, now)) return std::vector<LtxFileInfo>{};

  const uint64_t dst_max = catalog_->MaxTxid(level);
  std::vector<LtxFileInfo> src;
  for (LtxFileInfo& f : catalog_->Files(level - 1)) {
    if (f.min_txid > dst_max) src.push_back(std::move(f));
  }
  // Catalog order is (min, max) already.
  std::vector<LtxFileInfo> written;
  if (!src.empty()) {
    if (dst_max != 0 && src.front().min_txid > dst_max + 1) {
      WLOG_WARN("{}{}: gap between {} (ends at TXID {}) and {}: level {} will have a gap", Prefix(), ctx,
                LevelName(level), ltx::FormatTxid(dst_max), src.front().key, level);
    }
    // The contiguous prefix only: an output never spans a gap.
    size_t n = 1;
    while (n < src.size()) {
      const LtxFileInfo& prev = src[n - 1];
      const LtxFileInfo& next = src[n];
      if (next.min_txid > prev.max_txid + 1 || next.max_txid <= prev.max_txid) {
        WLOG_WARN("{}{}: {} and {} are not contiguous; compacting up to TXID {} only", Prefix(), ctx, prev.key,
                  next.key, ltx::FormatTxid(prev.max_txid));
        break;
      }
      n++;
    }
    src.resize(n);
    const size_t max_inputs = std::max<size_t>(1, opts_.max_inputs);
    for (size_t i = 0; i < src.size(); i += max_inputs) {
      std::vector<LtxFileInfo> chunk(src.begin() + ptrdiff_t(i),
                                     src.begin() + ptrdiff_t(std::min(src.size(), i + max_inputs)));
      auto out = CompactInputs(level, chunk);
      if (!out.ok()) {
        catalog_->Invalidate();
        return out.status().WithContext(ctx);
      }
      written.push_back(std::move(out).value());
    }
  }
  last_run_ms_[size_t(level - 1)] = now;
  return written;
}

Result<LtxFileInfo> Compactor::CompactInputs(int level, const std::vector<LtxFileInfo>& inputs) {
  replica::Replica* r = catalog_->replica();
  const uint64_t min = inputs.front().min_txid, max = inputs.back().max_txid;
  const std::string key = r->Key(level, min, max);
  if (opts_.tmp_dir.empty()) return InvalidArgument(key + ": no tmp_dir to build the output in");
  // The meta dir may have been removed while we ran (a lost meta dir is recovered from).
  WALSHIP_RETURN_IF_ERROR(MakeDirs(opts_.tmp_dir));

  // Open every input (local L0 copies first: no GET).
  std::vector<std::unique_ptr<Source>> sources;
  std::vector<ltx::MergeInput> merge;
  sources.reserve(inputs.size());
  for (const LtxFileInfo& f : inputs) {
    std::string name = f.key.empty() ? r->Key(f.level, f.min_txid, f.max_txid) : f.key;
    std::unique_ptr<Source> src;
    if (f.level == 0 && !opts_.local_l0_dir.empty()) {
      const std::string local = JoinPath(opts_.local_l0_dir, ltx::FormatFileName(f.min_txid, f.max_txid));
      if (FileExists(local)) {
        auto fs = FileSource::Open(local);
        if (fs.ok()) {
          src = std::move(fs).value();
          name = local;
        }
        // A local copy that vanished between the check and the open (the
        // replicator removed it) is read from the replica instead.
      }
    }
    if (!src) {
      auto rs = r->Open(f);
      if (!rs.ok()) return rs.status().WithContext(key);
      src = std::move(rs).value();
    }
    merge.push_back({std::move(name), src.get()});
    sources.push_back(std::move(src));
  }

  // Build the output in tmp_dir.
  TempFileGuard guard{JoinPath(opts_.tmp_dir, std::string(kTmpPrefix) + std::to_string(level) + "-" +
                                                  ltx::FormatFileName(min, max) + ".tmp")};
  auto file = File::OpenWrite(guard.path, /*truncate=*/true);
  if (!file.ok()) return file.status().WithContext(key);
  ltx::CompactOptions copts;
  copts.encoding = opts_.encoding;
  FileSink sink(&*file);
  auto header = ltx::Compact(std::move(merge), &sink, copts);
  sources.clear();
  if (!header.ok()) return header.status().WithContext(key);
  if (header->min_txid != min || header->max_txid != max) {
    return Internal(key + ": merged header has TXIDs " + ltx::FormatTxid(header->min_txid) + "-" +
                    ltx::FormatTxid(header->max_txid));
  }
  WALSHIP_RETURN_IF_ERROR_CTX(sink.Flush(), key);
  WALSHIP_RETURN_IF_ERROR_CTX(file->Sync(), key);
  WALSHIP_RETURN_IF_ERROR_CTX(file->Close(), key);
  const uint64_t size = sink.bytes_written();

  LtxFileInfo out;
  out.level = level;
  out.min_txid = min;
  out.max_txid = max;
  out.size = size;
  out.created_ms = header->timestamp_ms;
  out.key = key;
  // The catalog says the key is absent (absent_per_listing); the store still
  // refuses to overwrite one that appeared since.
  Status up = r->Upload(level, min, max, guard.path, header->timestamp_ms, /*absent_per_listing=*/true);
  if (up.code() == Code::kAlreadyExists) {
    // Another writer (or an earlier attempt whose reply was lost) made the
    // same range: keep that object, never overwrite it.
    auto head = r->store()->Head(key);
    if (head.ok()) {
      out.size = head->size;
      out.created_ms = head->mtime_ms;
    }
    WLOG_WARN("{}compact {}: {} already exists; keeping the existing object", Prefix(), LevelName(level), key);
  } else if (!up.ok()) {
    return up;
  } else {
    // Level 1 runs every 30 s by default: its lines are debug, higher levels info.
    if (level == 1) WLOG_DEBUG("{}compacted {} files into {} {} ({} bytes)", Prefix(), inputs.size(), LevelName(level), key, size);
    else WLOG_INFO("{}compacted {} files into {} {} ({} bytes)", Prefix(), inputs.size(), LevelName(level), key, size);
  }
  catalog_->Add(out);
  return out;
}

Result<std::vector<LtxFileInfo>> Compactor::Delete(std::vector<LtxFileInfo> files, const char* why) {
  if (files.empty()) return files;
  // Local copies of deleted L0 files go too (also with retention disabled),
  // except the newest local one: the replicator's position.
  if (!opts_.local_l0_dir.empty()) {
    auto names = ListDir(opts_.local_l0_dir);
    if (names.ok()) {
      uint64_t newest_local = 0;
      for (const std::string& n : *names) {
        uint64_t a = 0, b = 0;
        if (ltx::ParseFileName(n, &a, &b)) newest_local = std::max(newest_local, b);
      }
      for (const LtxFileInfo& f : files) {
        if (f.level != 0 || f.max_txid >= newest_local) continue;
        RemoveFile(JoinPath(opts_.local_l0_dir, ltx::FormatFileName(f.min_txid, f.max_txid))).IgnoreError();
      }
    }
  }
  if (!opts_.retention_enabled) return std::vector<LtxFileInfo>{};
  if (Status st = catalog_->replica()->Delete(files); !st.ok()) {
    catalog_->Invalidate();
    return st.WithContext(why);
  }
  catalog_->Remove(files);
  return files;
}

Result<std::vector<LtxFileInfo>> Compactor::EnforceSnapshotRetention() {
  if (opts_.snapshot_retention_ms <= 0) return std::vector<LtxFileInfo>{};
  if (Status st = catalog_->EnsureLoaded(); !st.ok()) {
    catalog_->Invalidate();
    return st.WithContext("snapshot retention");
  }
  const int64_t now = opts_.clock->NowMs();
  RetentionPlan plan = PlanSnapshotRetention(catalog_->All(), now, opts_.snapshot_retention_ms);
  if (plan.deletes.empty()) return std::vector<LtxFileInfo>{};
  const size_t n = plan.deletes.size();
  WALSHIP_ASSIGN_OR_RETURN(auto deleted, Delete(std::move(plan.deletes), "snapshot retention"));
  if (!deleted.empty()) {
    WLOG_INFO("{}snapshot retention: deleted {} files at or below TXID {}", Prefix(), deleted.size(),
              ltx::FormatTxid(plan.floor_txid));
  } else {
    WLOG_DEBUG("{}snapshot retention: {} files are past retention (remote deletes disabled)", Prefix(), n);
  }
  return deleted;
}

Result<std::vector<LtxFileInfo>> Compactor::EnforceL0Retention() {
  const int64_t now = opts_.clock->NowMs();
  last_l0_check_ms_ = now;
  if (opts_.l0_retention_ms <= 0) return std::vector<LtxFileInfo>{};
  if (Status st = catalog_->EnsureLoaded(); !st.ok()) {
    catalog_->Invalidate();
    return st.WithContext("L0 retention");
  }
  std::vector<LtxFileInfo> plan = PlanL0Retention(catalog_->Files(0), catalog_->Files(1), now, opts_.l0_retention_ms);
  if (plan.empty()) return plan;
  const std::string range = Range(plan.front()) + " .. " + Range(plan.back());
  const size_t n = plan.size();
  WALSHIP_ASSIGN_OR_RETURN(auto deleted, Delete(std::move(plan), "L0 retention"));
  if (!deleted.empty()) {
    WLOG_DEBUG("{}L0 retention: deleted {} L0 files ({}) covered by L1", Prefix(), deleted.size(), range);
  } else {
    WLOG_DEBUG("{}L0 retention: {} L0 files are past retention (remote deletes disabled)", Prefix(), n);
  }
  return deleted;
}

Result<RunStats> Compactor::RunDue() {
  auto r = RunDueOnce();
  last_failure_ms_ = r.ok() ? kNever : opts_.clock->NowMs();
  return r;
}

Result<RunStats> Compactor::RunDueOnce() {
  RunStats stats;
  bool wrote_l1 = false;
  for (int level = 1; level <= levels(); level++) {
    WALSHIP_ASSIGN_OR_RETURN(auto out, CompactLevel(level, false));
    stats.files_written += int(out.size());
    for (const LtxFileInfo& f : out) stats.bytes_written += f.size;
    if (level == 1 && !out.empty()) wrote_l1 = true;
  }
  const int64_t now = opts_.clock->NowMs();
  if (opts_.l0_retention_ms > 0 &&
      (wrote_l1 || last_l0_check_ms_ == 0 || now - last_l0_check_ms_ >= opts_.l0_retention_check_interval_ms)) {
    WALSHIP_ASSIGN_OR_RETURN(auto del, EnforceL0Retention());
    stats.files_deleted += int(del.size());
  }
  WALSHIP_ASSIGN_OR_RETURN(auto del, EnforceSnapshotRetention());
  stats.files_deleted += int(del.size());
  return stats;
}

int64_t Compactor::NextDueInMs() const {
  const int64_t now = opts_.clock->NowMs();
  int64_t next = std::numeric_limits<int64_t>::max();
  for (int level = 1; level <= levels(); level++) {
    const int64_t interval = opts_.level_intervals_ms[size_t(level - 1)];
    if (interval <= 0) continue;
    next = std::min(next, LevelDue(level, now) ? 0 : NextBoundaryMs(now, interval) - now);
  }
  if (opts_.l0_retention_ms > 0) {
    const int64_t at = last_l0_check_ms_ == 0 ? now : last_l0_check_ms_ + opts_.l0_retention_check_interval_ms;
    next = std::min(next, at - now);
  }
  if (next == std::numeric_limits<int64_t>::max()) next = 60'000;  // nothing scheduled: check back
  // After a failed run the failed step is still due: wait a little rather
  // than retrying in a tight loop against a store that is down.
  if (last_failure_ms_ != kNever) next = std::max(next, last_failure_ms_ + kRetryDelayMs - now);
  return std::max<int64_t>(1, next);
}

}  // namespace walship::compact
