#!/usr/bin/env python3
"""A database over 1 GiB (past SQLite's lock page) replicates and restores
byte for byte, for each page size given. Label: slow.

Usage: large_db_test.py --walship BIN [--page-size 4096 ...] [--mb 1100]
Prints "N passed, N failed" last; exit code 0 only if all passed.
"""
import argparse, hashlib, os, resource, shutil, sqlite3, subprocess, sys, tempfile, time

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()

def run(cmd, **kw):
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} -> {r.returncode}\n{r.stderr[-2000:]}")
    return time.time() - t

def case(walship, page_size, mb, tmp):
    db = os.path.join(tmp, "big.db")
    rep = os.path.join(tmp, "replica")
    lock_pgno = 0x40000000 // page_size + 1
    con = sqlite3.connect(db, isolation_level=None)
    con.execute(f"PRAGMA page_size={page_size}")
    con.execute("PRAGMA journal_mode=wal")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
    rows = mb * 1024 * 1024 // 4000
    con.execute(f"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < {rows}) "
                "INSERT INTO t (v) SELECT randomblob(4000) FROM c")
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    assert pages > lock_pgno, f"database has {pages} pages, lock page is {lock_pgno}"
    t_snap = run([walship, "replicate", "-once", db, rep])
    count1 = con.execute("SELECT count(*), sum(length(v)) FROM t").fetchone()
    # An incremental past the lock page: updates at both ends, growth at the end.
    con.execute("BEGIN")
    con.execute("UPDATE t SET v = randomblob(4000) WHERE id IN (1, 2, 3)")
    con.execute(f"UPDATE t SET v = randomblob(4000) WHERE id > {rows - 5}")
    con.execute("INSERT INTO t (v) SELECT randomblob(4000) FROM t LIMIT 300")
    con.execute("COMMIT")
    t_inc = run([walship, "replicate", "-once", db, rep])
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    out = os.path.join(tmp, "restored.db")
    t_restore = run([walship, "restore", "-o", out, rep])
    rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    same = sha256(out) == sha256(db)
    out1 = os.path.join(tmp, "restored-1.db")
    run([walship, "restore", "-o", out1, "-txid", "1", rep])
    r1 = sqlite3.connect(f"file:{out1}?immutable=1", uri=True)
    count_r1 = r1.execute("SELECT count(*), sum(length(v)) FROM t").fetchone()
    ic = r1.execute("PRAGMA integrity_check").fetchone()[0]
    r1.close()
    print(f"page size {page_size}: {pages} pages ({os.path.getsize(db)/2**30:.2f} GiB, lock page {lock_pgno}); "
          f"snapshot {t_snap:.1f}s, incremental {t_inc:.1f}s, restore {t_restore:.1f}s; "
          f"max child RSS so far {rss_kb/1024:.0f} MiB", flush=True)
    ok = True
    if not same:
        print("  FAIL: restored latest differs from the source database file"); ok = False
    if count_r1 != count1 or ic != "ok":
        print(f"  FAIL: restore at TXID 1: {count_r1} vs {count1}, integrity {ic}"); ok = False
    return ok

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--walship", required=True)
    ap.add_argument("--page-size", type=int, action="append")
    ap.add_argument("--mb", type=int, default=1100)
    a = ap.parse_args()
    if not os.access(a.walship, os.X_OK):
        print(f"walship binary not found: {a.walship}\n0 passed, 1 failed"); return 1
    passed = failed = 0
    for ps in a.page_size or [4096]:
        tmp = tempfile.mkdtemp(prefix="walship-large-")
        try:
            if case(os.path.abspath(a.walship), ps, a.mb, tmp): passed += 1
            else: failed += 1
        except Exception as e:  # report, never crash the runner
            print(f"page size {ps}: FAIL: {e}"); failed += 1
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1

if __name__ == "__main__":
    sys.exit(main())
