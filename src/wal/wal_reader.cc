#include "wal/wal_reader.h"

#include <cstring>
#include <set>
#include <string>
#include <utility>

#include "base/coding.h"

namespace walship::wal {
namespace {

// SQLite's WAL checksum (walChecksumBytes): a Fletcher-like sum over pairs of
// 32-bit words, seeded with (*s1, *s2). n must be a multiple of 8. Words are
// read big-endian for magic 0x377f0683 and little-endian for 0x377f0682,
// whatever the host's byte order.
void Checksum(bool big_endian, const uint8_t* p, size_t n, uint32_t* s1, uint32_t* s2) {
  uint32_t a = *s1;
  uint32_t b = *s2;
  const uint8_t* end = p + n;
  if (big_endian) {
    for (; p < end; p += 8) {
      a += GetBE32(p) + b;
      b += GetBE32(p + 4) + a;
    }
  } else {
    for (; p < end; p += 8) {
      a += GetLE32(p) + b;
      b += GetLE32(p + 4) + a;
    }
  }
  *s1 = a;
  *s2 = b;
}

bool IsBigEndian(uint32_t magic) { return (magic & 1) != 0; }

bool ValidPageSize(uint32_t n) { return n >= 512 && n <= 65536 && (n & (n - 1)) == 0; }

std::string Hex32(uint32_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(8, '0');
  for (int i = 7; i >= 0; i--, v >>= 4) s[size_t(i)] = kDigits[v & 0xf];
  return s;
}

Frame DecodeFrameHeader(const uint8_t* p, uint64_t offset) {
  Frame fr;
  fr.offset = offset;
  fr.pgno = GetBE32(p);
  fr.commit = GetBE32(p + 4);
  fr.salt1 = GetBE32(p + 8);
  fr.salt2 = GetBE32(p + 12);
  fr.checksum1 = GetBE32(p + 16);
  fr.checksum2 = GetBE32(p + 20);
  return fr;
}

}  // namespace

Result<Header> ParseHeader(const uint8_t* p, size_t n) {
  if (n < kHeaderSize) {
    return OutOfRange("wal header: short (" + std::to_string(n) + " of 32 bytes)");
  }
  Header h;
  h.magic = GetBE32(p);
  h.version = GetBE32(p + 4);
  h.page_size = GetBE32(p + 8);
  h.checkpoint_seq = GetBE32(p + 12);
  h.salt1 = GetBE32(p + 16);
  h.salt2 = GetBE32(p + 20);
  h.checksum1 = GetBE32(p + 24);
  h.checksum2 = GetBE32(p + 28);
  if (h.magic != kMagicLE && h.magic != kMagicBE) {
    return Corruption("wal header: bad magic " + Hex32(h.magic));
  }
  if (h.version != kVersion) {
    return Corruption("wal header: unsupported version " + std::to_string(h.version));
  }
  if (!ValidPageSize(h.page_size)) {
    return Corruption("wal header: invalid page size " + std::to_string(h.page_size));
  }
  uint32_t s1 = 0;
  uint32_t s2 = 0;
  Checksum(IsBigEndian(h.magic), p, 24, &s1, &s2);
  if (s1 != h.checksum1 || s2 != h.checksum2) {
    return Corruption("wal header: checksum mismatch (stored " + Hex32(h.checksum1) + "/" +
                      Hex32(h.checksum2) + ", computed " + Hex32(s1) + "/" + Hex32(s2) + ")");
  }
  return h;
}

Result<Reader> Reader::Open(const File* f) {
  uint8_t buf[kHeaderSize];
  WALSHIP_ASSIGN_OR_RETURN(size_t got, f->PRead(buf, sizeof(buf), 0));
  Result<Header> h = ParseHeader(buf, got);
  if (!h.ok()) return h.status().WithContext(f->path());
  return Reader(f, *h);
}

Status Reader::Seek(uint64_t offset) {
  const uint64_t fsize = FrameSize(hdr_.page_size);
  if (offset < kHeaderSize || (offset - kHeaderSize) % fsize != 0) {
    return InvalidArgument("wal seek " + f_->path() + ": offset " + std::to_string(offset) +
                           " is not a frame boundary");
  }
  if (offset == kHeaderSize) {
    offset_ = kHeaderSize;
    s1_ = hdr_.checksum1;
    s2_ = hdr_.checksum2;
    return Status::OK();
  }
  // The previous frame's stored checksum seeds the running checksum. A frame
  // that is missing (WAL truncated) or from another generation means the
  // caller's position no longer describes this WAL.
  Result<Frame> prev = ReadFrameHeader(*f_, offset - fsize);
  if (!prev.ok()) {
    if (prev.status().code() != Code::kOutOfRange) return prev.status();
    return FailedPrecondition("wal seek " + f_->path() + ": previous frame at " +
                              std::to_string(offset - fsize) + " is short (wal truncated)");
  }
  if (prev->salt1 != hdr_.salt1 || prev->salt2 != hdr_.salt2) {
    return FailedPrecondition("wal seek " + f_->path() + ": previous frame salt mismatch at " +
                              std::to_string(offset - fsize));
  }
  offset_ = offset;
  s1_ = prev->checksum1;
  s2_ = prev->checksum2;
  return Status::OK();
}

Reader Reader::Resume(const File* f, const Header& gen, uint64_t offset, uint32_t ck1, uint32_t ck2) {
  Reader r(f, gen);
  r.offset_ = offset;
  r.s1_ = ck1;
  r.s2_ = ck2;
  return r;
}

Result<bool> Reader::Next(Frame* frame, uint8_t* page) {
  const size_t fsize = size_t(FrameSize(hdr_.page_size));
  buf_.resize(fsize);
  WALSHIP_ASSIGN_OR_RETURN(size_t got, f_->PRead(buf_.data(), fsize, offset_));
  if (got < fsize) return false;  // torn or absent frame: end of the WAL

  Frame fr = DecodeFrameHeader(buf_.data(), offset_);
  // Same order of checks as SQLite's walDecodeFrame.
  if (fr.salt1 != hdr_.salt1 || fr.salt2 != hdr_.salt2) return false;  // older generation
  if (fr.pgno == 0) return false;
  uint32_t s1 = s1_;
  uint32_t s2 = s2_;
  const bool be = IsBigEndian(hdr_.magic);
  Checksum(be, buf_.data(), 8, &s1, &s2);
  Checksum(be, buf_.data() + kFrameHeaderSize, hdr_.page_size, &s1, &s2);
  if (s1 != fr.checksum1 || s2 != fr.checksum2) return false;

  s1_ = s1;
  s2_ = s2;
  offset_ += fsize;
  if (frame != nullptr) *frame = fr;
  if (page != nullptr) std::memcpy(page, buf_.data() + kFrameHeaderSize, hdr_.page_size);
  return true;
}

Result<Frame> ReadFrameHeader(const File& f, uint64_t offset) {
  uint8_t buf[kFrameHeaderSize];
  WALSHIP_RETURN_IF_ERROR(f.PReadFull(buf, sizeof(buf), offset));
  return DecodeFrameHeader(buf, offset);
}

Result<std::vector<std::pair<uint32_t, uint32_t>>> ScanFrameSalts(const File& f, uint32_t page_size) {
  if (!ValidPageSize(page_size)) {
    return InvalidArgument("wal scan salts: invalid page size " + std::to_string(page_size));
  }
  std::vector<std::pair<uint32_t, uint32_t>> out;
  std::set<std::pair<uint32_t, uint32_t>> seen;  // garbage tails may hold many pairs
  for (uint64_t off = kHeaderSize;; off += FrameSize(page_size)) {
    uint8_t buf[kFrameHeaderSize];
    WALSHIP_ASSIGN_OR_RETURN(size_t got, f.PRead(buf, sizeof(buf), off));
    if (got < sizeof(buf)) break;
    std::pair<uint32_t, uint32_t> salts(GetBE32(buf + 8), GetBE32(buf + 12));
    if (seen.insert(salts).second) out.push_back(salts);
  }
  return out;
}

}  // namespace walship::wal
