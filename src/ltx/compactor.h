#pragma once
// Streaming k-way merge of LTX files (compat reference 1.12), the core of both
// compaction and restore. Memory: one page per input; never a whole file.
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
  // Output header: Commit/MaxTXID/Timestamp/PostApply from the last input,
  // MinTXID/PreApply from the first, WAL fields and NodeID zero, flags NoChecksum.
  const Header& header() const { return header_; }
  // Next output page in ascending pgno. *data stays valid until the next call.
  // Returns false when done (after all inputs were closed and verified).
  Result<bool> Next(uint32_t* pgno, const uint8_t** data);

 private:
  struct Cursor;
  Status Advance(size_t i);
  std::vector<MergeInput> inputs_;
  std::vector<std::unique_ptr<Cursor>> cursors_;
  Header header_;
  bool done_ = false;
};

struct CompactOptions {
  PageEncoding encoding = PageEncoding::kBlock;
  // If non-zero, overrides the output timestamp (otherwise the last input's).
  int64_t timestamp_ms = 0;
};

// Merges inputs into one LTX file written to out. Returns the output header.
Result<Header> Compact(std::vector<MergeInput> inputs, Sink* out, const CompactOptions& opts = {});

}  // namespace walship::ltx
