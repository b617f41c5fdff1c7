// Every single-byte flip and every truncation of every LTX test vector must be
// an error from DecodeHeader/NextPage/Close: never a crash, never acceptance of
// changed content. Also run under AddressSanitizer (-DWALSHIP_SANITIZE=ON).
//
// One exception is inherent in the format: checksums cover the *decompressed*
// pages, never the LZ4 payload (compat reference 0.4, 1.6), and LZ4 has
// redundant encodings (the match-length nibble of a block's final token is
// ignored; a match offset into a run of equal bytes can often change without
// changing the output). Such a flip inside an LZ4 payload decodes to exactly
// the original pages; it is not a corruption of the data, and no decoder can
// see it (the Go decoder cannot either). Those flips must decode to identical
// content; every other flip must be an error.

#include <gtest/gtest.h>

#include <cstdio>
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
  d.set_read_buffer_size(0);  // floor: two compressed pages (saves zero-filling 256 KiB per run)
  WALSHIP_RETURN_IF_ERROR(d.DecodeHeader());
  std::string page(d.header().page_size, '\0');
  uint32_t pgno = 0;
  for (;;) {
    WALSHIP_ASSIGN_OR_RETURN(bool more, d.NextPage(&pgno, reinterpret_cast<uint8_t*>(page.data())));
    if (!more) break;
  }
  return d.Close();
}

struct Outcome {
  Status status;
  std::vector<Page> pages;
  Trailer trailer;
};

Outcome DecodeFull(std::string_view bytes) {
  Outcome o;
  Result<testing::Decoded> d = testing::DecodeAll(bytes);
  if (!d.ok()) {
    o.status = d.status();
    return o;
  }
  o.pages = std::move(d->pages);
  o.trailer = d->trailer;
  return o;
}

// Byte ranges holding LZ4 payloads (block after its size prefix, whole frame).
std::vector<std::pair<uint64_t, uint64_t>> PayloadRanges(const std::string& file) {
  Result<testing::Decoded> d = testing::DecodeAll(file);
  EXPECT_TRUE(d.ok());
  std::vector<std::pair<uint64_t, uint64_t>> out;
  if (!d.ok()) return out;
  for (const PageIndexEntry& e : d->index) {
    const bool block = (uint8_t(file[e.offset + 5]) & kPageFlagSize) != 0;
    out.emplace_back(e.offset + kPageHeaderSize + (block ? 4 : 0), e.offset + e.size);
  }
  return out;
}

// Flips byte i with each mask in `masks` (all bytes, or only those outside
// LZ4 payloads when `outside_payload_only`).
void ExpectEveryFlipRejected(const std::string& file, std::initializer_list<uint8_t> masks,
                             bool outside_payload_only = false) {
  const Outcome orig = DecodeFull(file);
  ASSERT_TRUE(orig.status.ok()) << orig.status.ToString();
  const auto payload = PayloadRanges(file);
  auto in_payload = [&](size_t i) {
    for (auto [b, e] : payload) {
      if (i >= b && i < e) return true;
    }
    return false;
  };
  std::string bad = file;
  int failures = 0;
  size_t flips = 0;
  size_t invisible = 0;
  for (size_t i = 0; i < file.size() && failures < 10; i++) {
    if (outside_payload_only && in_payload(i)) continue;
    for (uint8_t mask : masks) {
      bad[i] = char(file[i] ^ mask);
      flips++;
      Status s = Decode(bad);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), Code::kCorruption) << i << ": " << s.ToString();
        continue;
      }
      // Accepted: only an LZ4-payload byte whose change decodes identically.
      Outcome o = DecodeFull(bad);
      bool same =
          o.status.ok() && o.pages == orig.pages && o.trailer.file_checksum == orig.trailer.file_checksum;
      if (!in_payload(i) || !same) {
        ADD_FAILURE() << "flip of byte " << i << " with mask " << int(mask) << " accepted"
                      << (same ? " (outside an LZ4 payload)" : " with changed content");
        failures++;
      }
      invisible++;
    }
    bad[i] = file[i];
  }
  std::printf("[ info     ] %zu flips, %zu inside LZ4 payloads decoded to identical pages\n", flips,
              invisible);
}

void ExpectEveryTruncationRejected(const std::string& file) {
  for (size_t n = 0; n < file.size(); n++) {
    Status s = Decode(std::string_view(file).substr(0, n));
    ASSERT_FALSE(s.ok()) << "truncation to " << n << " bytes accepted";
    EXPECT_EQ(s.code(), Code::kCorruption) << n << ": " << s.ToString();
  }
}

TEST(LtxCorruption, EveryFlipOfBlockExampleIsRejected) {
  ExpectEveryFlipRejected(ReadVector("example-block.ltx"), {0xff, 0x01, 0x80});
}
TEST(LtxCorruption, EveryFlipOfFrameExampleIsRejected) {
  ExpectEveryFlipRejected(ReadVector("example-frame.ltx"), {0xff, 0x01, 0x80});
}
// 111 KB: every byte inverted, plus low-bit flips of every byte outside the
// LZ4 payloads (headers, size prefixes, index, trailer).
TEST(LtxCorruption, EveryFlipOfReferenceSnapshotIsRejected) {
  ExpectEveryFlipRejected(ReadVector("ref-db-snapshot.ltx"), {0xff});
}
TEST(LtxCorruption, EveryLowBitFlipOutsidePayloadsOfReferenceSnapshotIsRejected) {
  ExpectEveryFlipRejected(ReadVector("ref-db-snapshot.ltx"), {0x01}, true);
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
  ExpectEveryFlipRejected(file, {0xff, 0x01, 0x80});
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
      if (!r.ok())
        s = r.status();
      else if (!*r)
        break;
    }
    EXPECT_FALSE(s.ok()) << "flip of byte " << i << " accepted";
    bad[i] = file[i];
  }
}

}  // namespace
}  // namespace walship::ltx
