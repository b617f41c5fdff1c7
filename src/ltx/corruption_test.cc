// Every single-byte flip and every truncation of every LTX test vector must be
// an error from DecodeHeader/NextPage/Close: never a crash, never acceptance.
// Also run under AddressSanitizer (-DWALSHIP_SANITIZE=ON).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ltx/compactor.h"
#include "ltx/decoder.h"
#include "ltx/test_util.h"

namespace walship::ltx {
namespace {

using testing::MakeHeader;
using testing::MakePage;
using testing::Page;
using testing::ReadVector;
using testing::SpanSource;

// Decodes fully and returns the first error (OK if the file was accepted).
Status Decode(std::string_view bytes) {
  SpanSource src(bytes);
  Decoder d(&src);
  WALSHIP_RETURN_IF_ERROR(d.DecodeHeader());
  std::string page(d.header().page_size, '\0');
  uint32_t pgno = 0;
  for (;;) {
    WALSHIP_ASSIGN_OR_RETURN(bool more, d.NextPage(&pgno, reinterpret_cast<uint8_t*>(page.data())));
    if (!more) break;
  }
  return d.Close();
}

void ExpectEveryFlipRejected(const std::string& file) {
  ASSERT_TRUE(Decode(file).ok());
  std::string bad = file;
  size_t accepted = 0;
  for (size_t i = 0; i < file.size(); i++) {
    for (uint8_t mask : {uint8_t{0xff}, uint8_t{0x01}}) {
      bad[i] = char(file[i] ^ mask);
      Status s = Decode(bad);
      if (s.ok()) {
        ADD_FAILURE() << "flip of byte " << i << " with mask " << int(mask) << " accepted";
        if (++accepted > 10) return;
      } else {
        EXPECT_EQ(s.code(), Code::kCorruption) << i << ": " << s.ToString();
      }
    }
    bad[i] = file[i];
  }
}

void ExpectEveryTruncationRejected(const std::string& file) {
  for (size_t n = 0; n < file.size(); n++) {
    Status s = Decode(std::string_view(file).substr(0, n));
    ASSERT_FALSE(s.ok()) << "truncation to " << n << " bytes accepted";
    EXPECT_EQ(s.code(), Code::kCorruption) << n << ": " << s.ToString();
  }
}

TEST(LtxCorruption, EveryFlipOfBlockExampleIsRejected) { ExpectEveryFlipRejected(ReadVector("example-block.ltx")); }
TEST(LtxCorruption, EveryFlipOfFrameExampleIsRejected) { ExpectEveryFlipRejected(ReadVector("example-frame.ltx")); }
TEST(LtxCorruption, EveryFlipOfReferenceSnapshotIsRejected) {
  ExpectEveryFlipRejected(ReadVector("ref-db-snapshot.ltx"));
}

TEST(LtxCorruption, EveryTruncationOfBlockExampleIsRejected) {
  ExpectEveryTruncationRejected(ReadVector("example-block.ltx"));
}
TEST(LtxCorruption, EveryTruncationOfFrameExampleIsRejected) {
  ExpectEveryTruncationRejected(ReadVector("example-frame.ltx"));
}
TEST(LtxCorruption, EveryTruncationOfReferenceSnapshotIsRejected) {
  ExpectEveryTruncationRejected(ReadVector("ref-db-snapshot.ltx"));
}

// A generated multi-page incremental in the legacy frame encoding.
TEST(LtxCorruption, EveryFlipAndTruncationOfMultiPageFrameFileIsRejected) {
  std::vector<Page> pages;
  for (uint32_t p : {2u, 3u, 9u}) pages.push_back(Page{p, MakePage(512, p, 7)});
  std::string file = testing::EncodeFile(MakeHeader(512, 9, 4, 6), pages, PageEncoding::kFrame);
  ExpectEveryFlipRejected(file);
  ExpectEveryTruncationRejected(file);
}

// The random-access entry points see the same damage without crashing.
TEST(LtxCorruption, RandomAccessSurvivesEveryFlip) {
  for (const char* name : {"example-block.ltx", "example-frame.ltx"}) {
    const std::string file = ReadVector(name);
    std::string bad = file;
    std::string page(512, '\0');
    for (size_t i = 0; i < file.size(); i++) {
      bad[i] = char(file[i] ^ 0xff);
      const auto* p = reinterpret_cast<const uint8_t*>(bad.data());
      uint64_t need = 0;
      Result<std::vector<PageIndexEntry>> idx = DecodePageIndexFromTail(p, bad.size(), bad.size(), &need);
      if (idx.ok()) {
        for (const PageIndexEntry& e : *idx) {
          uint32_t pgno = 0;
          DecodePageFrame(p + e.offset, e.size, 512, &pgno, reinterpret_cast<uint8_t*>(page.data()))
              .IgnoreError();
        }
      }
      bad[i] = file[i];
    }
  }
}

// The merger reports a damaged input as an error too (single input).
TEST(LtxCorruption, MergerRejectsEveryFlipOfFrameExample) {
  const std::string file = ReadVector("example-frame.ltx");
  std::string bad = file;
  for (size_t i = 0; i < file.size(); i++) {
    bad[i] = char(file[i] ^ 0xff);
    SpanSource src(bad);
    PageMerger m({MergeInput{"in", &src}});
    Status s = m.Init();
    uint32_t pgno = 0;
    const uint8_t* data = nullptr;
    while (s.ok()) {
      Result<bool> r = m.Next(&pgno, &data);
      if (!r.ok()) s = r.status();
      else if (!*r) break;
    }
    EXPECT_FALSE(s.ok()) << "flip of byte " << i << " accepted";
    bad[i] = file[i];
  }
}

}  // namespace
}  // namespace walship::ltx
