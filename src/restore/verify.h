#pragma once
// Verify: check a replica without restoring anything (`walship verify`).
//
// Two kinds of checks, reported as problems (never an early abort):
//   chain (kFailedPrecondition): within each level 0..8, sorted by MinTXID,
//     every file starts at the previous MaxTXID+1 (a gap or an overlap names
//     both objects); every snapshot (level 9) starts at TXID 1; a snapshot
//     exists; every file after the oldest snapshot is reachable by the restore
//     planner or lies inside a reachable compacted range (L0 retention leaves
//     such files), i.e. nothing is cut off from the chain, and CalcPlan
//     reaches the latest point; page sizes agree across files.
//   content (kCorruption): every object is streamed through ltx::Decoder
//     (file checksum, page index, trailer, page rules), its header's
//     MinTXID/MaxTXID match its name, a level 9 file is a snapshot, and it is at
//     least a header long. A storage error while reading passes its own code.
// Files are read `parallelism` at a time, streaming: memory is about
// parallelism x (decoder buffer + one page), never a whole file.
// A file listed but gone when opened (retention of a live replica) is counted
// in `vanished`, not a problem. Times are the LTX headers' timestamps (the
// capture time) where the header could be read, else the listing's.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "replica/replica.h"
#include "restore/plan.h"

namespace walship::restore {

struct VerifyOptions {
  int parallelism = 8;
  // Called with (bytes read so far, total listed bytes), serialised (never
  // two calls at once), from the reading threads.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct VerifyProblem {
  std::string key;      // the object (or level directory) concerned
  std::string problem;  // what is wrong, naming other objects involved
  Code code = Code::kCorruption;
};

struct LevelSummary {
  int level = 0;
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t min_txid = 0;  // lowest MinTXID at the level
  uint64_t max_txid = 0;  // highest MaxTXID at the level
};

struct VerifyReport {
  std::string replica;              // Replica::Describe()
  uint64_t files = 0, bytes = 0;    // listed
  uint64_t bytes_read = 0;          // downloaded and decoded
  uint64_t vanished = 0;            // listed, then gone before it was read
  uint32_t page_size = 0;           // the page size most files use
  std::vector<LevelSummary> levels; // non-empty levels, ascending
  std::optional<Window> window;     // restorable window (CalcWindow); none without a snapshot
  // The furthest point the planner reaches from a snapshot; below
  // window->last_txid when the chain is broken (0 without a snapshot).
  uint64_t reachable_txid = 0;
  // Every restore point from exact_from_txid to window->last_txid is an
  // endpoint the planner reaches: the per-transaction (L0) PITR range. None
  // when the latest point cannot be reached.
  std::optional<uint64_t> exact_from_txid;
  int64_t exact_from_ms = 0;
  std::vector<VerifyProblem> problems;  // chain problems first, then per file in key order

  bool ok() const { return problems.empty(); }
  bool HasCode(Code c) const;
};

// Checks only the listing (no reads): the chain problems, levels, window and
// exact range. Pure, for tests and for Verify.
VerifyReport CheckChain(const std::vector<replica::LtxFileInfo>& files, const std::string& where);

// Lists and verifies a replica. Errors: the listing failed; kNotFound when the
// replica holds no LTX files at all.
Result<VerifyReport> Verify(const replica::Replica& r, const VerifyOptions& opts = {});

}  // namespace walship::restore
