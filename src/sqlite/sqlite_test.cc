#include "sqlite/sqlite.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <utility>
#include <vector>

#include "base/file.h"

namespace walship::sqlite {
namespace {

constexpr int kCreate = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/walship-sqlite-XXXXXX";
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

Db MustOpen(const std::string& path, int flags = kCreate, int busy_ms = 1000) {
  Result<Db> db = Db::Open(path, flags, busy_ms);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : Db();
}

void MustExec(Db& db, std::string_view sql) {
  Status st = db.Exec(sql);
  ASSERT_TRUE(st.ok()) << st.ToString();
}

size_t CountOf(const std::string& s, std::string_view needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) n++;
  return n;
}

// ---- FromRc ----

TEST(FromRc, MapsBusyAndLockedToRetryableBusy) {
  for (int rc :
       {SQLITE_BUSY, SQLITE_LOCKED, SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_RECOVERY, SQLITE_LOCKED_SHAREDCACHE}) {
    Status st = FromRc(rc, nullptr, "ctx");
    EXPECT_EQ(st.code(), Code::kBusy) << rc;
    EXPECT_TRUE(st.retryable()) << rc;
  }
}

TEST(FromRc, MapsCorruptAndNotADbToCorruption) {
  for (int rc : {SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_CORRUPT_INDEX, SQLITE_CORRUPT_SEQUENCE}) {
    Status st = FromRc(rc, nullptr, "ctx");
    EXPECT_EQ(st.code(), Code::kCorruption) << rc;
    EXPECT_FALSE(st.retryable()) << rc;
  }
}

TEST(FromRc, MapsOtherErrorsToIOError) {
  for (int rc : {SQLITE_ERROR, SQLITE_IOERR, SQLITE_IOERR_FSYNC, SQLITE_CANTOPEN, SQLITE_READONLY,
                 SQLITE_NOMEM}) {
    Status st = FromRc(rc, nullptr, "ctx");
    EXPECT_EQ(st.code(), Code::kIOError) << rc;
    EXPECT_FALSE(st.retryable()) << rc;
  }
}

TEST(FromRc, MapsFullToNoSpaceAndMisuseToInternal) {
  EXPECT_EQ(FromRc(SQLITE_FULL, nullptr, "ctx").code(), Code::kNoSpace);
  EXPECT_EQ(FromRc(SQLITE_MISUSE, nullptr, "ctx").code(), Code::kInternal);
}

TEST(FromRc, SuccessCodesAreOk) {
  EXPECT_TRUE(FromRc(SQLITE_OK, nullptr, "ctx").ok());
  EXPECT_TRUE(FromRc(SQLITE_ROW, nullptr, "ctx").ok());
  EXPECT_TRUE(FromRc(SQLITE_DONE, nullptr, "ctx").ok());
}

TEST(FromRc, MessageNamesContextTextAndCode) {
  Status st = FromRc(SQLITE_BUSY, nullptr, "sync db");
  EXPECT_EQ(st.message(), "sync db: database is locked (rc=5)");
}

TEST(FromRc, UsesTheConnectionsMessageForItsOwnError) {
  TempDir dir;
  Db db = MustOpen(dir.Join("db"));
  Status st = db.Exec("SELEC 1");
  EXPECT_EQ(st.code(), Code::kIOError);
  EXPECT_NE(st.message().find("syntax error"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("SELEC 1"), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find("(rc=1)"), std::string::npos) << st.ToString();
  // A code the connection did not produce falls back to the generic text.
  EXPECT_EQ(FromRc(SQLITE_NOTADB, db.raw(), "x").message(), "x: file is not a database (rc=26)");
}

// ---- Db and Stmt ----

TEST(Db, OpenWithoutCreateFailsOnMissingFile) {
  TempDir dir;
  Result<Db> db = Db::Open(dir.Join("missing.db"));
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Code::kIOError);
  EXPECT_NE(db.status().message().find("missing.db"), std::string::npos);
  EXPECT_FALSE(FileExists(dir.Join("missing.db")));
}

TEST(Db, ExecQueryAndStatements) {
  TempDir dir;
  Db db = MustOpen(dir.Join("db"));
  EXPECT_EQ(db.path(), dir.Join("db"));
  MustExec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO t(name) VALUES ('a')");
  Result<Stmt> ins = db.Prepare("INSERT INTO t(id, name) VALUES (?, ?)");
  ASSERT_TRUE(ins.ok()) << ins.status().ToString();
  for (int i = 10; i < 13; i++) {
    ASSERT_TRUE(ins->BindInt(1, i).ok());
    ASSERT_TRUE(ins->BindText(2, std::string("n\0") + std::to_string(i)).ok());
    Result<bool> row = ins->Step();
    ASSERT_TRUE(row.ok()) << row.status().ToString();
    EXPECT_FALSE(*row);
    ASSERT_TRUE(ins->Reset().ok());
  }
  EXPECT_EQ(*db.QueryInt("SELECT count(*) FROM t"), 4);
  EXPECT_EQ(*db.QueryText("SELECT name FROM t WHERE id = 11"), "n11");
  EXPECT_EQ(*db.QueryText("SELECT NULL"), "");
  EXPECT_EQ(*db.QueryText("SELECT x'610062'"), std::string("a\0b", 3));  // length-exact

  Result<Stmt> sel = db.Prepare("SELECT id, name FROM t WHERE id >= ? ORDER BY id");
  ASSERT_TRUE(sel.ok());
  ASSERT_TRUE(sel->BindInt(1, 11).ok());
  std::vector<std::pair<int64_t, std::string>> rows;
  for (;;) {
    Result<bool> row = sel->Step();
    ASSERT_TRUE(row.ok());
    if (!*row) break;
    rows.emplace_back(sel->ColumnInt(0), sel->ColumnText(1));
  }
  EXPECT_EQ(rows, (std::vector<std::pair<int64_t, std::string>>{{11, "n11"}, {12, "n12"}}));
  // Binding a finished statement without Reset() is SQLITE_MISUSE: a caller bug.
  EXPECT_EQ(sel->BindInt(5, 1).code(), Code::kInternal);
}

TEST(Db, QueryWithoutRowsIsNotFound) {
  TempDir dir;
  Db db = MustOpen(dir.Join("db"));
  MustExec(db, "CREATE TABLE t(x)");
  EXPECT_EQ(db.QueryInt("SELECT x FROM t").status().code(), Code::kNotFound);
  EXPECT_EQ(db.QueryText("SELECT x FROM t").status().code(), Code::kNotFound);
}

TEST(Db, PrepareErrors) {
  TempDir dir;
  Db db = MustOpen(dir.Join("db"));
  EXPECT_EQ(db.Prepare("SELECT * FROM nope").status().code(), Code::kIOError);
  EXPECT_EQ(db.Prepare("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(db.Prepare("  -- just a comment").status().code(), Code::kInvalidArgument);
}

TEST(Db, MoveTransfersOwnershipAndCloseIsIdempotent) {
  TempDir dir;
  Db a = MustOpen(dir.Join("a"));
  sqlite3* raw = a.raw();
  ASSERT_NE(raw, nullptr);
  Db b(std::move(a));
  EXPECT_EQ(a.raw(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(b.raw(), raw);
  EXPECT_EQ(a.Exec("SELECT 1").code(), Code::kFailedPrecondition);  // NOLINT(bugprone-use-after-move)
  Db c = MustOpen(dir.Join("c"));
  c = std::move(b);  // closes c's own connection
  EXPECT_EQ(c.raw(), raw);
  EXPECT_EQ(*c.QueryInt("SELECT 7"), 7);
  EXPECT_TRUE(c.Close().ok());
  EXPECT_EQ(c.raw(), nullptr);
  EXPECT_TRUE(c.Close().ok());
  EXPECT_EQ(c.Prepare("SELECT 1").status().code(), Code::kFailedPrecondition);
}

TEST(Db, CloseWithLiveStatementDefersToTheStatement) {
  TempDir dir;
  Db db = MustOpen(dir.Join("db"));
  Result<Stmt> st = db.Prepare("SELECT 1");
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(db.Close().ok());
  // The statement still works until it is finalized (sqlite3_close_v2 zombie).
  Result<bool> row = st->Step();
  ASSERT_TRUE(row.ok());
  EXPECT_TRUE(*row);
  EXPECT_EQ(st->ColumnInt(0), 1);
  Stmt moved = std::move(st).value();
  EXPECT_NE(moved.raw(), nullptr);
}

TEST(Db, WriterConflictIsRetryableBusy) {
  TempDir dir;
  Db a = MustOpen(dir.Join("db"));
  MustExec(a, "PRAGMA journal_mode=wal; CREATE TABLE t(x)");
  Db b = MustOpen(dir.Join("db"), SQLITE_OPEN_READWRITE, /*busy_timeout_ms=*/0);
  MustExec(a, "BEGIN IMMEDIATE; INSERT INTO t VALUES (1)");
  Status st = b.Exec("INSERT INTO t VALUES (2)");
  EXPECT_EQ(st.code(), Code::kBusy) << st.ToString();
  EXPECT_TRUE(st.retryable());
  Result<Stmt> ins = b.Prepare("INSERT INTO t VALUES (3)");
  ASSERT_TRUE(ins.ok());
  Result<bool> step = ins->Step();
  EXPECT_EQ(step.status().code(), Code::kBusy);
  MustExec(a, "COMMIT");
  EXPECT_TRUE(ins->Reset().ok());
  step = ins->Step();
  EXPECT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(*b.QueryInt("SELECT count(*) FROM t"), 2);
}

TEST(Db, TableLockedByOwnReaderIsBusy) {
  TempDir dir;
  Db db = MustOpen(dir.Join("db"));
  MustExec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1), (2)");
  Result<Stmt> sel = db.Prepare("SELECT x FROM t");
  ASSERT_TRUE(sel.ok());
  ASSERT_TRUE(*sel->Step());
  Status st = db.Exec("DROP TABLE t");  // SQLITE_LOCKED: a statement is reading t
  EXPECT_EQ(st.code(), Code::kBusy) << st.ToString();
  EXPECT_TRUE(st.retryable());
}

TEST(Db, GarbageFileIsCorruption) {
  TempDir dir;
  std::string path = dir.Join("junk");
  ASSERT_TRUE(WriteFileAtomic(path, std::string(8192, 'j')).ok());
  Db db = MustOpen(path, SQLITE_OPEN_READWRITE);
  Result<int64_t> n = db.QueryInt("SELECT count(*) FROM sqlite_schema");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), Code::kCorruption) << n.status().ToString();
}

// ---- IntegrityCheck ----

// A rollback-journal database of 4096-byte pages: table t (text rows) with an index.
std::string MakeDb(const TempDir& dir, int rows) {
  std::string path = dir.Join("db");
  Db db = MustOpen(path);
  MustExec(db,
           "PRAGMA page_size=4096; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
           "CREATE INDEX t_v ON t(v)");
  MustExec(db, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<" +
                   std::to_string(rows) + ") INSERT INTO t(v) SELECT printf('row-%07d', i) FROM c");
  EXPECT_TRUE(db.Close().ok());
  return path;
}

// Overwrites bytes of a file in place.
void Patch(const std::string& path, uint64_t off, std::string_view bytes) {
  Result<File> f = File::OpenWrite(path, /*truncate=*/false);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(f->PWriteFull(bytes.data(), bytes.size(), off).ok());
  ASSERT_TRUE(f->Close().ok());
}

TEST(IntegrityCheck, HealthyDatabasePasses) {
  TempDir dir;
  std::string path = MakeDb(dir, 500);
  EXPECT_TRUE(IntegrityCheck(path, /*full=*/false).ok());
  EXPECT_TRUE(IntegrityCheck(path, /*full=*/true).ok());
}

TEST(IntegrityCheck, SeesUncheckpointedWalOfLiveDatabase) {
  TempDir dir;
  std::string path = dir.Join("db");
  Db db = MustOpen(path);
  MustExec(db,
           "PRAGMA journal_mode=wal; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(x);"
           "INSERT INTO t VALUES (1)");
  ASSERT_TRUE(FileExists(path + "-wal"));
  EXPECT_TRUE(IntegrityCheck(path, true).ok());
  EXPECT_TRUE(IntegrityCheck(path, false).ok());
}

TEST(IntegrityCheck, MissingFileIsNotFoundAndNotCreated) {
  TempDir dir;
  Status st = IntegrityCheck(dir.Join("nope.db"), false);
  EXPECT_EQ(st.code(), Code::kNotFound) << st.ToString();
  EXPECT_FALSE(FileExists(dir.Join("nope.db")));
}

TEST(IntegrityCheck, NotADatabaseIsCorruption) {
  TempDir dir;
  for (std::string content : {std::string("hello"), std::string(4096, '\x7f'),
                              std::string("SQLite format 3") + std::string(200, '\xff')}) {
    std::string path = dir.Join("junk");
    ASSERT_TRUE(WriteFileAtomic(path, content).ok());
    for (bool full : {false, true}) {
      Status st = IntegrityCheck(path, full);
      EXPECT_EQ(st.code(), Code::kCorruption) << content.size() << ": " << st.ToString();
    }
  }
}

TEST(IntegrityCheck, EmptyFileIsAnEmptyDatabase) {
  TempDir dir;
  std::string path = dir.Join("empty");
  ASSERT_TRUE(WriteFileAtomic(path, "").ok());
  EXPECT_TRUE(IntegrityCheck(path, true).ok());
  EXPECT_EQ(*FileSize(path), 0u);  // read-only: nothing written
}

TEST(IntegrityCheck, DirectoryIsAnError) {
  TempDir dir;
  EXPECT_FALSE(IntegrityCheck(dir.Join(""), false).ok());
}

TEST(IntegrityCheck, UnreadableBtreePageIsCorruption) {
  TempDir dir;
  std::string path = MakeDb(dir, 5000);
  std::string file = *ReadFileToString(path);
  // Make the table-leaf pages (type 0x0d) after page 1 unreadable as b-tree
  // pages: the check itself then fails with SQLITE_CORRUPT.
  int broken = 0;
  for (uint64_t off = 4096; off + 4096 <= file.size(); off += 4096) {
    if (file[off] == 0x0d) {
      Patch(path, off, std::string(1, '\x00'));
      broken++;
    }
  }
  ASSERT_GT(broken, 0);
  for (bool full : {false, true}) {
    Status st = IntegrityCheck(path, full);
    EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
    EXPECT_NE(st.message().find(path), std::string::npos);
  }
}

TEST(IntegrityCheck, ReportsAtMostFiveProblemRows) {
  TempDir dir;
  std::string path = MakeDb(dir, 5000);
  std::string file = *ReadFileToString(path);
  Db db = MustOpen(path, SQLITE_OPEN_READONLY);
  int64_t root = *db.QueryInt("SELECT rootpage FROM sqlite_schema WHERE name = 't'");
  ASSERT_TRUE(db.Close().ok());
  // Cut the table's interior root page down to one cell: the children of the
  // other cells become orphans, one "never used" row each.
  const uint64_t off = uint64_t(root - 1) * 4096;
  ASSERT_EQ(file[off], 0x05);
  const int cells = (uint8_t(file[off + 3]) << 8) | uint8_t(file[off + 4]);
  ASSERT_GT(cells, 7);
  Patch(path, off + 3, std::string("\x00\x01", 2));
  for (bool full : {false, true}) {
    Status st = IntegrityCheck(path, full);
    ASSERT_EQ(st.code(), Code::kCorruption) << st.ToString();
    EXPECT_NE(st.message().find(full ? "integrity_check" : "quick_check"), std::string::npos);
    EXPECT_NE(st.message().find(path), std::string::npos);
    EXPECT_NE(st.message().find("never used"), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find("more)"), std::string::npos) << st.ToString();
    EXPECT_EQ(CountOf(st.message(), "; "), 5u) << st.ToString();  // 5 problems + the "more" note
  }
}

TEST(IntegrityCheck, IndexMismatchFailsFullCheckOnly) {
  TempDir dir;
  std::string path = MakeDb(dir, 20);
  std::string file = *ReadFileToString(path);
  Db db = MustOpen(path, SQLITE_OPEN_READONLY);
  int64_t root = *db.QueryInt("SELECT rootpage FROM sqlite_schema WHERE name = 't'");
  ASSERT_TRUE(db.Close().ok());
  // Change one row's text inside the table's (single, leaf) root page, not in the index.
  uint64_t page_off = uint64_t(root - 1) * 4096;
  size_t at = file.find("row-0000007", page_off);
  ASSERT_NE(at, std::string::npos);
  ASSERT_LT(at, page_off + 4096);
  Patch(path, at, "row-9999999");
  EXPECT_TRUE(IntegrityCheck(path, /*full=*/false).ok());
  Status st = IntegrityCheck(path, /*full=*/true);
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find("t_v"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace walship::sqlite
