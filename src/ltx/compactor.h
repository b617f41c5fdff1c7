#pragma once
// Streaming k-way merge of LTX files (compat reference 1.12), the core of both
// compaction and restore. Memory per input: one page and a read buffer (which
// shrinks as the number of inputs grows, 32 MiB in all at most, floor two
// compressed pages); never a whole file or its page index.
//
// Inputs are ordered by TXID and must be contiguous: for each consecutive
// pair, next.min <= prev.max + 1 and next.max > prev.max (overlap allowed if
// it extends). Otherwise kFailedPrecondition naming the two ranges. For each
// pgno the version from the latest input wins; pages > the last input's Commit
// are dropped. Every input's file checksum is verified as it is consumed; a
// mismatch is kCorruption naming the input.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/io.h"
#include "ltx/decoder.h"
#include "ltx/encoder.h"
#include "ltx/format.h"

namespace walship::ltx {

struct MergeInput {
  std::string name;  // for error messages, e.g. the object key
  Source* source = nullptr;
};

class PageMerger {
 public:
  explicit PageMerger(std::vector<MergeInput> inputs);
  ~PageMerger();
  PageMerger(const PageMerger&) = delete;
  PageMerger& operator=(const PageMerger&) = delete;

  // Reads all headers, checks page sizes and contiguity, computes the output header.
  Status Init();
  // Output header: Commit/MaxTXID/Timestamp from the last input, MinTXID from
  // the first, WAL fields and NodeID zero, flags NoChecksum. As NoChecksum
  // requires, PreApply is zero and Compact writes PostApply zero (Litestream
  // copies the last input's PostApply and then fails, issue #1427).
  const Header& header() const { return header_; }
  // Next output page in ascending pgno. *data stays valid until the next call.
  // Returns false when done (after all inputs were closed and verified). When
  // the output is a snapshot (first input's MinTXID is 1), a page missing from
  // 1..Commit is kCorruption. After an error every later call returns it.
  Result<bool> Next(uint32_t* pgno, const uint8_t** data);
  // The last input's trailer PostApplyChecksum; valid once Next returned false.
  uint64_t last_post_apply_checksum() const { return last_post_apply_; }

 private:
  struct Cursor;
  Status Advance(size_t i);
  Result<bool> Step(uint32_t* pgno, const uint8_t** data);
  bool HeapLess(uint32_t a, uint32_t b) const;
  void HeapPush(uint32_t i);
  uint32_t HeapPop();
  std::vector<MergeInput> inputs_;
  std::vector<std::unique_ptr<Cursor>> cursors_;
  std::vector<uint32_t> heap_;  // indices of cursors holding a page, smallest pgno on top
  static constexpr size_t kNone = SIZE_MAX;
  size_t pending_ = kNone;  // winner of the last call, advanced on the next
  uint32_t last_out_ = 0;   // last pgno returned
  uint64_t last_post_apply_ = 0;
  Header header_;
  bool initialized_ = false;
  bool done_ = false;
  Status error_;
};

struct CompactOptions {
  PageEncoding encoding = PageEncoding::kBlock;
  // If non-zero, overrides the output timestamp (otherwise the last input's).
  int64_t timestamp_ms = 0;
};

// Merges inputs into one LTX file written to out. Returns the output header.
Result<Header> Compact(std::vector<MergeInput> inputs, Sink* out, const CompactOptions& opts = {});

}  // namespace walship::ltx
