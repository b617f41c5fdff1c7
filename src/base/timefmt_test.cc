#include "base/timefmt.h"

#include <gtest/gtest.h>

namespace walship {
namespace {

TEST(TimeFmt, Rfc3339RoundTrip) {
  auto r = ParseRfc3339("2026-01-02T03:04:05.123Z");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(FormatRfc3339Ms(*r), "2026-01-02T03:04:05.123Z");
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:01Z"), 1000);
  EXPECT_EQ(*ParseRfc3339("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:00.123456789Z"), 123);
}

TEST(TimeFmt, Rfc3339RejectsGarbage) {
  for (const char* s : {"", "2026", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00Zjunk",
                        "yesterday"}) {
    EXPECT_FALSE(ParseRfc3339(s).ok()) << s;
  }
}

TEST(TimeFmt, GoDurations) {
  EXPECT_EQ(*ParseDurationMs("1s"), 1000);
  EXPECT_EQ(*ParseDurationMs("500ms"), 500);
  EXPECT_EQ(*ParseDurationMs("1m30s"), 90'000);
  EXPECT_EQ(*ParseDurationMs("24h"), 86'400'000);
  EXPECT_EQ(*ParseDurationMs("1.5h"), 5'400'000);
  EXPECT_EQ(*ParseDurationMs("0"), 0);
  EXPECT_FALSE(ParseDurationMs("1d").ok());
  EXPECT_FALSE(ParseDurationMs("abc").ok());
  EXPECT_FALSE(ParseDurationMs("10").ok());
}

TEST(TimeFmt, ByteSizes) {
  EXPECT_EQ(*ParseByteSize("5242880"), 5242880u);
  EXPECT_EQ(*ParseByteSize("5MiB"), 5u * 1024 * 1024);
  EXPECT_EQ(*ParseByteSize("5MB"), 5'000'000u);
  EXPECT_FALSE(ParseByteSize("5 parsecs").ok());
  EXPECT_FALSE(ParseByteSize("1.2.3MB").ok());
  EXPECT_FALSE(ParseByteSize("...").ok());
  EXPECT_FALSE(ParseByteSize("99999999999999999999999GiB").ok());
  EXPECT_FALSE(ParseDurationMs("1.2.3s").ok());
  EXPECT_FALSE(ParseDurationMs("999999999999999999999h").ok());
}

}  // namespace
}  // namespace walship
