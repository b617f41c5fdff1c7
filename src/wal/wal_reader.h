#pragma once
// SQLite WAL file reader (https://sqlite.org/fileformat2.html#walformat).
//
// Header (32 B, big-endian fields): magic 0x377f0682 (checksums use
// little-endian words) or 0x377f0683 (big-endian), version 3007000, page size,
// checkpoint sequence, salt-1, salt-2, checksum-1, checksum-2 (over bytes 0..23).
// Frame: 24-byte header (pgno, commit = db size in pages for a commit frame else
// 0, salt-1, salt-2, checksum-1, checksum-2) + page. The checksum is cumulative:
// seeded with the previous frame's (or the header's) checksum, over frame
// header bytes 0..7 and then the page.
//
// A reader stops (Next returns false) at the first frame whose salts differ
// from the header's, whose cumulative checksum fails, or that is short. Pages
// are read through the caller's File; the reader never keeps more than one page.

#include <cstdint>
#include <vector>

#include "base/file.h"
#include "base/status.h"

namespace walship::wal {

inline constexpr size_t kHeaderSize = 32;
inline constexpr size_t kFrameHeaderSize = 24;
inline constexpr uint32_t kMagicLE = 0x377f0682;
inline constexpr uint32_t kMagicBE = 0x377f0683;
inline constexpr uint32_t kVersion = 3007000;

struct Header {
  uint32_t magic = 0;
  uint32_t version = 0;
  uint32_t page_size = 0;
  uint32_t checkpoint_seq = 0;
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  uint32_t checksum1 = 0;
  uint32_t checksum2 = 0;
};

// Parses and validates magic, version, page size and the header checksum.
// A short or invalid header -> kCorruption (or kOutOfRange if n < 32).
Result<Header> ParseHeader(const uint8_t* p, size_t n);

struct Frame {
  uint64_t offset = 0;  // of the frame header in the WAL file
  uint32_t pgno = 0;
  uint32_t commit = 0;  // non-zero on a commit frame: db size in pages
  uint32_t salt1 = 0, salt2 = 0;
  uint32_t checksum1 = 0, checksum2 = 0;
};

inline uint64_t FrameSize(uint32_t page_size) { return kFrameHeaderSize + page_size; }

class Reader {
 public:
  // Reads and validates the WAL header from f (which must outlive the Reader).
  static Result<Reader> Open(const File* f);

  // Continues a generation whose header is no longer in the file (the WAL
  // restarted since): frames at `offset` and after must carry gen's salts and
  // continue the checksum chain from (ck1, ck2), the previous frame's
  // checksum. gen's magic and page size say how to checksum.
  static Reader Resume(const File* f, const Header& gen, uint64_t offset, uint32_t ck1, uint32_t ck2);

  const Header& header() const { return hdr_; }
  uint32_t page_size() const { return hdr_.page_size; }

  // Positions the reader so the next frame read is the one at `offset` (a
  // frame boundary, >= 32). For offset > 32 the previous frame is read to seed
  // the running checksum (its own checksum is not re-verified) and must carry
  // the header's salts; otherwise kFailedPrecondition ("previous frame salt
  // mismatch"; also when the previous frame is missing because the WAL is
  // shorter) and the caller should restart from offset 32. An offset that is
  // not a frame boundary -> kInvalidArgument. A failed Seek leaves the reader
  // where it was.
  Status Seek(uint64_t offset);

  // Reads the next valid frame; page (page_size bytes) may be null to skip the
  // data (the checksum is still verified). Returns false at the end of the
  // valid frames of this WAL generation (short frame, foreign salts, pgno 0,
  // checksum mismatch) and keeps returning false there; frame and page are
  // written only when it returns true. Errors are I/O errors only.
  Result<bool> Next(Frame* frame, uint8_t* page);

  // Offset of the next frame to be read.
  uint64_t offset() const { return offset_; }

 private:
  Reader(const File* f, Header h) : f_(f), hdr_(h), offset_(kHeaderSize), s1_(h.checksum1), s2_(h.checksum2) {}
  const File* f_;
  Header hdr_;
  uint64_t offset_;
  uint32_t s1_, s2_;
  std::vector<uint8_t> buf_;
};

// Reads the frame header at offset without validating its checksum. kOutOfRange if short.
Result<Frame> ReadFrameHeader(const File& f, uint64_t offset);

// Scans frame headers from offset 32 to the end of the file and returns the
// distinct (salt1, salt2) pairs in the order met (no checksum checks): used to
// tell one WAL restart from several. Reads headers only (a trailing frame
// header whose page is cut off still counts). Invalid page_size -> kInvalidArgument.
Result<std::vector<std::pair<uint32_t, uint32_t>>> ScanFrameSalts(const File& f, uint32_t page_size);

}  // namespace walship::wal
