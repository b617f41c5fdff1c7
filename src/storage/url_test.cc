#include "storage/url.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/file.h"
#include "storage/file_store.h"

namespace walship::storage {
namespace {

class UrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/walship-url-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { RemoveTree(dir_).IgnoreError(); }

  std::string RootOf(const OpenedReplica& r) { return static_cast<FileStore*>(r.store.get())->root(); }

  std::string dir_;
};

TEST(LooksLikeUrl, NeedsSchemeAndSlashes) {
  EXPECT_TRUE(LooksLikeUrl("file:///a"));
  EXPECT_TRUE(LooksLikeUrl("s3://bucket/db"));
  EXPECT_TRUE(LooksLikeUrl("webdav+s://x"));
  EXPECT_FALSE(LooksLikeUrl("/var/backups"));
  EXPECT_FALSE(LooksLikeUrl("relative/dir"));
  EXPECT_FALSE(LooksLikeUrl("file:/a"));
  EXPECT_FALSE(LooksLikeUrl("://x"));
  EXPECT_FALSE(LooksLikeUrl("1s3://x"));
  EXPECT_FALSE(LooksLikeUrl("dir/with://inside"));
}

TEST(RedactUrl, DropsUserInfo) {
  EXPECT_EQ(RedactUrl("s3://AKID:secret@bucket/db?region=x"), "s3://bucket/db?region=x");
  EXPECT_EQ(RedactUrl("sftp://user@host/p"), "sftp://host/p");
  EXPECT_EQ(RedactUrl("s3://bucket/a@b"), "s3://bucket/a@b");
  EXPECT_EQ(RedactUrl("/plain/p@th"), "/plain/p@th");
}

TEST_F(UrlTest, FileUrlOpensAFileStore) {
  auto r = OpenReplicaUrl("file://" + dir_ + "/replica/");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(RootOf(*r), dir_ + "/replica");
  EXPECT_EQ(r->prefix, "");
  EXPECT_EQ(r->layout, KeyLayout::kFile);
  EXPECT_EQ(r->url, "file://" + dir_ + "/replica/");
  EXPECT_EQ(r->store->Describe(), "file://" + dir_ + "/replica");
  EXPECT_TRUE(FileExists(dir_ + "/replica"));
}

TEST_F(UrlTest, FileUrlPathIsCleanedAndPercentDecoded) {
  auto r = OpenReplicaUrl("FILE://" + dir_ + "/a/../my%20replica");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(RootOf(*r), dir_ + "/my replica");
}

TEST_F(UrlTest, PlainPathsAreMadeAbsolute) {
  auto abs = OpenReplicaUrl(dir_ + "/abs");
  ASSERT_TRUE(abs.ok()) << abs.status().ToString();
  EXPECT_EQ(RootOf(*abs), dir_ + "/abs");

  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(::chdir(dir_.c_str()), 0);
  auto rel = OpenReplicaUrl("rel/replica");
  ASSERT_EQ(::chdir(cwd), 0);
  ASSERT_TRUE(rel.ok()) << rel.status().ToString();
  EXPECT_EQ(RootOf(*rel), dir_ + "/rel/replica");
  EXPECT_EQ(rel->layout, KeyLayout::kFile);
  EXPECT_TRUE(FileExists(dir_ + "/rel/replica"));
}

TEST_F(UrlTest, BadFileUrlsAreClearErrors) {
  struct Case {
    std::string url, says;
  };
  for (const Case& c : std::vector<Case>{{"", "empty"},
                                         {"file://host/x", "host"},
                                         {"file://localhost" + dir_, "host"},
                                         {"file://", "missing path"},
                                         {"file://" + dir_ + "?x=1", "query"},
                                         {"file://" + dir_ + "/a%2", "percent"},
                                         {"file://" + dir_ + "/a%00b", "percent"}}) {
    auto r = OpenReplicaUrl(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << c.url;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << r.status().ToString();
  }
}

TEST_F(UrlTest, OtherBackendsAreNotBuiltYet) {
  for (const std::string url : {"gs://b/p", "abs://acct@c/p", "sftp://h/p",
                                "webdav://h/p", "nats://h/b", "oss://b/p"}) {
    auto r = OpenReplicaUrl(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find("not built yet"), std::string::npos) << r.status().ToString();
  }
  auto s3 = OpenReplicaUrl("s3://KEY:topsecret@bucket/db");
  EXPECT_NE(s3.status().message().find("credentials do not belong in the URL"), std::string::npos)
      << s3.status().ToString();
  EXPECT_EQ(s3.status().message().find("topsecret"), std::string::npos) << s3.status().ToString();

  auto unknown = OpenReplicaUrl("ftp://h/p");
  EXPECT_EQ(unknown.status().code(), Code::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("unsupported scheme \"ftp\""), std::string::npos);
}

}  // namespace
}  // namespace walship::storage
