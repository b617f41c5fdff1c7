#include "ltx/decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/coding.h"
#include "ltx/test_util.h"

namespace walship::ltx {
namespace {

using testing::BlockFrame;
using testing::BuildRaw;
using testing::DecodeAll;
using testing::Decoded;
using testing::EncodeFile;
using testing::ExampleHeader;
using testing::LegacyFrame;
using testing::MakeHeader;
using testing::MakePage;
using testing::Page;
using testing::RawFrame;
using testing::RawOptions;
using testing::ReadVector;
using testing::SpanSource;

const std::string kOnes(512, '1');

void ExpectExample(const std::string& file, uint64_t checksum, uint64_t frame_size) {
  for (size_t chunk : {0, 1, 7}) {
    Result<Decoded> d = DecodeAll(file, chunk);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->header.page_size, 512u);
    EXPECT_EQ(d->header.commit, 1u);
    EXPECT_EQ(d->header.min_txid, 1u);
    EXPECT_EQ(d->header.max_txid, 1u);
    EXPECT_EQ(d->header.timestamp_ms, 1000);
    EXPECT_EQ(d->header.flags, kHeaderFlagNoChecksum);
    ASSERT_EQ(d->pages.size(), 1u);
    EXPECT_EQ(d->pages[0], (Page{1, kOnes}));
    EXPECT_EQ(d->trailer.file_checksum, checksum);
    EXPECT_EQ(d->trailer.post_apply_checksum, 0u);
    ASSERT_EQ(d->index.size(), 1u);
    EXPECT_EQ(d->index[0].pgno, 1u);
    EXPECT_EQ(d->index[0].offset, kHeaderSize);
    EXPECT_EQ(d->index[0].size, frame_size);
  }
}

TEST(LtxDecoder, DecodesBlockExample) {
  ExpectExample(ReadVector("example-block.ltx"), 0xf10ef668184cb537ull, 0x16);
}

TEST(LtxDecoder, DecodesFrameExample) {
  ExpectExample(ReadVector("example-frame.ltx"), 0xf6ca51273e539784ull, 0x25);
}

TEST(LtxDecoder, DecodesLiteralOnlyBlock) {
  // Compat reference 1.15 (c): token 0xF0, length ff f2, then 512 literals.
  std::string block = std::string("\xf0\xff\xf2", 3) + kOnes;
  std::string f = BuildRaw(ExampleHeader(), {RawFrame{1, kPageFlagSize, block, kOnes}});
  EXPECT_EQ(f.size(), 660u);
  Result<Decoded> d = DecodeAll(f);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->trailer.file_checksum, 0xc3c28b8de85514d0ull);
}

TEST(LtxDecoder, DecodesReferenceSnapshot) {
  std::string file = ReadVector("ref-db-snapshot.ltx");
  std::string db = ReadVector("ref-db.sqlite");
  for (size_t chunk : {0, 1, 4093}) {
    Result<Decoded> d = DecodeAll(file, chunk);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->header.flags, 0u);
    EXPECT_EQ(d->header.min_txid, 1u);
    EXPECT_EQ(d->header.max_txid, 1u);
    EXPECT_EQ(d->header.commit, 32u);
    EXPECT_EQ(d->trailer.post_apply_checksum, 0x855e2193171ab7f5ull);
    ASSERT_EQ(d->pages.size(), 32u);
    std::string applied;
    for (size_t i = 0; i < 32; i++) {
      EXPECT_EQ(d->pages[i].pgno, i + 1);
      applied += d->pages[i].data;
    }
    EXPECT_EQ(applied, db);
  }
}

TEST(LtxDecoder, ReadsTheSourceInFewCalls) {
  std::string file = ReadVector("ref-db-snapshot.ltx");
  SpanSource src(file);
  Result<Header> h = VerifyFile(&src);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_LE(src.reads(), 3);  // one buffer fill plus the end-of-stream probe
}

TEST(LtxDecoder, RoundTripsBothEncodingsAndAllPageSizes) {
  for (uint32_t ps = 512; ps <= 65536; ps *= 2) {
    for (PageEncoding enc : {PageEncoding::kBlock, PageEncoding::kFrame}) {
      std::vector<Page> pages;
      for (uint32_t p : {1u, 2u, 5u, 6u, 40u}) pages.push_back(Page{p, MakePage(ps, p, ps)});
      std::string f = EncodeFile(MakeHeader(ps, 40, 7, 9), pages, enc);
      for (size_t chunk : {0, 3}) {
        Result<Decoded> d = DecodeAll(f, chunk);
        ASSERT_TRUE(d.ok()) << ps << ": " << d.status().ToString();
        EXPECT_EQ(d->pages, pages);
      }
    }
  }
}

TEST(LtxDecoder, MixedEncodingsInOneFileDecode) {
  std::string p1 = MakePage(4096, 1, 0);
  std::string p2 = MakePage(4096, 2, 0);
  std::string f = BuildRaw(MakeHeader(4096, 2, 1, 1), {LegacyFrame(1, p1), BlockFrame(2, p2)});
  Result<Decoded> d = DecodeAll(f);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->pages, (std::vector<Page>{{1, p1}, {2, p2}}));
}

TEST(LtxDecoder, WithoutKeptIndexStillVerifies) {
  std::string file = ReadVector("ref-db-snapshot.ltx");
  SpanSource src(file);
  Decoder d(&src);
  d.set_keep_page_index(false);
  d.set_read_buffer_size(1);  // floored to two compressed pages
  ASSERT_TRUE(d.DecodeHeader().ok());
  std::string buf(4096, '\0');
  uint32_t pgno = 0;
  int n = 0;
  while (*d.NextPage(&pgno, reinterpret_cast<uint8_t*>(buf.data()))) n++;
  EXPECT_EQ(n, 32);
  ASSERT_TRUE(d.Close().ok());
  EXPECT_TRUE(d.page_index().empty());
  EXPECT_EQ(d.bytes_read(), file.size());
}

// --- strictness: malformed files whose checksums are right ---

void ExpectCorrupt(const std::string& file, const std::string& needle) {
  Status s = testing::DecodeStatus(file);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("offset "), std::string::npos) << s.message();
}

TEST(LtxDecoder, RejectsBlockThatDecompressesShort) {
  std::string short_page(511, '1');
  RawFrame f = BlockFrame(1, short_page);
  f.data = kOnes;
  ExpectCorrupt(BuildRaw(ExampleHeader(), {f}), "decompressed to 511 bytes");
}

TEST(LtxDecoder, RejectsBlockThatDecompressesLong) {
  RawFrame f = BlockFrame(1, std::string(1024, '1'));
  f.data = kOnes;
  ExpectCorrupt(BuildRaw(ExampleHeader(), {f}), "malformed lz4 block");
}

TEST(LtxDecoder, RejectsOversizedOrEmptyBlock) {
  RawFrame f = BlockFrame(1, kOnes);
  f.payload.resize(1000, '\0');
  ExpectCorrupt(BuildRaw(ExampleHeader(), {f}), "compressed size 1000");
  f.payload.clear();
  ExpectCorrupt(BuildRaw(ExampleHeader(), {f}), "compressed size 0");
}

TEST(LtxDecoder, RejectsPageBeyondCommit) {
  ExpectCorrupt(BuildRaw(MakeHeader(512, 3, 2, 2), {BlockFrame(4, kOnes)}), "beyond commit");
}

TEST(LtxDecoder, RejectsStoredLockPage) {
  const uint32_t lock = LockPgno(65536);
  std::string z(65536, '\0');
  ExpectCorrupt(BuildRaw(MakeHeader(65536, lock + 5, 2, 2), {BlockFrame(lock, z)}), "lock page");
}

TEST(LtxDecoder, RejectsUnorderedOrDuplicatePages) {
  ExpectCorrupt(BuildRaw(MakeHeader(512, 9, 2, 2), {BlockFrame(3, kOnes), BlockFrame(2, kOnes)}),
                "out of order");
  ExpectCorrupt(BuildRaw(MakeHeader(512, 9, 2, 2), {BlockFrame(3, kOnes), BlockFrame(3, kOnes)}),
                "out of order");
}

TEST(LtxDecoder, RejectsSnapshotGapsAndShortSnapshots) {
  ExpectCorrupt(BuildRaw(MakeHeader(512, 3, 1, 1), {BlockFrame(2, kOnes)}), "nonsequential");
  ExpectCorrupt(BuildRaw(MakeHeader(512, 3, 1, 1), {BlockFrame(1, kOnes), BlockFrame(3, kOnes)}),
                "nonsequential");
  ExpectCorrupt(BuildRaw(MakeHeader(512, 3, 1, 1), {BlockFrame(1, kOnes), BlockFrame(2, kOnes)}),
                "snapshot ends at page 2 but commit is 3");
}

TEST(LtxDecoder, RejectsInvalidPageFlagsAndFlaggedEndMarker) {
  RawFrame f = BlockFrame(1, kOnes);
  f.flags = 0x0003;
  ExpectCorrupt(BuildRaw(ExampleHeader(), {f}), "invalid page flags");
  std::string file = ReadVector("example-block.ltx");
  file[100 + 0x16 + 5] = 1;  // end-of-pages marker flags; checksum breaks too, the marker is checked first
  ExpectCorrupt(file, "end-of-pages marker has flags");
}

TEST(LtxDecoder, RejectsIndexThatDisagreesWithFrames) {
  auto frames = std::vector<RawFrame>{BlockFrame(1, kOnes)};
  RawOptions o;
  o.mutate_index = [](std::string* idx) { (*idx)[0] = 2; };  // pgno 1 -> 2
  ExpectCorrupt(BuildRaw(MakeHeader(512, 3, 2, 2), frames, o), "page frame read there was pgno 1");
  o.mutate_index = [](std::string* idx) { (*idx)[1] = 0x65; };  // offset 100 -> 101
  ExpectCorrupt(BuildRaw(MakeHeader(512, 3, 2, 2), frames, o), "offset does not follow");
  o.mutate_index = [](std::string* idx) { (*idx)[2]++; };  // size
  ExpectCorrupt(BuildRaw(MakeHeader(512, 3, 2, 2), frames, o), "size");
  o.mutate_index = [](std::string* idx) { *idx = std::string(1, '\0'); };  // no entries
  ExpectCorrupt(BuildRaw(MakeHeader(512, 3, 2, 2), frames, o), "page index has 0 entries");
  o.mutate_index = [](std::string* idx) { idx->insert(idx->size() - 1, std::string("\x02\x7a\x16", 3)); };
  ExpectCorrupt(BuildRaw(MakeHeader(512, 3, 2, 2), frames, o), "more entries");
  o.mutate_index = [](std::string* idx) { *idx = std::string(10, '\xff'); };
  ExpectCorrupt(BuildRaw(MakeHeader(512, 3, 2, 2), frames, o), "invalid varint");
}

TEST(LtxDecoder, RejectsWrongIndexLength) {
  std::string file = ReadVector("example-block.ltx");
  // The u64 index length sits before the trailer; bump it (checksum also breaks;
  // the length is checked first).
  file[file.size() - 16 - 1] = 5;
  ExpectCorrupt(file, "page index length 5");
}

TEST(LtxDecoder, RejectsFileChecksumMismatch) {
  RawOptions o;
  o.fix_file_checksum = false;
  ExpectCorrupt(BuildRaw(ExampleHeader(), {BlockFrame(1, kOnes)}, o), "file checksum mismatch");
}

TEST(LtxDecoder, RejectsPostApplyRuleViolations) {
  RawOptions o;
  o.post_apply = kChecksumFlag | 1;
  ExpectCorrupt(BuildRaw(ExampleHeader(), {BlockFrame(1, kOnes)}, o), "set without checksums");
  Header tracked = ExampleHeader();
  tracked.flags = 0;
  o.post_apply = 1;
  ExpectCorrupt(BuildRaw(tracked, {BlockFrame(1, kOnes)}, o), "lacks the checksum flag");
  o.post_apply = kChecksumFlag | 1;
  ExpectCorrupt(BuildRaw(tracked, {BlockFrame(1, kOnes)}, o), "does not match the snapshot");
  o.post_apply = 0xeb1a999231044dddull;  // page checksum of the one page: right
  EXPECT_TRUE(testing::DecodeStatus(BuildRaw(tracked, {BlockFrame(1, kOnes)}, o)).ok());
}

TEST(LtxDecoder, CommitZeroFilesNeedTheChecksumFlagAsPostApply) {
  ExpectCorrupt(BuildRaw(MakeHeader(512, 0, 1, 1), {}), "commit-0 file");
  Header tracked = MakeHeader(512, 0, 1, 1);
  tracked.flags = 0;
  RawOptions o;
  o.post_apply = kChecksumFlag;
  EXPECT_TRUE(testing::DecodeStatus(BuildRaw(tracked, {}, o)).ok());
}

TEST(LtxDecoder, RejectsDataAfterTrailer) {
  RawOptions o;
  o.trailing = "x";
  ExpectCorrupt(BuildRaw(ExampleHeader(), {BlockFrame(1, kOnes)}, o), "data after the trailer");
}

TEST(LtxDecoder, RejectsFrameWithoutContentChecksum) {
  ExpectCorrupt(BuildRaw(ExampleHeader(), {LegacyFrame(1, kOnes, false)}), "without content checksum");
}

TEST(LtxDecoder, RejectsFrameHoldingMoreOrLessThanOnePage) {
  RawFrame big = LegacyFrame(1, std::string(1024, '1'));
  big.data = kOnes;
  ExpectCorrupt(BuildRaw(ExampleHeader(), {big}), "more than one page");
  RawFrame small = LegacyFrame(1, std::string(100, '1'));
  small.data = kOnes;
  ExpectCorrupt(BuildRaw(ExampleHeader(), {small}), "decompressed to 100 bytes");
}

TEST(LtxDecoder, RejectsSkippableOrForeignFrames) {
  RawFrame f = LegacyFrame(1, kOnes);
  PutLE32(reinterpret_cast<uint8_t*>(f.payload.data()), 0x184D2A50);
  ExpectCorrupt(BuildRaw(ExampleHeader(), {f}), "bad magic");
}

TEST(LtxDecoder, ErrorsAreSticky) {
  std::string file = ReadVector("example-block.ltx");
  file[114] ^= 1;  // LZ4 match length: the block no longer yields 512 bytes
  SpanSource src(file);
  Decoder d(&src);
  ASSERT_TRUE(d.DecodeHeader().ok());
  std::string buf(512, '\0');
  uint32_t pgno = 0;
  Result<bool> r = d.NextPage(&pgno, reinterpret_cast<uint8_t*>(buf.data()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(d.NextPage(&pgno, reinterpret_cast<uint8_t*>(buf.data())).status().message(),
            r.status().message());
  EXPECT_EQ(d.Close().message(), r.status().message());
}

TEST(LtxDecoder, MisuseIsInvalidArgument) {
  std::string file = ReadVector("example-block.ltx");
  SpanSource src(file);
  Decoder d(&src);
  std::string buf(512, '\0');
  uint32_t pgno = 0;
  EXPECT_EQ(d.NextPage(&pgno, reinterpret_cast<uint8_t*>(buf.data())).status().code(),
            Code::kInvalidArgument);
  ASSERT_TRUE(d.DecodeHeader().ok());
  EXPECT_EQ(d.DecodeHeader().code(), Code::kInvalidArgument);
  EXPECT_EQ(d.Close().code(), Code::kInvalidArgument);
}

TEST(LtxDecoder, SourceErrorsPassThroughWithOffset) {
  std::string file = ReadVector("ref-db-snapshot.ltx");
  for (size_t ok : {size_t{0}, size_t{50}, size_t{5000}, file.size()}) {
    testing::FailingSource src(file, ok);
    Decoder d(&src);
    d.set_read_buffer_size(4096);
    Status s = d.DecodeHeader();
    std::string buf(4096, '\0');
    uint32_t pgno = 0;
    while (s.ok()) {
      Result<bool> r = d.NextPage(&pgno, reinterpret_cast<uint8_t*>(buf.data()));
      if (!r.ok()) {
        s = r.status();
      } else if (!*r) {
        s = d.Close();
        break;
      }
    }
    EXPECT_EQ(s.code(), Code::kIOError) << ok << ": " << s.ToString();
    EXPECT_TRUE(s.retryable());
    EXPECT_NE(s.message().find("offset"), std::string::npos);
  }
}

// --- random access ---

TEST(LtxDecoder, PageIndexFromTailAndPageFrames) {
  for (const char* name : {"example-block.ltx", "example-frame.ltx", "ref-db-snapshot.ltx"}) {
    std::string file = ReadVector(name);
    Result<Decoded> full = DecodeAll(file);
    ASSERT_TRUE(full.ok());
    uint64_t need = 0;
    Result<std::vector<PageIndexEntry>> r = DecodePageIndexFromTail(
        reinterpret_cast<const uint8_t*>(file.data()) + file.size() - 20, 20, file.size(), &need);
    ASSERT_EQ(r.status().code(), Code::kOutOfRange);
    EXPECT_EQ(need, 24u);
    r = DecodePageIndexFromTail(reinterpret_cast<const uint8_t*>(file.data()) + file.size() - 24, 24,
                                file.size(), &need);
    ASSERT_EQ(r.status().code(), Code::kOutOfRange);
    ASSERT_GT(need, 24u);
    r = DecodePageIndexFromTail(reinterpret_cast<const uint8_t*>(file.data()) + file.size() - need, need,
                                file.size(), &need);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->size(), full->index.size());
    std::string page(full->header.page_size, '\0');
    for (size_t i = 0; i < r->size(); i++) {
      const PageIndexEntry& e = (*r)[i];
      EXPECT_EQ(e.pgno, full->index[i].pgno);
      EXPECT_EQ(e.offset, full->index[i].offset);
      EXPECT_EQ(e.size, full->index[i].size);
      uint32_t pgno = 0;
      Status s = DecodePageFrame(reinterpret_cast<const uint8_t*>(file.data()) + e.offset, e.size,
                                 full->header.page_size, &pgno, reinterpret_cast<uint8_t*>(page.data()));
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(pgno, e.pgno);
      EXPECT_EQ(page, full->pages[i].data);
      // One byte short or long is corruption.
      EXPECT_EQ(DecodePageFrame(reinterpret_cast<const uint8_t*>(file.data()) + e.offset, e.size - 1,
                                full->header.page_size, &pgno, reinterpret_cast<uint8_t*>(page.data()))
                    .code(),
                Code::kCorruption);
      EXPECT_EQ(DecodePageFrame(reinterpret_cast<const uint8_t*>(file.data()) + e.offset, e.size + 1,
                                full->header.page_size, &pgno, reinterpret_cast<uint8_t*>(page.data()))
                    .code(),
                Code::kCorruption);
    }
  }
}

// MeasureFrame walks a file's frames as the page index lists them, asks for
// more bytes on every prefix of a frame, and stops at the end-of-pages marker.
TEST(LtxDecoder, MeasureFrameFindsEveryFrameWithoutDecoding) {
  std::vector<std::string> files;
  for (const char* name : {"example-block.ltx", "example-frame.ltx", "ref-db-snapshot.ltx"}) files.push_back(ReadVector(name));
  for (uint32_t ps : {512u, 65536u}) {
    for (PageEncoding enc : {PageEncoding::kBlock, PageEncoding::kFrame}) {
      std::vector<Page> pages;
      for (uint32_t p : {1u, 2u, 5u, 40u}) pages.push_back(Page{p, MakePage(ps, p, ps / 2)});
      files.push_back(EncodeFile(MakeHeader(ps, 40, 7, 9), pages, enc));
    }
  }
  files.push_back(BuildRaw(MakeHeader(4096, 2, 1, 1), {LegacyFrame(1, MakePage(4096, 1, 0)), BlockFrame(2, MakePage(4096, 2, 0))}));
  for (const std::string& file : files) {
    Result<Decoded> full = DecodeAll(file);
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    const auto* p = reinterpret_cast<const uint8_t*>(file.data());
    const uint32_t ps = full->header.page_size;
    uint64_t at = kHeaderSize;
    for (const PageIndexEntry& e : full->index) {
      ASSERT_EQ(at, e.offset);
      uint32_t pgno = 0;
      for (size_t n = 0; n < e.size; n += (n < 64 ? 1 : 97)) {
        Result<uint64_t> m = MeasureFrame(p + at, n, ps, &pgno);
        ASSERT_TRUE(m.ok()) << m.status().ToString();
        ASSERT_EQ(*m, 0u) << "frame of page " << e.pgno << " sized from " << n << " of " << e.size << " bytes";
      }
      Result<uint64_t> m = MeasureFrame(p + at, file.size() - at, ps, &pgno);
      ASSERT_TRUE(m.ok()) << m.status().ToString();
      EXPECT_EQ(*m, e.size);
      EXPECT_EQ(pgno, e.pgno);
      at += e.size;
    }
    uint32_t pgno = 7;
    Result<uint64_t> m = MeasureFrame(p + at, file.size() - at, ps, &pgno);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(*m, kPageHeaderSize);
    EXPECT_EQ(pgno, 0u);
  }
}

// A RawFrame's bytes as stored.
std::string Stored(const RawFrame& f) {
  std::string out(kPageHeaderSize, '\0');
  PutBE32(reinterpret_cast<uint8_t*>(out.data()), f.pgno);
  PutBE16(reinterpret_cast<uint8_t*>(out.data()) + 4, f.flags);
  if (f.flags & kPageFlagSize) {
    std::string n(4, '\0');
    PutBE32(reinterpret_cast<uint8_t*>(n.data()), uint32_t(f.payload.size()));
    out += n;
  }
  return out + f.payload;
}

TEST(LtxDecoder, MeasureFrameRejectsBadFraming) {
  const uint32_t ps = 4096;
  uint32_t pgno = 0;
  auto measure = [&](const std::string& f) {
    return MeasureFrame(reinterpret_cast<const uint8_t*>(f.data()), f.size(), ps, &pgno).status().code();
  };
  std::string block = Stored(BlockFrame(3, MakePage(ps, 3, 0)));
  ASSERT_EQ(measure(block), Code::kOk);
  std::string bad = block;
  bad[5] = 0x04;  // an unknown flag
  EXPECT_EQ(measure(bad), Code::kCorruption);
  bad = block;
  PutBE32(reinterpret_cast<uint8_t*>(bad.data()) + kPageHeaderSize, 0);  // empty block
  EXPECT_EQ(measure(bad), Code::kCorruption);
  PutBE32(reinterpret_cast<uint8_t*>(bad.data()) + kPageHeaderSize, ps * 2);  // beyond LZ4's bound
  EXPECT_EQ(measure(bad), Code::kCorruption);
  EXPECT_EQ(measure(Stored(BlockFrame(LockPgno(ps), MakePage(ps, 1, 0)))), Code::kCorruption);
  std::string legacy = Stored(LegacyFrame(3, MakePage(ps, 3, 0)));
  ASSERT_EQ(measure(legacy), Code::kOk);
  bad = legacy;
  bad[kPageHeaderSize] ^= 0x01;  // not the LZ4 frame magic
  EXPECT_EQ(measure(bad), Code::kCorruption);
  bad = legacy;
  bad[kPageHeaderSize + 4] &= ~0x04;  // no content checksum
  EXPECT_EQ(measure(bad), Code::kCorruption);
  // A block header claiming more than a page's frame may hold.
  bad = legacy.substr(0, kPageHeaderSize + 7) + std::string("\xff\xff\x00\x00", 4) + std::string(70000, 'x');
  EXPECT_EQ(measure(bad), Code::kCorruption);
}

TEST(LtxDecoder, PageIndexFromTailRejectsBadLength) {
  std::string file = ReadVector("example-block.ltx");
  file[file.size() - 24] = 0x7f;  // absurd index length
  uint64_t need = 0;
  Result<std::vector<PageIndexEntry>> r =
      DecodePageIndexFromTail(reinterpret_cast<const uint8_t*>(file.data()), file.size(), file.size(), &need);
  EXPECT_EQ(r.status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace walship::ltx
