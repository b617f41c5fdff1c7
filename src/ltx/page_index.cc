// Random access to LTX files: the page index read from a file's tail, and one
// page frame decoded on its own (declared in ltx/decoder.h).

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

}  // namespace walship::ltx
