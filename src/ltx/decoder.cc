#include "ltx/decoder.h"

#include <algorithm>
#include <cstring>

#include "base/coding.h"
#include "ltx/lz4_page.h"

// Implementation notes.
// - Input is read into buf_ in chunks of up to the buffer's free space, so a
//   page frame usually costs no Source::Read at all and a large file costs one
//   Read per ~buffer. Block payloads are decompressed straight from buf_ into
//   the caller's page; nothing is allocated per page.
// - The file checksum (compat reference 1.6) covers stored page headers and
//   size prefixes, then the uncompressed page; never the LZ4 payload.
// - Legacy frame pages have no length: the LZ4 frame is parsed incrementally
//   (LZ4F_decompress until it reports the frame's end).

namespace walship::ltx {
namespace {

constexpr size_t kMinBuffer = 4096;  // holds the header
constexpr size_t kBlockPrefixSize = 4;
constexpr size_t kMaxUvarint = 10;

}  // namespace

Decoder::Decoder(Source* src) : src_(src) {}

Decoder::~Decoder() = default;

Status Decoder::CorruptAt(uint64_t off, const std::string& msg) const {
  return Corruption("ltx decode: offset " + std::to_string(off) + ": " + msg);
}

Status Decoder::Sticky(Status s) {
  if (!s.ok() && error_.ok()) error_ = s;
  return s;
}

Status Decoder::Fill(size_t n, const char* what) {
  if (end_ - pos_ >= n) return Status::OK();
  if (n > buf_size_) return Internal("ltx decode: read of " + std::to_string(n) + " bytes exceeds buffer");
  if (pos_ + n > buf_size_) {
    std::memmove(buf_.get(), buf_.get() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  while (end_ - pos_ < n) {
    if (eof_) {
      return CorruptAt(offset_ + (end_ - pos_), std::string("unexpected end of file reading ") + what);
    }
    Result<size_t> got = src_->Read(buf_.get() + end_, buf_size_ - end_);
    if (!got.ok()) return got.status().WithContext("ltx decode: offset " + std::to_string(offset_));
    if (*got == 0) eof_ = true;
    end_ += *got;
  }
  return Status::OK();
}

void Decoder::GrowBuffer(size_t size) {
  // new[] without () leaves the bytes uninitialised: no zero-fill per decoder.
  std::unique_ptr<uint8_t[]> b(new uint8_t[size]);
  if (end_ > pos_) std::memcpy(b.get(), buf_.get() + pos_, end_ - pos_);
  end_ -= pos_;
  pos_ = 0;
  buf_ = std::move(b);
  buf_size_ = size;
}

Status Decoder::DecodeHeader() {
  if (!error_.ok()) return error_;
  if (header_read_) return InvalidArgument("ltx decode: header already read");
  GrowBuffer(std::max(kMinBuffer, read_buffer_size_));
  WALSHIP_RETURN_IF_ERROR(Sticky(Fill(kHeaderSize, "header")));
  Result<Header> h = Header::Decode(cur(), kHeaderSize);
  if (!h.ok()) return Sticky(CorruptAt(0, h.status().message()));
  header_ = *h;
  crc_.Update(cur(), kHeaderSize);
  Consume(kHeaderSize);
  // Room for two whole block frames, so a refill rarely splits one.
  size_t frame_max = kPageHeaderSize + kBlockPrefixSize + internal::MaxBlockSize(header_.page_size);
  if (buf_size_ < 2 * frame_max) GrowBuffer(2 * frame_max);
  header_read_ = true;
  return Status::OK();
}

Result<bool> Decoder::NextPage(uint32_t* pgno, uint8_t* buf) {
  if (!error_.ok()) return error_;
  if (!header_read_) return InvalidArgument("ltx decode: NextPage before DecodeHeader");
  if (pages_done_) return false;
  Result<bool> r = ReadPage(pgno, buf);
  if (!r.ok()) Sticky(r.status()).IgnoreError();
  return r;
}

Status Decoder::CheckPageOrder(uint64_t off, uint32_t pgno) const {
  // Messages are built only on failure: this runs once per page.
  auto bad = [&](const std::string& why) {
    return CorruptAt(off, "page " + std::to_string(pgno) + ": " + why);
  };
  if (pgno > header_.commit) return bad("beyond commit " + std::to_string(header_.commit));
  const uint32_t lock = LockPgno(header_.page_size);
  if (pgno == lock) return bad("lock page stored");
  if (header_.IsSnapshot()) {
    uint32_t want = last_pgno_ + 1;
    if (want == lock) want++;
    if (pgno != want) return bad("nonsequential page in snapshot (want " + std::to_string(want) + ")");
  } else if (pgno <= last_pgno_) {
    return bad("out of order after page " + std::to_string(last_pgno_));
  }
  return Status::OK();
}

Status Decoder::EndOfPages(uint64_t off) {
  if (header_.IsSnapshot()) {
    uint64_t next = uint64_t{last_pgno_} + 1;
    if (next == LockPgno(header_.page_size)) next++;
    if (next <= header_.commit) {
      return CorruptAt(off, "snapshot ends at page " + std::to_string(last_pgno_) + " but commit is " +
                                std::to_string(header_.commit));
    }
  }
  crc_.Update(cur(), kPageHeaderSize);
  Consume(kPageHeaderSize);
  pages_end_ = off;
  pages_done_ = true;
  return Status::OK();
}

Status Decoder::ReadFramePayload(uint64_t off, uint32_t pgno, uint8_t* buf) {
  auto bad = [&](const Status& s) {
    return CorruptAt(off, "page " + std::to_string(pgno) + ": " + s.message());
  };
  WALSHIP_RETURN_IF_ERROR(Fill(internal::kFrameStartSize, "lz4 frame"));
  Status s = internal::CheckFrameStart(cur());
  if (!s.ok()) return bad(s);
  if (frame_decoder_ == nullptr) frame_decoder_ = std::make_unique<internal::PageFrameDecoder>();
  WALSHIP_RETURN_IF_ERROR(frame_decoder_->Begin(buf, header_.page_size));
  bool done = false;
  while (!done) {
    if (avail() == 0) WALSHIP_RETURN_IF_ERROR(Fill(1, "lz4 frame"));
    size_t used = 0;
    s = frame_decoder_->Feed(cur(), avail(), &used, &done);
    if (!s.ok()) return bad(s);
    Consume(used);
  }
  return Status::OK();
}

Result<bool> Decoder::ReadPage(uint32_t* pgno, uint8_t* buf) {
  const uint64_t off = offset_;
  WALSHIP_RETURN_IF_ERROR(Fill(kPageHeaderSize, "page header"));
  const uint32_t pg = GetBE32(cur());
  const uint16_t flags = GetBE16(cur() + 4);
  if (pg == 0) {
    if (flags != 0) return CorruptAt(off, "end-of-pages marker has flags " + FormatChecksum(flags).substr(12));
    WALSHIP_RETURN_IF_ERROR(EndOfPages(off));
    return false;
  }
  if ((flags & ~kPageFlagSize) != 0) {
    return CorruptAt(off, "page " + std::to_string(pg) + ": invalid page flags " + FormatChecksum(flags).substr(12));
  }
  WALSHIP_RETURN_IF_ERROR(CheckPageOrder(off, pg));
  const uint32_t page_size = header_.page_size;
  if ((flags & kPageFlagSize) != 0) {
    WALSHIP_RETURN_IF_ERROR(Fill(kPageHeaderSize + kBlockPrefixSize, "page size prefix"));
    const uint32_t n = GetBE32(cur() + kPageHeaderSize);
    if (n == 0 || n > internal::MaxBlockSize(page_size)) {
      return CorruptAt(off, "page " + std::to_string(pg) + ": compressed size " + std::to_string(n) +
                                " out of range 1.." + std::to_string(internal::MaxBlockSize(page_size)));
    }
    crc_.Update(cur(), kPageHeaderSize + kBlockPrefixSize);
    Consume(kPageHeaderSize + kBlockPrefixSize);
    WALSHIP_RETURN_IF_ERROR(Fill(n, "lz4 block"));
    Status s = internal::DecodeBlock(cur(), n, page_size, buf);
    if (!s.ok()) return CorruptAt(off, "page " + std::to_string(pg) + ": " + s.message());
    Consume(n);
  } else {
    crc_.Update(cur(), kPageHeaderSize);
    Consume(kPageHeaderSize);
    WALSHIP_RETURN_IF_ERROR(ReadFramePayload(off, pg, buf));
  }
  crc_.Update(buf, page_size);
  if (header_.IsSnapshot() && !header_.NoChecksum()) db_checksum_ ^= PageChecksum(pg, buf, page_size);

  const uint64_t size = offset_ - off;
  uint8_t h[12];
  PutBE32(h, pg);
  PutBE64(h + 4, size);
  frames_hash_.Update(h, sizeof(h));
  if (keep_index_) index_.push_back(PageIndexEntry{pg, off, size});
  frame_count_++;
  last_pgno_ = pg;
  *pgno = pg;
  return true;
}

Result<uint64_t> Decoder::ReadUvarint(const char* what) {
  const uint64_t off = offset_;
  // A valid file has the 24-byte index length and trailer after any varint.
  WALSHIP_RETURN_IF_ERROR(Fill(kMaxUvarint, what));
  uint64_t v = 0;
  size_t n = GetUvarint(cur(), cur() + kMaxUvarint, &v);
  if (n == 0) return CorruptAt(off, std::string("invalid varint in ") + what);
  crc_.Update(cur(), n);
  Consume(n);
  return v;
}

Status Decoder::ReadIndex() {
  const uint64_t start = offset_;
  uint64_t i = 0;
  uint64_t prev_pgno = 0;
  uint64_t next_off = kHeaderSize;
  Crc64 hash;
  for (;;) {
    const uint64_t entry_off = offset_;
    WALSHIP_ASSIGN_OR_RETURN(uint64_t pgno, ReadUvarint("page index"));
    if (pgno == 0) break;
    if (i >= frame_count_) {
      return CorruptAt(
          entry_off, "page index has more entries than the " + std::to_string(frame_count_) + " pages read");
    }
    WALSHIP_ASSIGN_OR_RETURN(uint64_t off, ReadUvarint("page index"));
    WALSHIP_ASSIGN_OR_RETURN(uint64_t size, ReadUvarint("page index"));
    auto bad = [&](const std::string& why) {
      return CorruptAt(entry_off, "page index entry " + std::to_string(i) + " (pgno " + std::to_string(pgno) +
                                      ", offset " + std::to_string(off) + ", size " + std::to_string(size) +
                                      "): " + why);
    };
    if (pgno <= prev_pgno || pgno > UINT32_MAX) return bad("pgno out of order");
    if (off != next_off) return bad("offset does not follow the previous frame");
    if (keep_index_) {
      const PageIndexEntry& e = index_[i];
      if (e.pgno != pgno || e.size != size) {
        return bad("page frame read there was pgno " + std::to_string(e.pgno) + ", size " +
                   std::to_string(e.size));
      }
    }
    uint8_t h[12];
    PutBE32(h, uint32_t(pgno));
    PutBE64(h + 4, size);
    hash.Update(h, sizeof(h));
    prev_pgno = pgno;
    next_off += size;
    i++;
  }
  if (i != frame_count_) {
    return CorruptAt(start, "page index has " + std::to_string(i) + " entries, file has " +
                                std::to_string(frame_count_) + " pages");
  }
  if (next_off != pages_end_ || hash.Sum() != frames_hash_.Sum()) {
    return CorruptAt(start, "page index does not match the page frames read");
  }
  const uint64_t len = offset_ - start;
  const uint64_t len_off = offset_;
  WALSHIP_RETURN_IF_ERROR(Fill(8, "page index length"));
  const uint64_t stored = GetBE64(cur());
  if (stored != len) {
    return CorruptAt(len_off, "page index length " + std::to_string(stored) + ", index is " +
                                  std::to_string(len) + " bytes");
  }
  crc_.Update(cur(), 8);
  Consume(8);
  return Status::OK();
}

Status Decoder::ReadTrailer() {
  const uint64_t off = offset_;
  WALSHIP_RETURN_IF_ERROR(Fill(kTrailerSize, "trailer"));
  trailer_.post_apply_checksum = GetBE64(cur());
  trailer_.file_checksum = GetBE64(cur() + 8);
  crc_.Update(cur(), 8);
  Consume(kTrailerSize);
  const uint64_t want = kChecksumFlag | crc_.Sum();
  if (trailer_.file_checksum != want) {
    return CorruptAt(
        off + 8, "file checksum mismatch: stored " + FormatChecksum(trailer_.file_checksum) + ", computed " + FormatChecksum(want));
  }
  const uint64_t post = trailer_.post_apply_checksum;
  if (header_.commit == 0 && post != kChecksumFlag) {
    return CorruptAt(off,
                     "post-apply checksum " + FormatChecksum(post) + " of a commit-0 file is not the checksum flag");
  }
  if (header_.NoChecksum()) {
    if (post != 0) return CorruptAt(off, "post-apply checksum " + FormatChecksum(post) + " set without checksums");
    return Status::OK();
  }
  if ((post & kChecksumFlag) == 0) {
    return CorruptAt(off, "post-apply checksum " + FormatChecksum(post) + " lacks the checksum flag");
  }
  if (header_.IsSnapshot() && post != (kChecksumFlag | db_checksum_)) {
    return CorruptAt(off, "post-apply checksum " + FormatChecksum(post) + " does not match the snapshot's pages (" +
                              FormatChecksum(kChecksumFlag | db_checksum_) + ")");
  }
  return Status::OK();
}

Status Decoder::CheckEof() {
  if (avail() == 0 && !eof_) {
    pos_ = end_ = 0;
    Result<size_t> got = src_->Read(buf_.get(), 1);
    if (!got.ok()) return got.status().WithContext("ltx decode: offset " + std::to_string(offset_));
    if (*got == 0) eof_ = true;
    end_ = *got;
  }
  if (avail() != 0) return CorruptAt(offset_, "data after the trailer");
  return Status::OK();
}

Status Decoder::Close() {
  if (!error_.ok()) return error_;
  if (!header_read_ || !pages_done_) {
    return InvalidArgument("ltx decode: Close before the end of the pages was read");
  }
  if (closed_) return Status::OK();
  WALSHIP_RETURN_IF_ERROR(Sticky(ReadIndex()));
  WALSHIP_RETURN_IF_ERROR(Sticky(ReadTrailer()));
  WALSHIP_RETURN_IF_ERROR(Sticky(CheckEof()));
  closed_ = true;
  return Status::OK();
}

Result<Header> VerifyFile(Source* src) {
  Decoder d(src);
  d.set_keep_page_index(false);
  WALSHIP_RETURN_IF_ERROR(d.DecodeHeader());
  std::string page(d.header().page_size, '\0');
  auto* buf = reinterpret_cast<uint8_t*>(page.data());
  uint32_t pgno = 0;
  for (;;) {
    WALSHIP_ASSIGN_OR_RETURN(bool more, d.NextPage(&pgno, buf));
    if (!more) break;
  }
  WALSHIP_RETURN_IF_ERROR(d.Close());
  return d.header();
}

}  // namespace walship::ltx
