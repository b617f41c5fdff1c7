#include "base/crc64.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace walship {
namespace {

TEST(Crc64, MatchesGoIsoVectors) {
  EXPECT_EQ(Crc64Of("123456789", 9), 0xb90956c775a41001ULL);
  EXPECT_EQ(Crc64Of("", 0), 0ULL);
  EXPECT_EQ(Crc64Of("a", 1), 0x3420000000000000ULL);
}

TEST(Crc64, StreamingEqualsOneShotAtEverySplit) {
  std::string data;
  for (int i = 0; i < 1000; i++) data.push_back(char(i * 31 + 7));
  uint64_t want = Crc64Of(data.data(), data.size());
  for (size_t split = 0; split <= data.size(); split += 13) {
    Crc64 c;
    c.Update(data.data(), split);
    c.Update(data.data() + split, data.size() - split);
    EXPECT_EQ(c.Sum(), want) << "split " << split;
  }
}

}  // namespace
}  // namespace walship

namespace walship {
namespace {

TEST(Crc64, CombineEqualsOneShotAtRandomSplits) {
  const uint64_t seed = 20261126;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 40; round++) {
    std::string data(rng() % 5000, '\0');
    for (auto& c : data) c = char(rng());
    const uint64_t want = Crc64Of(data.data(), data.size());
    // Split into up to 6 random pieces, CRC each alone, combine in order.
    std::vector<size_t> cuts = {0, data.size()};
    for (int i = 0; i < 5 && !data.empty(); i++) cuts.push_back(rng() % (data.size() + 1));
    std::sort(cuts.begin(), cuts.end());
    uint64_t crc = 0;  // CRC of the empty string
    for (size_t i = 0; i + 1 < cuts.size(); i++) {
      const size_t len = cuts[i + 1] - cuts[i];
      crc = Crc64Combine(crc, Crc64Of(data.data() + cuts[i], len), len);
    }
    EXPECT_EQ(crc, want) << "round " << round << " size " << data.size();
  }
  EXPECT_EQ(Crc64Combine(Crc64Of("12345", 5), Crc64Of("6789", 4), 4), 0xb90956c775a41001ULL);
}

TEST(Crc64, ShiftJoinsAPageCrcIntoAStream) {
  std::mt19937_64 rng(7);
  for (uint32_t len : {1u, 7u, 512u, 4096u}) {
    std::string page(len, '\0');
    for (auto& c : page) c = char(rng());
    const Crc64Shift shift(len);
    for (uint64_t reg : {uint64_t{0}, ~uint64_t{0}, uint64_t(rng())}) {
      EXPECT_EQ(shift.Apply(reg) ^ Crc64Raw(0, page.data(), len), Crc64Raw(reg, page.data(), len)) << len;
    }
  }
}

}  // namespace
}  // namespace walship

namespace walship {
namespace {

// Crc64Raw may take a carry-less-multiply path: it must agree with the
// portable loop at every length around the block sizes, at every alignment,
// from any register.
TEST(Crc64, FastPathEqualsPortableLoop) {
  const uint64_t seed = 1126;
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> buf(70000 + 16);
  for (auto& b : buf) b = uint8_t(rng());
  std::vector<size_t> lens;
  for (size_t n = 0; n <= 300; n++) lens.push_back(n);
  for (size_t n : {1000u, 4095u, 4096u, 4097u, 4106u, 65536u, 70000u}) lens.push_back(n);
  for (int i = 0; i < 50; i++) lens.push_back(rng() % 70000);
  for (size_t n : lens) {
    for (size_t align = 0; align < 16; align += (n > 300 ? 5 : 3)) {
      for (uint64_t reg : {uint64_t{0}, ~uint64_t{0}, uint64_t(rng())}) {
        ASSERT_EQ(Crc64Raw(reg, buf.data() + align, n), Crc64RawPortable(reg, buf.data() + align, n))
            << "len " << n << " align " << align << " reg " << reg;
      }
    }
  }
  // All zeros and all ones (carry patterns the random data may miss).
  std::vector<uint8_t> zeros(5000, 0), ones(5000, 0xff);
  EXPECT_EQ(Crc64Raw(~uint64_t{0}, zeros.data(), zeros.size()), Crc64RawPortable(~uint64_t{0}, zeros.data(), zeros.size()));
  EXPECT_EQ(Crc64Raw(0, ones.data(), ones.size()), Crc64RawPortable(0, ones.data(), ones.size()));
}

TEST(Crc64, LongInputMatchesGoIsoVector) {
  // "123456789" repeated: the one-shot CRC (fast path) equals the CRC built
  // from the 9-byte vector by Crc64Combine (no long input involved).
  std::string data;
  for (int i = 0; i < 200; i++) data += "123456789";
  uint64_t want = 0;
  for (int i = 0; i < 200; i++) want = Crc64Combine(want, 0xb90956c775a41001ULL, 9);
  EXPECT_EQ(Crc64Of(data.data(), data.size()), want);
}

}  // namespace
}  // namespace walship
