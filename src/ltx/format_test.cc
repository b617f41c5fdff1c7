#include "ltx/format.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "ltx/test_util.h"

namespace walship::ltx {
namespace {

using testing::ReadVector;

TEST(LtxFormat, LockPgnoMatchesCompatTable) {
  const uint32_t sizes[] = {512, 1024, 2048, 4096, 8192, 16384, 32768, 65536};
  const uint32_t want[] = {2097153, 1048577, 524289, 262145, 131073, 65537, 32769, 16385};
  for (size_t i = 0; i < 8; i++) EXPECT_EQ(LockPgno(sizes[i]), want[i]) << sizes[i];
}

TEST(LtxFormat, ValidPageSizesArePowersOfTwoFrom512To65536) {
  for (uint32_t s = 512; s <= 65536; s *= 2) EXPECT_TRUE(IsValidPageSize(s)) << s;
  for (uint32_t s : {0u, 1u, 256u, 511u, 513u, 1000u, 4095u, 131072u, 0xffffffffu}) {
    EXPECT_FALSE(IsValidPageSize(s)) << s;
  }
}

TEST(LtxFormat, PageChecksumVectors) {
  auto pc = [](uint32_t pgno, uint32_t size, char fill) {
    std::string p(size, fill);
    return PageChecksum(pgno, reinterpret_cast<const uint8_t*>(p.data()), size);
  };
  EXPECT_EQ(pc(1, 512, 0x01), 0xe4e4aaa102377eeeull);
  EXPECT_EQ(pc(2, 512, 0x02), 0xc9c9554231044dddull);
  EXPECT_EQ(pc(3, 512, 0x03), 0xc2d2001cdfeaa333ull);
  EXPECT_EQ(kChecksumFlag | (pc(1, 512, 1) ^ pc(2, 512, 2) ^ pc(3, 512, 3)), 0xefffffffecd99000ull);
  EXPECT_EQ(pc(1, 512, '1'), 0xeb1a999231044dddull);
  EXPECT_EQ(pc(1, 4096, 0), 0xd9328f592d9e733dull);
}

TEST(LtxFormat, RollingChecksumSkipsTheLockPage) {
  // 4096-byte pages, Commit = lockPgno + 10, every page 'x' except the lock page.
  const uint32_t lock = LockPgno(4096);
  std::string page(4096, 'x');
  const auto* p = reinterpret_cast<const uint8_t*>(page.data());
  uint64_t c = 0;
  for (uint32_t pgno = 1; pgno <= lock + 10; pgno++) {
    if (pgno != lock) c ^= PageChecksum(pgno, p, page.size());
  }
  EXPECT_EQ(kChecksumFlag | c, 0xc19b668c376662c7ull);
}

TEST(LtxFormat, RefDbChecksum) {
  std::string db = ReadVector("ref-db.sqlite");
  ASSERT_EQ(db.size(), 32u * 4096);
  uint64_t c = 0;
  for (uint32_t i = 0; i < 32; i++) {
    c ^= PageChecksum(i + 1, reinterpret_cast<const uint8_t*>(db.data()) + i * 4096, 4096);
  }
  EXPECT_EQ(kChecksumFlag | c, 0x855e2193171ab7f5ull);
}

Header FullHeader() {
  Header h;
  h.flags = 0;
  h.page_size = 4096;
  h.commit = 77;
  h.min_txid = 5;
  h.max_txid = 9;
  h.timestamp_ms = -12345;
  h.pre_apply_checksum = kChecksumFlag | 0x1234;
  h.wal_offset = 32;
  h.wal_size = 4096 * 3;
  h.wal_salt1 = 0xdeadbeef;
  h.wal_salt2 = 0x01020304;
  h.node_id = 0x0a0b0c0d0e0f1011ull;
  return h;
}

TEST(LtxFormat, HeaderRoundTripsEveryField) {
  Header h = FullHeader();
  ASSERT_TRUE(h.Validate().ok());
  uint8_t b[kHeaderSize];
  h.EncodeTo(b);
  EXPECT_EQ(std::memcmp(b, "LTX1", 4), 0);
  for (size_t i = 80; i < kHeaderSize; i++) EXPECT_EQ(b[i], 0) << "reserved byte " << i;
  Result<Header> d = Header::Decode(b, sizeof(b));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->flags, h.flags);
  EXPECT_EQ(d->page_size, h.page_size);
  EXPECT_EQ(d->commit, h.commit);
  EXPECT_EQ(d->min_txid, h.min_txid);
  EXPECT_EQ(d->max_txid, h.max_txid);
  EXPECT_EQ(d->timestamp_ms, h.timestamp_ms);
  EXPECT_EQ(d->pre_apply_checksum, h.pre_apply_checksum);
  EXPECT_EQ(d->wal_offset, h.wal_offset);
  EXPECT_EQ(d->wal_size, h.wal_size);
  EXPECT_EQ(d->wal_salt1, h.wal_salt1);
  EXPECT_EQ(d->wal_salt2, h.wal_salt2);
  EXPECT_EQ(d->node_id, h.node_id);
}

TEST(LtxFormat, ExampleHeaderBytesMatchTheSharedVector) {
  std::string file = ReadVector("example-block.ltx");
  uint8_t b[kHeaderSize];
  testing::ExampleHeader().EncodeTo(b);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(b), kHeaderSize), file.substr(0, kHeaderSize));
}

TEST(LtxFormat, DecodeRejectsBadMagicAndShortInput) {
  uint8_t b[kHeaderSize];
  FullHeader().EncodeTo(b);
  b[3] = '2';
  Result<Header> r = Header::Decode(b, sizeof(b));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption);
  EXPECT_EQ(r.status().message(), "invalid LTX file");
  FullHeader().EncodeTo(b);
  EXPECT_EQ(Header::Decode(b, kHeaderSize - 1).status().code(), Code::kCorruption);
}

void ExpectInvalid(const Header& h, const std::string& needle) {
  Status s = h.Validate();
  EXPECT_EQ(s.code(), Code::kCorruption) << needle;
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  uint8_t b[kHeaderSize];
  h.EncodeTo(b);
  EXPECT_FALSE(Header::Decode(b, sizeof(b)).ok()) << needle;
}

TEST(LtxFormat, ValidateNamesTheBadField) {
  Header h = FullHeader();
  h.flags = 0x1;
  ExpectInvalid(h, "flags");
  h = FullHeader();
  h.page_size = 1000;
  ExpectInvalid(h, "page size");
  h = FullHeader();
  h.min_txid = 0;
  ExpectInvalid(h, "min TXID");
  h = FullHeader();
  h.max_txid = 0;
  ExpectInvalid(h, "max TXID");
  h = FullHeader();
  h.min_txid = 10;
  ExpectInvalid(h, "greater than max TXID");
  h = FullHeader();
  h.wal_offset = uint64_t{1} << 63;
  ExpectInvalid(h, "WAL offset");
  h = FullHeader();
  h.wal_size = ~uint64_t{0};
  ExpectInvalid(h, "WAL size");
  h = FullHeader();
  h.wal_offset = 0;
  h.wal_size = 0;
  ExpectInvalid(h, "salt");
  h = FullHeader();
  h.wal_offset = 0;
  h.wal_salt1 = h.wal_salt2 = 0;
  ExpectInvalid(h, "WAL size set");
  h = FullHeader();
  h.min_txid = 1;
  ExpectInvalid(h, "snapshot");
  h = FullHeader();
  h.flags = kHeaderFlagNoChecksum;
  ExpectInvalid(h, "without checksums");
  h = FullHeader();
  h.pre_apply_checksum = 0;
  ExpectInvalid(h, "required");
  h = FullHeader();
  h.pre_apply_checksum = 0x1234;
  ExpectInvalid(h, "flag");
}

TEST(LtxFormat, FileNames) {
  EXPECT_EQ(FormatFileName(1, 0xa1), "0000000000000001-00000000000000a1.ltx");
  EXPECT_EQ(FormatTxid(0xdeadbeefull), "00000000deadbeef");
  uint64_t lo = 0;
  uint64_t hi = 0;
  ASSERT_TRUE(ParseFileName("0000000000000001-00000000000000a1.ltx", &lo, &hi));
  EXPECT_EQ(lo, 1u);
  EXPECT_EQ(hi, 0xa1u);
  ASSERT_TRUE(ParseFileName("ffffffffffffffff-ffffffffffffffff.ltx", &lo, &hi));
  EXPECT_EQ(hi, ~uint64_t{0});
  for (const char* bad :
       {"", "0000000000000001-00000000000000A1.ltx", "000000000000001-00000000000000a1.ltx",
        "0000000000000001-00000000000000a1.ltx.tmp", "0000000000000001_00000000000000a1.ltx",
        "0000000000000001-00000000000000a1.LTX", "000000000000000g-00000000000000a1.ltx",
        "x0000000000000001-00000000000000a1.ltx"}) {
    EXPECT_FALSE(ParseFileName(bad, &lo, &hi)) << bad;
  }
}

TEST(LtxFormat, ParseTxid) {
  EXPECT_EQ(*ParseTxid("00000000000000a1"), 0xa1u);
  EXPECT_EQ(*ParseTxid("a1"), 0xa1u);
  EXPECT_EQ(*ParseTxid("A1"), 0xa1u);
  EXPECT_EQ(*ParseTxid("ffffffffffffffff"), ~uint64_t{0});
  for (const char* bad : {"", "0", "0000000000000000", "00000000000000001", "xyz", "-1", " 1"}) {
    Result<uint64_t> r = ParseTxid(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace walship::ltx
