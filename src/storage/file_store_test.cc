// FileStore specifics beyond the contract suite (tests/contract): key
// validation, the on-disk layout, temp files, timestamps as mtimes.

#include "storage/file_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/file.h"

namespace walship::storage {
namespace {

class FileStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/walship-filestore-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    root_ = dir_ + "/root";
    auto s = FileStore::Create(root_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }

  // Every file and directory under root, relative, sorted.
  std::vector<std::string> Tree() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root_)) {
      out.push_back(std::filesystem::relative(e.path(), root_).string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_, root_;
  std::unique_ptr<FileStore> store_;
};

class FailAfter final : public Source {
 public:
  explicit FailAfter(size_t n) : left_(n) {}
  Result<size_t> Read(void* buf, size_t n) override {
    if (left_ == 0) return IOError("injected");
    n = std::min(n, left_);
    std::fill_n(static_cast<char*>(buf), n, 'z');
    left_ -= n;
    return n;
  }

 private:
  size_t left_;
};

TEST_F(FileStoreTest, CreateMakesTheRootDirectory) {
  EXPECT_TRUE(FileExists(root_));
  EXPECT_EQ(store_->root(), root_);
  EXPECT_EQ(store_->Describe(), "file://" + root_);
  auto again = FileStore::Create(root_ + "/");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->root(), root_);
  EXPECT_FALSE(FileStore::Create("").ok());
}

TEST_F(FileStoreTest, KeysAreFilesUnderRoot) {
  PutOptions opts;
  opts.timestamp_ms = 1'650'000'000'456;
  ASSERT_TRUE(store_->PutBytes("ltx/0/0000000000000001-0000000000000001.ltx", "hello", opts).ok());
  const std::string path = root_ + "/ltx/0/0000000000000001-0000000000000001.ltx";
  EXPECT_EQ(*ReadFileToString(path), "hello");
  EXPECT_EQ(*MtimeMs(path), opts.timestamp_ms);
  EXPECT_EQ(Tree(), (std::vector<std::string>{"ltx", "ltx/0", "ltx/0/0000000000000001-0000000000000001.ltx"}));
}

TEST_F(FileStoreTest, TimestampsBeforeTheEpochRoundTrip) {
  PutOptions opts;
  opts.timestamp_ms = -1500;
  ASSERT_TRUE(store_->PutBytes("old", "x", opts).ok());
  EXPECT_EQ(store_->Head("old")->mtime_ms, -1500);
}

TEST_F(FileStoreTest, RejectsKeysOutsideTheTree) {
  for (const std::string& key :
       std::vector<std::string>{"", "/abs", "/", "a//b", "a/", "..", "../x", "a/../b", "a/..", ".", "./a", "a/./b",
                                "x.tmp", "a/b.tmp", std::string("a\0b", 3)}) {
    EXPECT_EQ(store_->PutBytes(key, "x").code(), Code::kInvalidArgument) << key;
    EXPECT_EQ(store_->Open(key).status().code(), Code::kInvalidArgument) << key;
    EXPECT_EQ(store_->Head(key).status().code(), Code::kInvalidArgument) << key;
    EXPECT_EQ(store_->Delete({key}).code(), Code::kInvalidArgument) << key;
  }
  EXPECT_TRUE(Tree().empty());
  EXPECT_FALSE(FileExists(dir_ + "/x"));
}

TEST_F(FileStoreTest, AnInvalidKeyFailsTheWholeDeleteBatch) {
  ASSERT_TRUE(store_->PutBytes("a", "x").ok());
  EXPECT_EQ(store_->Delete({"a", "../b"}).code(), Code::kInvalidArgument);
  EXPECT_TRUE(store_->Head("a").ok());
}

TEST_F(FileStoreTest, FailedAndShortPutsLeaveNoTempFile) {
  FailAfter failing(100000);
  EXPECT_FALSE(store_->Put("a/b", &failing, 500000, PutOptions{}).ok());
  StringSource short_body("abc");
  Status s = store_->Put("a/c", &short_body, 10, PutOptions{});
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(Tree(), std::vector<std::string>{"a"});  // the parent directory may stay
}

TEST_F(FileStoreTest, RefusedPutLeavesNoTempFile) {
  ASSERT_TRUE(store_->PutBytes("a", "1").ok());
  EXPECT_EQ(store_->PutBytes("a", "2").code(), Code::kAlreadyExists);
  EXPECT_EQ(Tree(), std::vector<std::string>{"a"});
}

TEST_F(FileStoreTest, PutWorksBesideAStaleTempFile) {
  ASSERT_TRUE(MakeDirs(root_ + "/d").ok());
  ASSERT_TRUE(WriteFileAtomic(root_ + "/d/obj.tmp", "stale").ok());
  ASSERT_TRUE(store_->PutBytes("d/obj", "fresh").ok());
  EXPECT_EQ(*store_->GetBytes("d/obj"), "fresh");
  EXPECT_EQ(*ReadFileToString(root_ + "/d/obj.tmp"), "stale");  // someone else's temp: untouched
}

TEST_F(FileStoreTest, ListSkipsTempFilesAndCreateRemovesThem) {
  ASSERT_TRUE(store_->PutBytes("ltx/0/a", "x").ok());
  ASSERT_TRUE(WriteFileAtomic(root_ + "/ltx/0/b.tmp", "partial").ok());
  ASSERT_TRUE(WriteFileAtomic(root_ + "/top.tmp", "partial").ok());
  auto listed = store_->List("", "");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "ltx/0/a");

  // Fresh temp files may belong to a writer in another process: kept.
  ASSERT_TRUE(FileStore::Create(root_).ok());
  EXPECT_EQ(Tree(), (std::vector<std::string>{"ltx", "ltx/0", "ltx/0/a", "ltx/0/b.tmp", "top.tmp"}));
  // Once stale (here: any age), they are removed.
  ASSERT_TRUE(FileStore::Create(root_, /*stale_temp_seconds=*/0).ok());
  EXPECT_EQ(Tree(), (std::vector<std::string>{"ltx", "ltx/0", "ltx/0/a"}));
}

TEST_F(FileStoreTest, ListIgnoresSymlinksAndDirectoriesAreNotObjects) {
  ASSERT_TRUE(store_->PutBytes("real/a", "x").ok());
  ASSERT_EQ(::symlink((root_ + "/real/a").c_str(), (root_ + "/real/link").c_str()), 0);
  ASSERT_EQ(::symlink((root_ + "/real").c_str(), (root_ + "/dirlink").c_str()), 0);
  auto listed = store_->List("", "");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "real/a");
  EXPECT_EQ(store_->Head("real").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->Open("real").status().code(), Code::kNotFound);
  EXPECT_TRUE(store_->Delete({"real"}).ok());  // not an object: nothing to delete
  EXPECT_TRUE(FileExists(root_ + "/real/a"));
  EXPECT_FALSE(store_->PutBytes("real", "x").ok());  // a directory is in the way
}

TEST_F(FileStoreTest, ListOnlyReadsThePrefixDirectory) {
  ASSERT_TRUE(store_->PutBytes("a/x", "1").ok());
  ASSERT_TRUE(store_->PutBytes("b/y", "2").ok());
  // An unreadable sibling would fail a full walk (skipped when running as root).
  ASSERT_EQ(::chmod((root_ + "/b").c_str(), 0), 0);
  if (::access((root_ + "/b").c_str(), R_OK) != 0) {
    auto listed = store_->List("a/", "");
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    EXPECT_EQ(listed->size(), 1u);
    EXPECT_FALSE(store_->List("", "").ok());
  }
  ASSERT_EQ(::chmod((root_ + "/b").c_str(), 0755), 0);
}

TEST_F(FileStoreTest, DeleteKeepsDirectories) {
  ASSERT_TRUE(store_->PutBytes("ltx/0/a", "x").ok());
  ASSERT_TRUE(store_->Delete({"ltx/0/a", "ltx/0/missing", "nodir/x"}).ok());
  EXPECT_EQ(Tree(), (std::vector<std::string>{"ltx", "ltx/0"}));
}

}  // namespace
}  // namespace walship::storage
