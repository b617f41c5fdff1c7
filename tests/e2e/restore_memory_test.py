#!/usr/bin/env python3
"""Restore of a database over 1 GiB stays within a fixed memory budget and is
byte-identical to the source. Label: integration (default suite).

Builds a >= 1 GiB database with the real SQLite (random blobs, past the lock
page), replicates it once to a file replica, restores it with the default
parallelism while measuring the restore process's peak RSS (wait4 rusage of
that one child), and asserts RSS < --max-rss-mb (64) and sha256(restored) ==
sha256(source, checkpointed). Prints the figures.

Usage: restore_memory_test.py --walship BIN [--mb 1100] [--max-rss-mb 64]
Prints "N passed, N failed" last; exit code 0 only if all passed.
"""
import argparse, hashlib, os, shutil, sqlite3, subprocess, sys, tempfile, time


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def run(cmd):
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} -> {r.returncode}\n{r.stderr[-2000:]}")
    return time.time() - t


def run_measured(cmd):
    """Runs cmd; returns (seconds, peak RSS in MiB of that process)."""
    t = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    elapsed = time.time() - t
    out, err = p.stdout.read().decode(), p.stderr.read().decode()
    p.stdout.close()
    p.stderr.close()
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} -> {p.returncode}\n{err[-2000:]}")
    return elapsed, ru.ru_maxrss / 1024.0, out + err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--walship", required=True)
    ap.add_argument("--mb", type=int, default=1100)
    ap.add_argument("--max-rss-mb", type=float, default=64.0)
    a = ap.parse_args()
    walship = os.path.abspath(a.walship)
    if not os.access(walship, os.X_OK):
        print(f"walship binary not found: {walship}\n0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="walship-restore-mem-")
    ok = True
    try:
        db = os.path.join(tmp, "big.db")
        rep = os.path.join(tmp, "replica")
        page_size = 4096
        lock_pgno = 0x40000000 // page_size + 1
        t = time.time()
        con = sqlite3.connect(db, isolation_level=None)
        con.execute(f"PRAGMA page_size={page_size}")
        con.execute("PRAGMA journal_mode=wal")
        con.execute("PRAGMA synchronous=off")
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        rows = a.mb * 1024 * 1024 // 4000
        con.execute(f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < {rows}) "
                    "INSERT INTO t (v) SELECT randomblob(4000) FROM c")
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        t_build = time.time() - t
        if pages <= lock_pgno:
            print(f"FAIL: database has {pages} pages, not past the lock page {lock_pgno}")
            ok = False
        t_snap = run([walship, "replicate", "-once", db, rep])
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        want = sha256(db)
        size = os.path.getsize(db)
        out = os.path.join(tmp, "restored.db")
        secs, rss_mb, log = run_measured([walship, "restore", "-o", out, rep])
        got = sha256(out)
        print(f"database {size / 2**30:.2f} GiB ({pages} pages, lock page {lock_pgno}); build {t_build:.1f}s, "
              f"snapshot {t_snap:.1f}s; restore {secs:.2f}s ({size / 2**20 / secs:.0f} MiB/s), "
              f"peak RSS {rss_mb:.1f} MiB (limit {a.max_rss_mb:.0f})", flush=True)
        if rss_mb >= a.max_rss_mb:
            print(f"FAIL: restore peak RSS {rss_mb:.1f} MiB >= {a.max_rss_mb:.0f} MiB")
            ok = False
        if got != want:
            print("FAIL: restored database differs from the source")
            ok = False
        if os.path.exists(out + ".walship-restore") or os.path.exists(out + ".walship-restore.json"):
            print("FAIL: restore left its temp file or journal behind")
            ok = False
    except Exception as e:  # report, never crash the runner
        print(f"FAIL: {e}")
        ok = False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{1 if ok else 0} passed, {0 if ok else 1} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
