#pragma once
// LTX v3 on-disk format (magic "LTX1"): constants, header, trailer, file
// names and checksums. See docs/FORMAT.md and the compat reference section 1.
//
// Layout: Header (100 B) | page frames ... | 6-byte zero page header |
//         page index (uvarints pgno, offset, size ... 0) | u64 BE index length |
//         Trailer (16 B: PostApplyChecksum, FileChecksum).
// All integers big-endian. Knows nothing of storage.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace walship::ltx {

inline constexpr char kMagic[4] = {'L', 'T', 'X', '1'};
inline constexpr size_t kHeaderSize = 100;
inline constexpr size_t kTrailerSize = 16;
inline constexpr size_t kPageHeaderSize = 6;
inline constexpr uint32_t kHeaderFlagNoChecksum = 0x00000002;
inline constexpr uint16_t kPageFlagSize = 0x0001;  // block encoding: u32 size + LZ4 block
inline constexpr uint64_t kChecksumFlag = uint64_t{1} << 63;
inline constexpr uint32_t kMinPageSize = 512;
inline constexpr uint32_t kMaxPageSize = 65536;
inline constexpr int kSnapshotLevel = 9;
inline constexpr int kMaxLevel = 9;

// The page holding SQLite's PENDING_BYTE (1 GiB): never stored, zeros on restore.
inline uint32_t LockPgno(uint32_t page_size) { return 0x40000000u / page_size + 1; }
bool IsValidPageSize(uint32_t page_size);

struct Header {
  uint32_t flags = kHeaderFlagNoChecksum;
  uint32_t page_size = 0;
  uint32_t commit = 0;         // database size in pages after applying this file
  uint64_t min_txid = 0;
  uint64_t max_txid = 0;
  int64_t timestamp_ms = 0;    // creation time, ms since the epoch
  uint64_t pre_apply_checksum = 0;
  uint64_t wal_offset = 0;
  uint64_t wal_size = 0;
  uint32_t wal_salt1 = 0;
  uint32_t wal_salt2 = 0;
  uint64_t node_id = 0;

  bool IsSnapshot() const { return min_txid == 1; }
  bool NoChecksum() const { return (flags & kHeaderFlagNoChecksum) != 0; }
  // Rules of compat reference 1.2. Returns kCorruption naming the field.
  Status Validate() const;
  void EncodeTo(uint8_t out[kHeaderSize]) const;
  // Decodes and validates. Bad magic -> kCorruption "invalid LTX file".
  static Result<Header> Decode(const uint8_t* p, size_t n);
};

struct Trailer {
  uint64_t post_apply_checksum = 0;
  uint64_t file_checksum = 0;
};

// One entry of the page index: where a page frame sits in the file.
struct PageIndexEntry {
  uint32_t pgno = 0;
  uint64_t offset = 0;  // of the page header, from file start
  uint64_t size = 0;    // whole frame: header (+ size prefix) + payload
};

// "%016x-%016x.ltx"
std::string FormatFileName(uint64_t min_txid, uint64_t max_txid);
// Strict: ^[0-9a-f]{16}-[0-9a-f]{16}\.ltx$. Returns false otherwise.
bool ParseFileName(std::string_view name, uint64_t* min_txid, uint64_t* max_txid);
// 16 lowercase hex digits.
std::string FormatTxid(uint64_t txid);
// A checksum as 16 lower-case hex digits (as Litestream prints them).
std::string FormatChecksum(uint64_t checksum);
// Accepts 1..16 hex digits (Litestream's form is exactly 16). Rejects 0.
Result<uint64_t> ParseTxid(std::string_view s);

// ChecksumFlag | CRC64(u32_be(pgno) || data).
uint64_t PageChecksum(uint32_t pgno, const uint8_t* data, size_t page_size);

}  // namespace walship::ltx
