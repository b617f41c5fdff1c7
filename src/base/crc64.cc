#include "base/crc64.h"

#include <array>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define WALSHIP_CRC64_CLMUL 1
#include <immintrin.h>
#else
#define WALSHIP_CRC64_CLMUL 0
#endif

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

uint64_t Crc64RawTable(uint64_t crc, const uint8_t* p, size_t n) {
  const auto& t = GetTables().t;
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

#if WALSHIP_CRC64_CLMUL
// Folding with carry-less multiplication (Intel, "Fast CRC Computation for
// Generic Polynomials Using PCLMULQDQ", for a reflected 64-bit CRC).
//
// A 16-byte block loaded little-endian holds bit j <-> x^(127-j): its low
// qword L is the high-degree half (L * x^64), its high qword H the low one.
// Moving a block D bits further (multiplying by x^D mod P) is
//   L * (x^(D+64) mod P) + H * (x^D mod P),
// and a reflected carry-less product carries one extra factor x, so the
// constants are x^(D+63) mod P (for L) and x^(D-1) mod P (for H), reflected.
// The register is XORed into the first 8 bytes (as the table loop does); at
// the end the one remaining block and the last < 16 bytes go through the
// table loop from register 0.

// x^n mod P in normal (not reflected) order, P = x^64 + x^4 + x^3 + x + 1.
constexpr uint64_t XPowMod(unsigned n) {
  uint64_t r = 1;
  for (unsigned i = 0; i < n; i++) r = (r << 1) ^ ((r >> 63) ? 0x1BULL : 0);
  return r;
}

constexpr uint64_t Reflect64(uint64_t v) {
  uint64_t r = 0;
  for (int i = 0; i < 64; i++) r |= ((v >> i) & 1) << (63 - i);
  return r;
}

// {constant for the low qword, constant for the high qword} to fold D bits.
struct FoldConstants {
  uint64_t lo, hi;
};
constexpr FoldConstants FoldBy(unsigned bits) { return {Reflect64(XPowMod(bits + 63)), Reflect64(XPowMod(bits - 1))}; }
constexpr FoldConstants kFold128 = FoldBy(128);
constexpr FoldConstants kFold512 = FoldBy(512);

__attribute__((target("pclmul,sse4.1"))) inline __m128i Fold(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

__attribute__((target("pclmul,sse4.1"))) uint64_t Crc64RawClmul(uint64_t crc, const uint8_t* p, size_t n) {
  auto load = [](const uint8_t* q) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(q)); };
  const __m128i k128 = _mm_set_epi64x(int64_t(kFold128.hi), int64_t(kFold128.lo));
  __m128i x = _mm_xor_si128(load(p), _mm_cvtsi64_si128(int64_t(crc)));
  p += 16;
  n -= 16;
  if (n >= 64) {
    const __m128i k512 = _mm_set_epi64x(int64_t(kFold512.hi), int64_t(kFold512.lo));
    __m128i x1 = load(p), x2 = load(p + 16), x3 = load(p + 32);
    p += 48;
    n -= 48;
    while (n >= 64) {
      x = _mm_xor_si128(Fold(x, k512), load(p));
      x1 = _mm_xor_si128(Fold(x1, k512), load(p + 16));
      x2 = _mm_xor_si128(Fold(x2, k512), load(p + 32));
      x3 = _mm_xor_si128(Fold(x3, k512), load(p + 48));
      p += 64;
      n -= 64;
    }
    x = _mm_xor_si128(Fold(x, k128), x1);
    x = _mm_xor_si128(Fold(x, k128), x2);
    x = _mm_xor_si128(Fold(x, k128), x3);
  }
  while (n >= 16) {
    x = _mm_xor_si128(Fold(x, k128), load(p));
    p += 16;
    n -= 16;
  }
  alignas(16) uint8_t last[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(last), x);
  return Crc64RawTable(Crc64RawTable(0, last, 16), p, n);
}

bool HaveClmul() {
  static const bool have = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return have;
}
#endif

}  // namespace

uint64_t Crc64Raw(uint64_t crc, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
#if WALSHIP_CRC64_CLMUL
  if (n >= 64 && HaveClmul()) return Crc64RawClmul(crc, p, n);
#endif
  return Crc64RawTable(crc, p, n);
}

uint64_t Crc64RawPortable(uint64_t crc, const void* data, size_t n) {
  return Crc64RawTable(crc, static_cast<const uint8_t*>(data), n);
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
