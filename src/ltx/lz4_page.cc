#include "ltx/lz4_page.h"

#include <lz4.h>
#include <lz4frame.h>

#include <algorithm>
#include <string>

#include "base/coding.h"

namespace walship::ltx::internal {
namespace {

constexpr uint32_t kLz4FrameMagic = 0x184D2204;
constexpr uint8_t kFlgContentChecksum = 0x04;
// Frame header (<= 19 B), block headers, end mark and checksum, with room for
// an encoder that splits the page into a few blocks.
constexpr size_t kFrameSlack = 64;

LZ4F_dctx* Dctx(void* p) { return static_cast<LZ4F_dctx*>(p); }

}  // namespace

size_t MaxBlockSize(uint32_t page_size) { return size_t(LZ4_compressBound(int(page_size))); }
size_t MaxFrameBytes(uint32_t page_size) { return MaxBlockSize(page_size) + kFrameSlack; }

Status DecodeBlock(const uint8_t* src, size_t n, uint32_t page_size, uint8_t* out) {
  if (n == 0) return Corruption("empty lz4 block");
  if (n > MaxBlockSize(page_size)) {
    return Corruption("lz4 block size " + std::to_string(n) + " exceeds bound " +
                      std::to_string(MaxBlockSize(page_size)));
  }
  int got = LZ4_decompress_safe(reinterpret_cast<const char*>(src), reinterpret_cast<char*>(out), int(n),
                                int(page_size));
  if (got < 0) return Corruption("malformed lz4 block (or larger than the page size)");
  if (uint32_t(got) != page_size) {
    return Corruption("lz4 block decompressed to " + std::to_string(got) + " bytes, want " +
                      std::to_string(page_size));
  }
  return Status::OK();
}

Status CheckFrameStart(const uint8_t* p) {
  if (GetLE32(p) != kLz4FrameMagic) return Corruption("not an lz4 frame (bad magic)");
  if ((p[4] & kFlgContentChecksum) == 0) return Corruption("lz4 frame without content checksum");
  return Status::OK();
}

Result<size_t> FrameLength(const uint8_t* p, size_t n, uint32_t page_size) {
  if (n < kFrameStartSize) return size_t{0};
  WALSHIP_RETURN_IF_ERROR(CheckFrameStart(p));
  const uint8_t flg = p[4];
  if ((flg >> 6) != 1) return Corruption("lz4 frame version " + std::to_string(flg >> 6) + " is not 1");
  const size_t limit = MaxFrameBytes(page_size);
  const bool block_sums = (flg & 0x10) != 0;
  // Magic, FLG, BD, the optional content size and dictionary ID, the header checksum.
  size_t at = 4 + 2 + ((flg & 0x08) != 0 ? 8 : 0) + ((flg & 0x01) != 0 ? 4 : 0) + 1;
  for (;;) {
    if (at + 4 > limit) return Corruption("lz4 frame longer than " + std::to_string(limit) + " bytes");
    if (n < at + 4) return size_t{0};
    const uint32_t b = GetLE32(p + at);
    at += 4;
    if (b == 0) {  // end mark, then the content checksum (CheckFrameStart requires it)
      at += 4;
      if (at > limit) return Corruption("lz4 frame longer than " + std::to_string(limit) + " bytes");
      return n >= at ? at : size_t{0};
    }
    at += (b & 0x7fffffffu) + (block_sums ? 4 : 0);
  }
}

PageFrameDecoder::~PageFrameDecoder() {
  if (dctx_ != nullptr) LZ4F_freeDecompressionContext(Dctx(dctx_));
}

Status PageFrameDecoder::Begin(uint8_t* out, uint32_t page_size) {
  if (dctx_ == nullptr) {
    LZ4F_dctx* d = nullptr;
    size_t rc = LZ4F_createDecompressionContext(&d, LZ4F_VERSION);
    if (LZ4F_isError(rc)) return Internal(std::string("lz4f context: ") + LZ4F_getErrorName(rc));
    dctx_ = d;
  } else {
    LZ4F_resetDecompressionContext(Dctx(dctx_));
  }
  out_ = out;
  page_size_ = page_size;
  produced_ = 0;
  consumed_ = 0;
  stalls_ = 0;
  limit_ = MaxFrameBytes(page_size);
  return Status::OK();
}

Status PageFrameDecoder::Feed(const uint8_t* src, size_t n, size_t* consumed, bool* done) {
  *consumed = 0;
  *done = false;
  if (consumed_ >= limit_) {
    return Corruption("lz4 frame longer than " + std::to_string(limit_) + " bytes");
  }
  uint8_t scratch[16];
  size_t src_n = std::min(n, limit_ - consumed_);
  // Past a full page, decode into scratch: any output there means a second page.
  const bool full = produced_ >= page_size_;
  uint8_t* dst = full ? scratch : out_ + produced_;
  size_t dst_n = full ? sizeof(scratch) : page_size_ - produced_;
  size_t rc = LZ4F_decompress(Dctx(dctx_), dst, &dst_n, src, &src_n, nullptr);
  if (LZ4F_isError(rc)) {
    LZ4F_resetDecompressionContext(Dctx(dctx_));
    return Corruption(std::string("lz4 frame: ") + LZ4F_getErrorName(rc));
  }
  if (full && dst_n > 0) return Corruption("lz4 frame holds more than one page");
  produced_ += dst_n;
  consumed_ += src_n;
  *consumed = src_n;
  if (src_n == 0 && dst_n == 0 && ++stalls_ > 2) return Corruption("lz4 frame decoder made no progress");
  if (rc != 0) return Status::OK();
  if (produced_ != page_size_) {
    return Corruption("lz4 frame decompressed to " + std::to_string(produced_) + " bytes, want " +
                      std::to_string(page_size_));
  }
  *done = true;
  return Status::OK();
}

}  // namespace walship::ltx::internal
