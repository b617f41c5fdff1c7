#include "base/coding.h"

#include <gtest/gtest.h>

namespace walship {
namespace {

TEST(Coding, BigEndianRoundTrip) {
  uint8_t b[8];
  PutBE64(b, 0x0102030405060708ULL);
  EXPECT_EQ(b[0], 1);
  EXPECT_EQ(b[7], 8);
  EXPECT_EQ(GetBE64(b), 0x0102030405060708ULL);
  PutBE32(b, 0xdeadbeef);
  EXPECT_EQ(GetBE32(b), 0xdeadbeefu);
  PutBE16(b, 0xabcd);
  EXPECT_EQ(GetBE16(b), 0xabcd);
}

TEST(Coding, UvarintRoundTripAndRejectsTruncation) {
  for (uint64_t v : {0ULL, 1ULL, 127ULL, 128ULL, 300ULL, 0xffffffffULL, ~0ULL}) {
    std::string s;
    AppendUvarint(&s, v);
    uint64_t got = 0;
    auto* p = reinterpret_cast<const uint8_t*>(s.data());
    EXPECT_EQ(GetUvarint(p, p + s.size(), &got), s.size());
    EXPECT_EQ(got, v);
    if (s.size() > 1) {
      EXPECT_EQ(GetUvarint(p, p + s.size() - 1, &got), 0u);
    }
  }
  std::string s;
  AppendUvarint(&s, 300);
  EXPECT_EQ(s, std::string("\xac\x02"));
}

TEST(Coding, UvarintRejectsOverflow) {
  std::string s(10, '\xff');
  s.push_back('\x01');
  uint64_t v;
  auto* p = reinterpret_cast<const uint8_t*>(s.data());
  EXPECT_EQ(GetUvarint(p, p + s.size(), &v), 0u);
}

}  // namespace
}  // namespace walship
