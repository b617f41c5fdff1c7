#!/usr/bin/env python3
"""Self-test of the e2e harness, no walship needed: the workload writer is
deterministic and logs what it wrote, the two content-hash readers (Python
sqlite3 and the sqlite3 CLI's -json output) agree on workload data, and the
real Litestream VFS round-trips a replica it wrote (read back, time travel,
hash agreement). Prints "N passed, M failed" last; exit 0 iff none failed.

  harness_selftest.py [--seed N] [--no-vfs]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.join(HERE, "..", "support")
sys.path.insert(0, SUPPORT)
sys.path.insert(0, HERE)
import dbcheck  # noqa: E402
import litestream_vfs as lvfs  # noqa: E402
from e2e_replicate_restore import Results, WorkloadLog  # noqa: E402

WORKLOAD = os.path.join(SUPPORT, "workload.py")


def run_workload(tmp, name, seed, extra=()):
    db = os.path.join(tmp, name + ".db")
    log = os.path.join(tmp, name + ".jsonl")
    cmd = [sys.executable, WORKLOAD, "--db", db, "--log", log, "--seed",
           str(seed), "--duration-s", "4", "--est-commits", "40",
           "--big-tx-mb", "2", "--quiet-every", "10", "--quiet-ms", "100"]
    p = subprocess.run(cmd + list(extra), capture_output=True, timeout=120)
    return p, db, log


def check_workload(res, tmp, seed):
    p1, db1, log1 = run_workload(tmp, "a", seed)
    res.check("workload exits 0", p1.returncode == 0,
              p1.stderr.decode(errors="replace")[-500:])
    p2, _db2, log2 = run_workload(tmp, "b", seed, ["--rate", "60"])
    res.check("workload (rate-limited) exits 0", p2.returncode == 0,
              p2.stderr.decode(errors="replace")[-500:])
    a, b = WorkloadLog(log1), WorkloadLog(log2)
    common = sorted(set(a.commits) & set(b.commits))
    res.check("same seed -> same states (%d common commits)" % len(common),
              len(common) > 40 and all(a.commits[c]["hash"] ==
                                       b.commits[c]["hash"] for c in common))
    res.check("workload reached every special event",
              a.done is not None and not a.done["missing_events"],
              str(a.done))
    res.check("quiet windows logged", len(a.windows) >= 3 and all(
        w["quiet_end_ms"] - w["quiet_start_ms"] >= 100 for w in a.windows),
        str(a.windows[:3]))
    res.check("t_ms non-decreasing", all(
        a.commits[i]["t_ms"] <= a.commits[i + 1]["t_ms"]
        for i in range(a.last)))
    res.check("VACUUM logged with unchanged hash", len(a.vacuums) == 1 and
              a.vacuums[0]["hash"] ==
              a.commits[a.vacuums[0]["vacuum_after_commit"]]["hash"])
    wal = db1 + "-wal"
    res.check("final file holds the last commit",
              dbcheck.commit_no(db1) == a.last and
              dbcheck.content_hash(db1) == a.commits[a.last]["hash"],
              "wal present: %s" % os.path.exists(wal))
    res.check("final file integrity ok", dbcheck.integrity_check(db1) == "ok")
    before = sorted(os.listdir(tmp))
    dbcheck.content_hash(db1)
    res.check("immutable checks create no files", sorted(os.listdir(tmp)) ==
              before)
    res.check("CLI -json hash == Python hash on workload data",
              lvfs.cli_dump_hash(db1) == dbcheck.content_hash(db1))
    out = subprocess.run([sys.executable, os.path.join(SUPPORT, "dbcheck.py"),
                          "hash", db1], capture_output=True, text=True)
    res.check("dbcheck.py hash CLI", out.stdout.strip() ==
              a.commits[a.last]["hash"])
    with open(log1) as f:
        first = json.loads(f.readline())
    res.check("page size 4096 by default", first.get("page_size") == 4096)
    p3, db3, log3 = run_workload(tmp, "c", seed,
                                 ["--page-size", "1024", "--auto-vacuum",
                                  "none", "--duration-s", "2"])
    c = WorkloadLog(log3)
    res.check("--page-size 1024 --auto-vacuum none",
              p3.returncode == 0 and
              json.loads(open(log3).readline())["page_size"] == 1024 and
              dbcheck.content_hash(db3) == c.commits[c.last]["hash"])


def check_vfs(res, tmp):
    rep = os.path.join(tmp, "vfs-replica")
    sessions = lvfs.SAMPLE_SESSIONS
    try:
        txids = []
        for s in sessions:
            txids += lvfs.vfs_write(rep, os.path.join(tmp, "buf"), [s])
            time.sleep(0.01)   # distinct millisecond timestamps
    except lvfs.VfsError as e:
        res.check("VFS write mode", False, str(e))
        return
    res.check("VFS write: one L0 file per session",
              txids == list(range(1, len(sessions) + 1)), str(txids))
    expect = lvfs.replay_plain(sessions, os.path.join(tmp, "plain.db"))
    url = lvfs.file_url(rep)
    conn = dbcheck.open_ro(os.path.join(tmp, "plain.db"))
    want = [tuple(r) for r in conn.execute(lvfs.SAMPLE_SUMMARY_SQL)]
    conn.close()
    got = lvfs.vfs_query(url, lvfs.SAMPLE_SUMMARY_SQL)
    res.check("VFS read back rows", got == want, "%s != %s" % (got, want))
    h, txid = lvfs.vfs_dump_hash(url, with_txid=True)
    res.check("vfs_dump_hash == dbcheck hash of plain replay",
              h == expect[-1] and txid == "%016x" % txids[-1])
    for i, tx in enumerate(txids):
        t = lvfs.l0_file_mtime_ms(rep, tx) + 1
        h, got_tx = lvfs.vfs_dump_hash(url, timestamp=t, with_txid=True)
        res.check("VFS set_time after txid %d -> session %d" % (tx, i + 1),
                  h == expect[i] and got_tx == "%016x" % tx, got_tx)
    out = os.path.join(tmp, "copy.db")
    lvfs.vfs_vacuum_into(url, out)
    res.check("VFS VACUUM INTO copy == expected",
              dbcheck.content_hash(out) == expect[-1] and
              dbcheck.integrity_check(out) == "ok")
    try:
        lvfs.vfs_query(url, "SELECT 1",
                       timestamp=lvfs.l0_file_mtime_ms(rep, txids[0]))
        res.check("VFS set_time at first CreatedAt fails (strict <)", False)
    except lvfs.VfsError:
        res.check("VFS set_time at first CreatedAt fails (strict <)", True)
    empty = os.path.join(tmp, "empty-replica")
    os.makedirs(empty)
    try:
        lvfs.vfs_query(lvfs.file_url(empty), "SELECT 1", timeout=3)
        res.check("VFS on empty replica times out (blocks)", False)
    except lvfs.VfsError as e:
        res.check("VFS on empty replica times out (blocks)",
                  "timed out" in str(e), str(e))
    print("  VFS-written replica layout:\n    " +
          "\n    ".join(lvfs.replica_listing(rep)), flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int,
                    default=int.from_bytes(os.urandom(4), "big"))
    ap.add_argument("--no-vfs", action="store_true")
    args = ap.parse_args(argv)
    res = Results()
    print("harness selftest: seed %d" % args.seed, flush=True)
    with tempfile.TemporaryDirectory(prefix="walship-harness-") as tmp:
        try:
            check_workload(res, tmp, args.seed)
            if not args.no_vfs:
                try:
                    lvfs.vfs_so_path()
                except lvfs.VfsError as e:
                    res.check("Litestream VFS extension present", False,
                              str(e))
                else:
                    check_vfs(res, tmp)
        except Exception:
            import traceback
            res.check("selftest ran without exceptions", False,
                      traceback.format_exc())
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
