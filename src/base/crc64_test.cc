#include "base/crc64.h"

#include <gtest/gtest.h>

#include <string>

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
