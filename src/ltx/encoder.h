#pragma once
// Streaming LTX encoder. Memory: one compressed page plus the page index
// (~20 bytes per page). Not thread-safe.
//
// Usage: Encoder e(&sink); e.EncodeHeader(h); e.EncodePage(...)...; e.Close();
// Enforces the encoder rules of compat reference 1.10: header valid, each
// pgno <= Commit, never the lock page, snapshots strictly 1,2,3.. (skipping the
// lock page), other files strictly ascending. Violations -> kInvalidArgument.

#include <cstdint>
#include <string>

#include "base/crc64.h"
#include "base/io.h"
#include "ltx/format.h"

namespace walship::ltx {

enum class PageEncoding {
  kBlock,  // flag 0x0001 + u32 size + LZ4 block: Litestream >= 0.5.16 (what v0.5.17 writes)
  kFrame,  // flags 0 + one LZ4 frame per page: readable by every Litestream 0.5.x
};

class Encoder {
 public:
  explicit Encoder(Sink* sink, PageEncoding encoding = PageEncoding::kBlock);
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;
  ~Encoder();

  Status EncodeHeader(const Header& h);
  // data: exactly header.page_size bytes.
  Status EncodePage(uint32_t pgno, const uint8_t* data);
  // Writes the end marker, page index and trailer. post_apply_checksum must be
  // 0 when the header has NoChecksum; otherwise it carries the checksum flag,
  // and for a snapshot it must equal the rolling checksum of the pages written
  // (ChecksumFlag alone when Commit is 0, so a Commit-0 file cannot be written
  // without checksums, as in the Go encoder). A snapshot must hold every page
  // 1..Commit (lock page excepted). Violations -> kInvalidArgument.
  Status Close(uint64_t post_apply_checksum = 0);

  const Header& header() const { return header_; }
  uint64_t bytes_written() const { return offset_; }
  uint64_t file_checksum() const { return file_checksum_; }
  uint32_t page_count() const { return page_count_; }

 private:
  Status WriteRaw(const void* p, size_t n);  // writes and advances offset_, no checksum
  Status CheckPageOrder(uint32_t pgno) const;
  Status CheckTrailer(uint64_t post_apply_checksum) const;
  // Compresses one page into cbuf_ after the page header; returns the frame size.
  Result<size_t> CompressPage(const uint8_t* data);
  Sink* sink_;
  PageEncoding encoding_;
  Header header_;
  bool header_written_ = false;
  bool closed_ = false;
  uint64_t offset_ = 0;
  uint32_t last_pgno_ = 0;
  uint32_t page_count_ = 0;
  Crc64 crc_;
  std::string index_;  // uvarint page index being built
  std::string cbuf_;   // compression scratch
  uint64_t file_checksum_ = 0;
  uint64_t db_checksum_ = 0;  // XOR of page checksums, for checksum-tracked snapshots
  void* lz4f_ctx_ = nullptr;  // LZ4F_cctx* for kFrame
};

}  // namespace walship::ltx
