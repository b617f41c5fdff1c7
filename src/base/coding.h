#pragma once
// Fixed-width big/little-endian coding and unsigned LEB128 varints (Go's
// binary.AppendUvarint), used by the LTX and WAL formats.

#include <cstddef>
#include <cstdint>
#include <string>

namespace walship {

inline void PutBE16(uint8_t* p, uint16_t v) { p[0] = uint8_t(v >> 8); p[1] = uint8_t(v); }
inline void PutBE32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v >> 24); p[1] = uint8_t(v >> 16); p[2] = uint8_t(v >> 8); p[3] = uint8_t(v);
}
inline void PutBE64(uint8_t* p, uint64_t v) {
  PutBE32(p, uint32_t(v >> 32));
  PutBE32(p + 4, uint32_t(v));
}
inline uint16_t GetBE16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
inline uint32_t GetBE32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
inline uint64_t GetBE64(const uint8_t* p) { return (uint64_t(GetBE32(p)) << 32) | GetBE32(p + 4); }
inline uint32_t GetLE32(const uint8_t* p) {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline void PutLE32(uint8_t* p, uint32_t v) {
  p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); p[2] = uint8_t(v >> 16); p[3] = uint8_t(v >> 24);
}

// Appends v as an unsigned LEB128 varint.
inline void AppendUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(char(uint8_t(v) | 0x80));
    v >>= 7;
  }
  out->push_back(char(uint8_t(v)));
}

// Decodes an unsigned varint from [p, end). Returns bytes consumed, or 0 if
// truncated or overflowing 64 bits.
inline size_t GetUvarint(const uint8_t* p, const uint8_t* end, uint64_t* v) {
  uint64_t x = 0;
  unsigned shift = 0;
  for (size_t i = 0; p + i < end; i++) {
    uint8_t b = p[i];
    if (i == 9 && b > 1) return 0;  // overflow
    if (b < 0x80) {
      *v = x | (uint64_t(b) << shift);
      return i + 1;
    }
    x |= uint64_t(b & 0x7f) << shift;
    shift += 7;
    if (i >= 9) return 0;
  }
  return 0;
}

}  // namespace walship
