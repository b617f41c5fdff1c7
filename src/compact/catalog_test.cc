#include "compact/catalog.h"

#include <gtest/gtest.h>

#include "ltx/format.h"
#include "storage/mem_store.h"

namespace walship::compact {
namespace {

LtxFileInfo F(int level, uint64_t mn, uint64_t mx, int64_t created, uint64_t size = 10) {
  return {level, mn, mx, size, created, ""};
}

class CatalogTest : public ::testing::Test {
 protected:
  void Put(int level, uint64_t mn, uint64_t mx, int64_t ts) {
    storage::PutOptions po;
    po.timestamp_ms = ts;
    ASSERT_TRUE(mem_->PutBytes(replica_->Key(level, mn, mx), "x", po).ok());
  }
  std::shared_ptr<storage::MemStore> mem_ = std::make_shared<storage::MemStore>();
  std::shared_ptr<replica::Replica> replica_ =
      std::make_shared<replica::Replica>(mem_, "p", storage::KeyLayout::kS3);
};

TEST_F(CatalogTest, LoadListsEachLevelOnce) {
  Put(0, 3, 3, 30);
  Put(0, 1, 1, 10);
  Put(0, 2, 2, 20);
  Put(1, 1, 3, 30);
  Put(9, 1, 3, 31);
  Catalog c(replica_);
  EXPECT_FALSE(c.loaded());
  ASSERT_TRUE(c.EnsureLoaded().ok());
  EXPECT_TRUE(c.loaded());
  EXPECT_EQ(mem_->lists.load(), 10);
  ASSERT_TRUE(c.EnsureLoaded().ok());
  EXPECT_EQ(mem_->lists.load(), 10) << "loaded: no second listing";
  auto l0 = c.Files(0);
  ASSERT_EQ(l0.size(), 3u);
  EXPECT_EQ(l0[0].min_txid, 1u);
  EXPECT_EQ(l0[2].min_txid, 3u);
  EXPECT_EQ(l0[0].key, replica_->Key(0, 1, 1));
  EXPECT_EQ(l0[1].created_ms, 20);
  EXPECT_EQ(c.All().size(), 5u);
  EXPECT_EQ(c.MaxTxid(0), 3u);
  EXPECT_EQ(c.MaxTxid(2), 0u);
  EXPECT_EQ(c.MaxTxidAllLevels(), 3u);
  EXPECT_FALSE(c.Newest(2).has_value());
  EXPECT_EQ(c.Newest(9)->created_ms, 31);
  EXPECT_TRUE(c.Files(10).empty());
  EXPECT_TRUE(c.Files(-1).empty());
  c.Invalidate();
  EXPECT_FALSE(c.loaded());
  ASSERT_TRUE(c.EnsureLoaded().ok());
  EXPECT_EQ(mem_->lists.load(), 20);
}

TEST_F(CatalogTest, AddKeepsOrderAndReplacesTheSameRange) {
  Catalog c(replica_);
  c.Add(F(1, 11, 20, 200));
  c.Add(F(1, 1, 10, 100));
  c.Add(F(1, 21, 21, 210));
  c.Add(F(1, 11, 20, 250, 99));  // replaces
  auto l1 = c.Files(1);
  ASSERT_EQ(l1.size(), 3u);
  EXPECT_EQ(l1[0].min_txid, 1u);
  EXPECT_EQ(l1[1].min_txid, 11u);
  EXPECT_EQ(l1[1].size, 99u);
  EXPECT_EQ(l1[2].min_txid, 21u);
  EXPECT_EQ(c.Newest(1)->max_txid, 21u);
  // Ties in MaxTXID: the later created.
  c.Add(F(1, 15, 21, 300));
  EXPECT_EQ(c.Newest(1)->min_txid, 15u);
  c.Remove({F(1, 15, 21, 0), F(1, 1, 10, 0), F(1, 5, 5, 0)});
  l1 = c.Files(1);
  ASSERT_EQ(l1.size(), 2u);
  EXPECT_EQ(l1[0].min_txid, 11u);
  EXPECT_EQ(c.MaxTxid(1), 21u);
  c.Add(F(12, 1, 1, 1));  // not a level: ignored
  EXPECT_EQ(c.All().size(), 2u);
}

TEST_F(CatalogTest, LoadReplacesTheCachedView) {
  Catalog c(replica_);
  c.Add(F(0, 7, 7, 70));  // recorded before any load, not in the replica
  Put(0, 1, 1, 10);
  ASSERT_TRUE(c.Load().ok());
  auto l0 = c.Files(0);
  ASSERT_EQ(l0.size(), 1u);
  EXPECT_EQ(l0[0].min_txid, 1u);
}

}  // namespace
}  // namespace walship::compact
