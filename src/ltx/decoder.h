#pragma once
// Streaming LTX decoder over a Source. Reads both page encodings (block and
// legacy frame) per page. Validates as compat reference 1.11, plus stricter
// checks a careful reader should make: decompressed size == page size, block
// size bounded by LZ4_compressBound(page size), pgno <= Commit, no lock page,
// ascending page order, the page index consistent with the frames read, and
// the file checksum. Any violation -> kCorruption with the offset; never a
// crash. Memory: one page + one compressed page + the index.
//
// Usage: Decoder d(&src); d.DecodeHeader(); while (d.NextPage(&pgno, buf)) ...;
// d.Close() (reads the index and trailer, checks the file checksum).

#include <cstdint>
#include <string>
#include <vector>

#include "base/crc64.h"
#include "base/io.h"
#include "ltx/format.h"

namespace walship::ltx {

class Decoder {
 public:
  explicit Decoder(Source* src);
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;
  ~Decoder();

  Status DecodeHeader();
  // Reads the next page into buf (header().page_size bytes). Returns false at
  // the end-of-pages marker. Must be called until it returns false before Close().
  Result<bool> NextPage(uint32_t* pgno, uint8_t* buf);
  // Reads the page index and trailer; verifies the file checksum (and, for a
  // snapshot with checksums on, the post-apply checksum).
  Status Close();

  const Header& header() const { return header_; }
  const Trailer& trailer() const { return trailer_; }
  const std::vector<PageIndexEntry>& page_index() const { return index_; }
  uint64_t bytes_read() const { return offset_; }

 private:
  Status ReadRaw(void* p, size_t n);  // reads and advances offset_
  Source* src_;
  Header header_;
  Trailer trailer_;
  bool header_read_ = false;
  bool pages_done_ = false;
  uint64_t offset_ = 0;
  uint32_t last_pgno_ = 0;
  Crc64 crc_;
  std::string cbuf_;
  std::vector<PageIndexEntry> frames_;  // what we actually saw, for cross-check
  std::vector<PageIndexEntry> index_;
  uint64_t db_checksum_ = 0;  // rolling, for checksum-tracked snapshots
  void* lz4f_dctx_ = nullptr;
};

// Decodes one whole file held in memory and verifies it: the `ltx verify` of
// a single object. Returns the header on success.
Result<Header> VerifyFile(Source* src);

// Random access: parse the page index from the last `tail` bytes of a file of
// `file_size` bytes. If the index is larger than `tail`, returns kOutOfRange
// with the required tail size in *need (caller re-fetches).
Result<std::vector<PageIndexEntry>> DecodePageIndexFromTail(const uint8_t* tail, size_t tail_len,
                                                            uint64_t file_size, uint64_t* need);

// Decodes one page frame (as located by the page index) into out (page_size bytes).
Status DecodePageFrame(const uint8_t* frame, size_t frame_len, uint32_t page_size, uint32_t* pgno, uint8_t* out);

}  // namespace walship::ltx
