#!/usr/bin/env python3
"""Seeded SQLite workload writer for walship's end-to-end tests.

Runs as its own process and behaves like an ordinary application: WAL mode,
SQLite's default autocheckpoint left on, explicit BEGIN/COMMIT transactions.

  workload.py --db PATH --log LOG.jsonl --seed N --duration-s S
              [--rate TPS] [--quiet-every K --quiet-ms M] [--page-size P]
              [--big-tx-mb 10] [--auto-vacuum incremental|none]
              [--stop-file F] [--est-commits N]

Every transaction bumps `_wl_meta(id=1).commit_no`, so a database tells which
commit it holds (commit 0 = the empty WAL-mode database before the first
transaction). The log is JSON lines, flushed per line:

  {"commit_no": n, "t_ms": ms, "hash": h, "op": "..."}
      t_ms = wall clock (ms since the Unix epoch) taken just BEFORE COMMIT;
      hash = dbcheck content hash seen by this connection right after COMMIT.
  {"quiet_start_ms": a, "quiet_end_ms": b, "commit_no": n}
      no transaction was issued in [a, b]; the database state throughout is
      exactly commit n (logged after the window ends).
  {"vacuum_after_commit": n, "t_ms": ms, "hash": h}
      a VACUUM (which cannot run inside a transaction, so it does not bump
      commit_no) ran after commit n; its hash must equal commit n's.
  {"start": ...} first line, {"done": true, "last_commit_no": n,
      "events": {name: commit_no}, "missing_events": [...]} last line.

Deterministic for a seed (and the same --rate/--duration-s/--quiet-*/
--est-commits, which place the special events): the sequence of transactions
is the same on every run; only times and the number of commits reached vary.
Special events, placed at fractions of the estimated commit count: ALTER TABLE
ADD COLUMN, CREATE TABLE, CREATE INDEX, one transaction over --big-tx-mb MB of
blobs (growth), deleting it + incremental vacuum (shrink, if auto_vacuum is
incremental), bulk growth, bulk delete, one VACUUM (shrink). Missing events
(run too short) are listed in the last line and on stderr.

Stops at --duration-s, when --stop-file exists, or on SIGTERM/SIGINT, always
between transactions. Exit code 0 unless SQLite failed.
"""

import argparse
import json
import os
import random
import signal
import sqlite3
import string
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbcheck  # noqa: E402

_ALPHABET = string.ascii_letters + string.digits + " _-.,;:'\"\\/|\n\t"

# (name, fraction of the estimated commit count). Order matters.
EVENTS = [
    ("alter_add_column", 0.06),
    ("create_table", 0.10),
    ("create_index", 0.14),
    ("big_tx", 0.20),
    ("big_delete", 0.23),
    ("incremental_vacuum", 0.26),
    ("bulk_growth", 0.32),
    ("bulk_delete", 0.38),
    ("vacuum", 0.44),
]


def now_ms():
    return int(time.time() * 1000)


class Workload:

    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.stop = False
        self.commit_no = 0
        self.events_done = {}
        self.has_extra = False
        self.has_t2 = False
        self.log = open(args.log, "a", encoding="utf-8")
        self.conn = None
        self.schedule = self._schedule()

    # ---- plumbing -------------------------------------------------------

    def emit(self, obj):
        self.log.write(json.dumps(obj, separators=(",", ":")) + "\n")
        self.log.flush()

    def _estimate(self):
        a = self.args
        if a.est_commits:
            return a.est_commits
        if not a.rate:
            return 200
        if a.quiet_every and a.quiet_ms:
            cycle_s = a.quiet_every / a.rate + a.quiet_ms / 1000.0
            return max(1, int(a.duration_s / cycle_s * a.quiet_every))
        return max(1, int(a.rate * a.duration_s))

    def _schedule(self):
        est = self._estimate()
        sched, last = {}, 2
        for name, frac in EVENTS:
            if name == "big_tx" and self.args.big_tx_mb <= 0:
                continue
            if name == "big_delete" and self.args.big_tx_mb <= 0:
                continue
            if (name == "incremental_vacuum" and
                    self.args.auto_vacuum != "incremental"):
                continue
            n = max(last + 2, int(est * frac))
            sched[n] = name
            last = n
        return sched

    def should_stop(self, deadline):
        if self.stop or time.monotonic() >= deadline:
            return True
        sf = self.args.stop_file
        return bool(sf) and os.path.exists(sf)

    def sleep_until(self, t_mono, deadline):
        """Sleeps until t_mono (monotonic); False if told to stop first."""
        while True:
            if self.stop or (self.args.stop_file and
                             os.path.exists(self.args.stop_file)):
                return False
            left = t_mono - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, 0.05))

    def q(self, sql, params=()):
        return self.conn.execute(sql, params).fetchall()

    # ---- value generators -----------------------------------------------

    def text(self, lo, hi):
        return "".join(self.rng.choices(_ALPHABET, k=self.rng.randint(lo, hi)))

    def blob(self, lo, hi):
        if self.rng.random() < 0.05:
            return None
        return self.rng.randbytes(self.rng.randint(lo, hi))

    def integer(self):
        r = self.rng.random()
        if r < 0.05:
            return self.rng.randint(-2**63, 2**63 - 1)
        if r < 0.1:
            return None
        return self.rng.randint(-1000, 100000)

    def real(self):
        r = self.rng.random()
        if r < 0.1:
            return None
        if r < 0.2:
            return float(self.rng.randint(-5, 5))
        return (self.rng.random() - 0.5) * 10 ** self.rng.randint(-5, 12)

    def max_id(self, table):
        return self.q("SELECT coalesce(max(id), 0) FROM %s" % table)[0][0]

    # ---- operations (each runs inside an open transaction) --------------

    def op_insert(self):
        for _ in range(self.rng.randint(1, 12)):
            row = [self.text(0, 40), self.blob(0, 700), self.integer(),
                   self.real()]
            if self.has_extra:
                row.append(self.text(0, 10))
                self.q("INSERT INTO items(k, v, n, r, extra) "
                       "VALUES(?,?,?,?,?)", row)
            else:
                self.q("INSERT INTO items(k, v, n, r) VALUES(?,?,?,?)", row)

    def op_update(self):
        hi = self.max_id("items")
        for _ in range(self.rng.randint(1, 10)):
            i = self.rng.randint(1, max(1, hi))
            self.q("UPDATE items SET n = ?, r = ?, k = ? WHERE id = ?",
                   (self.integer(), self.real(), self.text(0, 30), i))
        if self.rng.random() < 0.3:
            i = self.rng.randint(1, max(1, hi))
            self.q("UPDATE items SET v = ? WHERE id = ?",
                   (self.blob(0, 2000), i))

    def op_delete(self):
        hi = self.max_id("items")
        lo = self.rng.randint(1, max(1, hi))
        self.q("DELETE FROM items WHERE id BETWEEN ? AND ?",
               (lo, lo + self.rng.randint(0, 8)))

    def op_kv(self):
        for _ in range(self.rng.randint(1, 8)):
            key = "key-%04d" % self.rng.randint(0, 600)
            if self.rng.random() < 0.25:
                self.q("DELETE FROM kv WHERE k = ?", (key,))
            else:
                self.q("INSERT OR REPLACE INTO kv(k, v) VALUES(?, ?)",
                       (key, self.text(0, 120)))

    def op_t2(self):
        if not self.has_t2:
            return self.op_kv()
        if self.rng.random() < 0.7:
            self.q("INSERT INTO t2(a, b) VALUES(?, ?)",
                   (self.text(1, 20), self.integer()))
        else:
            hi = self.max_id("t2")
            self.q("DELETE FROM t2 WHERE id = ?",
                   (self.rng.randint(1, max(1, hi)),))

    def random_ops(self):
        ops = [(self.op_insert, 34), (self.op_update, 30),
               (self.op_delete, 18), (self.op_kv, 12), (self.op_t2, 6)]
        names = []
        for _ in range(self.rng.randint(1, 3)):
            fn = self.rng.choices([o for o, _ in ops],
                                  weights=[w for _, w in ops])[0]
            fn()
            names.append(fn.__name__[3:])
        return "+".join(names)

    def event(self, name):
        if name == "alter_add_column":
            self.q("ALTER TABLE items ADD COLUMN extra TEXT DEFAULT 'x'")
            self.has_extra = True
        elif name == "create_table":
            self.q("CREATE TABLE t2(id INTEGER PRIMARY KEY, a TEXT NOT NULL, "
                   "b INTEGER)")
            self.has_t2 = True
            for _ in range(20):
                self.q("INSERT INTO t2(a, b) VALUES(?, ?)",
                       (self.text(1, 20), self.integer()))
        elif name == "create_index":
            self.q("CREATE INDEX items_n ON items(n)")
            self.q("CREATE INDEX t2_a_b ON t2(a, b)")
        elif name == "big_tx":
            total = int(self.args.big_tx_mb * 1024 * 1024) + 4096
            chunk = 1024 * 1024
            while total > 0:
                n = min(chunk, total)
                self.q("INSERT INTO bigblob(b) VALUES(?)",
                       (self.rng.randbytes(n),))
                total -= n
        elif name == "big_delete":
            self.q("DELETE FROM bigblob")
        elif name == "incremental_vacuum":
            # Python's sqlite3 steps a PRAGMA without result columns only once
            # and one step frees one page, so loop until the freelist is empty.
            for _ in range(1000000):
                if self.q("PRAGMA freelist_count")[0][0] == 0:
                    break
                self.q("PRAGMA incremental_vacuum(100000)")
        elif name == "bulk_growth":
            for _ in range(1200):
                self.q("INSERT INTO items(k, v, n, r) VALUES(?,?,?,?)",
                       ("bulk", self.rng.randbytes(3000), self.integer(),
                        self.real()))
        elif name == "bulk_delete":
            self.q("DELETE FROM items WHERE k = 'bulk' AND id % 10 != 0")
        else:
            raise AssertionError(name)
        self.events_done[name] = self.commit_no + 1

    # ---- transactions ----------------------------------------------------

    def commit_tx(self, body, op_name):
        """Runs body() in a write transaction with the commit_no bump."""
        n = self.commit_no + 1
        self.q("BEGIN IMMEDIATE")
        try:
            body()
            self.q("INSERT OR REPLACE INTO _wl_meta(id, commit_no) "
                   "VALUES(1, ?)", (n,))
            t_ms = now_ms()
            self.q("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.q("ROLLBACK")
            raise
        self.commit_no = n
        h = dbcheck.content_hash_conn(self.conn)
        self.emit({"commit_no": n, "t_ms": t_ms, "hash": h, "op": op_name})
        return h

    def setup(self):
        a = self.args
        self.conn = sqlite3.connect(a.db, isolation_level=None, timeout=30)
        self.q("PRAGMA busy_timeout = 30000")
        if a.page_size:
            self.q("PRAGMA page_size = %d" % a.page_size)
        if a.auto_vacuum == "incremental":
            self.q("PRAGMA auto_vacuum = INCREMENTAL")
        mode = self.q("PRAGMA journal_mode = WAL")[0][0]
        if mode.lower() != "wal":
            raise RuntimeError("journal_mode is %r, not wal" % mode)
        existing = dbcheck.commit_no_conn(self.conn)
        if existing:
            raise RuntimeError("database already holds commit %d; the "
                               "workload needs a new database" % existing)
        page_size = self.q("PRAGMA page_size")[0][0]
        self.emit({"start": True, "seed": a.seed, "pid": os.getpid(),
                   "page_size": page_size, "auto_vacuum": a.auto_vacuum,
                   "events_at": {v: k for k, v in self.schedule.items()}})
        self.emit({"commit_no": 0, "t_ms": now_ms(),
                   "hash": dbcheck.content_hash_conn(self.conn), "op": "init"})

        def create():
            self.q("CREATE TABLE _wl_meta(id INTEGER PRIMARY KEY, "
                   "commit_no INTEGER NOT NULL)")
            self.q("CREATE TABLE items(id INTEGER PRIMARY KEY, k TEXT, "
                   "v BLOB, n INTEGER, r REAL)")
            self.q("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID")
            self.q("CREATE TABLE bigblob(id INTEGER PRIMARY KEY, b BLOB)")
            for _ in range(30):
                self.op_insert()
            self.op_kv()

        self.commit_tx(create, "setup")

    def run(self):
        a = self.args
        self.setup()
        deadline = time.monotonic() + a.duration_s
        interval = 1.0 / a.rate if a.rate else 0.0
        next_due = time.monotonic()
        while not self.should_stop(deadline):
            if interval:
                if not self.sleep_until(next_due, deadline):
                    break
                next_due = max(next_due + interval,
                               time.monotonic() - interval)
            name = self.schedule.get(self.commit_no + 1)
            if name == "vacuum":
                h = self.commit_tx(self.random_ops, "random")
                t_ms = now_ms()
                self.q("VACUUM")
                h2 = dbcheck.content_hash_conn(self.conn)
                if h2 != h:
                    raise RuntimeError("VACUUM changed the content hash")
                self.events_done["vacuum"] = self.commit_no
                self.emit({"vacuum_after_commit": self.commit_no,
                           "t_ms": t_ms, "hash": h2})
            elif name:
                self.commit_tx(lambda: self.event(name), name)
            else:
                self.commit_tx(self.random_ops, "random")
            if a.quiet_every and a.quiet_ms and \
                    self.commit_no % a.quiet_every == 0:
                start = now_ms()
                t_end = time.monotonic() + a.quiet_ms / 1000.0
                completed = self.sleep_until(t_end, deadline)
                end = now_ms()
                if completed:
                    self.emit({"quiet_start_ms": start, "quiet_end_ms": end,
                               "commit_no": self.commit_no})
                next_due = time.monotonic()
        missing = [n for n in self.schedule.values()
                   if n not in self.events_done]
        self.emit({"done": True, "last_commit_no": self.commit_no,
                   "events": self.events_done, "missing_events": missing})
        if missing:
            print("workload: events not reached (run too short): %s" %
                  ", ".join(missing), file=sys.stderr)
        self.conn.close()
        self.log.close()


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--duration-s", type=float, required=True)
    ap.add_argument("--rate", type=float, default=0.0,
                    help="transactions per second (default: unlimited)")
    ap.add_argument("--quiet-every", type=int, default=0)
    ap.add_argument("--quiet-ms", type=int, default=0)
    ap.add_argument("--page-size", type=int, default=0)
    ap.add_argument("--big-tx-mb", type=float, default=10.0)
    ap.add_argument("--auto-vacuum", choices=["incremental", "none"],
                    default="incremental")
    ap.add_argument("--stop-file")
    ap.add_argument("--est-commits", type=int, default=0,
                    help="commit count used to place the special events "
                         "(default: from --rate, --duration-s, --quiet-*)")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    wl = Workload(args)

    def on_signal(_sig, _frame):
        wl.stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    wl.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
