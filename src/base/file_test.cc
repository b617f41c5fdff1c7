#include "base/file.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace walship {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/walship-base-XXXXXX";
  return mkdtemp(tmpl);
}

TEST(File, WriteFileAtomicLeavesNoTempAndReplaces) {
  std::string dir = TempDir();
  std::string p = JoinPath(dir, "a/b/c.txt");
  ASSERT_TRUE(MakeDirs(DirName(p)).ok());
  ASSERT_TRUE(WriteFileAtomic(p, "one").ok());
  ASSERT_TRUE(WriteFileAtomic(p, "two").ok());
  EXPECT_EQ(*ReadFileToString(p), "two");
  EXPECT_FALSE(FileExists(p + ".tmp"));
  ASSERT_TRUE(RemoveTree(dir).ok());
}

TEST(File, AtomicFileNoClobberRefusesExisting) {
  std::string dir = TempDir();
  std::string p = JoinPath(dir, "x");
  ASSERT_TRUE(WriteFileAtomic(p, "first").ok());
  auto f = AtomicFile::Create(p);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->Append("second", 6).ok());
  Status s = f->Commit(/*no_clobber=*/true);
  EXPECT_EQ(s.code(), Code::kAlreadyExists);
  EXPECT_EQ(*ReadFileToString(p), "first");
  ASSERT_TRUE(RemoveTree(dir).ok());
}

TEST(File, AbandonedAtomicFileRemovesTemp) {
  std::string dir = TempDir();
  std::string p = JoinPath(dir, "y");
  {
    auto f = AtomicFile::Create(p);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(f->Append("zz", 2).ok());
  }
  EXPECT_FALSE(FileExists(p));
  EXPECT_FALSE(FileExists(p + ".tmp"));
  ASSERT_TRUE(RemoveTree(dir).ok());
}

TEST(File, ShortReadIsAnError) {
  std::string dir = TempDir();
  std::string p = JoinPath(dir, "s");
  ASSERT_TRUE(WriteFileAtomic(p, "abc").ok());
  auto f = File::OpenRead(p);
  ASSERT_TRUE(f.ok());
  char buf[10];
  EXPECT_EQ(f->PReadFull(buf, 10, 0).code(), Code::kOutOfRange);
  EXPECT_TRUE(f->PReadFull(buf, 3, 0).ok());
  EXPECT_EQ(File::OpenRead(JoinPath(dir, "missing")).status().code(), Code::kNotFound);
  ASSERT_TRUE(RemoveTree(dir).ok());
}

}  // namespace
}  // namespace walship
