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
  void Reset() { state_ = ~uint64_t{0}; }

 private:
  uint64_t state_ = ~uint64_t{0};
};

uint64_t Crc64Of(const void* data, size_t n);

}  // namespace walship
