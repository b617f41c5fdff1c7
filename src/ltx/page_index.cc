// Random access to LTX files: the page index read from a file's tail, and one
// page frame decoded on its own (declared in ltx/decoder.h).

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/coding.h"
#include "ltx/decoder.h"
#include "ltx/lz4_page.h"

namespace walship::ltx {
namespace {

constexpr size_t kIndexLenSize = 8;
constexpr size_t kBlockPrefixSize = 4;
// Header, end-of-pages marker, the index terminator, index length, trailer.
constexpr uint64_t kMinFileSize = kHeaderSize + kPageHeaderSize + 1 + kIndexLenSize + kTrailerSize;

Status IndexCorrupt(const std::string& msg) { return Corruption("ltx page index: " + msg); }
Status FrameCorrupt(const std::string& msg) { return Corruption("ltx page frame: " + msg); }

}  // namespace

Result<std::vector<PageIndexEntry>> DecodePageIndexFromTail(const uint8_t* tail, size_t tail_len,
                                                            uint64_t file_size, uint64_t* need) {
  const uint64_t fixed = kIndexLenSize + kTrailerSize;
  if (tail_len > file_size) return InvalidArgument("ltx page index: tail longer than the file");
  if (file_size < kMinFileSize)
    return IndexCorrupt("file of " + std::to_string(file_size) + " bytes is too small");
  if (tail_len < fixed) {
    if (need != nullptr) *need = fixed;
    return OutOfRange("ltx page index: tail too short for the index length");
  }
  const uint64_t len = GetBE64(tail + tail_len - fixed);
  const uint64_t max_len = file_size - kHeaderSize - kPageHeaderSize - fixed;
  if (len == 0 || len > max_len) return IndexCorrupt("index length " + std::to_string(len) + " out of range");
  if (len + fixed > tail_len) {
    if (need != nullptr) *need = len + fixed;
    return OutOfRange("ltx page index: need the last " + std::to_string(len + fixed) + " bytes");
  }
  const uint8_t* p = tail + tail_len - fixed - len;
  const uint8_t* end = p + len;
  const uint64_t index_start = file_size - fixed - len;
  const uint64_t pages_end = index_start - kPageHeaderSize;  // offset of the end-of-pages marker

  std::vector<PageIndexEntry> out;
  uint64_t prev_pgno = 0;
  uint64_t next_off = kHeaderSize;
  for (;;) {
    uint64_t v[3] = {0, 0, 0};
    size_t n = GetUvarint(p, end, &v[0]);
    if (n == 0) return IndexCorrupt("invalid or truncated varint");
    p += n;
    if (v[0] == 0) break;
    for (int k = 1; k < 3; k++) {
      n = GetUvarint(p, end, &v[k]);
      if (n == 0) return IndexCorrupt("invalid or truncated varint");
      p += n;
    }
    const std::string entry = "entry " + std::to_string(out.size()) + " (pgno " + std::to_string(v[0]) + ")";
    if (v[0] <= prev_pgno || v[0] > UINT32_MAX) return IndexCorrupt(entry + ": pgno out of order");
    if (v[1] != next_off) return IndexCorrupt(entry + ": offset does not follow the previous frame");
    if (v[2] <= kPageHeaderSize || v[2] > pages_end - next_off) return IndexCorrupt(entry + ": bad size");
    out.push_back(PageIndexEntry{uint32_t(v[0]), v[1], v[2]});
    prev_pgno = v[0];
    next_off += v[2];
  }
  if (p != end) return IndexCorrupt("data after the index terminator");
  if (next_off != pages_end) return IndexCorrupt("frames do not end at the end-of-pages marker");
  return out;
}

Status DecodePageFrame(const uint8_t* frame, size_t frame_len, uint32_t page_size, uint32_t* pgno,
                       uint8_t* out) {
  if (!IsValidPageSize(page_size)) return InvalidArgument("ltx page frame: invalid page size");
  if (frame_len < kPageHeaderSize) return FrameCorrupt("shorter than a page header");
  const uint32_t pg = GetBE32(frame);
  const uint16_t flags = GetBE16(frame + 4);
  if (pg == 0) return FrameCorrupt("page number zero");
  const std::string where = "page " + std::to_string(pg) + ": ";
  if ((flags & ~kPageFlagSize) != 0) return FrameCorrupt(where + "invalid page flags");
  if (pg == LockPgno(page_size)) return FrameCorrupt(where + "lock page stored");
  if ((flags & kPageFlagSize) != 0) {
    if (frame_len < kPageHeaderSize + kBlockPrefixSize) return FrameCorrupt(where + "truncated size prefix");
    const uint32_t n = GetBE32(frame + kPageHeaderSize);
    if (n != frame_len - kPageHeaderSize - kBlockPrefixSize) {
      return FrameCorrupt(where + "compressed size " + std::to_string(n) + " does not match the frame");
    }
    Status s = internal::DecodeBlock(frame + kPageHeaderSize + kBlockPrefixSize, n, page_size, out);
    if (!s.ok()) return FrameCorrupt(where + s.message());
  } else {
    const uint8_t* p = frame + kPageHeaderSize;
    size_t left = frame_len - kPageHeaderSize;
    if (left < internal::kFrameStartSize) return FrameCorrupt(where + "truncated lz4 frame");
    Status s = internal::CheckFrameStart(p);
    if (!s.ok()) return FrameCorrupt(where + s.message());
    internal::PageFrameDecoder dec;
    WALSHIP_RETURN_IF_ERROR(dec.Begin(out, page_size));
    bool done = false;
    while (!done) {
      if (left == 0) return FrameCorrupt(where + "truncated lz4 frame");
      size_t used = 0;
      s = dec.Feed(p, left, &used, &done);
      if (!s.ok()) return FrameCorrupt(where + s.message());
      p += used;
      left -= used;
    }
    if (left != 0) return FrameCorrupt(where + "data after the lz4 frame");
  }
  *pgno = pg;
  return Status::OK();
}

PageIndexParser::PageIndexParser(uint64_t file_size, uint64_t index_len) : left_(index_len) {
  const uint64_t fixed = kIndexLenSize + kTrailerSize;
  if (file_size < kMinFileSize || index_len == 0 ||
      index_len > file_size - kHeaderSize - kPageHeaderSize - fixed) {
    bad_len_ = true;
    return;
  }
  pages_end_ = file_size - fixed - index_len - kPageHeaderSize;
}

Status PageIndexParser::Corrupt(const std::string& msg) const {
  return IndexCorrupt("entry " + std::to_string(count_) + ": " + msg);
}

Status PageIndexParser::Step(const uint8_t* p, size_t n, size_t* used, PageIndexEntry* e, bool* have) {
  if (bad_len_) return IndexCorrupt("index length out of range");
  size_t i = 0;
  while (i < n) {
    if (done_) return IndexCorrupt("data after the index terminator");
    if (left_ == 0) return IndexCorrupt("more bytes than the index length");
    const uint8_t b = p[i++];
    left_--;
    if (vbytes_ == 9 && b > 1) return Corrupt("varint overflows 64 bits");
    v_[field_] |= uint64_t(b & 0x7f) << shift_;
    shift_ += 7;
    vbytes_++;
    if (b & 0x80) continue;
    shift_ = 0;
    vbytes_ = 0;
    if (field_ == 0 && v_[0] == 0) {
      done_ = true;
      continue;
    }
    if (++field_ < 3) continue;
    field_ = 0;
    const uint64_t pgno = v_[0], off = v_[1], size = v_[2];
    v_[0] = v_[1] = v_[2] = 0;
    if (pgno <= prev_pgno_ || pgno > UINT32_MAX) return Corrupt("pgno " + std::to_string(pgno) + " out of order");
    if (off != next_off_) return Corrupt("offset " + std::to_string(off) + " does not follow the previous frame");
    if (size <= kPageHeaderSize || size > pages_end_ - next_off_) {
      return Corrupt("bad size " + std::to_string(size));
    }
    *e = PageIndexEntry{uint32_t(pgno), off, size};
    *have = true;
    prev_pgno_ = pgno;
    next_off_ += size;
    count_++;
    *used = i;
    return Status::OK();
  }
  *used = i;
  return Status::OK();
}

Status PageIndexParser::Finish() const {
  if (bad_len_) return IndexCorrupt("index length out of range");
  if (!done_ || left_ != 0) return IndexCorrupt("invalid or truncated varint");
  if (next_off_ != pages_end_) return IndexCorrupt("frames do not end at the end-of-pages marker");
  return Status::OK();
}

uint64_t MaxFrameSize(uint32_t page_size) {
  return kPageHeaderSize + std::max(kBlockPrefixSize + internal::MaxBlockSize(page_size), internal::MaxFrameBytes(page_size));
}

Result<uint64_t> MeasureFrame(const uint8_t* p, size_t n, uint32_t page_size, uint32_t* pgno) {
  if (n < kPageHeaderSize) return uint64_t{0};
  // (A frame is sized only once all of it is there: its caller keeps whole frames.)
  const uint32_t pg = GetBE32(p);
  const uint16_t flags = GetBE16(p + 4);
  *pgno = pg;
  if (pg == 0) return uint64_t{kPageHeaderSize};
  auto bad = [&](const std::string& m) { return FrameCorrupt("page " + std::to_string(pg) + ": " + m); };
  if ((flags & ~kPageFlagSize) != 0) return bad("invalid page flags");
  if (pg == LockPgno(page_size)) return bad("lock page stored");
  if ((flags & kPageFlagSize) != 0) {
    if (n < kPageHeaderSize + kBlockPrefixSize) return uint64_t{0};
    const uint32_t b = GetBE32(p + kPageHeaderSize);
    if (b == 0 || b > internal::MaxBlockSize(page_size)) return bad("compressed size " + std::to_string(b) + " out of range");
    const uint64_t size = kPageHeaderSize + kBlockPrefixSize + b;
    return n >= size ? size : uint64_t{0};
  }
  auto len = internal::FrameLength(p + kPageHeaderSize, n - kPageHeaderSize, page_size);
  if (!len.ok()) return bad(len.status().message());
  return *len == 0 ? uint64_t{0} : uint64_t{kPageHeaderSize + *len};
}

FrameStreamDecoder::FrameStreamDecoder(Source* src, uint32_t page_size, size_t buffer_size)
    : src_(src), page_size_(page_size) {
  const size_t frame_max = kPageHeaderSize + kBlockPrefixSize + internal::MaxBlockSize(page_size);
  cap_ = std::max(buffer_size, 2 * frame_max);
  buf_.reset(new uint8_t[cap_]);
  data_ = buf_.get();
}

FrameStreamDecoder::FrameStreamDecoder(const uint8_t* data, size_t n, uint32_t page_size)
    : src_(nullptr), page_size_(page_size), data_(data), cap_(n), end_(n), eof_(true) {}

FrameStreamDecoder::~FrameStreamDecoder() = default;

Status FrameStreamDecoder::Fill(size_t n) {
  if (end_ - pos_ >= n) return Status::OK();
  if (src_ != nullptr && pos_ + n > cap_) {
    std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  while (end_ - pos_ < n) {
    if (eof_ || src_ == nullptr) {
      return FrameCorrupt("unexpected end of the frames at offset +" + std::to_string(consumed_ + (end_ - pos_)));
    }
    Result<size_t> got = src_->Read(buf_.get() + end_, cap_ - end_);
    if (!got.ok()) return got.status();
    if (*got == 0) eof_ = true;
    end_ += *got;
  }
  return Status::OK();
}

Status FrameStreamDecoder::Next(Frame* f, uint8_t* page) {
  WALSHIP_RETURN_IF_ERROR(Fill(kPageHeaderSize));
  const uint8_t* h = data_ + pos_;
  const uint32_t pg = GetBE32(h);
  const uint16_t flags = GetBE16(h + 4);
  if (pg == 0) return FrameCorrupt("page number zero");
  auto bad = [&](const std::string& m) { return FrameCorrupt("page " + std::to_string(pg) + ": " + m); };
  if ((flags & ~kPageFlagSize) != 0) return bad("invalid page flags");
  if (pg == LockPgno(page_size_)) return bad("lock page stored");
  const uint64_t start = consumed_;
  f->pgno = pg;
  if ((flags & kPageFlagSize) != 0) {
    WALSHIP_RETURN_IF_ERROR(Fill(kPageHeaderSize + kBlockPrefixSize));
    const uint8_t* q = data_ + pos_;
    const uint32_t n = GetBE32(q + kPageHeaderSize);
    if (n == 0 || n > internal::MaxBlockSize(page_size_)) return bad("compressed size " + std::to_string(n) + " out of range");
    std::memcpy(f->stored, q, kPageHeaderSize + kBlockPrefixSize);
    f->stored_len = kPageHeaderSize + kBlockPrefixSize;
    pos_ += kPageHeaderSize + kBlockPrefixSize;
    consumed_ += kPageHeaderSize + kBlockPrefixSize;
    WALSHIP_RETURN_IF_ERROR(Fill(n));
    Status s = internal::DecodeBlock(data_ + pos_, n, page_size_, page);
    if (!s.ok()) return bad(s.message());
    pos_ += n;
    consumed_ += n;
  } else {
    std::memcpy(f->stored, h, kPageHeaderSize);
    f->stored_len = kPageHeaderSize;
    pos_ += kPageHeaderSize;
    consumed_ += kPageHeaderSize;
    WALSHIP_RETURN_IF_ERROR(Fill(internal::kFrameStartSize));
    Status s = internal::CheckFrameStart(data_ + pos_);
    if (!s.ok()) return bad(s.message());
    if (frame_decoder_ == nullptr) frame_decoder_ = std::make_unique<internal::PageFrameDecoder>();
    WALSHIP_RETURN_IF_ERROR(frame_decoder_->Begin(page, page_size_));
    bool done = false;
    while (!done) {
      if (end_ == pos_) WALSHIP_RETURN_IF_ERROR(Fill(1));
      size_t used = 0;
      s = frame_decoder_->Feed(data_ + pos_, end_ - pos_, &used, &done);
      if (!s.ok()) return bad(s.message());
      pos_ += used;
      consumed_ += used;
    }
  }
  f->size = consumed_ - start;
  return Status::OK();
}

Status FrameStreamDecoder::ExpectEnd() {
  if (end_ == pos_ && !eof_) {
    pos_ = end_ = 0;
    Result<size_t> got = src_->Read(buf_.get(), cap_);
    if (!got.ok()) return got.status();
    if (*got == 0) eof_ = true;
    end_ = *got;
  }
  if (end_ != pos_) return FrameCorrupt("data after the last frame of the range");
  return Status::OK();
}

}  // namespace walship::ltx
