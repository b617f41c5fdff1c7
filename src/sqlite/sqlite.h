#pragma once
// RAII wrappers over sqlite3* and sqlite3_stmt*, with SQLite result codes
// translated to Status in exactly one place (FromRc). SQLITE_BUSY/LOCKED map to
// Code::kBusy (retryable). Not thread-safe: one Db per thread at a time.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace walship::sqlite {

// rc -> Status: "<context>: <sqlite errmsg> (rc=N)".
Status FromRc(int rc, sqlite3* db, std::string_view context);

class Stmt;

class Db {
 public:
  Db() = default;
  ~Db();
  Db(Db&& o) noexcept;
  Db& operator=(Db&& o) noexcept;
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // flags: SQLITE_OPEN_* (default READWRITE). busy_timeout_ms applied after open.
  static Result<Db> Open(const std::string& path, int flags = SQLITE_OPEN_READWRITE,
                         int busy_timeout_ms = 1000);

  sqlite3* raw() const { return db_; }
  const std::string& path() const { return path_; }
  Status Exec(std::string_view sql);
  Result<Stmt> Prepare(std::string_view sql);
  // Runs a query and returns the first column of the first row as int64 / text.
  Result<int64_t> QueryInt(std::string_view sql);
  Result<std::string> QueryText(std::string_view sql);
  Status Close();

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3_stmt* s, sqlite3* db) : s_(s), db_(db) {}
  ~Stmt();
  Stmt(Stmt&& o) noexcept;
  Stmt& operator=(Stmt&& o) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Returns true if a row is available, false when done.
  Result<bool> Step();
  int64_t ColumnInt(int i) const { return sqlite3_column_int64(s_, i); }
  std::string ColumnText(int i) const;
  Status BindInt(int i, int64_t v);
  Status BindText(int i, std::string_view v);
  Status Reset();
  sqlite3_stmt* raw() const { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
  sqlite3* db_ = nullptr;
};

// PRAGMA quick_check / integrity_check on a database file opened read-only.
// Returns ok if the first row is "ok", else kCorruption listing the first 5
// problems (SQLite packs b-tree problems into one row, one per line; they are
// counted per line). A missing file -> kNotFound (nothing is created); a file
// that is not a database or whose pages cannot be read -> kCorruption. Note a
// 0-byte file is an empty database to SQLite and passes.
// immutable: open as "file:...?immutable=1" (no locks, no -wal/-shm created),
// for a file nobody else has open, such as a restore's temp output.
Status IntegrityCheck(const std::string& path, bool full, bool immutable = false);

}  // namespace walship::sqlite
