#include "ltx/compactor.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ltx/test_util.h"

namespace walship::ltx {
namespace {

using testing::DecodeAll;
using testing::Decoded;
using testing::EncodeFile;
using testing::MakeHeader;
using testing::MakePage;
using testing::Page;
using testing::ReadVector;
using testing::SpanSource;

struct File {
  std::string name;
  std::string bytes;
};

File Make(const Header& h, const std::vector<Page>& pages, PageEncoding enc = PageEncoding::kBlock) {
  return File{FormatFileName(h.min_txid, h.max_txid), EncodeFile(h, pages, enc)};
}

// Pages (pgno, version) of size ps.
std::vector<Page> Pages(uint32_t ps, std::initializer_list<std::pair<uint32_t, uint32_t>> pv) {
  std::vector<Page> out;
  for (auto [p, v] : pv) out.push_back(Page{p, MakePage(ps, p, v)});
  return out;
}

struct Merged {
  Header header;
  std::vector<Page> pages;
  uint64_t last_post_apply = 0;
};

Result<Merged> MergeAll(const std::vector<File>& files) {
  std::vector<std::unique_ptr<SpanSource>> srcs;
  std::vector<MergeInput> in;
  for (const File& f : files) {
    srcs.push_back(std::make_unique<SpanSource>(f.bytes));
    in.push_back(MergeInput{f.name, srcs.back().get()});
  }
  PageMerger m(std::move(in));
  WALSHIP_RETURN_IF_ERROR(m.Init());
  Merged out;
  out.header = m.header();
  uint32_t pgno = 0;
  const uint8_t* data = nullptr;
  for (;;) {
    WALSHIP_ASSIGN_OR_RETURN(bool more, m.Next(&pgno, &data));
    if (!more) break;
    out.pages.push_back(Page{pgno, std::string(reinterpret_cast<const char*>(data), out.header.page_size)});
  }
  out.last_post_apply = m.last_post_apply_checksum();
  return out;
}

Result<std::string> CompactAll(const std::vector<File>& files, const CompactOptions& opts = {}) {
  std::vector<std::unique_ptr<SpanSource>> srcs;
  std::vector<MergeInput> in;
  for (const File& f : files) {
    srcs.push_back(std::make_unique<SpanSource>(f.bytes));
    in.push_back(MergeInput{f.name, srcs.back().get()});
  }
  StringSink sink;
  WALSHIP_ASSIGN_OR_RETURN(Header h, Compact(std::move(in), &sink, opts));
  (void)h;
  return sink.data();
}

TEST(LtxCompactor, LatestInputWinsForOverlappingInputs) {
  Header a = MakeHeader(1024, 10, 2, 3, 100);
  Header b = MakeHeader(1024, 10, 3, 5, 200);
  Header c = MakeHeader(1024, 12, 6, 6, 300);
  std::vector<File> files = {Make(a, Pages(1024, {{1, 1}, {3, 1}, {5, 1}})),
                             Make(b, Pages(1024, {{3, 2}, {4, 2}})), Make(c, Pages(1024, {{5, 3}, {12, 3}}))};
  Result<Merged> m = MergeAll(files);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->pages, Pages(1024, {{1, 1}, {3, 2}, {4, 2}, {5, 3}, {12, 3}}));
  EXPECT_EQ(m->header.min_txid, 2u);
  EXPECT_EQ(m->header.max_txid, 6u);
  EXPECT_EQ(m->header.commit, 12u);
  EXPECT_EQ(m->header.timestamp_ms, 300);
  EXPECT_EQ(m->header.flags, kHeaderFlagNoChecksum);
  EXPECT_EQ(m->header.wal_offset, 0u);

  Result<std::string> out = CompactAll(files);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  Result<Decoded> d = DecodeAll(*out);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->pages, m->pages);
  EXPECT_EQ(d->header.timestamp_ms, 300);
}

TEST(LtxCompactor, ShrinkDropsPagesAboveTheLastCommit) {
  std::vector<File> files = {
      Make(MakeHeader(512, 8, 1, 1),
           Pages(512, {{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {6, 1}, {7, 1}, {8, 1}})),
      Make(MakeHeader(512, 9, 2, 2), Pages(512, {{7, 2}, {9, 2}})),
      Make(MakeHeader(512, 4, 3, 3), Pages(512, {{2, 3}}))};
  Result<Merged> m = MergeAll(files);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->header.commit, 4u);
  EXPECT_EQ(m->pages, Pages(512, {{1, 1}, {2, 3}, {3, 1}, {4, 1}}));
}

TEST(LtxCompactor, GrowthAppendsNewPages) {
  std::vector<File> files = {Make(MakeHeader(512, 3, 1, 1), Pages(512, {{1, 1}, {2, 1}, {3, 1}})),
                             Make(MakeHeader(512, 5, 2, 2), Pages(512, {{2, 2}, {4, 2}, {5, 2}}))};
  Result<Merged> m = MergeAll(files);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->pages, Pages(512, {{1, 1}, {2, 2}, {3, 1}, {4, 2}, {5, 2}}));
  EXPECT_TRUE(m->header.IsSnapshot());
}

TEST(LtxCompactor, GrowthWithoutTheNewPagesBreaksASnapshotMerge) {
  std::vector<File> files = {Make(MakeHeader(512, 3, 1, 1), Pages(512, {{1, 1}, {2, 1}, {3, 1}})),
                             Make(MakeHeader(512, 6, 2, 2), Pages(512, {{2, 2}, {5, 2}, {6, 2}}))};
  Result<Merged> m = MergeAll(files);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kCorruption);
  EXPECT_NE(m.status().message().find("lacks page 4"), std::string::npos) << m.status().message();
  files[1] = Make(MakeHeader(512, 6, 2, 2), Pages(512, {{4, 2}, {5, 2}}));
  m = MergeAll(files);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("lacks pages 6..6"), std::string::npos) << m.status().message();
}

TEST(LtxCompactor, RejectsNonContiguousInputs) {
  File a = Make(MakeHeader(512, 3, 2, 4), Pages(512, {{1, 1}}));
  File gap = Make(MakeHeader(512, 3, 6, 6), Pages(512, {{1, 2}}));
  File not_extending = Make(MakeHeader(512, 3, 3, 4), Pages(512, {{1, 2}}));
  File adjacent = Make(MakeHeader(512, 3, 5, 5), Pages(512, {{1, 2}}));
  for (const File& bad : {gap, not_extending}) {
    Result<Merged> m = MergeAll({a, bad});
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(m.status().message().find(a.name), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find(bad.name), std::string::npos) << m.status().message();
  }
  EXPECT_TRUE(MergeAll({a, adjacent}).ok());
  EXPECT_FALSE(MergeAll({adjacent, a}).ok());
}

TEST(LtxCompactor, RejectsMixedPageSizesAndNoInputs) {
  Result<Merged> m = MergeAll({Make(MakeHeader(512, 1, 2, 2), Pages(512, {{1, 1}})),
                               Make(MakeHeader(1024, 1, 3, 3), Pages(1024, {{1, 1}}))});
  EXPECT_EQ(m.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(MergeAll({}).status().code(), Code::kInvalidArgument);
}

TEST(LtxCompactor, CorruptInputIsDetectedAndNamed) {
  std::vector<File> files = {Make(MakeHeader(4096, 4, 1, 1), Pages(4096, {{1, 1}, {2, 1}, {3, 1}, {4, 1}})),
                             Make(MakeHeader(4096, 4, 2, 2), Pages(4096, {{2, 2}})),
                             Make(MakeHeader(4096, 4, 3, 3), Pages(4096, {{3, 3}}))};
  // Flip a byte of the middle file's trailer: detected only when it is closed.
  std::vector<File> bad = files;
  bad[1].bytes[bad[1].bytes.size() - 1] ^= 0x40;
  Result<Merged> m = MergeAll(bad);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kCorruption);
  EXPECT_NE(m.status().message().find("input " + bad[1].name), std::string::npos) << m.status().message();
  EXPECT_NE(m.status().message().find("file checksum mismatch"), std::string::npos) << m.status().message();
  // A broken header is caught by Init.
  bad = files;
  bad[2].bytes[0] = 'X';
  m = MergeAll(bad);
  EXPECT_EQ(m.status().code(), Code::kCorruption);
  EXPECT_NE(m.status().message().find("input " + bad[2].name), std::string::npos) << m.status().message();
  // So is a page dropped for being above Commit: it is still verified.
  bad = {Make(MakeHeader(512, 3, 2, 2), Pages(512, {{1, 1}, {3, 1}})), Make(MakeHeader(512, 1, 3, 3), {})};
  Result<Decoded> d = DecodeAll(bad[0].bytes);
  ASSERT_TRUE(d.ok());
  bad[0].bytes[d->index[1].offset + 12] ^= 1;  // inside page 3's LZ4 block
  m = MergeAll(bad);
  EXPECT_EQ(m.status().code(), Code::kCorruption);
  EXPECT_NE(m.status().message().find("input " + bad[0].name), std::string::npos) << m.status().message();
}

TEST(LtxCompactor, CompactOfOneFileReproducesTheSharedVectors) {
  for (auto [name, enc] : {std::pair{"example-block.ltx", PageEncoding::kBlock},
                           std::pair{"example-frame.ltx", PageEncoding::kFrame}}) {
    std::string file = ReadVector(name);
    CompactOptions o;
    o.encoding = enc;
    Result<std::string> out = CompactAll({File{name, file}}, o);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(*out, file) << name;
  }
}

TEST(LtxCompactor, CompactOfChecksumTrackedSnapshotDropsChecksums) {
  std::string file = ReadVector("ref-db-snapshot.ltx");
  Result<Merged> m = MergeAll({File{"snap", file}});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->last_post_apply, 0x855e2193171ab7f5ull);
  CompactOptions o;
  o.timestamp_ms = 777;
  Result<std::string> out = CompactAll({File{"snap", file}}, o);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  Result<Decoded> d = DecodeAll(*out);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->header.flags, kHeaderFlagNoChecksum);
  EXPECT_EQ(d->header.timestamp_ms, 777);
  EXPECT_EQ(d->trailer.post_apply_checksum, 0u);
  std::string applied;
  for (const Page& p : d->pages) applied += p.data;
  EXPECT_EQ(applied, ReadVector("ref-db.sqlite"));
}

// A seeded workload: a snapshot then incrementals that update, grow (writing
// every new page) and shrink. Merging any contiguous run must give the model.
TEST(LtxCompactor, SnapshotPlusIncrementalsReproducesFullPageSet) {
  const uint32_t seed = 20260826;
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  const uint32_t ps = 1024;
  std::map<uint32_t, std::string> db;
  uint32_t commit = 20;
  std::vector<Page> snap;
  for (uint32_t p = 1; p <= commit; p++) snap.push_back(Page{p, MakePage(ps, p, 1)});
  for (const Page& p : snap) db[p.pgno] = p.data;
  std::vector<File> files = {Make(MakeHeader(ps, commit, 1, 1), snap)};
  std::vector<std::map<uint32_t, std::string>> states = {db};
  std::vector<uint32_t> commits = {commit};
  for (uint32_t txid = 2; txid <= 40; txid++) {
    const uint32_t prev = commit;
    int kind = int(rng() % 4);
    if (kind == 0) commit = prev + 1 + rng() % 6;
    if (kind == 1 && prev > 3) commit = prev - 1 - rng() % (prev / 3);
    std::map<uint32_t, std::string> changed;
    for (uint32_t p = prev + 1; p <= commit; p++) changed[p] = MakePage(ps, p, txid);
    for (int k = int(rng() % 4); k > 0; k--) {
      uint32_t p = 1 + rng() % commit;
      changed[p] = MakePage(ps, p, txid);
    }
    for (auto it = db.begin(); it != db.end();) it = it->first > commit ? db.erase(it) : std::next(it);
    std::vector<Page> pages;
    for (auto& [p, d] : changed) {
      db[p] = d;
      pages.push_back(Page{p, d});
    }
    files.push_back(Make(MakeHeader(ps, commit, txid, txid, txid * 10), pages,
                         txid % 3 ? PageEncoding::kBlock : PageEncoding::kFrame));
    states.push_back(db);
    commits.push_back(commit);
  }
  // Full restore: snapshot + all incrementals, via Compact and re-decode.
  Result<std::string> out = CompactAll(files);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  Result<Decoded> d = DecodeAll(*out);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  std::vector<Page> want;
  for (auto& [p, data] : db) want.push_back(Page{p, data});
  EXPECT_EQ(d->pages, want);
  EXPECT_EQ(d->header.commit, commits.back());
  EXPECT_EQ(d->header.min_txid, 1u);
  EXPECT_EQ(d->header.max_txid, 40u);
  // Restores at every TXID, and merges of incremental runs (no snapshot).
  for (size_t end = 1; end <= files.size(); end++) {
    Result<Merged> m = MergeAll(std::vector<File>(files.begin(), files.begin() + long(end)));
    ASSERT_TRUE(m.ok()) << end << ": " << m.status().ToString();
    std::vector<Page> at;
    for (auto& [p, data] : states[end - 1]) at.push_back(Page{p, data});
    EXPECT_EQ(m->pages, at) << "restore at txid " << end;
  }
  for (size_t begin = 1; begin + 5 <= files.size(); begin += 5) {
    Result<Merged> m =
        MergeAll(std::vector<File>(files.begin() + long(begin), files.begin() + long(begin) + 5));
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_FALSE(m->header.IsSnapshot());
    for (const Page& p : m->pages) {
      EXPECT_LE(p.pgno, m->header.commit);
      EXPECT_EQ(p.data, states[begin + 4].at(p.pgno));
    }
  }
}

TEST(LtxCompactor, MergesAroundTheLockPage) {
  // 64 KiB pages put the lock page at 16385: incrementals may hold pages on
  // both sides of it, never it.
  const uint32_t ps = 65536;
  const uint32_t lock = LockPgno(ps);
  ASSERT_EQ(lock, 16385u);
  std::vector<File> files = {
      Make(MakeHeader(ps, lock + 3, 2, 2), Pages(ps, {{lock - 2, 2}, {lock - 1, 2}, {lock + 1, 2}})),
      Make(MakeHeader(ps, lock + 4, 3, 3), Pages(ps, {{lock - 1, 3}, {lock + 1, 3}, {lock + 4, 3}}),
           PageEncoding::kFrame),
      Make(MakeHeader(ps, lock + 4, 4, 4), Pages(ps, {{lock + 3, 4}}))};
  Result<std::string> out = CompactAll(files);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  Result<Decoded> d = DecodeAll(*out);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->pages, Pages(ps, {{lock - 2, 2}, {lock - 1, 3}, {lock + 1, 3}, {lock + 3, 4}, {lock + 4, 3}}));
}

TEST(LtxCompactor, SnapshotSpanningTheLockPageSkipsIt) {
  // 16386 pages of 64 KiB (1 GiB of page data, mostly zeros) around the lock
  // page; the snapshot sequence must go lock-1 -> lock+1.
  const uint32_t ps = 65536;
  const uint32_t lock = LockPgno(ps);
  const uint32_t commit = lock + 1;
  const std::string zero(ps, '\0');
  StringSink sink;
  Encoder e(&sink);
  ASSERT_TRUE(e.EncodeHeader(MakeHeader(ps, commit, 1, 1)).ok());
  for (uint32_t p = 1; p <= commit; p++) {
    if (p == lock) continue;
    const std::string data = p + 2 >= lock ? MakePage(ps, p, 1) : zero;
    ASSERT_TRUE(e.EncodePage(p, reinterpret_cast<const uint8_t*>(data.data())).ok()) << p;
  }
  ASSERT_TRUE(e.Close().ok());
  File snap{"snap", sink.data()};
  File inc = Make(MakeHeader(ps, commit, 2, 2), Pages(ps, {{lock - 1, 2}, {lock + 1, 2}}));

  std::vector<std::unique_ptr<SpanSource>> srcs;
  srcs.push_back(std::make_unique<SpanSource>(snap.bytes));
  srcs.push_back(std::make_unique<SpanSource>(inc.bytes));
  PageMerger m({MergeInput{snap.name, srcs[0].get()}, MergeInput{inc.name, srcs[1].get()}});
  ASSERT_TRUE(m.Init().ok());
  uint32_t pgno = 0;
  uint32_t expect = 1;
  const uint8_t* data = nullptr;
  for (;;) {
    Result<bool> r = m.Next(&pgno, &data);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (!*r) break;
    ASSERT_EQ(pgno, expect);
    if (pgno >= lock - 1) {
      uint32_t version = (pgno == lock - 1 || pgno == lock + 1) ? 2 : 1;
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(data), ps), MakePage(ps, pgno, version)) << pgno;
    }
    expect = pgno + 1 == lock ? lock + 1 : pgno + 1;
  }
  EXPECT_EQ(expect, commit + 1);
}

}  // namespace
}  // namespace walship::ltx
