#pragma once
// Internal to src/ltx: the two LZ4 page payload decoders shared by the
// streaming Decoder and the random-access DecodePageFrame. Not a public API.
//
// Errors are kCorruption messages without location; callers prefix the offset
// and page number.

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace walship::ltx::internal {

// Bytes of an LZ4 frame needed by CheckFrameStart.
inline constexpr size_t kFrameStartSize = 5;

// Largest legal LZ4 block payload for a page: LZ4_compressBound(page_size).
size_t MaxBlockSize(uint32_t page_size);
// Most bytes the LZ4 frame of one page may take (the block bound plus room
// for the frame's header, block headers, end mark and checksums).
size_t MaxFrameBytes(uint32_t page_size);

// Decompresses one raw LZ4 block that must expand to exactly page_size bytes.
Status DecodeBlock(const uint8_t* src, size_t n, uint32_t page_size, uint8_t* out);

// Checks the first kFrameStartSize bytes of a page's LZ4 frame: the LZ4 frame
// magic (not skippable or legacy) and the content-checksum flag, which the
// legacy encoding always sets and the Go reader requires.
Status CheckFrameStart(const uint8_t* p);

// Length of the LZ4 frame of one page at p, found from its frame header and
// block headers without decompressing: 0 while the n bytes at p do not reach
// its end yet (call again with more). kCorruption as CheckFrameStart, for a
// version other than 01, or for a frame longer than a page's frame may be
// (the decoder's bound).
Result<size_t> FrameLength(const uint8_t* p, size_t n, uint32_t page_size);

// Incremental decoder of one LZ4 frame holding exactly one page. Owns an
// LZ4F decompression context, reused across pages (no per-page allocation
// once the context's buffers exist). Not thread-safe.
class PageFrameDecoder {
 public:
  PageFrameDecoder() = default;
  ~PageFrameDecoder();
  PageFrameDecoder(const PageFrameDecoder&) = delete;
  PageFrameDecoder& operator=(const PageFrameDecoder&) = delete;

  // Starts a frame that must decompress to exactly page_size bytes into out.
  Status Begin(uint8_t* out, uint32_t page_size);
  // Feeds n > 0 bytes; *consumed says how many were used. *done becomes true
  // when the frame ended (then the page is complete and verified).
  Status Feed(const uint8_t* src, size_t n, size_t* consumed, bool* done);

 private:
  void* dctx_ = nullptr;  // LZ4F_dctx*
  uint8_t* out_ = nullptr;
  uint32_t page_size_ = 0;
  size_t produced_ = 0;
  size_t consumed_ = 0;
  size_t limit_ = 0;  // most compressed bytes a one-page frame may take
  int stalls_ = 0;
};

}  // namespace walship::ltx::internal
