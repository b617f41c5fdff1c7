#!/usr/bin/env python3
"""`walship databases`, `status` and `reset` with the real binary, a real
SQLite database and a directory replica: the config's databases and replicas
(no secret printed), each database's local state (no database, not
initialized, ok with the newest local TXID, a running replicator), reset
refused (exit 5) while a replicator runs, -dry-run removing nothing, reset
removing the local files only, and a replicate after the reset continuing the
same replica: every row restores and `verify` passes. Label: integration.

Usage: status_cli_test.py --walship BIN
Prints "N passed, M failed" last; exit 0 only if all passed.
"""
import argparse, json, os, shutil, signal, sqlite3, subprocess, sys, tempfile, time

TIMEOUT_S = 120


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Results  # noqa: E402

def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)


def jrun(cmd):
    r = run(cmd)
    try:
        return r, json.loads(r.stdout)
    except ValueError:
        return r, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--walship", required=True)
    args = ap.parse_args()
    w = os.path.abspath(args.walship)
    res = Results()
    tmp = tempfile.mkdtemp(prefix="walship-status-e2e-")
    try:
        a, b, rep = os.path.join(tmp, "a.db"), os.path.join(tmp, "b.db"), os.path.join(tmp, "rep-a")
        meta = os.path.join(tmp, ".a.db-litestream")
        cfg = os.path.join(tmp, "walship.yml")
        with open(cfg, "w") as f:
            f.write("dbs:\n  - path: %s\n    replica: {path: %s}\n"
                    "  - path: %s\n    replica: {type: s3, bucket: bkt, path: p/b, endpoint: 'http://127.0.0.1:9',"
                    " access-key-id: AKIAEXAMPLEKEY, secret-access-key: s3cr3tvalue}\n" % (a, rep, b))
        con = sqlite3.connect(a, isolation_level=None)
        con.execute("PRAGMA journal_mode=wal")
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")

        r, j = jrun([w, "databases", "-config", cfg, "-json"])
        res.check("databases -json: exit 0", r.returncode == 0, r.stderr)
        res.check("databases -json: both, with their replicas",
                  j is not None and [(d["path"], d["replica"]) for d in j] == [(a, "file://" + rep), (b, "s3://bkt/p/b")],
                  r.stdout)
        r = run([w, "databases", "-config", cfg])
        res.check("databases: table, no secret", r.returncode == 0 and "s3://bkt/p/b" in r.stdout and
                  "s3cr3tvalue" not in r.stdout + r.stderr and "AKIAEXAMPLEKEY" not in r.stdout, r.stdout)

        r, j = jrun([w, "status", "-config", cfg, "-json"])
        res.check("status: before any replicate", r.returncode == 0 and j is not None and
                  [(d["status"], d["local_txid"], d["replicating"]) for d in j] ==
                  [("not initialized", None, False), ("no database", None, False)], r.stdout + r.stderr)

        for i in range(3):
            con.execute("INSERT INTO t (v) VALUES (?)", ("before-%d" % i,))
            r = run([w, "replicate", "-once", a, rep])
            res.check("replicate -once %d" % i, r.returncode == 0, r.stderr[-2000:])
        r, j = jrun([w, "status", "-config", cfg, "-json", a])
        res.check("status DB_PATH: ok at TXID 3, not running", r.returncode == 0 and j is not None and
                  [(d["status"], d["local_txid"], d["replicating"]) for d in j] == [("ok", "%016x" % 3, False)],
                  r.stdout + r.stderr)
        res.check("status: wal size is the file's", j is not None and j[0]["wal_size"] == os.path.getsize(a + "-wal"))

        p = subprocess.Popen([w, "replicate", a, rep], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        running = False
        while time.time() < deadline and not running:
            r, j = jrun([w, "status", "-config", cfg, "-json", a])
            running = j is not None and j[0]["replicating"]
            time.sleep(0.1)
        res.check("status: a running replicator is shown", running)
        r = run([w, "reset", "-config", cfg, a])
        res.check("reset while it runs: exit 5, naming the lock", r.returncode == 5 and "walship.lock" in r.stderr,
                  "exit %d: %s" % (r.returncode, r.stderr))
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=60)
        res.check("replicator stopped with exit 0", p.returncode == 0)

        local = sorted(os.listdir(os.path.join(meta, "ltx", "0")))
        r = run([w, "reset", "-config", cfg, "-dry-run", a])
        res.check("reset -dry-run: lists, removes nothing", r.returncode == 0 and "would remove" in r.stdout and
                  sorted(os.listdir(os.path.join(meta, "ltx", "0"))) == local, r.stdout + r.stderr)
        rep_before = sorted(os.listdir(os.path.join(rep, "ltx", "0")))
        db_size = os.path.getsize(a)
        r = run([w, "reset", a])  # no -config: the default meta path beside the database
        res.check("reset: exit 0, local L0 files gone", r.returncode == 0 and
                  os.listdir(os.path.join(meta, "ltx", "0")) == [], r.stdout + r.stderr)
        res.check("reset: the replica and the database are untouched",
                  sorted(os.listdir(os.path.join(rep, "ltx", "0"))) == rep_before and os.path.getsize(a) == db_size)
        r, j = jrun([w, "status", "-config", cfg, "-json", a])
        res.check("status after reset: not initialized", j is not None and j[0]["status"] == "not initialized",
                  r.stdout)

        con.execute("INSERT INTO t (v) VALUES ('after-reset')")
        r = run([w, "replicate", "-once", a, rep])
        res.check("replicate -once after reset", r.returncode == 0, r.stderr[-2000:])
        r = run([w, "verify", rep])
        res.check("verify after reset: exit 0", r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:])
        out = os.path.join(tmp, "restored.db")
        r = run([w, "restore", "-o", out, rep])
        res.check("restore after reset: exit 0", r.returncode == 0, r.stderr[-2000:])
        if r.returncode == 0:
            got = [v for (v,) in sqlite3.connect(out).execute("SELECT v FROM t ORDER BY id")]
            res.check("restore after reset: every row", got == ["before-0", "before-1", "before-2", "after-reset"],
                      str(got))
        con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
