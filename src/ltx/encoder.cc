#include "ltx/encoder.h"

#include <lz4.h>
#include <lz4frame.h>

#include <cstring>

#include "base/coding.h"

// Implementation notes.
// - Each page frame is assembled in cbuf_ (page header, optional size prefix,
//   compressed payload) and handed to the sink in one Write.
// - The file checksum covers the stored page header and size prefix, then the
//   *uncompressed* page (compat reference 1.6), never the LZ4 payload.
// - Frame encoding uses one long-lived LZ4F context with the preferences of
//   compat reference 1.3; Begin/Update/End with autoFlush produce the same bytes
//   as LZ4F_compressFrame (checked by the known-answer test).

namespace walship::ltx {
namespace {

constexpr size_t kBlockPrefixSize = 4;

LZ4F_preferences_t FramePrefs() {
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  prefs.frameInfo.frameType = LZ4F_frame;
  prefs.frameInfo.contentSize = 0;
  prefs.compressionLevel = 0;
  prefs.autoFlush = 1;
  return prefs;
}

Status Invalid(const Status& s) { return Status(Code::kInvalidArgument, "ltx encode: " + s.message()); }

std::string LzfError(size_t code) { return LZ4F_getErrorName(code); }

}  // namespace

Encoder::Encoder(Sink* sink, PageEncoding encoding) : sink_(sink), encoding_(encoding) {}

Encoder::~Encoder() {
  if (lz4f_ctx_ != nullptr) LZ4F_freeCompressionContext(static_cast<LZ4F_cctx*>(lz4f_ctx_));
}

Status Encoder::WriteRaw(const void* p, size_t n) {
  WALSHIP_RETURN_IF_ERROR(sink_->Write(p, n));
  offset_ += n;
  return Status::OK();
}

Status Encoder::EncodeHeader(const Header& h) {
  if (header_written_) return InvalidArgument("ltx encode: header already written");
  Status v = h.Validate();
  if (!v.ok()) return Invalid(v);
  header_ = h;
  if (encoding_ == PageEncoding::kBlock) {
    cbuf_.resize(kPageHeaderSize + kBlockPrefixSize + size_t(LZ4_compressBound(int(h.page_size))));
  } else {
    LZ4F_preferences_t prefs = FramePrefs();
    cbuf_.resize(kPageHeaderSize + LZ4F_compressFrameBound(h.page_size, &prefs));
    if (lz4f_ctx_ == nullptr) {
      LZ4F_cctx* ctx = nullptr;
      size_t rc = LZ4F_createCompressionContext(&ctx, LZ4F_VERSION);
      if (LZ4F_isError(rc)) return Internal("ltx encode: lz4f context: " + LzfError(rc));
      lz4f_ctx_ = ctx;
    }
  }
  uint8_t buf[kHeaderSize];
  h.EncodeTo(buf);
  crc_.Update(buf, sizeof(buf));
  WALSHIP_RETURN_IF_ERROR(WriteRaw(buf, sizeof(buf)));
  header_written_ = true;
  return Status::OK();
}

Status Encoder::CheckPageOrder(uint32_t pgno) const {
  // Messages are built only on failure: this runs once per page.
  auto bad = [&](const std::string& why) {
    return InvalidArgument("ltx encode: page " + std::to_string(pgno) + ": " + why);
  };
  if (pgno == 0) return bad("page number zero");
  if (pgno > header_.commit) return bad("beyond commit " + std::to_string(header_.commit));
  const uint32_t lock = LockPgno(header_.page_size);
  if (pgno == lock) return bad("is the lock page");
  if (header_.IsSnapshot()) {
    uint32_t want = last_pgno_ + 1;
    if (want == lock) want++;
    if (pgno != want) return bad("nonsequential page in snapshot (want " + std::to_string(want) + ")");
  } else if (pgno <= last_pgno_) {
    return bad("out of order (after page " + std::to_string(last_pgno_) + ")");
  }
  return Status::OK();
}

Result<size_t> Encoder::CompressPage(const uint8_t* data) {
  const uint32_t page_size = header_.page_size;
  auto* out = reinterpret_cast<uint8_t*>(cbuf_.data());
  if (encoding_ == PageEncoding::kBlock) {
    const int bound = LZ4_compressBound(int(page_size));
    int n = LZ4_compress_default(reinterpret_cast<const char*>(data),
                                 reinterpret_cast<char*>(out + kPageHeaderSize + kBlockPrefixSize),
                                 int(page_size), bound);
    if (n <= 0) return Internal("ltx encode: lz4 block compression failed");
    PutBE32(out + kPageHeaderSize, uint32_t(n));
    return kPageHeaderSize + kBlockPrefixSize + size_t(n);
  }
  auto* ctx = static_cast<LZ4F_cctx*>(lz4f_ctx_);
  LZ4F_preferences_t prefs = FramePrefs();
  uint8_t* dst = out + kPageHeaderSize;
  size_t cap = cbuf_.size() - kPageHeaderSize;
  size_t total = 0;
  size_t rc = LZ4F_compressBegin(ctx, dst, cap, &prefs);
  if (LZ4F_isError(rc)) return Internal("ltx encode: lz4f begin: " + LzfError(rc));
  total += rc;
  rc = LZ4F_compressUpdate(ctx, dst + total, cap - total, data, page_size, nullptr);
  if (LZ4F_isError(rc)) return Internal("ltx encode: lz4f update: " + LzfError(rc));
  total += rc;
  rc = LZ4F_compressEnd(ctx, dst + total, cap - total, nullptr);
  if (LZ4F_isError(rc)) return Internal("ltx encode: lz4f end: " + LzfError(rc));
  total += rc;
  return kPageHeaderSize + total;
}

Status Encoder::EncodePage(uint32_t pgno, const uint8_t* data) {
  if (!header_written_) return InvalidArgument("ltx encode: page before header");
  if (closed_) return InvalidArgument("ltx encode: page after close");
  WALSHIP_RETURN_IF_ERROR(CheckPageOrder(pgno));

  WALSHIP_ASSIGN_OR_RETURN(size_t frame_size, CompressPage(data));
  auto* out = reinterpret_cast<uint8_t*>(cbuf_.data());
  PutBE32(out, pgno);
  PutBE16(out + 4, encoding_ == PageEncoding::kBlock ? kPageFlagSize : 0);
  const size_t stored_prefix =
      encoding_ == PageEncoding::kBlock ? kPageHeaderSize + kBlockPrefixSize : kPageHeaderSize;
  crc_.Update(out, stored_prefix);
  crc_.Update(data, header_.page_size);
  if (header_.IsSnapshot() && !header_.NoChecksum()) {
    db_checksum_ ^= PageChecksum(pgno, data, header_.page_size);
  }

  AppendUvarint(&index_, pgno);
  AppendUvarint(&index_, offset_);
  AppendUvarint(&index_, frame_size);
  WALSHIP_RETURN_IF_ERROR(WriteRaw(out, frame_size));
  last_pgno_ = pgno;
  page_count_++;
  return Status::OK();
}

Status Encoder::CheckTrailer(uint64_t post_apply_checksum) const {
  if (header_.IsSnapshot()) {
    uint64_t next = uint64_t{last_pgno_} + 1;
    if (next == LockPgno(header_.page_size)) next++;
    if (next <= header_.commit) {
      return InvalidArgument("ltx encode: snapshot ends at page " + std::to_string(last_pgno_) +
                             " but commit is " + std::to_string(header_.commit));
    }
  }
  // As the Go encoder: Commit 0 needs PostApply == ChecksumFlag, so such a
  // file cannot be written without checksums (compat reference 1.5).
  if (header_.commit == 0 && post_apply_checksum != kChecksumFlag) {
    return InvalidArgument(
        header_.NoChecksum() ? "ltx encode: a file with commit 0 cannot be written without checksums"
                             : "ltx encode: post-apply checksum of an empty database must be the flag alone");
  }
  if (header_.NoChecksum()) {
    if (post_apply_checksum != 0) {
      return InvalidArgument("ltx encode: post-apply checksum not allowed without checksums");
    }
    return Status::OK();
  }
  if ((post_apply_checksum & kChecksumFlag) == 0) {
    return InvalidArgument("ltx encode: post-apply checksum lacks the checksum flag");
  }
  if (header_.IsSnapshot() && post_apply_checksum != (kChecksumFlag | db_checksum_)) {
    return InvalidArgument("ltx encode: post-apply checksum does not match the snapshot's pages");
  }
  return Status::OK();
}

Status Encoder::Close(uint64_t post_apply_checksum) {
  if (!header_written_) return InvalidArgument("ltx encode: close before header");
  if (closed_) return InvalidArgument("ltx encode: already closed");
  WALSHIP_RETURN_IF_ERROR(CheckTrailer(post_apply_checksum));

  // End-of-pages marker, page index, index length, trailer: one write.
  std::string tail(kPageHeaderSize, '\0');
  tail.append(index_);
  tail.push_back('\0');  // index terminator (uvarint 0)
  uint8_t u64[8];
  PutBE64(u64, uint64_t(index_.size() + 1));
  tail.append(reinterpret_cast<const char*>(u64), sizeof(u64));
  PutBE64(u64, post_apply_checksum);
  tail.append(reinterpret_cast<const char*>(u64), sizeof(u64));
  crc_.Update(tail);
  file_checksum_ = kChecksumFlag | crc_.Sum();
  PutBE64(u64, file_checksum_);
  tail.append(reinterpret_cast<const char*>(u64), sizeof(u64));
  WALSHIP_RETURN_IF_ERROR(WriteRaw(tail.data(), tail.size()));
  closed_ = true;
  std::string().swap(index_);
  return Status::OK();
}

}  // namespace walship::ltx
