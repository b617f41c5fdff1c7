#pragma once
// CRC-64/GO-ISO (Go hash/crc64 with the ISO table): poly 0x1B reflected
// (0xD800000000000000), init and xorout all ones. Used by every LTX checksum.
// Vectors: "123456789" -> b90956c775a41001, "" -> 0, "a" -> 3420000000000000.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace walship {

class Crc64 {
 public:
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  uint64_t Sum() const { return ~state_; }
  // The raw register (Sum() == ~state()), for Crc64Raw / Crc64Shift.
  uint64_t state() const { return state_; }
  void set_state(uint64_t s) { state_ = s; }
  void Reset() { state_ = ~uint64_t{0}; }

 private:
  uint64_t state_ = ~uint64_t{0};
};

uint64_t Crc64Of(const void* data, size_t n);

// Combining (zlib's crc32_combine, for this CRC): the CRC of A||B from
// crc1 = CRC(A), crc2 = CRC(B) and len2 = |B|. O(log len2) 64x64 GF(2)
// matrix-vector products (operators for 2^k zero bytes are built once);
// fine per chunk, too slow per page (use Crc64Shift).
uint64_t Crc64Combine(uint64_t crc1, uint64_t crc2, uint64_t len2);

// The raw register step (no pre/post inversion): what Crc64::Update does to
// its state. Crc64Raw(0, B) is the linear part of B's CRC. On x86-64 with
// PCLMULQDQ (checked at run time) inputs of 64 bytes and more are folded with
// carry-less multiplies; elsewhere, and for short inputs, slicing-by-8.
uint64_t Crc64Raw(uint64_t reg, const void* data, size_t n);
// Crc64Raw by slicing-by-8 only, whatever the CPU (tests compare the two).
uint64_t Crc64RawPortable(uint64_t reg, const void* data, size_t n);

// Appending `len` zero bytes to a raw register, precomputed for one length
// (e.g. a page size): eight table lookups per Apply. With it a page's CRC is
// computed once (Crc64Raw(0, page)) and joined into several streams:
//   reg' = shift.Apply(reg) ^ Crc64Raw(0, page)  ==  Crc64Raw(reg, page).
class Crc64Shift {
 public:
  explicit Crc64Shift(uint64_t len);
  uint64_t Apply(uint64_t reg) const;

 private:
  uint64_t t_[8][256];
};

}  // namespace walship
