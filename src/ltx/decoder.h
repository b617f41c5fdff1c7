#pragma once
// Streaming LTX decoder over a Source. Reads both page encodings (block and
// legacy frame) per page. Validates as compat reference 1.11, plus stricter
// checks a careful reader should make: decompressed size == page size, block
// size bounded by LZ4_compressBound(page size), pgno <= Commit, no lock page,
// ascending page order, snapshots holding exactly pages 1..Commit (lock page
// skipped), the page index consistent with the frames read, the trailer rules
// (as the Go encoder's: PostApply zero without checksums, flagged otherwise,
// exactly the flag when Commit is 0), the file checksum, and no data after the
// trailer. Any violation -> kCorruption naming the offset and the problem;
// never a crash. Errors of the Source pass through with the
// offset as context. After any error every later call returns that error.
//
// Reads the Source in large chunks into its own buffer (it may read ahead, so
// the Source is consumed to its end). Memory: the read buffer (about two
// compressed pages or set_read_buffer_size(), 256 KiB by default) + the index
// (24 bytes per page unless set_keep_page_index(false)). Not thread-safe.
//
// Usage: Decoder d(&src); d.DecodeHeader(); while (d.NextPage(&pgno, buf)) ...;
// d.Close() (reads the index and trailer, checks the file checksum).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/crc64.h"
#include "base/io.h"
#include "ltx/format.h"

namespace walship::ltx {
namespace internal {
class PageFrameDecoder;
}  // namespace internal

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
  // Entries as read, once Close() succeeded (the frames seen, before that).
  const std::vector<PageIndexEntry>& page_index() const { return index_; }
  uint64_t bytes_read() const { return offset_; }
  // Call before DecodeHeader. When false, page_index() stays empty and memory
  // no longer grows with the file; the index is still checked against the
  // frames (count, order, offsets, and a hash of pgnos and sizes).
  void set_keep_page_index(bool keep) { keep_index_ = keep; }
  // Call before DecodeHeader: size of the read buffer (default 256 KiB; never
  // less than two compressed pages). Smaller saves memory when many decoders
  // run at once (a merge of many inputs), larger means fewer Source reads.
  void set_read_buffer_size(size_t bytes) { read_buffer_size_ = bytes; }

 private:
  // Makes n bytes available at buf_[pos_]; kCorruption at end of stream.
  Status Fill(size_t n, const char* what);
  const uint8_t* cur() const { return buf_.get() + pos_; }
  void GrowBuffer(size_t size);  // keeps [pos_, end_)
  size_t avail() const { return end_ - pos_; }
  void Consume(size_t n) {
    pos_ += n;
    offset_ += n;
  }
  Status CorruptAt(uint64_t off, const std::string& msg) const;
  Result<bool> ReadPage(uint32_t* pgno, uint8_t* buf);
  Status CheckPageOrder(uint64_t off, uint32_t pgno) const;
  Status ReadFramePayload(uint64_t off, uint32_t pgno, uint8_t* buf);
  Status EndOfPages(uint64_t off);
  Result<uint64_t> ReadUvarint(const char* what);
  Status ReadIndex();
  Status ReadTrailer();
  Status CheckEof();
  Status Sticky(Status s);

  Source* src_;
  Header header_;
  Trailer trailer_;
  bool header_read_ = false;
  bool pages_done_ = false;
  bool closed_ = false;
  bool keep_index_ = true;
  size_t read_buffer_size_ = 256 * 1024;
  Status error_;
  uint64_t offset_ = 0;  // bytes consumed from the Source
  uint32_t last_pgno_ = 0;
  Crc64 crc_;
  std::unique_ptr<uint8_t[]> buf_;  // read buffer, left uninitialised: valid bytes are [pos_, end_)
  size_t buf_size_ = 0;
  size_t pos_ = 0;
  size_t end_ = 0;
  bool eof_ = false;
  uint64_t frame_count_ = 0;
  uint64_t pages_end_ = 0;  // offset of the end-of-pages marker
  Crc64 frames_hash_;       // over (pgno, size) of every frame, for the index check
  std::vector<PageIndexEntry> index_;
  uint64_t db_checksum_ = 0;  // rolling, for checksum-tracked snapshots
  // Created on the first frame-encoded page.
  std::unique_ptr<internal::PageFrameDecoder> frame_decoder_;
};

// Decodes one whole file held in memory and verifies it: the `ltx verify` of
// a single object. Returns the header on success.
Result<Header> VerifyFile(Source* src);

// Random access: parse the page index from the last `tail` bytes of a file of
// `file_size` bytes. If the index is larger than `tail`, returns kOutOfRange
// with the required tail size in *need (caller re-fetches).
Result<std::vector<PageIndexEntry>> DecodePageIndexFromTail(const uint8_t* tail, size_t tail_len,
                                                            uint64_t file_size, uint64_t* need);

// Streaming page index parser (random access to big files without holding
// their index): feed the index bytes (the varints and the terminator, not the
// 8-byte length) in pieces of any size; each entry is validated as
// DecodePageIndexFromTail does (ascending pgno, offsets contiguous from the
// header, sizes within the page area) and handed to the callback; Finish()
// checks the terminator was the last byte and the frames end at the
// end-of-pages marker. The callback returns a Status (an error stops the
// feed and is returned). Memory: a few bytes of carry. kCorruption on any fault.
class PageIndexParser {
 public:
  // index_len: the stored index length; file_size: the whole file's size.
  PageIndexParser(uint64_t file_size, uint64_t index_len);
  template <class F>
  Status Feed(const uint8_t* p, size_t n, F&& on_entry) {
    while (n > 0) {
      size_t used = 0;
      PageIndexEntry e;
      bool have = false;
      WALSHIP_RETURN_IF_ERROR(Step(p, n, &used, &e, &have));
      p += used;
      n -= used;
      if (have) WALSHIP_RETURN_IF_ERROR(on_entry(e));
    }
    return Status::OK();
  }
  Status Finish() const;
  uint64_t entries() const { return count_; }
  // Offset of the end-of-pages marker (= where the frames must end).
  uint64_t pages_end() const { return pages_end_; }

 private:
  Status Step(const uint8_t* p, size_t n, size_t* used, PageIndexEntry* e, bool* have);
  Status Corrupt(const std::string& msg) const;
  uint64_t pages_end_ = 0;
  uint64_t left_ = 0;  // index bytes not yet fed
  bool bad_len_ = false;
  bool done_ = false;
  uint64_t count_ = 0;
  uint64_t prev_pgno_ = 0;
  uint64_t next_off_ = kHeaderSize;
  uint64_t v_[3] = {0, 0, 0};
  int field_ = 0;     // which of pgno, offset, size is being read
  int shift_ = 0;     // bits of the current varint read so far
  int vbytes_ = 0;    // bytes of the current varint read so far
};

// Decodes consecutive page frames from a Source that starts at a frame
// boundary (a run of frames located by the page index). For each frame:
// its page number, the stored bytes the file checksum counts before the page
// (page header, plus the size prefix of a block frame), the frame's size, and
// the decompressed page. Checks as the Decoder does per page (flags, size
// prefix bounds, decompressed size, LZ4 validity, not the lock page); order
// and Commit are the caller's (it knows them from the index). Memory: one
// read buffer (default 256 KiB, at least two compressed pages).
class FrameStreamDecoder {
 public:
  FrameStreamDecoder(Source* src, uint32_t page_size, size_t buffer_size = 256 * 1024);
  // Decodes the frames held in data[0, n) in place: no buffer, no copy.
  FrameStreamDecoder(const uint8_t* data, size_t n, uint32_t page_size);
  ~FrameStreamDecoder();
  FrameStreamDecoder(const FrameStreamDecoder&) = delete;
  FrameStreamDecoder& operator=(const FrameStreamDecoder&) = delete;
  struct Frame {
    uint32_t pgno = 0;
    uint8_t stored[kPageHeaderSize + 4];  // what the checksum counts before the page
    size_t stored_len = 0;
    uint64_t size = 0;                    // whole frame as stored
  };
  // Decodes the next frame into page (page_size bytes).
  Status Next(Frame* f, uint8_t* page);
  // Bytes consumed so far.
  uint64_t consumed() const { return consumed_; }
  // kCorruption unless the Source has no more bytes.
  Status ExpectEnd();

 private:
  Status Fill(size_t n);
  Source* src_;
  uint32_t page_size_;
  std::unique_ptr<uint8_t[]> buf_;  // the read buffer (none over memory)
  const uint8_t* data_ = nullptr;   // buf_, or the memory decoded in place
  size_t cap_ = 0, pos_ = 0, end_ = 0;
  bool eof_ = false;
  uint64_t consumed_ = 0;
  std::unique_ptr<internal::PageFrameDecoder> frame_decoder_;
};

// Sizes the page frame at p without decoding it (restore cuts a snapshot's
// stream into chunks as it arrives): returns the frame's size, or 0 while the
// n bytes at p do not reach its end yet (call again with more). *pgno is 0 at
// the end-of-pages marker (size kPageHeaderSize; its bytes are the caller's
// to check). kCorruption for what FrameStreamDecoder rejects before
// decompressing: invalid flags, the lock page, a size prefix out of range, a
// bad LZ4 frame header or a frame longer than a page's may be.
Result<uint64_t> MeasureFrame(const uint8_t* p, size_t n, uint32_t page_size, uint32_t* pgno);
// The most bytes MeasureFrame accepts for one frame of a page_size page.
uint64_t MaxFrameSize(uint32_t page_size);

// Decodes one page frame (as located by the page index) into out (page_size bytes).
Status DecodePageFrame(const uint8_t* frame, size_t frame_len, uint32_t page_size, uint32_t* pgno,
                       uint8_t* out);

}  // namespace walship::ltx
