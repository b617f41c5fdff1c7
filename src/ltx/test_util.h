#pragma once
// Helpers shared by the ltx unit tests (not part of the library).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/io.h"
#include "ltx/decoder.h"
#include "ltx/encoder.h"
#include "ltx/format.h"

namespace walship::ltx::testing {

// Path of a file in the shared LTX test vectors.
std::string VectorPath(const std::string& name);
// Whole file; aborts the test binary if it cannot be read.
std::string ReadFileOrDie(const std::string& path);
std::string ReadVector(const std::string& name);

// A Source over borrowed bytes that returns at most `chunk` bytes per Read
// (0 = no limit) and counts Read calls.
class SpanSource final : public Source {
 public:
  explicit SpanSource(std::string_view data, size_t chunk = 0) : data_(data), chunk_(chunk) {}
  Result<size_t> Read(void* buf, size_t n) override;
  int reads() const { return reads_; }

 private:
  std::string_view data_;
  size_t chunk_;
  size_t pos_ = 0;
  int reads_ = 0;
};

// A Source that fails with kIOError after `ok_bytes` bytes.
class FailingSource final : public Source {
 public:
  FailingSource(std::string_view data, size_t ok_bytes) : data_(data), ok_bytes_(ok_bytes) {}
  Result<size_t> Read(void* buf, size_t n) override;

 private:
  std::string_view data_;
  size_t ok_bytes_;
  size_t pos_ = 0;
};

struct Page {
  uint32_t pgno = 0;
  std::string data;
  bool operator==(const Page& o) const { return pgno == o.pgno && data == o.data; }
};

// 512-byte pages, Commit 1, TXID 1-1, timestamp 1000, NoChecksum: the header
// of the shared example files.
Header ExampleHeader();
Header MakeHeader(uint32_t page_size, uint32_t commit, uint64_t min_txid, uint64_t max_txid,
                  int64_t timestamp_ms = 1000);
// A page of `size` bytes derived from (pgno, version): compressible but distinct.
std::string MakePage(uint32_t size, uint32_t pgno, uint32_t version);

// Encodes a whole file; fails the test on error (returns the bytes anyway).
std::string EncodeFile(const Header& h, const std::vector<Page>& pages,
                       PageEncoding enc = PageEncoding::kBlock, uint64_t post_apply = 0);
Status TryEncode(const Header& h, const std::vector<Page>& pages, PageEncoding enc, uint64_t post_apply,
                 std::string* out);

struct Decoded {
  Header header;
  Trailer trailer;
  std::vector<Page> pages;
  std::vector<PageIndexEntry> index;
};
// Decodes a whole file (Read chunks of at most `chunk` bytes when non-zero).
Result<Decoded> DecodeAll(std::string_view bytes, size_t chunk = 0);
// Decodes a whole file and returns only the status.
Status DecodeStatus(std::string_view bytes);

// Builds LTX bytes without the encoder's rules, for malformed-but-checksummed
// files. Each frame: pgno, flags (0x0001 block, 0 frame) and raw payload
// bytes after the page header (for a block: the u32 size prefix is added);
// `data` is what the checksum counts as the uncompressed page.
struct RawFrame {
  uint32_t pgno = 0;
  uint16_t flags = kPageFlagSize;
  std::string payload;  // compressed bytes (block) or a whole LZ4 frame
  std::string data;     // uncompressed page for the checksum
};
struct RawOptions {
  uint64_t post_apply = 0;
  bool fix_file_checksum = true;
  // Applied to the varint area (entries + terminator) before it is written.
  void (*mutate_index)(std::string* index) = nullptr;
  std::string trailing;  // bytes appended after the trailer
};
std::string BuildRaw(const Header& h, const std::vector<RawFrame>& frames, const RawOptions& opts = {});
// A block frame holding `data` compressed with LZ4_compress_default.
RawFrame BlockFrame(uint32_t pgno, const std::string& data);
// A legacy frame-encoded frame of `data` (LZ4F, compat preferences).
RawFrame LegacyFrame(uint32_t pgno, const std::string& data, bool content_checksum = true);

}  // namespace walship::ltx::testing
