#include "wal/wal_reader.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/coding.h"
#include "base/file.h"
#include "sqlite/sqlite.h"

namespace walship::wal {
namespace {

const std::string kTestData = std::string(WALSHIP_SHARED_TESTDATA) + "/wal/";
constexpr uint32_t kRefPageSize = 4096;
constexpr uint64_t kRefFrameSize = 24 + 4096;

// ---- helpers ----

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/walship-wal-XXXXXX";
    char* p = mkdtemp(tmpl);
    path_ = p != nullptr ? p : "";
  }
  ~TempDir() { RemoveTree(path_).IgnoreError(); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string Join(std::string_view name) const { return JoinPath(path_, name); }

 private:
  std::string path_;
};

std::string MustRead(const std::string& path) {
  Result<std::string> r = ReadFileToString(path);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::string();
}

void MustWrite(const std::string& path, std::string_view data) {
  Result<File> f = File::OpenWrite(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE(f->PWriteFull(data.data(), data.size(), 0).ok());
  ASSERT_TRUE(f->Close().ok());
}

// What a full pass of the reader over one WAL file returned.
struct Scan {
  Header header;
  std::vector<Frame> frames;
  std::vector<uint32_t> commits;                   // commit values, in order
  std::map<uint32_t, std::vector<uint8_t>> pages;  // last committed version per pgno
  uint64_t end = 0;                                // reader offset at the end
};

// Reads every valid frame from offset 32 (or from `seek`).
Result<Scan> ScanWal(const std::string& path, uint64_t seek = kHeaderSize) {
  WALSHIP_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  WALSHIP_ASSIGN_OR_RETURN(Reader r, Reader::Open(&f));
  WALSHIP_RETURN_IF_ERROR(r.Seek(seek));
  Scan s;
  s.header = r.header();
  std::vector<uint8_t> page(r.page_size());
  std::map<uint32_t, std::vector<uint8_t>> pending;
  for (;;) {
    Frame fr;
    WALSHIP_ASSIGN_OR_RETURN(bool more, r.Next(&fr, page.data()));
    if (!more) break;
    s.frames.push_back(fr);
    pending[fr.pgno] = page;
    if (fr.commit != 0) {
      s.commits.push_back(fr.commit);
      for (auto& [pgno, data] : pending) s.pages[pgno] = std::move(data);
      pending.clear();
    }
  }
  s.end = r.offset();
  return s;
}

Scan MustScan(const std::string& path, uint64_t seek = kHeaderSize) {
  Result<Scan> s = ScanWal(path, seek);
  EXPECT_TRUE(s.ok()) << path << ": " << s.status().ToString();
  return s.ok() ? std::move(s).value() : Scan();
}

std::vector<uint64_t> Offsets(const std::vector<Frame>& frames) {
  std::vector<uint64_t> out;
  for (const Frame& f : frames) out.push_back(f.offset);
  return out;
}

// An independent WAL writer for tests: SQLite's checksum written out again,
// checked against a SQLite-made WAL below before it is trusted for big-endian.
void TestChecksum(bool be, const uint8_t* p, size_t n, uint32_t* s1, uint32_t* s2) {
  for (size_t i = 0; i < n; i += 8) {
    uint32_t x0 = be ? GetBE32(p + i) : GetLE32(p + i);
    uint32_t x1 = be ? GetBE32(p + i + 4) : GetLE32(p + i + 4);
    *s1 += x0 + *s2;
    *s2 += x1 + *s1;
  }
}

struct TestFrame {
  uint32_t pgno;
  uint32_t commit;
  std::string page;  // page_size bytes
};

std::string BuildWal(uint32_t magic, uint32_t page_size, uint32_t ckpt_seq, uint32_t salt1, uint32_t salt2,
                     const std::vector<TestFrame>& frames) {
  const bool be = (magic & 1) != 0;
  std::string out(kHeaderSize, '\0');
  auto* h = reinterpret_cast<uint8_t*>(out.data());
  PutBE32(h, magic);
  PutBE32(h + 4, kVersion);
  PutBE32(h + 8, page_size);
  PutBE32(h + 12, ckpt_seq);
  PutBE32(h + 16, salt1);
  PutBE32(h + 20, salt2);
  uint32_t s1 = 0, s2 = 0;
  TestChecksum(be, h, 24, &s1, &s2);
  PutBE32(h + 24, s1);
  PutBE32(h + 28, s2);
  for (const TestFrame& tf : frames) {
    uint8_t fh[kFrameHeaderSize];
    PutBE32(fh, tf.pgno);
    PutBE32(fh + 4, tf.commit);
    PutBE32(fh + 8, salt1);
    PutBE32(fh + 12, salt2);
    TestChecksum(be, fh, 8, &s1, &s2);
    TestChecksum(be, reinterpret_cast<const uint8_t*>(tf.page.data()), tf.page.size(), &s1, &s2);
    PutBE32(fh + 16, s1);
    PutBE32(fh + 20, s2);
    out.append(reinterpret_cast<const char*>(fh), sizeof(fh));
    out += tf.page;
  }
  return out;
}

std::string PatternPage(uint32_t page_size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string p(page_size, '\0');
  for (char& c : p) c = char(rng());
  return p;
}

// ---- the shared test files ----

TEST(WalReader, OkFileYieldsThreeFramesAndTwoCommits) {
  Scan s = MustScan(kTestData + "ok/wal");
  EXPECT_EQ(s.header.magic, kMagicLE);
  EXPECT_EQ(s.header.page_size, kRefPageSize);
  EXPECT_EQ(s.header.salt1, 0x4875a40bu);
  EXPECT_EQ(s.header.salt2, 0xa38de4f5u);
  ASSERT_EQ(s.frames.size(), 3u);
  EXPECT_EQ(Offsets(s.frames), (std::vector<uint64_t>{32, 4152, 8272}));
  EXPECT_EQ(s.frames[0].pgno, 1u);
  EXPECT_EQ(s.frames[0].commit, 0u);
  EXPECT_EQ(s.frames[1].pgno, 2u);
  EXPECT_EQ(s.frames[1].commit, 2u);
  EXPECT_EQ(s.frames[2].pgno, 2u);
  EXPECT_EQ(s.frames[2].commit, 2u);
  EXPECT_EQ(s.commits, (std::vector<uint32_t>{2, 2}));
  EXPECT_EQ(s.end, 12392u);
}

TEST(WalReader, StopsAtFrameWithForeignSalts) {
  Scan s = MustScan(kTestData + "salt-mismatch/wal");
  ASSERT_EQ(s.frames.size(), 1u);
  EXPECT_EQ(s.frames[0].offset, 32u);
  EXPECT_TRUE(s.commits.empty());
  EXPECT_EQ(s.end, 32 + kRefFrameSize);
}

TEST(WalReader, StopsAtFrameWithBadChecksum) {
  Scan s = MustScan(kTestData + "frame-checksum-mismatch/wal");
  ASSERT_EQ(s.frames.size(), 1u);
  EXPECT_EQ(s.frames[0].offset, 32u);
  EXPECT_EQ(s.end, 32 + kRefFrameSize);
}

TEST(WalReader, VerifiesChecksumWhenPageIsSkipped) {
  Result<File> f = File::OpenRead(kTestData + "frame-checksum-mismatch/wal");
  ASSERT_TRUE(f.ok());
  Result<Reader> r = Reader::Open(&*f);
  ASSERT_TRUE(r.ok());
  Frame fr;
  Result<bool> more = r->Next(&fr, nullptr);
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(*more);
  more = r->Next(nullptr, nullptr);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  // A stopped reader stays stopped.
  more = r->Next(&fr, nullptr);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  EXPECT_EQ(r->offset(), 32 + kRefFrameSize);
}

TEST(WalReader, FrameSaltsReturnsCurrentGenerationOnly) {
  Scan s = MustScan(kTestData + "frame-salts/wal");
  EXPECT_EQ(s.header.salt1, 0x1b9a294bu);
  EXPECT_EQ(s.header.salt2, 0x37f91916u);
  ASSERT_EQ(s.frames.size(), 2u);
  EXPECT_EQ(s.commits, (std::vector<uint32_t>{2, 2}));
  EXPECT_EQ(s.end, 32 + 2 * kRefFrameSize);
}

TEST(WalReader, ScanFrameSaltsSeesOlderGenerationsInOrder) {
  Result<File> f = File::OpenRead(kTestData + "frame-salts/wal");
  ASSERT_TRUE(f.ok());
  auto salts = ScanFrameSalts(*f, kRefPageSize);
  ASSERT_TRUE(salts.ok()) << salts.status().ToString();
  std::vector<std::pair<uint32_t, uint32_t>> want = {
      {0x1b9a294b, 0x37f91916}, {0x1b9a294a, 0x031f195e}, {0x1b9a2949, 0x13b3dd67}};
  EXPECT_EQ(*salts, want);
  EXPECT_EQ(ScanFrameSalts(*f, 1000).status().code(), Code::kInvalidArgument);
}

TEST(WalReader, ReadFrameHeaderDecodesAndReportsShortReads) {
  Result<File> f = File::OpenRead(kTestData + "ok/wal");
  ASSERT_TRUE(f.ok());
  Result<Frame> fr = ReadFrameHeader(*f, 4152);
  ASSERT_TRUE(fr.ok());
  EXPECT_EQ(fr->offset, 4152u);
  EXPECT_EQ(fr->pgno, 2u);
  EXPECT_EQ(fr->commit, 2u);
  EXPECT_EQ(fr->salt1, 0x4875a40bu);
  EXPECT_EQ(fr->checksum1, 0xd6702fdau);
  EXPECT_EQ(fr->checksum2, 0xf16ccedau);
  EXPECT_EQ(ReadFrameHeader(*f, 12392 - 10).status().code(), Code::kOutOfRange);
  EXPECT_EQ(ReadFrameHeader(*f, 1 << 20).status().code(), Code::kOutOfRange);
}

// ---- Seek ----

TEST(WalReader, SeekToEachFrameContinuesTheChecksumChain) {
  for (uint64_t off : {32ull, 4152ull, 8272ull, 12392ull}) {
    Scan s = MustScan(kTestData + "ok/wal", off);
    EXPECT_EQ(s.frames.size(), (12392 - off) / kRefFrameSize) << off;
    if (!s.frames.empty()) {
      EXPECT_EQ(s.frames[0].offset, off);
    }
    EXPECT_EQ(s.end, 12392u);
  }
}

TEST(WalReader, SeekRejectsOffsetsOffFrameBoundaries) {
  Result<File> f = File::OpenRead(kTestData + "ok/wal");
  ASSERT_TRUE(f.ok());
  Result<Reader> r = Reader::Open(&*f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Seek(0).code(), Code::kInvalidArgument);
  EXPECT_EQ(r->Seek(31).code(), Code::kInvalidArgument);
  EXPECT_EQ(r->Seek(33).code(), Code::kInvalidArgument);
  EXPECT_EQ(r->Seek(4151).code(), Code::kInvalidArgument);
  EXPECT_EQ(r->offset(), 32u);  // failed seeks leave the reader where it was
}

TEST(WalReader, SeekAfterForeignSaltFrameFailsPrecondition) {
  Result<File> f = File::OpenRead(kTestData + "frame-salts/wal");
  ASSERT_TRUE(f.ok());
  Result<Reader> r = Reader::Open(&*f);
  ASSERT_TRUE(r.ok());
  // Frame 1 carries the header's salts: seeking past it is fine, and the
  // next frame (older salts) ends the generation.
  ASSERT_TRUE(r->Seek(32 + 2 * kRefFrameSize).ok());
  Result<bool> more = r->Next(nullptr, nullptr);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(*more);
  // Frame 2 carries older salts.
  Status st = r->Seek(32 + 3 * kRefFrameSize);
  EXPECT_EQ(st.code(), Code::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("previous frame salt mismatch"), std::string::npos) << st.ToString();
  // Beyond the end of the file: the previous frame is missing.
  EXPECT_EQ(r->Seek(32 + 20 * kRefFrameSize).code(), Code::kFailedPrecondition);
  // Restarting from 32 always works.
  ASSERT_TRUE(r->Seek(32).ok());
  more = r->Next(nullptr, nullptr);
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(*more);
}

TEST(WalReader, SeekPastSaltMismatchFrameFailsPrecondition) {
  Result<File> f = File::OpenRead(kTestData + "salt-mismatch/wal");
  ASSERT_TRUE(f.ok());
  Result<Reader> r = Reader::Open(&*f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Seek(32 + 2 * kRefFrameSize).code(), Code::kFailedPrecondition);
}

// ---- header corruption ----

TEST(WalReader, ParseHeaderRejectsEveryFlippedByte) {
  std::string wal = MustRead(kTestData + "ok/wal");
  ASSERT_GE(wal.size(), kHeaderSize);
  ASSERT_TRUE(ParseHeader(reinterpret_cast<const uint8_t*>(wal.data()), kHeaderSize).ok());
  for (size_t i = 0; i < kHeaderSize; i++) {
    for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      std::string h = wal.substr(0, kHeaderSize);
      h[i] = char(uint8_t(h[i]) ^ mask);
      Result<Header> r = ParseHeader(reinterpret_cast<const uint8_t*>(h.data()), h.size());
      ASSERT_FALSE(r.ok()) << "byte " << i << " mask " << int(mask);
      EXPECT_EQ(r.status().code(), Code::kCorruption) << i;
    }
  }
}

TEST(WalReader, OpenRejectsEveryFlippedHeaderByte) {
  TempDir dir;
  std::string wal = MustRead(kTestData + "ok/wal");
  std::string path = dir.Join("wal");
  for (size_t i = 0; i < kHeaderSize; i++) {
    std::string w = wal;
    w[i] = char(~uint8_t(w[i]));
    MustWrite(path, w);
    Result<File> f = File::OpenRead(path);
    ASSERT_TRUE(f.ok());
    Result<Reader> r = Reader::Open(&*f);
    ASSERT_FALSE(r.ok()) << i;
    EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
  }
}

TEST(WalReader, ShortHeaderIsOutOfRange) {
  std::string wal = MustRead(kTestData + "ok/wal");
  for (size_t n = 0; n < kHeaderSize; n++) {
    Result<Header> r = ParseHeader(reinterpret_cast<const uint8_t*>(wal.data()), n);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().code(), Code::kOutOfRange);
  }
}

TEST(WalReader, TruncationAtEveryLengthNeverCrashes) {
  TempDir dir;
  std::string wal = MustRead(kTestData + "ok/wal");
  std::string path = dir.Join("wal");
  MustWrite(path, wal);
  Result<File> w = File::OpenWrite(path, /*truncate=*/false);
  ASSERT_TRUE(w.ok());
  Result<File> f = File::OpenRead(path);
  ASSERT_TRUE(f.ok());
  for (size_t n = wal.size() + 1; n-- > 0;) {
    ASSERT_TRUE(w->Truncate(n).ok());
    Result<Reader> r = Reader::Open(&*f);
    if (n < kHeaderSize) {
      ASSERT_FALSE(r.ok()) << n;
      EXPECT_EQ(r.status().code(), Code::kOutOfRange);
      continue;
    }
    ASSERT_TRUE(r.ok()) << n << ": " << r.status().ToString();
    size_t frames = 0;
    for (;;) {
      Result<bool> more = r->Next(nullptr, nullptr);
      ASSERT_TRUE(more.ok()) << n;
      if (!*more) break;
      frames++;
    }
    EXPECT_EQ(frames, (n - kHeaderSize) / kRefFrameSize) << n;
    EXPECT_EQ(r->offset(), kHeaderSize + frames * kRefFrameSize);
  }
}

TEST(WalReader, RejectsBadPageSizes) {
  for (uint32_t ps : {0u, 256u, 1000u, 4095u, 131072u, 0x80000000u}) {
    std::string h = BuildWal(kMagicLE, ps, 0, 1, 2, {});
    Result<Header> r = ParseHeader(reinterpret_cast<const uint8_t*>(h.data()), h.size());
    ASSERT_FALSE(r.ok()) << ps;
    EXPECT_EQ(r.status().code(), Code::kCorruption);
  }
}

TEST(WalReader, EveryFlippedFrameByteEndsTheWalThere) {
  TempDir dir;
  std::string path = dir.Join("wal");
  std::vector<TestFrame> frames;
  for (uint32_t i = 0; i < 3; i++) frames.push_back({i + 1, i == 2 ? 3u : 0u, PatternPage(512, i)});
  const std::string wal = BuildWal(kMagicLE, 512, 0, 7, 9, frames);
  const size_t fsize = size_t(FrameSize(512));
  // Every byte of frame 1 (header and page), plus a sample of frame 2.
  for (size_t i = kHeaderSize + fsize; i < wal.size(); i += (i < kHeaderSize + 2 * fsize ? 1 : 97)) {
    std::string w = wal;
    w[i] = char(uint8_t(w[i]) ^ 0x20);
    MustWrite(path, w);
    Scan s = MustScan(path);
    EXPECT_EQ(s.frames.size(), (i - kHeaderSize) / fsize) << "byte " << i;
  }
}

// ---- checksum byte orders ----

TEST(WalReader, TestWriterReproducesSqliteMadeWal) {
  // Rebuild ok/wal from its header fields and pages with the test writer.
  std::string wal = MustRead(kTestData + "ok/wal");
  const auto* p = reinterpret_cast<const uint8_t*>(wal.data());
  std::vector<TestFrame> frames;
  for (uint64_t off = kHeaderSize; off + kRefFrameSize <= wal.size(); off += kRefFrameSize) {
    frames.push_back({GetBE32(p + off), GetBE32(p + off + 4), wal.substr(off + 24, kRefPageSize)});
  }
  std::string rebuilt =
      BuildWal(GetBE32(p), GetBE32(p + 8), GetBE32(p + 12), GetBE32(p + 16), GetBE32(p + 20), frames);
  EXPECT_TRUE(rebuilt == wal);
}

TEST(WalReader, ReadsBigEndianChecksums) {
  TempDir dir;
  std::vector<TestFrame> frames = {
      {1, 0, PatternPage(1024, 1)}, {3, 3, PatternPage(1024, 2)}, {2, 4, PatternPage(1024, 3)}};
  const std::string be = BuildWal(kMagicBE, 1024, 5, 0xdeadbeef, 0x01020304, frames);
  const std::string le = BuildWal(kMagicLE, 1024, 5, 0xdeadbeef, 0x01020304, frames);
  // The byte order changes every checksum: a reader using the wrong one would
  // reject the header.
  ASSERT_NE(be.substr(24, 8), le.substr(24, 8));
  MustWrite(dir.Join("be"), be);
  MustWrite(dir.Join("le"), le);
  for (const char* name : {"be", "le"}) {
    Scan s = MustScan(dir.Join(name));
    ASSERT_EQ(s.frames.size(), 3u) << name;
    EXPECT_EQ(s.commits, (std::vector<uint32_t>{3, 4}));
    ASSERT_EQ(s.pages.size(), 3u);
    EXPECT_EQ(std::string(s.pages[3].begin(), s.pages[3].end()), frames[1].page);
    EXPECT_EQ(Scan(MustScan(dir.Join(name), kHeaderSize + 2 * FrameSize(1024))).frames.size(), 1u);
  }
  EXPECT_EQ(MustScan(dir.Join("be")).header.magic, kMagicBE);

  // A big-endian header with a little-endian magic fails its checksum.
  std::string swapped = be;
  swapped[3] = char(0x82);
  EXPECT_EQ(ParseHeader(reinterpret_cast<const uint8_t*>(swapped.data()), kHeaderSize).status().code(),
            Code::kCorruption);

  // A flipped page byte in the last frame ends the big-endian WAL before it.
  std::string bad = be;
  bad[bad.size() - 100] ^= 1;
  MustWrite(dir.Join("bad"), bad);
  EXPECT_EQ(MustScan(dir.Join("bad")).frames.size(), 2u);
}

TEST(WalReader, StopsAtZeroPgno) {
  TempDir dir;
  std::vector<TestFrame> frames = {{1, 1, PatternPage(512, 1)}, {0, 1, PatternPage(512, 2)}};
  MustWrite(dir.Join("wal"), BuildWal(kMagicLE, 512, 0, 1, 2, frames));
  EXPECT_EQ(MustScan(dir.Join("wal")).frames.size(), 1u);
}

// ---- real SQLite ----

// A WAL database with autocheckpoint off; the connection stays open so the
// -wal file persists.
class LiveDb {
 public:
  explicit LiveDb(const TempDir& dir, uint32_t page_size) : path_(dir.Join("db")) {
    Result<sqlite::Db> db = sqlite::Db::Open(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return;
    db_ = std::move(db).value();
    Exec("PRAGMA page_size=" + std::to_string(page_size));
    Result<std::string> mode = db_.QueryText("PRAGMA journal_mode=wal");
    EXPECT_TRUE(mode.ok() && *mode == "wal");
    Exec("PRAGMA wal_autocheckpoint=0");
    EXPECT_EQ(PageSize(), page_size);
  }

  void Exec(const std::string& sql) {
    Status st = db_.Exec(sql);
    EXPECT_TRUE(st.ok()) << st.ToString();
  }
  uint32_t PageCount() { return uint32_t(db_.QueryInt("PRAGMA page_count").value()); }
  uint32_t PageSize() { return uint32_t(db_.QueryInt("PRAGMA page_size").value()); }
  // Runs one write transaction and returns the page count after it.
  uint32_t Txn(const std::string& sql) {
    Exec(sql);
    return PageCount();
  }
  const std::string& path() const { return path_; }
  std::string wal_path() const { return path_ + "-wal"; }
  sqlite::Db& db() { return db_; }

 private:
  std::string path_;
  sqlite::Db db_;
};

// Fills `n` rows, each `bytes` long, of content derived from the row id.
std::string InsertRows(int n, uint32_t bytes) {
  return "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<" + std::to_string(n) +
         ") INSERT INTO t(v) SELECT printf('%d:%.*c', i, " + std::to_string(bytes) +
         ", char(65 + i % 26)) FROM c";
}

// Runs a workload of transactions; returns the page count after each.
std::vector<uint32_t> RunWorkload(LiveDb* db, uint32_t page_size) {
  std::vector<uint32_t> commits;
  commits.push_back(db->Txn("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"));
  commits.push_back(db->Txn("INSERT INTO t(v) VALUES ('first')"));
  // Many pages in one transaction; grows the database.
  commits.push_back(db->Txn("BEGIN; " + InsertRows(120, page_size / 2) + "; COMMIT"));
  // Many pages rewritten, no growth.
  commits.push_back(db->Txn("UPDATE t SET v = upper(v) || 'x' WHERE id % 5 = 0"));
  // Growth by an index.
  commits.push_back(db->Txn("CREATE INDEX t_v ON t(substr(v, 1, 40))"));
  commits.push_back(db->Txn("DELETE FROM t WHERE id > 100"));
  // One small page.
  commits.push_back(db->Txn("UPDATE t SET v = 'last' WHERE id = 1"));
  return commits;
}

class SqliteWal : public ::testing::TestWithParam<uint32_t> {};

INSTANTIATE_TEST_SUITE_P(PageSizes, SqliteWal, ::testing::Values(512u, 1024u, 4096u, 65536u),
                         [](const auto& p) { return "PageSize" + std::to_string(p.param); });

TEST_P(SqliteWal, CommitsAndLastPageVersionsMatchSqlite) {
  const uint32_t ps = GetParam();
  TempDir dir;
  LiveDb db(dir, ps);
  std::vector<uint32_t> want = RunWorkload(&db, ps);

  Result<uint64_t> wal_size = FileSize(db.wal_path());
  ASSERT_TRUE(wal_size.ok());
  Scan s = MustScan(db.wal_path());
  EXPECT_EQ(s.header.page_size, ps);
  EXPECT_EQ(s.commits, want);
  EXPECT_EQ(s.frames.size(), (*wal_size - kHeaderSize) / FrameSize(ps));
  EXPECT_EQ(s.end, *wal_size);
  EXPECT_GT(s.frames.size(), 120 / 2u) << "the big transaction should span many pages";
  for (const auto& [pgno, page] : s.pages) EXPECT_LE(pgno, want.back());

  // Seeking to each commit boundary reads the rest of the same frames.
  for (size_t i = 0; i < s.frames.size(); i++) {
    if (s.frames[i].commit == 0) continue;
    uint64_t next = s.frames[i].offset + FrameSize(ps);
    Scan tail = MustScan(db.wal_path(), next);
    EXPECT_EQ(tail.frames.size(), s.frames.size() - i - 1);
  }

  // After a full checkpoint the database file holds the last version of each page.
  Result<int64_t> busy = db.db().QueryInt("PRAGMA wal_checkpoint(FULL)");
  ASSERT_TRUE(busy.ok()) << busy.status().ToString();
  ASSERT_EQ(*busy, 0);
  std::string file = MustRead(db.path());
  ASSERT_EQ(file.size(), uint64_t(want.back()) * ps);
  for (const auto& [pgno, page] : s.pages) {
    ASSERT_EQ(std::string(page.begin(), page.end()), file.substr(uint64_t(pgno - 1) * ps, ps))
        << "pgno " << pgno;
  }
}

TEST_P(SqliteWal, TornLastFrameStopsBeforeIt) {
  const uint32_t ps = GetParam();
  TempDir dir;
  LiveDb db(dir, ps);
  std::vector<uint32_t> want = RunWorkload(&db, ps);
  std::string wal = MustRead(db.wal_path());
  Scan full = MustScan(db.wal_path());
  ASSERT_EQ(full.commits, want);
  ASSERT_NE(full.frames.back().commit, 0u);  // a WAL written by SQLite ends with a commit
  const uint64_t fsize = FrameSize(ps);
  const uint64_t last = wal.size() - fsize;
  // Cut inside the page, inside the frame header, and right after it.
  for (uint64_t cut : {last + fsize / 2, last + 10, last + kFrameHeaderSize, wal.size() - 1}) {
    std::string torn_path = dir.Join("torn");
    MustWrite(torn_path, std::string_view(wal).substr(0, cut));
    Scan s = MustScan(torn_path);
    EXPECT_EQ(s.frames.size(), full.frames.size() - 1) << cut;
    EXPECT_EQ(s.end, last);
    EXPECT_EQ(s.commits, std::vector<uint32_t>(want.begin(), want.end() - 1));
  }
}

TEST_P(SqliteWal, GarbageAfterLastFrameIsIgnored) {
  const uint32_t ps = GetParam();
  TempDir dir;
  LiveDb db(dir, ps);
  std::vector<uint32_t> want = RunWorkload(&db, ps);
  std::string wal = MustRead(db.wal_path());
  Scan full = MustScan(db.wal_path());
  const uint64_t fsize = FrameSize(ps);

  const uint32_t seed = 20240601;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::string garbage(3 * fsize + 17, '\0');
  for (char& c : garbage) c = char(rng());
  std::string path = dir.Join("garbage");
  MustWrite(path, wal + garbage);
  Scan s = MustScan(path);
  EXPECT_EQ(Offsets(s.frames), Offsets(full.frames));
  EXPECT_EQ(s.commits, want);
  EXPECT_EQ(s.end, wal.size());

  // Garbage that carries this generation's salts and a commit still fails the checksum.
  auto* g = reinterpret_cast<uint8_t*>(garbage.data());
  PutBE32(g, 2);
  PutBE32(g + 4, 99);
  std::memcpy(g + 8, wal.data() + 16, 8);
  MustWrite(path, wal + garbage);
  s = MustScan(path);
  EXPECT_EQ(s.frames.size(), full.frames.size());
  EXPECT_EQ(s.commits, want);

  // Zeros (a preallocated tail) too.
  MustWrite(path, wal + std::string(2 * fsize, '\0'));
  EXPECT_EQ(MustScan(path).frames.size(), full.frames.size());
}

TEST_P(SqliteWal, RestartedWalYieldsOnlyNewGeneration) {
  const uint32_t ps = GetParam();
  TempDir dir;
  LiveDb db(dir, ps);
  RunWorkload(&db, ps);
  Scan old = MustScan(db.wal_path());
  Result<uint64_t> old_size = FileSize(db.wal_path());
  ASSERT_TRUE(old_size.ok());

  // Backfill everything; with no readers the next writer restarts the WAL
  // from offset 32 with new salts and leaves the old tail in place.
  Result<int64_t> busy = db.db().QueryInt("PRAGMA wal_checkpoint(PASSIVE)");
  ASSERT_TRUE(busy.ok());
  ASSERT_EQ(*busy, 0);
  uint32_t commit = db.Txn("UPDATE t SET v = 'restarted' WHERE id = 2");

  Result<uint64_t> new_size = FileSize(db.wal_path());
  ASSERT_TRUE(new_size.ok());
  ASSERT_EQ(*new_size, *old_size) << "old tail should still be in the file";
  Scan s = MustScan(db.wal_path());
  ASSERT_TRUE(s.header.salt1 != old.header.salt1 || s.header.salt2 != old.header.salt2);
  EXPECT_EQ(s.header.checkpoint_seq, old.header.checkpoint_seq + 1);
  EXPECT_EQ(s.commits, (std::vector<uint32_t>{commit}));
  ASSERT_FALSE(s.frames.empty());
  EXPECT_LT(s.frames.size(), old.frames.size());
  for (const Frame& f : s.frames) {
    EXPECT_EQ(f.salt1, s.header.salt1);
    EXPECT_EQ(f.salt2, s.header.salt2);
  }
  EXPECT_EQ(s.end, kHeaderSize + s.frames.size() * FrameSize(ps));

  // Seeking to the old end: the frame before it belongs to the old generation.
  Result<File> f = File::OpenRead(db.wal_path());
  ASSERT_TRUE(f.ok());
  Result<Reader> r = Reader::Open(&*f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Seek(old.end).code(), Code::kFailedPrecondition);

  // The salt scan sees the new generation, then the old one.
  auto salts = ScanFrameSalts(*f, ps);
  ASSERT_TRUE(salts.ok());
  std::vector<std::pair<uint32_t, uint32_t>> want = {{s.header.salt1, s.header.salt2},
                                                     {old.header.salt1, old.header.salt2}};
  EXPECT_EQ(*salts, want);
}

}  // namespace
}  // namespace walship::wal
