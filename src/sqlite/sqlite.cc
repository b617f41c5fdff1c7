#include "sqlite/sqlite.h"

#include <cstdio>

#include <utility>
#include <vector>

#include "base/file.h"

namespace walship::sqlite {
namespace {

// Statement text in error messages: first line, at most 60 characters.
std::string Abbrev(std::string_view sql) {
  size_t nl = sql.find('\n');
  if (nl != std::string_view::npos) sql = sql.substr(0, nl);
  if (sql.size() <= 60) return std::string(sql);
  return std::string(sql.substr(0, 57)) + "...";
}

}  // namespace

// The single place where SQLite result codes become Status codes. The primary
// code (low byte) decides; extended codes such as SQLITE_BUSY_SNAPSHOT or
// SQLITE_IOERR_FSYNC follow their primary code.
Status FromRc(int rc, sqlite3* db, std::string_view context) {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return Status::OK();
  const int primary = rc & 0xff;
  // sqlite3_errmsg describes the most recent call on db; use it only if that
  // call is the one that produced rc.
  const char* text =
      (db != nullptr && (sqlite3_errcode(db) & 0xff) == primary) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string msg(context);
  msg += ": ";
  msg += text != nullptr ? text : "unknown error";
  msg += " (rc=" + std::to_string(rc) + ")";
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status(Code::kBusy, std::move(msg), /*retryable=*/true);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status(Code::kCorruption, std::move(msg));
    case SQLITE_FULL:
      return Status(Code::kNoSpace, std::move(msg));
    case SQLITE_MISUSE:
      return Status(Code::kInternal, std::move(msg));
    default:
      return Status(Code::kIOError, std::move(msg));
  }
}

// ---- Db ----

Db::~Db() {
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Db::Db(Db&& o) noexcept : db_(std::exchange(o.db_, nullptr)), path_(std::move(o.path_)) {}

Db& Db::operator=(Db&& o) noexcept {
  if (this != &o) {
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = std::exchange(o.db_, nullptr);
    path_ = std::move(o.path_);
  }
  return *this;
}

Result<Db> Db::Open(const std::string& path, int flags, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // Even on failure SQLite usually returns a handle, which must be closed; the
  // Db below owns it from here on.
  Db db(raw, path);
  if (rc != SQLITE_OK) return FromRc(rc, raw, "sqlite open " + path);
  if (raw == nullptr) return Internal("sqlite open " + path + ": no handle");
  sqlite3_extended_result_codes(raw, 1);
  rc = sqlite3_busy_timeout(raw, busy_timeout_ms);
  if (rc != SQLITE_OK) return FromRc(rc, raw, "sqlite busy_timeout " + path);
  return db;
}

Status Db::Exec(std::string_view sql) {
  if (db_ == nullptr) return FailedPrecondition("sqlite exec: database is closed");
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, nullptr);
  return FromRc(rc, db_, "sqlite exec \"" + Abbrev(sql) + "\" on " + path_);
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  if (db_ == nullptr) return FailedPrecondition("sqlite prepare: database is closed");
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), int(sql.size()), &s, nullptr);
  if (rc != SQLITE_OK) return FromRc(rc, db_, "sqlite prepare \"" + Abbrev(sql) + "\" on " + path_);
  if (s == nullptr) return InvalidArgument("sqlite prepare: empty statement \"" + Abbrev(sql) + "\"");
  return Stmt(s, db_);
}

Result<int64_t> Db::QueryInt(std::string_view sql) {
  WALSHIP_ASSIGN_OR_RETURN(Stmt st, Prepare(sql));
  WALSHIP_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound("sqlite query \"" + Abbrev(sql) + "\": no rows");
  return st.ColumnInt(0);
}

Result<std::string> Db::QueryText(std::string_view sql) {
  WALSHIP_ASSIGN_OR_RETURN(Stmt st, Prepare(sql));
  WALSHIP_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return NotFound("sqlite query \"" + Abbrev(sql) + "\": no rows");
  return st.ColumnText(0);
}

Status Db::Close() {
  if (db_ == nullptr) return Status::OK();
  sqlite3* db = std::exchange(db_, nullptr);
  // close_v2 never leaves the handle half-open: with statements still alive it
  // becomes a zombie that is freed when the last one is finalized.
  int rc = sqlite3_close_v2(db);
  return FromRc(rc, nullptr, "sqlite close " + path_);
}

// ---- Stmt ----

Stmt::~Stmt() {
  if (s_ != nullptr) sqlite3_finalize(s_);
}

Stmt::Stmt(Stmt&& o) noexcept : s_(std::exchange(o.s_, nullptr)), db_(std::exchange(o.db_, nullptr)) {}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (s_ != nullptr) sqlite3_finalize(s_);
    s_ = std::exchange(o.s_, nullptr);
    db_ = std::exchange(o.db_, nullptr);
  }
  return *this;
}

Result<bool> Stmt::Step() {
  if (s_ == nullptr) return FailedPrecondition("sqlite step: no statement");
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return FromRc(rc, db_, "sqlite step \"" + Abbrev(sqlite3_sql(s_) ? sqlite3_sql(s_) : "") + "\"");
}

std::string Stmt::ColumnText(int i) const {
  // Text first, then bytes (the documented safe order); NULL reads as "".
  const unsigned char* p = sqlite3_column_text(s_, i);
  int n = sqlite3_column_bytes(s_, i);
  if (p == nullptr || n <= 0) return std::string();
  return std::string(reinterpret_cast<const char*>(p), size_t(n));
}

Status Stmt::BindInt(int i, int64_t v) {
  return FromRc(sqlite3_bind_int64(s_, i, v), db_, "sqlite bind " + std::to_string(i));
}

Status Stmt::BindText(int i, std::string_view v) {
  return FromRc(sqlite3_bind_text64(s_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8), db_,
                "sqlite bind " + std::to_string(i));
}

Status Stmt::Reset() {
  // With sqlite3_prepare_v2 the error of a failed step was already returned
  // by Step; reset's rc repeats it, so it is not reported twice.
  sqlite3_reset(s_);
  return Status::OK();
}

// ---- IntegrityCheck ----

namespace {
std::string FileUri(const std::string& path, std::string_view query) {
  std::string uri = "file:";
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      uri += buf;
    } else {
      uri += c;
    }
  }
  uri += "?";
  uri += query;
  return uri;
}
}  // namespace

Status IntegrityCheck(const std::string& path, bool full, bool immutable) {
  const char* pragma = full ? "integrity_check" : "quick_check";
  const std::string ctx = std::string(pragma) + " " + path;
  // Without SQLITE_OPEN_CREATE a missing file fails anyway; this names it.
  if (!FileExists(path)) return NotFound(ctx + ": no such file");
  WALSHIP_ASSIGN_OR_RETURN(Db db, immutable ? Db::Open(FileUri(path, "immutable=1"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI)
                                            : Db::Open(path, SQLITE_OPEN_READONLY));
  Result<Stmt> st = db.Prepare(std::string("PRAGMA ") + pragma);
  if (!st.ok()) return st.status().WithContext(ctx);

  // The pragma returns "ok" alone, or problems: one row per index problem,
  // and for b-tree problems one row holding several newline-separated lines
  // under a "*** in database main ***" heading. Problems are counted by line.
  constexpr size_t kMaxProblems = 5;
  std::vector<std::string> problems;
  size_t total = 0;
  bool first = true;
  for (;; first = false) {
    Result<bool> row = st->Step();
    if (!row.ok()) return row.status().WithContext(ctx);
    if (!*row) break;
    std::string text = st->ColumnText(0);
    if (first && text == "ok") return Status::OK();
    std::string_view rest(text);
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (line.empty() || line.substr(0, 4) == "*** ") continue;
      total++;
      if (problems.size() < kMaxProblems) problems.emplace_back(line);
    }
  }
  if (first) return Internal(ctx + ": no result rows");
  if (problems.empty()) return Corruption(ctx + ": check failed without details");
  std::string msg = ctx + ": ";
  for (size_t i = 0; i < problems.size(); i++) {
    if (i > 0) msg += "; ";
    msg += problems[i];
  }
  if (total > problems.size()) msg += "; ... (" + std::to_string(total - problems.size()) + " more)";
  return Corruption(std::move(msg));
}

}  // namespace walship::sqlite
