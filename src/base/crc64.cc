#include "base/crc64.h"

#include <array>

namespace walship {
namespace {

// Slicing-by-8 tables for the reflected ISO polynomial.
struct Tables {
  std::array<std::array<uint64_t, 256>, 8> t{};
  Tables() {
    constexpr uint64_t kPoly = 0xD800000000000000ULL;
    for (int i = 0; i < 256; i++) {
      uint64_t crc = uint64_t(i);
      for (int j = 0; j < 8; j++) crc = (crc & 1) ? (crc >> 1) ^ kPoly : crc >> 1;
      t[0][i] = crc;
    }
    for (int i = 0; i < 256; i++) {
      uint64_t crc = t[0][i];
      for (int k = 1; k < 8; k++) {
        crc = t[0][crc & 0xff] ^ (crc >> 8);
        t[k][i] = crc;
      }
    }
  }
};

const Tables& GetTables() {
  static const Tables tables;
  return tables;
}

}  // namespace

uint64_t Crc64Raw(uint64_t crc, const void* data, size_t n) {
  const auto& t = GetTables().t;
  const auto* p = static_cast<const uint8_t*>(data);
  while (n >= 8) {
    crc ^= uint64_t(p[0]) | uint64_t(p[1]) << 8 | uint64_t(p[2]) << 16 | uint64_t(p[3]) << 24 |
           uint64_t(p[4]) << 32 | uint64_t(p[5]) << 40 | uint64_t(p[6]) << 48 | uint64_t(p[7]) << 56;
    crc = t[7][crc & 0xff] ^ t[6][(crc >> 8) & 0xff] ^ t[5][(crc >> 16) & 0xff] ^
          t[4][(crc >> 24) & 0xff] ^ t[3][(crc >> 32) & 0xff] ^ t[2][(crc >> 40) & 0xff] ^
          t[1][(crc >> 48) & 0xff] ^ t[0][crc >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

void Crc64::Update(const void* data, size_t n) { state_ = Crc64Raw(state_, data, n); }

namespace {

// GF(2) 64x64 matrices as 64 columns: m[i] is the image of bit i.
using Mat = std::array<uint64_t, 64>;

uint64_t MatTimes(const Mat& m, uint64_t v) {
  uint64_t r = 0;
  for (int i = 0; v != 0; i++, v >>= 1) {
    if (v & 1) r ^= m[i];
  }
  return r;
}

Mat MatSquare(const Mat& m) {
  Mat r;
  for (int i = 0; i < 64; i++) r[i] = MatTimes(m, m[i]);
  return r;
}

// pow2[k]: the operator "append 2^k zero bytes" on a raw register.
struct Pow2Ops {
  std::array<Mat, 64> pow2;
  Pow2Ops() {
    Mat bit;  // one zero bit
    bit[0] = 0xD800000000000000ULL;
    for (int i = 1; i < 64; i++) bit[i] = uint64_t{1} << (i - 1);
    Mat m = MatSquare(MatSquare(MatSquare(bit)));  // eight bits: one byte
    for (int k = 0; k < 64; k++) {
      pow2[k] = m;
      m = MatSquare(m);
    }
  }
};

const Pow2Ops& GetPow2Ops() {
  static const Pow2Ops ops;
  return ops;
}

// Appends len zero bytes to a raw register: one matrix-vector product per set bit of len.
uint64_t ApplyZeros(uint64_t reg, uint64_t len) {
  const auto& ops = GetPow2Ops().pow2;
  for (int k = 0; len != 0; k++, len >>= 1) {
    if (len & 1) reg = MatTimes(ops[k], reg);
  }
  return reg;
}

}  // namespace

uint64_t Crc64Combine(uint64_t crc1, uint64_t crc2, uint64_t len2) {
  // With init and xorout all ones they cancel: CRC(A||B) = Z(CRC(A)) ^ CRC(B).
  return ApplyZeros(crc1, len2) ^ crc2;
}

Crc64Shift::Crc64Shift(uint64_t len) {
  Mat m;
  for (int i = 0; i < 64; i++) m[i] = ApplyZeros(uint64_t{1} << i, len);
  for (int k = 0; k < 8; k++) {
    for (int b = 0; b < 256; b++) {
      uint64_t v = 0;
      for (int j = 0; j < 8; j++) {
        if (b & (1 << j)) v ^= m[8 * k + j];
      }
      t_[k][b] = v;
    }
  }
}

uint64_t Crc64Shift::Apply(uint64_t reg) const {
  return t_[0][reg & 0xff] ^ t_[1][(reg >> 8) & 0xff] ^ t_[2][(reg >> 16) & 0xff] ^ t_[3][(reg >> 24) & 0xff] ^
         t_[4][(reg >> 32) & 0xff] ^ t_[5][(reg >> 40) & 0xff] ^ t_[6][(reg >> 48) & 0xff] ^ t_[7][reg >> 56];
}

uint64_t Crc64Of(const void* data, size_t n) {
  Crc64 c;
  c.Update(data, n);
  return c.Sum();
}

}  // namespace walship
