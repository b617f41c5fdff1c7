#include "ltx/encoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ltx/test_util.h"

namespace walship::ltx {
namespace {

using testing::EncodeFile;
using testing::ExampleHeader;
using testing::MakeHeader;
using testing::MakePage;
using testing::Page;
using testing::ReadVector;
using testing::TryEncode;

const std::string kOnes(512, '1');

TEST(LtxEncoder, BlockEncodingOfExamplePageMatchesSharedVector) {
  StringSink sink;
  Encoder e(&sink, PageEncoding::kBlock);
  ASSERT_TRUE(e.EncodeHeader(ExampleHeader()).ok());
  ASSERT_TRUE(e.EncodePage(1, reinterpret_cast<const uint8_t*>(kOnes.data())).ok());
  ASSERT_TRUE(e.Close().ok());
  EXPECT_EQ(sink.data(), ReadVector("example-block.ltx"));
  EXPECT_EQ(e.file_checksum(), 0xf10ef668184cb537ull);
  EXPECT_EQ(e.bytes_written(), 156u);
  EXPECT_EQ(e.page_count(), 1u);
}

TEST(LtxEncoder, FrameEncodingOfExamplePageMatchesSharedVector) {
  StringSink sink;
  Encoder e(&sink, PageEncoding::kFrame);
  ASSERT_TRUE(e.EncodeHeader(ExampleHeader()).ok());
  ASSERT_TRUE(e.EncodePage(1, reinterpret_cast<const uint8_t*>(kOnes.data())).ok());
  ASSERT_TRUE(e.Close().ok());
  const std::string& out = sink.data();
  EXPECT_EQ(out, ReadVector("example-frame.ltx"));
  EXPECT_EQ(e.file_checksum(), 0xf6ca51273e539784ull);
  // LZ4 frame header with the compat preferences.
  EXPECT_EQ(out.substr(106, 7), std::string("\x04\x22\x4d\x18\x64\x40\xa7", 7));
}

TEST(LtxEncoder, FrameContextIsReusedAcrossPagesAndFiles) {
  // Several pages per file: each frame must be a fresh, complete LZ4 frame.
  std::vector<Page> pages;
  for (uint32_t p = 1; p <= 20; p++) pages.push_back(Page{p, MakePage(4096, p, 1)});
  std::string a = EncodeFile(MakeHeader(4096, 20, 1, 1), pages, PageEncoding::kFrame);
  std::string b = EncodeFile(MakeHeader(4096, 20, 1, 1), pages, PageEncoding::kFrame);
  EXPECT_EQ(a, b);
  Result<testing::Decoded> d = testing::DecodeAll(a);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->pages, pages);
}

TEST(LtxEncoder, IncompressiblePageStillEncodes) {
  std::string noise(65536, '\0');
  uint32_t x = 1;
  for (char& c : noise) {
    x = x * 1664525u + 1013904223u;
    c = char(x >> 24);
  }
  for (PageEncoding enc : {PageEncoding::kBlock, PageEncoding::kFrame}) {
    std::string f = EncodeFile(MakeHeader(65536, 1, 1, 1), {Page{1, noise}}, enc);
    Result<testing::Decoded> d = testing::DecodeAll(f);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->pages[0].data, noise);
  }
}

Status EncodeStatus(const Header& h, const std::vector<uint32_t>& pgnos, uint64_t post = 0) {
  std::vector<Page> pages;
  for (uint32_t p : pgnos) pages.push_back(Page{p, std::string(h.page_size, char(p))});
  std::string out;
  return TryEncode(h, pages, PageEncoding::kBlock, post, &out);
}

void ExpectRejected(const Status& s, const std::string& needle) {
  EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
}

TEST(LtxEncoder, RejectsInvalidHeader) {
  Header h = ExampleHeader();
  h.page_size = 100;
  ExpectRejected(EncodeStatus(h, {}), "page size");
}

TEST(LtxEncoder, RejectsPageZeroAndPagesBeyondCommit) {
  ExpectRejected(EncodeStatus(MakeHeader(512, 5, 2, 2), {0}), "zero");
  ExpectRejected(EncodeStatus(MakeHeader(512, 5, 2, 2), {6}), "beyond commit");
}

TEST(LtxEncoder, RejectsTheLockPage) {
  const uint32_t lock = LockPgno(65536);
  ExpectRejected(EncodeStatus(MakeHeader(65536, lock + 2, 2, 2), {lock - 1, lock}), "lock page");
  EXPECT_TRUE(EncodeStatus(MakeHeader(65536, lock + 2, 2, 2), {lock - 1, lock + 1}).ok());
}

TEST(LtxEncoder, RejectsUnorderedPagesInIncrementals) {
  ExpectRejected(EncodeStatus(MakeHeader(512, 9, 2, 2), {3, 2}), "out of order");
  ExpectRejected(EncodeStatus(MakeHeader(512, 9, 2, 2), {3, 3}), "out of order");
  EXPECT_TRUE(EncodeStatus(MakeHeader(512, 9, 2, 2), {2, 5, 9}).ok());
}

TEST(LtxEncoder, SnapshotsMustHoldEveryPageInOrder) {
  ExpectRejected(EncodeStatus(MakeHeader(512, 3, 1, 4), {2}), "nonsequential");
  ExpectRejected(EncodeStatus(MakeHeader(512, 3, 1, 4), {1, 3}), "nonsequential");
  ExpectRejected(EncodeStatus(MakeHeader(512, 3, 1, 4), {1, 2}), "snapshot ends at page 2");
  EXPECT_TRUE(EncodeStatus(MakeHeader(512, 3, 1, 4), {1, 2, 3}).ok());
  ExpectRejected(EncodeStatus(MakeHeader(512, 0, 1, 4), {}), "commit 0 cannot be written without checksums");
  Header empty = MakeHeader(512, 0, 1, 4);
  empty.flags = 0;
  EXPECT_TRUE(EncodeStatus(empty, {}, kChecksumFlag).ok());
}

TEST(LtxEncoder, EmptyIncrementalIsAllowed) {
  std::string f = EncodeFile(MakeHeader(4096, 10, 5, 6), {});
  EXPECT_EQ(f.size(), kHeaderSize + kPageHeaderSize + 1 + 8 + kTrailerSize);
  EXPECT_TRUE(testing::DecodeStatus(f).ok());
}

TEST(LtxEncoder, PostApplyRules) {
  ExpectRejected(EncodeStatus(ExampleHeader(), {1}, kChecksumFlag | 5), "not allowed");
  Header tracked = MakeHeader(512, 3, 1, 1);
  tracked.flags = 0;
  ExpectRejected(EncodeStatus(tracked, {1, 2, 3}, 0x5), "flag");
  ExpectRejected(EncodeStatus(tracked, {1, 2, 3}, kChecksumFlag | 5), "does not match");
  Header empty = tracked;
  empty.commit = 0;
  ExpectRejected(EncodeStatus(empty, {}, kChecksumFlag | 1), "empty database");
  EXPECT_TRUE(EncodeStatus(empty, {}, kChecksumFlag).ok());
}

TEST(LtxEncoder, ChecksumTrackedSnapshotOfCompatVector) {
  Header h = MakeHeader(512, 3, 1, 1);
  h.flags = 0;
  std::vector<Page> pages = {
      {1, std::string(512, '\x01')}, {2, std::string(512, '\x02')}, {3, std::string(512, '\x03')}};
  std::string f = EncodeFile(h, pages, PageEncoding::kBlock, 0xefffffffecd99000ull);
  Result<testing::Decoded> d = testing::DecodeAll(f);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->trailer.post_apply_checksum, 0xefffffffecd99000ull);
}

TEST(LtxEncoder, MisuseIsInvalidArgument) {
  StringSink sink;
  Encoder e(&sink);
  EXPECT_EQ(e.EncodePage(1, reinterpret_cast<const uint8_t*>(kOnes.data())).code(), Code::kInvalidArgument);
  EXPECT_EQ(e.Close().code(), Code::kInvalidArgument);
  ASSERT_TRUE(e.EncodeHeader(ExampleHeader()).ok());
  EXPECT_EQ(e.EncodeHeader(ExampleHeader()).code(), Code::kInvalidArgument);
  ASSERT_TRUE(e.EncodePage(1, reinterpret_cast<const uint8_t*>(kOnes.data())).ok());
  ASSERT_TRUE(e.Close().ok());
  EXPECT_EQ(e.Close().code(), Code::kInvalidArgument);
  EXPECT_EQ(e.EncodePage(2, reinterpret_cast<const uint8_t*>(kOnes.data())).code(), Code::kInvalidArgument);
}

class FailingSink final : public Sink {
 public:
  explicit FailingSink(int ok_writes) : ok_writes_(ok_writes) {}
  Status Write(const void*, size_t) override {
    if (ok_writes_-- > 0) return Status::OK();
    return Status(Code::kNoSpace, "disk full");
  }

 private:
  int ok_writes_;
};

TEST(LtxEncoder, SinkErrorsPassThrough) {
  for (int ok = 0; ok < 3; ok++) {
    FailingSink sink(ok);
    Encoder e(&sink);
    Status s = e.EncodeHeader(ExampleHeader());
    if (s.ok()) s = e.EncodePage(1, reinterpret_cast<const uint8_t*>(kOnes.data()));
    if (s.ok()) s = e.Close();
    EXPECT_EQ(s.code(), Code::kNoSpace) << ok;
  }
}

TEST(LtxEncoder, PageIndexListsEveryFrame) {
  std::vector<Page> pages = {
      {2, MakePage(1024, 2, 0)}, {7, MakePage(1024, 7, 0)}, {300, MakePage(1024, 300, 0)}};
  std::string f = EncodeFile(MakeHeader(1024, 300, 3, 3), pages);
  Result<testing::Decoded> d = testing::DecodeAll(f);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->index.size(), 3u);
  uint64_t off = kHeaderSize;
  for (size_t i = 0; i < 3; i++) {
    EXPECT_EQ(d->index[i].pgno, pages[i].pgno);
    EXPECT_EQ(d->index[i].offset, off);
    off += d->index[i].size;
  }
}

}  // namespace
}  // namespace walship::ltx
