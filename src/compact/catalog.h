#pragma once
// Catalog: this process's view of a replica's listing, per level. Loaded once
// with one LIST per level (levels 0..9), then kept current by the writers in
// this process (the uploader adds L0 and snapshot files, the compactor adds
// its outputs and removes what retention deleted), so steady-state
// compaction and retention cost no LIST requests. After any replica error the
// owner calls Invalidate() and the next user re-lists (an upload may have
// landed with its reply lost, or another process may have changed the replica).
//
// Thread-safe: a mutex guards the listing; it is never held across I/O
// (Load lists first, then swaps the result in; an Add or Remove made while it
// listed is replayed on the new listing, so it is not lost).

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/status.h"
#include "replica/replica.h"

namespace walship::compact {

using replica::LtxFileInfo;

class Catalog {
 public:
  explicit Catalog(std::shared_ptr<replica::Replica> replica);

  // Lists every level (0..9) of the replica and replaces the cached view.
  Status Load();
  // Load() if not loaded (or invalidated) since.
  Status EnsureLoaded();
  bool loaded() const;
  void Invalidate();

  // Files of one level sorted by (min_txid, max_txid).
  std::vector<LtxFileInfo> Files(int level) const;
  // Every level, level by level (the input restore::CalcPlan wants).
  std::vector<LtxFileInfo> All() const;
  // The file with the highest max_txid at a level (ties: the later created).
  std::optional<LtxFileInfo> Newest(int level) const;
  uint64_t MaxTxid(int level) const;  // 0 if the level is empty
  uint64_t MaxTxidAllLevels() const;  // over levels 0..9

  // Records a file this process wrote / deleted (no I/O). Add replaces an
  // entry with the same level and range.
  void Add(const LtxFileInfo& f);
  void Remove(const std::vector<LtxFileInfo>& files);

  replica::Replica* replica() const { return replica_.get(); }

 private:
  // An Add/Remove made while a Load was listing, replayed on its result.
  struct JournalEntry {
    bool add = true;
    LtxFileInfo file;
  };
  void AddLocked(const LtxFileInfo& f);
  void RemoveLocked(const LtxFileInfo& f);

  std::shared_ptr<replica::Replica> replica_;
  mutable std::mutex mu_;
  bool loaded_ = false;
  int loading_ = 0;  // Loads in progress
  std::vector<JournalEntry> journal_;
  std::array<std::vector<LtxFileInfo>, 10> levels_;
};

}  // namespace walship::compact
