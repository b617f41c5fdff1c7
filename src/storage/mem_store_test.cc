#include "storage/mem_store.h"

#include <gtest/gtest.h>

namespace walship::storage {
namespace {

TEST(MemStore, CorruptFlipsOneByte) {
  MemStore s;
  ASSERT_TRUE(s.PutBytes("k", std::string("\x00\x01\x02", 3)).ok());
  s.Corrupt("k", 1);
  EXPECT_EQ(*s.GetBytes("k"), std::string("\x00\xfe\x02", 3));
  s.Corrupt("k", 3);        // past the end: no-op
  s.Corrupt("missing", 0);  // no-op
  EXPECT_EQ(*s.GetBytes("k"), std::string("\x00\xfe\x02", 3));
}

TEST(MemStore, CountsCallsAndObjects) {
  MemStore s;
  ASSERT_TRUE(s.PutBytes("a", "1").ok());
  ASSERT_TRUE(s.PutBytes("b", "2").ok());
  EXPECT_FALSE(s.PutBytes("b", "3").ok());
  ASSERT_TRUE(s.GetBytes("a").ok());
  ASSERT_TRUE(s.Head("a").ok());
  ASSERT_TRUE(s.List("").ok());
  ASSERT_TRUE(s.Delete({"a"}).ok());
  EXPECT_EQ(s.puts.load(), 3);
  EXPECT_EQ(s.gets.load(), 1);
  EXPECT_EQ(s.heads.load(), 1);
  EXPECT_EQ(s.lists.load(), 1);
  EXPECT_EQ(s.deletes.load(), 1);
  EXPECT_EQ(s.object_count(), 1u);
  EXPECT_EQ(s.Describe(), "mem://");
}

}  // namespace
}  // namespace walship::storage
