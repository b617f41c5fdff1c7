#include "ltx/format.h"

#include <cstring>

#include "base/coding.h"
#include "base/crc64.h"

namespace walship::ltx {
namespace {

constexpr uint64_t kInt64Max = uint64_t{0x7fffffffffffffff};

// Header field offsets (compat reference 1.2).
constexpr size_t kOffFlags = 4;
constexpr size_t kOffPageSize = 8;
constexpr size_t kOffCommit = 12;
constexpr size_t kOffMinTxid = 16;
constexpr size_t kOffMaxTxid = 24;
constexpr size_t kOffTimestamp = 32;
constexpr size_t kOffPreApply = 40;
constexpr size_t kOffWalOffset = 48;
constexpr size_t kOffWalSize = 56;
constexpr size_t kOffWalSalt1 = 64;
constexpr size_t kOffWalSalt2 = 68;
constexpr size_t kOffNodeId = 72;

std::string Hex16(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; i--) {
    s[size_t(i)] = kDigits[v & 0xf];
    v >>= 4;
  }
  return s;
}

// Value of one hex digit, or -1. Lowercase only when `lower_only`.
int HexValue(char c, bool lower_only) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (!lower_only && c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ParseHex(std::string_view s, bool lower_only, uint64_t* out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d = HexValue(c, lower_only);
    if (d < 0) return false;
    v = (v << 4) | uint64_t(d);
  }
  *out = v;
  return true;
}

}  // namespace

bool IsValidPageSize(uint32_t page_size) {
  return page_size >= kMinPageSize && page_size <= kMaxPageSize && (page_size & (page_size - 1)) == 0;
}

Status Header::Validate() const {
  if ((flags & ~kHeaderFlagNoChecksum) != 0) {
    return Corruption("invalid header flags 0x" + Hex16(flags).substr(8));
  }
  if (!IsValidPageSize(page_size)) return Corruption("invalid page size " + std::to_string(page_size));
  if (min_txid == 0) return Corruption("min TXID is zero");
  if (max_txid == 0) return Corruption("max TXID is zero");
  if (min_txid > max_txid) {
    return Corruption("min TXID " + Hex16(min_txid) + " is greater than max TXID " + Hex16(max_txid));
  }
  if (wal_offset > kInt64Max) return Corruption("negative WAL offset");
  if (wal_size > kInt64Max) return Corruption("negative WAL size");
  if ((wal_salt1 != 0 || wal_salt2 != 0) && wal_offset == 0) {
    return Corruption("WAL salt set but WAL offset is zero");
  }
  if (wal_offset == 0 && wal_size != 0) return Corruption("WAL size set but WAL offset is zero");
  if (IsSnapshot() || NoChecksum()) {
    if (pre_apply_checksum != 0) {
      return Corruption(std::string("pre-apply checksum must be zero for a ") +
                        (IsSnapshot() ? "snapshot" : "file without checksums"));
    }
  } else {
    if (pre_apply_checksum == 0) return Corruption("pre-apply checksum required");
    if ((pre_apply_checksum & kChecksumFlag) == 0) {
      return Corruption("pre-apply checksum " + Hex16(pre_apply_checksum) + " lacks the checksum flag");
    }
  }
  return Status::OK();
}

void Header::EncodeTo(uint8_t out[kHeaderSize]) const {
  std::memset(out, 0, kHeaderSize);
  std::memcpy(out, kMagic, sizeof(kMagic));
  PutBE32(out + kOffFlags, flags);
  PutBE32(out + kOffPageSize, page_size);
  PutBE32(out + kOffCommit, commit);
  PutBE64(out + kOffMinTxid, min_txid);
  PutBE64(out + kOffMaxTxid, max_txid);
  PutBE64(out + kOffTimestamp, static_cast<uint64_t>(timestamp_ms));
  PutBE64(out + kOffPreApply, pre_apply_checksum);
  PutBE64(out + kOffWalOffset, wal_offset);
  PutBE64(out + kOffWalSize, wal_size);
  PutBE32(out + kOffWalSalt1, wal_salt1);
  PutBE32(out + kOffWalSalt2, wal_salt2);
  PutBE64(out + kOffNodeId, node_id);
}

Result<Header> Header::Decode(const uint8_t* p, size_t n) {
  if (n < kHeaderSize) return Corruption("header too short (" + std::to_string(n) + " bytes)");
  if (std::memcmp(p, kMagic, sizeof(kMagic)) != 0) return Corruption("invalid LTX file");
  Header h;
  h.flags = GetBE32(p + kOffFlags);
  h.page_size = GetBE32(p + kOffPageSize);
  h.commit = GetBE32(p + kOffCommit);
  h.min_txid = GetBE64(p + kOffMinTxid);
  h.max_txid = GetBE64(p + kOffMaxTxid);
  h.timestamp_ms = static_cast<int64_t>(GetBE64(p + kOffTimestamp));
  h.pre_apply_checksum = GetBE64(p + kOffPreApply);
  h.wal_offset = GetBE64(p + kOffWalOffset);
  h.wal_size = GetBE64(p + kOffWalSize);
  h.wal_salt1 = GetBE32(p + kOffWalSalt1);
  h.wal_salt2 = GetBE32(p + kOffWalSalt2);
  h.node_id = GetBE64(p + kOffNodeId);
  WALSHIP_RETURN_IF_ERROR(h.Validate());
  return h;
}

std::string FormatTxid(uint64_t txid) { return Hex16(txid); }

std::string FormatChecksum(uint64_t checksum) { return Hex16(checksum); }

std::string FormatFileName(uint64_t min_txid, uint64_t max_txid) {
  return Hex16(min_txid) + "-" + Hex16(max_txid) + ".ltx";
}

bool ParseFileName(std::string_view name, uint64_t* min_txid, uint64_t* max_txid) {
  // ^[0-9a-f]{16}-[0-9a-f]{16}\.ltx$
  if (name.size() != 16 + 1 + 16 + 4 || name[16] != '-' || name.substr(33) != ".ltx") return false;
  uint64_t lo = 0;
  uint64_t hi = 0;
  if (!ParseHex(name.substr(0, 16), true, &lo) || !ParseHex(name.substr(17, 16), true, &hi)) return false;
  if (min_txid != nullptr) *min_txid = lo;
  if (max_txid != nullptr) *max_txid = hi;
  return true;
}

Result<uint64_t> ParseTxid(std::string_view s) {
  uint64_t v = 0;
  if (!ParseHex(s, false, &v)) {
    return InvalidArgument("invalid TXID \"" + std::string(s) + "\": want 1 to 16 hex digits");
  }
  if (v == 0) return InvalidArgument("invalid TXID \"" + std::string(s) + "\": must not be zero");
  return v;
}

uint64_t PageChecksum(uint32_t pgno, const uint8_t* data, size_t page_size) {
  uint8_t be[4];
  PutBE32(be, pgno);
  Crc64 crc;
  crc.Update(be, sizeof(be));
  crc.Update(data, page_size);
  return kChecksumFlag | crc.Sum();
}

}  // namespace walship::ltx
