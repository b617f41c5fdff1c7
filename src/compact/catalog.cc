#include "compact/catalog.h"

#include <algorithm>

#include "ltx/format.h"

namespace walship::compact {
namespace {

bool RangeLess(const LtxFileInfo& a, const LtxFileInfo& b) {
  return a.min_txid != b.min_txid ? a.min_txid < b.min_txid : a.max_txid < b.max_txid;
}

bool SameRange(const LtxFileInfo& a, const LtxFileInfo& b) {
  return a.level == b.level && a.min_txid == b.min_txid && a.max_txid == b.max_txid;
}

bool ValidLevel(int level) { return level >= 0 && level <= ltx::kMaxLevel; }

}  // namespace

Catalog::Catalog(std::shared_ptr<replica::Replica> replica) : replica_(std::move(replica)) {}

Status Catalog::Load() {
  {
    std::lock_guard lk(mu_);
    loading_++;
  }
  std::array<std::vector<LtxFileInfo>, 10> fresh;
  Status st;
  for (int level = 0; level <= ltx::kMaxLevel && st.ok(); level++) {
    auto files = replica_->ListLevel(level);
    if (!files.ok()) {
      st = files.status().WithContext("catalog of " + replica_->Describe());
    } else {
      fresh[size_t(level)] = std::move(files).value();
    }
  }
  std::lock_guard lk(mu_);
  loading_--;
  if (!st.ok()) {
    if (loading_ == 0) journal_.clear();
    return st;
  }
  // Writes recorded while we listed may be missing from (or deleted after)
  // the listing: replay them on top of it.
  levels_ = std::move(fresh);
  for (const JournalEntry& e : journal_) {
    if (e.add) {
      AddLocked(e.file);
    } else {
      RemoveLocked(e.file);
    }
  }
  if (loading_ == 0) journal_.clear();
  loaded_ = true;
  return Status::OK();
}

Status Catalog::EnsureLoaded() {
  if (loaded()) return Status::OK();
  return Load();
}

bool Catalog::loaded() const {
  std::lock_guard lk(mu_);
  return loaded_;
}

void Catalog::Invalidate() {
  std::lock_guard lk(mu_);
  loaded_ = false;
}

std::vector<LtxFileInfo> Catalog::Files(int level) const {
  if (!ValidLevel(level)) return {};
  std::lock_guard lk(mu_);
  return levels_[size_t(level)];
}

std::vector<LtxFileInfo> Catalog::All() const {
  std::lock_guard lk(mu_);
  std::vector<LtxFileInfo> out;
  for (const auto& l : levels_) out.insert(out.end(), l.begin(), l.end());
  return out;
}

std::optional<LtxFileInfo> Catalog::Newest(int level) const {
  if (!ValidLevel(level)) return std::nullopt;
  std::lock_guard lk(mu_);
  const LtxFileInfo* best = nullptr;
  for (const LtxFileInfo& f : levels_[size_t(level)]) {
    if (!best || f.max_txid > best->max_txid || (f.max_txid == best->max_txid && f.created_ms > best->created_ms)) {
      best = &f;
    }
  }
  if (!best) return std::nullopt;
  return *best;
}

uint64_t Catalog::MaxTxid(int level) const {
  if (!ValidLevel(level)) return 0;
  std::lock_guard lk(mu_);
  uint64_t m = 0;
  for (const LtxFileInfo& f : levels_[size_t(level)]) m = std::max(m, f.max_txid);
  return m;
}

uint64_t Catalog::MaxTxidAllLevels() const {
  std::lock_guard lk(mu_);
  uint64_t m = 0;
  for (const auto& l : levels_) {
    for (const LtxFileInfo& f : l) m = std::max(m, f.max_txid);
  }
  return m;
}

void Catalog::Add(const LtxFileInfo& f) {
  if (!ValidLevel(f.level)) return;
  std::lock_guard lk(mu_);
  AddLocked(f);
  if (loading_ > 0) journal_.push_back({true, f});
}

void Catalog::Remove(const std::vector<LtxFileInfo>& files) {
  std::lock_guard lk(mu_);
  for (const LtxFileInfo& f : files) {
    if (!ValidLevel(f.level)) continue;
    RemoveLocked(f);
    if (loading_ > 0) journal_.push_back({false, f});
  }
}

void Catalog::AddLocked(const LtxFileInfo& f) {
  auto& v = levels_[size_t(f.level)];
  auto it = std::lower_bound(v.begin(), v.end(), f, RangeLess);
  if (it != v.end() && SameRange(*it, f)) {
    *it = f;
  } else {
    v.insert(it, f);
  }
}

void Catalog::RemoveLocked(const LtxFileInfo& f) {
  auto& v = levels_[size_t(f.level)];
  auto it = std::lower_bound(v.begin(), v.end(), f, RangeLess);
  if (it != v.end() && SameRange(*it, f)) v.erase(it);
}

}  // namespace walship::compact
