#include "sim_harness.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>

#include "base/file.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "ltx/format.h"
#include "restore/restore.h"

namespace walship::sim {

namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ull;

uint64_t Fnv(uint64_t h, const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t FnvStr(uint64_t h, const std::string& s) {
  const uint64_t n = s.size();
  h = Fnv(h, &n, sizeof(n));
  return Fnv(h, s.data(), s.size());
}

std::string Where(const LtxFileInfo& f) {
  return "L" + std::to_string(f.level) + " " + (f.key.empty() ? ltx::FormatFileName(f.min_txid, f.max_txid) : f.key);
}

void Fail(std::vector<std::string>* failures, std::string msg) {
  if (failures->size() < 40) failures->push_back(std::move(msg));
}

}  // namespace

uint64_t SeedFromEnv(uint64_t fallback) {
  const char* s = getenv("WALSHIP_SIM_SEED");
  if (s == nullptr || *s == '\0') return fallback;
  return strtoull(s, nullptr, 0);
}

std::string MakeTempDir(const std::string& tag) {
  std::string base = "/tmp";
  if (const char* t = getenv("WALSHIP_SIM_TMPDIR"); t != nullptr && *t != '\0') {
    base = t;
  } else if (access("/dev/shm", W_OK) == 0) {
    base = "/dev/shm";
  }
  std::string tmpl = base + "/walship-" + tag + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  const char* d = mkdtemp(buf.data());
  return d == nullptr ? "" : std::string(d);
}

Result<uint64_t> ContentHash(sqlite::Db& db) {
  uint64_t h = kFnvOffset;
  std::vector<std::string> tables;
  {
    WALSHIP_ASSIGN_OR_RETURN(
        sqlite::Stmt st,
        db.Prepare("SELECT type, name, coalesce(sql, '') FROM sqlite_schema WHERE name NOT LIKE '\\_litestream%' "
                   "ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name"));
    while (true) {
      WALSHIP_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const std::string type = st.ColumnText(0), name = st.ColumnText(1);
      h = FnvStr(FnvStr(FnvStr(h, type), name), st.ColumnText(2));
      if (type == "table") tables.push_back(name);
    }
  }
  for (const std::string& t : tables) {
    WALSHIP_ASSIGN_OR_RETURN(sqlite::Stmt st, db.Prepare("SELECT * FROM \"" + t + "\" ORDER BY 1"));
    sqlite3_stmt* s = st.raw();
    h = FnvStr(h, "table " + t);
    while (true) {
      WALSHIP_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      const int n = sqlite3_column_count(s);
      for (int i = 0; i < n; i++) {
        const int type = sqlite3_column_type(s, i);
        h = Fnv(h, &type, sizeof(type));
        switch (type) {
          case SQLITE_INTEGER: {
            const int64_t v = sqlite3_column_int64(s, i);
            h = Fnv(h, &v, sizeof(v));
            break;
          }
          case SQLITE_FLOAT: {
            const double v = sqlite3_column_double(s, i);
            h = Fnv(h, &v, sizeof(v));
            break;
          }
          case SQLITE_NULL:
            break;
          default: {
            const void* p = sqlite3_column_blob(s, i);
            const int bytes = sqlite3_column_bytes(s, i);
            h = Fnv(h, &bytes, sizeof(bytes));
            if (p != nullptr) h = Fnv(h, p, size_t(bytes));
          }
        }
      }
    }
  }
  return h;
}

Result<uint64_t> FileContentHash(const std::string& path) {
  WALSHIP_ASSIGN_OR_RETURN(sqlite::Db db, sqlite::Db::Open(path, SQLITE_OPEN_READONLY));
  auto h = ContentHash(db);
  db.Close().IgnoreError();
  return h;
}

std::set<uint64_t> ReachableEndpoints(const std::vector<LtxFileInfo>& files) {
  // x is reachable iff a file starting at TXID 1 ends at x, or a file [a, x]
  // of level 0..8 has a reachable position p with a - 1 <= p < x. Positions
  // below x are ends of files with smaller MaxTXID: process by MaxTXID.
  std::vector<const LtxFileInfo*> order;
  for (const auto& f : files) order.push_back(&f);
  std::sort(order.begin(), order.end(), [](const LtxFileInfo* a, const LtxFileInfo* b) { return a->max_txid < b->max_txid; });
  std::set<uint64_t> r;
  for (const LtxFileInfo* f : order) {
    if (f->min_txid == 1) {
      r.insert(f->max_txid);
      continue;
    }
    if (f->level == ltx::kSnapshotLevel || f->min_txid == 0) continue;
    auto it = r.lower_bound(f->min_txid - 1);
    if (it != r.end() && *it < f->max_txid) r.insert(f->max_txid);
  }
  return r;
}

Sim::Sim(SimOptions o) : o_(std::move(o)), rng_(o_.seed), clock_(o_.start_ms) {}

Sim::~Sim() {
  rep_.reset();
  app_.Close().IgnoreError();
  if (!dir_.empty() && getenv("WALSHIP_SIM_KEEP") == nullptr) RemoveTree(dir_).IgnoreError();
}

Status Sim::Open() {
  spdlog::set_level(getenv("WALSHIP_SIM_VERBOSE") ? spdlog::level::info : spdlog::level::warn);
  dir_ = MakeTempDir("sim");
  if (dir_.empty()) return IOError("mkdtemp failed");
  db_path_ = JoinPath(dir_, "app.db");
  WALSHIP_ASSIGN_OR_RETURN(app_, sqlite::Db::Open(db_path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
  WALSHIP_RETURN_IF_ERROR(app_.Exec("PRAGMA page_size = 4096"));
  WALSHIP_RETURN_IF_ERROR(app_.Exec("PRAGMA journal_mode = wal"));
  WALSHIP_RETURN_IF_ERROR(app_.Exec("PRAGMA synchronous = off"));
  WALSHIP_RETURN_IF_ERROR(app_.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB, n INTEGER)"));
  WALSHIP_RETURN_IF_ERROR(app_.Exec("CREATE TABLE kv (k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID"));
  store_ = std::make_shared<storage::MemStore>();
  replica_ = std::make_shared<replica::Replica>(store_, "db", storage::KeyLayout::kFile);
  replicate::ReplicatorOptions ro;
  ro.syncer.db_path = db_path_;
  ro.syncer.clock = &clock_;
  ro.syncer.min_checkpoint_page_count = 1000;
  ro.syncer.checkpoint_interval_ms = 60'000;
  ro.snapshot_interval_ms = o_.snapshot_interval_ms;
  ro.compact.level_intervals_ms = o_.level_intervals_ms;
  ro.compact.snapshot_retention_ms = o_.snapshot_retention_ms;
  ro.compact.l0_retention_ms = o_.l0_retention_ms;
  ro.compact.l0_retention_check_interval_ms = o_.l0_check_interval_ms;
  ro.compact.retention_enabled = true;
  ro_ = ro;
  rep_ = std::make_unique<replicate::Replicator>(ro, replica_);
  return rep_->OpenAndReconcile();
}

Status Sim::Restart(bool lose_meta) {
  WALSHIP_RETURN_IF_ERROR_CTX(rep_->syncer().Close(), "restart: close");
  rep_.reset();
  if (lose_meta) WALSHIP_RETURN_IF_ERROR(RemoveTree(replicate::DefaultMetaDir(db_path_)));
  restarts_++;
  rep_ = std::make_unique<replicate::Replicator>(ro_, replica_);
  WALSHIP_RETURN_IF_ERROR_CTX(rep_->OpenAndReconcile(), "restart");
  const uint64_t pos = rep_->syncer().Position();
  if (pos != last_txid()) {
    return Internal("restart: position " + ltx::FormatTxid(pos) + " after reconciling, but the replica had " +
                    ltx::FormatTxid(last_txid()));
  }
  return Status::OK();
}

Status Sim::WriteTx(int kind) {
  auto rnd = [&](uint64_t n) { return n == 0 ? 0 : rng_() % n; };
  WALSHIP_RETURN_IF_ERROR(app_.Exec("BEGIN"));
  Status s;
  auto put = [&](int64_t id, size_t size) -> Status {
    std::string blob(size, '\0');
    for (auto& c : blob) c = char(rnd(256));
    WALSHIP_ASSIGN_OR_RETURN(sqlite::Stmt st, app_.Prepare("INSERT OR REPLACE INTO t VALUES (?, ?, ?)"));
    sqlite3_bind_int64(st.raw(), 1, id);
    sqlite3_bind_blob(st.raw(), 2, blob.data(), int(blob.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(st.raw(), 3, int64_t(rnd(1000)));
    WALSHIP_ASSIGN_OR_RETURN(bool row, st.Step());
    (void)row;
    return Status::OK();
  };
  const int max_rows = o_.max_rows;
  switch (kind) {
    case 0:  // insert / replace a few rows
      for (int i = 0, n = 1 + int(rnd(4)); i < n && s.ok(); i++) s = put(1 + int64_t(rnd(uint64_t(max_rows))), 20 + rnd(400));
      break;
    case 1:  // update
      s = app_.Exec("UPDATE t SET n = n + 1 WHERE id % 17 = " + std::to_string(rnd(17)));
      break;
    case 2:  // delete
    {
      const uint64_t lo = rnd(uint64_t(max_rows));
      s = app_.Exec("DELETE FROM t WHERE id BETWEEN " + std::to_string(lo) + " AND " + std::to_string(lo + rnd(10)));
      break;
    }
    case 3:  // kv upsert
      s = app_.Exec("INSERT INTO kv VALUES ('k" + std::to_string(rnd(50)) + "', " + std::to_string(rnd(100000)) +
                    ") ON CONFLICT(k) DO UPDATE SET n = excluded.n");
      break;
    case 4:  // bulk growth: large rows past max_rows
      for (int i = 0; i < 40 && s.ok(); i++) s = put(100000 + int64_t(rnd(200)), 1000 + rnd(3000));
      break;
    default:  // bulk delete of the large rows
      s = app_.Exec("DELETE FROM t WHERE id >= 100000");
  }
  if (!s.ok()) {
    app_.Exec("ROLLBACK").IgnoreError();
    return s.WithContext("write");
  }
  return app_.Exec("COMMIT");
}

Result<int> Sim::RandomWrites() {
  const uint64_t r = rng_() % 1000;
  if (r < 2) {
    vacuums_++;
    WALSHIP_RETURN_IF_ERROR(app_.Exec("VACUUM"));
    return 1;
  }
  if (r < 6) {
    WALSHIP_RETURN_IF_ERROR(WriteTx(4));
    return 1;
  }
  if (r < 10) {
    WALSHIP_RETURN_IF_ERROR(WriteTx(5));
    return 1;
  }
  if (r < 400) return 0;  // an idle second
  const int n = 1 + int(rng_() % 3);
  for (int i = 0; i < n; i++) {
    const uint64_t k = rng_() % 10;
    WALSHIP_RETURN_IF_ERROR(WriteTx(k < 5 ? 0 : k < 7 ? 1 : k < 8 ? 2 : 3));
  }
  return n;
}

Status Sim::Sync() {
  WALSHIP_RETURN_IF_ERROR(rep_->SyncUntilCaughtUp());
  const uint64_t pos = rep_->syncer().Position();
  const uint64_t last = last_txid();
  if (pos <= last) return Status::OK();
  if (last != 0 && pos > last + 1) unknown_txids_ += int(pos - last - 1);
  WALSHIP_ASSIGN_OR_RETURN(uint64_t h, ContentHash(app_));
  const int64_t now = clock_.NowMs();
  log_[pos] = Logged{now, h};
  by_time_[now] = pos;
  return Status::OK();
}

Status Sim::SnapshotAndUpload(bool force_snapshot) {
  WALSHIP_RETURN_IF_ERROR(rep_->MaybeSnapshot(force_snapshot));
  auto n = rep_->uploader().UploadPending(rep_->syncer().Position());
  return n.ok() ? Status::OK() : n.status();
}

Status Sim::Checkpoint(bool force) {
  WALSHIP_ASSIGN_OR_RETURN(bool ran, rep_->syncer().MaybeCheckpoint(force));
  if (ran) checkpoints_++;
  return Sync();
}

Result<std::vector<LtxFileInfo>> Sim::Observe(std::vector<std::string>* failures) {
  WALSHIP_ASSIGN_OR_RETURN(std::vector<LtxFileInfo> files, replica_->ListAll());
  std::map<std::string, const LtxFileInfo*> now_keys;
  for (const auto& f : files) now_keys[f.key] = &f;
  std::set<std::string> old_keys;
  std::vector<LtxFileInfo> deleted;
  for (const auto& f : listing_) {
    old_keys.insert(f.key);
    if (!now_keys.count(f.key)) {
      counts_.deleted[f.level]++;
      deleted.push_back(f);
    }
  }
  for (const auto& f : files) {
    if (old_keys.count(f.key)) continue;
    counts_.written[f.level]++;
    // Compaction keeps the last input's timestamp (compat 4.3), snapshots
    // carry their position's: a file's CreatedAt is its MaxTXID's capture time.
    auto t = TimeOf(f.max_txid);
    if (!t) {
      Fail(failures, "new file " + Where(f) + " ends at a TXID the writer never logged");
    } else if (f.created_ms != *t) {
      Fail(failures, "new file " + Where(f) + " has CreatedAt " + FormatRfc3339Ms(f.created_ms) +
                         ", but its MaxTXID was captured at " + FormatRfc3339Ms(*t));
    }
  }
  listing_ = std::move(files);
  return deleted;
}

uint64_t Sim::WriterTxidAt(int64_t t) const {
  auto it = by_time_.upper_bound(t);
  if (it == by_time_.begin()) return 0;
  return std::prev(it)->second;
}

std::optional<uint64_t> Sim::HashAt(uint64_t txid) const {
  auto it = log_.find(txid);
  if (it == log_.end()) return std::nullopt;
  return it->second.hash;
}

std::optional<int64_t> Sim::TimeOf(uint64_t txid) const {
  auto it = log_.find(txid);
  if (it == log_.end()) return std::nullopt;
  return it->second.time_ms;
}

void Sim::CheckWindow(const std::vector<LtxFileInfo>& files, int samples, std::vector<std::string>* failures) {
  // Like Litestream, a timestamp after the newest file is refused (the
  // replica cannot know the database did not change since): the window's
  // timestamps end at the newest file's CreatedAt.
  int64_t now = first_sync_ms();
  for (const auto& f : files) now = std::max(now, f.created_ms);
  const int64_t ws = std::max(clock_.NowMs() - o_.snapshot_retention_ms, first_sync_ms());
  const uint64_t w0 = WriterTxidAt(ws);
  const std::string at = " (now " + FormatRfc3339Ms(clock_.NowMs()) + ", window start " + FormatRfc3339Ms(ws) + ")";
  const std::set<uint64_t> r = ReachableEndpoints(files);
  auto expected = [&](uint64_t w) -> std::optional<uint64_t> {
    auto it = r.upper_bound(w);
    if (it == r.begin()) return std::nullopt;
    return *std::prev(it);
  };
  if (!expected(w0)) {
    Fail(failures, "window start (writer TXID " + ltx::FormatTxid(w0) + ") has no restorable point at or before it" + at);
    return;
  }
  // Every file ending inside the window is an exact TXID restore point.
  std::vector<uint64_t> ends;
  for (const auto& f : files) {
    if (f.max_txid < w0) continue;
    if (!r.count(f.max_txid)) {
      Fail(failures, "file " + Where(f) + " ends inside the window at TXID " + ltx::FormatTxid(f.max_txid) +
                         " but no chain from a snapshot reaches it" + at);
    }
    ends.push_back(f.max_txid);
  }
  std::sort(ends.begin(), ends.end());
  ends.erase(std::unique(ends.begin(), ends.end()), ends.end());

  std::vector<int64_t> times = {ws, now};
  std::vector<uint64_t> txids;
  if (samples < 0) {
    for (auto it = by_time_.lower_bound(ws); it != by_time_.end(); ++it) {
      times.push_back(it->first);
      times.push_back(it->first - 1);
    }
    txids = ends;
  } else {
    for (int i = 0; i < samples; i++) {
      times.push_back(ws + int64_t(rng_() % uint64_t(now - ws + 1)));
      if (!ends.empty()) txids.push_back(ends[rng_() % ends.size()]);
    }
  }
  for (int64_t t : times) {
    if (t < ws) continue;
    const uint64_t w = WriterTxidAt(t);
    const auto exp = expected(w);
    restore::Point p;
    p.timestamp_ms = t;
    auto plan = restore::CalcPlan(files, p, "sim replica");
    const std::string what = "timestamp " + FormatRfc3339Ms(t) + " (writer TXID " + ltx::FormatTxid(w) + ")";
    if (!plan.ok()) {
      Fail(failures, what + " does not plan: " + plan.status().ToString() + at);
      continue;
    }
    if (!exp || plan->txid != *exp) {
      Fail(failures, what + " plans to TXID " + ltx::FormatTxid(plan->txid) + ", expected the newest restorable " +
                         (exp ? ltx::FormatTxid(*exp) : std::string("none")) + at);
      continue;
    }
    const auto tw = TimeOf(w);
    if (tw && *tw >= clock_.NowMs() - o_.l0_retention_ms && plan->txid != w) {
      Fail(failures, what + " is inside the L0 window but restores TXID " + ltx::FormatTxid(plan->txid) + at);
    }
  }
  for (uint64_t x : txids) {
    restore::Point p;
    p.txid = x;
    auto plan = restore::CalcPlan(files, p, "sim replica");
    if (!plan.ok() || plan->txid != x) {
      Fail(failures, "TXID " + ltx::FormatTxid(x) + " ends a file in the window but " +
                         (plan.ok() ? "plans to " + ltx::FormatTxid(plan->txid) : plan.status().ToString()) + at);
    }
  }
}

Status Sim::RestoreAndCompare(const restore::Point& p, uint64_t* txid, std::vector<std::string>* failures) {
  restore::RestoreOptions o;
  o.output = JoinPath(dir_, "restored-" + std::to_string(restores_++) + ".db");
  o.point = p;
  o.integrity = restore::IntegrityCheck::kQuick;
  const std::string what = p.txid ? "restore at TXID " + ltx::FormatTxid(*p.txid)
                           : p.timestamp_ms ? "restore at " + FormatRfc3339Ms(*p.timestamp_ms)
                                            : std::string("restore latest");
  auto r = restore::Restore(*replica_, o);
  if (!r.ok()) {
    if (FileExists(o.output) || FileExists(o.output + ".tmp")) Fail(failures, what + " failed but left a file behind");
    return r.status();
  }
  *txid = r->plan.txid;
  auto h = FileContentHash(o.output);
  auto logged = HashAt(r->plan.txid);
  if (!h.ok()) {
    Fail(failures, what + ": cannot read the restored database: " + h.status().ToString());
  } else if (!logged) {
    Fail(failures, what + " restored TXID " + ltx::FormatTxid(r->plan.txid) + ", which the writer never logged");
  } else if (*h != *logged) {
    Fail(failures, what + " restored TXID " + ltx::FormatTxid(r->plan.txid) +
                       " but its content differs from the writer's state at that TXID");
  }
  for (const char* sfx : {"", "-wal", "-shm"}) RemoveFile(o.output + sfx).IgnoreError();
  return Status::OK();
}

}  // namespace walship::sim
