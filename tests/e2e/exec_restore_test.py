#!/usr/bin/env python3
"""`replicate -exec` and restore-if-db-not-exists, end to end with the real
binary, a real SQLite database and a directory replica (the container story:
the server is gone, a new one starts `walship replicate -exec app` and the app
must find its data).

  1. config `exec:` + per-DB `restore-if-db-not-exists: true`, database and
     local state deleted: walship restores it, then starts the app; the app
     sees every row, adds one and exits 0; walship does its final sync and
     exits 0, continuing the replica with incremental L0 files (the restored
     file is not uploaded again); a restore of the replica has the app's row.
  2. -exec app that exits 3: walship exits 1 naming the code, after its final
     sync (the app's row is in the replica).
  3. SIGTERM to walship: forwarded to the app, which commits a row in its
     handler and exits 0; walship waits for it, syncs that row, exits 0.
  4. -restore-if-db-not-exists with an empty replica: no restore, the app
     creates the database, walship replicates it.
  5. a corrupt replica (a byte flipped in the largest file the restore
     reads): exit 4, the app never starts, nothing at the database path, no
     replica file changed.
  6. bad uses: -once with -exec, a shell operator, an unknown command: exit 2.
  7. an existing database is not restored over.
Label: integration. Usage: exec_restore_test.py --walship BIN
Prints "N passed, M failed" last; exit 0 only if all passed.
"""
import argparse, glob, hashlib, json, os, shutil, signal, sqlite3, subprocess, sys, tempfile, time

TIMEOUT_S = 120

APP = r'''
import os, signal, sqlite3, sys, time
db, mode, out = sys.argv[1], sys.argv[2], sys.argv[3]
con = sqlite3.connect(db, isolation_level=None, timeout=10)
con.execute("PRAGMA journal_mode=wal")
con.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
n = con.execute("SELECT count(*) FROM t").fetchone()[0]
def add(tag):
    con.execute("INSERT INTO t (v) VALUES (?)", (tag,))
if mode == "wait-term":
    def on_term(sig, frame):
        add("from-sigterm")
        con.close()
        with open(out + ".term", "w") as f:
            f.write("1")
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    with open(out, "w") as f:
        f.write(str(n))
    while True:
        time.sleep(0.1)
add("from-app")
con.close()
with open(out, "w") as f:
    f.write(str(n))
sys.exit(3 if mode == "fail" else 0)
'''


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Results  # noqa: E402

def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, **kw)


def make_db(path, rows):
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    for i in range(rows):
        con.execute("INSERT INTO t (v) VALUES (?)", ("row-%d" % i,))
    con.close()


def drop_db(path):
    """The server is gone: the database, its -wal/-shm and walship's local state."""
    for f in glob.glob(path + "*"):
        os.remove(f)
    d = os.path.join(os.path.dirname(path), "." + os.path.basename(path) + "-litestream")
    shutil.rmtree(d, ignore_errors=True)


def rows_of(walship, rep, tmp, name):
    out = os.path.join(tmp, name)
    r = run([walship, "restore", "-o", out, rep])
    if r.returncode != 0:
        return None, r.stderr
    con = sqlite3.connect(out)
    vals = [v for (v,) in con.execute("SELECT v FROM t ORDER BY id")]
    con.close()
    return vals, ""


def tree_digest(d):
    h = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                h[os.path.relpath(p, d)] = hashlib.sha256(fh.read()).hexdigest()
    return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--walship", required=True)
    args = ap.parse_args()
    walship = os.path.abspath(args.walship)
    res = Results()
    tmp = tempfile.mkdtemp(prefix="walship-exec-e2e-")
    try:
        app = os.path.join(tmp, "app.py")
        with open(app, "w") as f:
            f.write(APP)
        db = os.path.join(tmp, "app.db")
        rep = os.path.join(tmp, "replica")
        make_db(db, 50)
        r = run([walship, "replicate", "-once", db, rep])
        res.check("seed: replicate -once", r.returncode == 0, r.stderr)
        seeded, _ = rows_of(walship, rep, tmp, "seed.db")
        res.check("seed: replica has 50 rows", seeded is not None and len(seeded) == 50, str(seeded))

        # ---- 1. config exec + restore-if-db-not-exists ----
        drop_db(db)
        seen = os.path.join(tmp, "seen1")
        cfg = os.path.join(tmp, "walship.yml")
        with open(cfg, "w") as f:
            f.write("exec: %s %s %s ok %s\ndbs:\n  - path: %s\n    restore-if-db-not-exists: true\n"
                    "    replica:\n      path: %s\n" % (sys.executable, app, db, seen, db, rep))
        r = run([walship, "replicate", "-config", cfg])
        res.check("1: exit 0 when the app exits 0", r.returncode == 0, "exit %d\n%s" % (r.returncode, r.stderr[-3000:]))
        res.check("1: log says it restored before starting", "restoring it from" in r.stderr and
                  r.stderr.find("restoring it from") < r.stderr.find("exec: started"), r.stderr[-3000:])
        res.check("1: the first sync continues the replica (no full L0 of the restored database)",
                  "continuing with incremental L0 files" in r.stderr and "wrote full L0" not in r.stderr,
                  r.stderr[-3000:])
        res.check("1: no error logged", " error " not in r.stderr, r.stderr[-3000:])
        res.check("1: the app saw the 50 restored rows", open(seen).read() == "50" if os.path.exists(seen) else False)
        vals, err = rows_of(walship, rep, tmp, "r1.db")
        res.check("1: the replica has the restored rows and the app's row after the final sync",
                  vals is not None and vals[:50] == seeded and vals[50:] == ["from-app"], "%s %s" % (vals, err))

        # ---- 2. the app fails ----
        seen = os.path.join(tmp, "seen2")
        r = run([walship, "replicate", "-exec", "%s %s %s fail %s" % (sys.executable, app, db, seen), db, rep])
        res.check("2: exit 1 when the app exits 3", r.returncode == 1, "exit %d\n%s" % (r.returncode, r.stderr[-2000:]))
        res.check("2: the error names the code", "exited with code 3" in r.stderr, r.stderr[-2000:])
        vals, err = rows_of(walship, rep, tmp, "r2.db")
        res.check("2: the final sync still ran", vals is not None and vals[-2:] == ["from-app", "from-app"],
                  "%s %s" % (vals, err))

        # ---- 3. SIGTERM is forwarded, and the app's last commit is synced ----
        seen = os.path.join(tmp, "seen3")
        p = subprocess.Popen([walship, "replicate", "-exec", "%s %s %s wait-term %s" % (sys.executable, app, db, seen),
                              db, rep], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 30
        while not os.path.exists(seen) and time.time() < deadline and p.poll() is None:
            time.sleep(0.05)
        res.check("3: the app started", os.path.exists(seen))
        p.send_signal(signal.SIGTERM)
        try:
            _, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        res.check("3: exit 0", p.returncode == 0, "exit %s\n%s" % (p.returncode, err[-2000:]))
        res.check("3: the app got SIGTERM", os.path.exists(seen + ".term"), err[-2000:])
        res.check("3: walship says it forwarded it", "forwarding it to" in err, err[-2000:])
        vals, e2 = rows_of(walship, rep, tmp, "r3.db")
        res.check("3: the row the app committed on SIGTERM is in the replica",
                  vals is not None and vals[-1] == "from-sigterm", "%s %s" % (vals, e2))

        # ---- 4. no backup: start without ----
        db4, rep4 = os.path.join(tmp, "new.db"), os.path.join(tmp, "replica4")
        os.makedirs(rep4)
        seen = os.path.join(tmp, "seen4")
        r = run([walship, "replicate", "-restore-if-db-not-exists",
                 "-exec", "%s %s %s ok %s" % (sys.executable, app, db4, seen), db4, rep4])
        res.check("4: exit 0", r.returncode == 0, "exit %d\n%s" % (r.returncode, r.stderr[-2000:]))
        res.check("4: log says there was no backup", "no backup in" in r.stderr, r.stderr[-2000:])
        res.check("4: the app found an empty database", open(seen).read() == "0" if os.path.exists(seen) else False)
        vals, err = rows_of(walship, rep4, tmp, "r4.db")
        res.check("4: the new database is replicated", vals == ["from-app"], "%s %s" % (vals, err))

        # ---- 5. a corrupt replica stops everything ----
        rep5 = os.path.join(tmp, "replica5")
        shutil.copytree(rep, rep5)
        # The largest file the restore will read (files outside its plan may be corrupt unnoticed).
        r = run([walship, "restore", "-dry-run", "-json", "-o", os.path.join(tmp, "plan.db"), rep5])
        plan = json.loads(r.stdout)["files"]
        biggest = os.path.join(rep5, max(plan, key=lambda f: f["size"])["key"])
        with open(biggest, "r+b") as f:
            f.seek(os.path.getsize(biggest) // 2)
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0xFF]))
        before = tree_digest(rep5)
        db5 = os.path.join(tmp, "gone.db")
        started = os.path.join(tmp, "started5")
        r = run([walship, "replicate", "-restore-if-db-not-exists", "-exec", "touch %s" % started, db5, rep5])
        res.check("5: exit 4 (corruption)", r.returncode == 4, "exit %d\n%s" % (r.returncode, r.stderr[-2000:]))
        res.check("5: the error names the file", os.path.basename(biggest) in r.stderr, r.stderr[-2000:])
        res.check("5: the app never started", not os.path.exists(started))
        res.check("5: nothing at the database path", not glob.glob(db5 + "*"), str(glob.glob(db5 + "*")))
        res.check("5: no replica file changed", tree_digest(rep5) == before)

        # ---- 6. bad uses ----
        for name, extra in [("-once with -exec", ["-once", "-exec", "true"]),
                            ("a shell operator", ["-exec", "true; false"]),
                            ("an unknown command", ["-exec", "walship-no-such-app --x"])]:
            r = run([walship, "replicate"] + extra + [db, rep])
            res.check("6: %s: exit 2" % name, r.returncode == 2, "exit %d\n%s" % (r.returncode, r.stderr[-1500:]))
        r = run([walship, "replicate", "-exec", "walship-no-such-app --x", db, rep])
        res.check("6: the unknown command is named", "walship-no-such-app" in r.stderr, r.stderr[-1500:])

        # ---- 7. an existing database is not restored over ----
        seen = os.path.join(tmp, "seen7")
        before = os.path.getsize(db)
        r = run([walship, "replicate", "-restore-if-db-not-exists",
                 "-exec", "%s %s %s ok %s" % (sys.executable, app, db, seen), db, rep])
        res.check("7: exit 0", r.returncode == 0, "exit %d\n%s" % (r.returncode, r.stderr[-2000:]))
        res.check("7: no restore", "restoring it from" not in r.stderr, r.stderr[-2000:])
        res.check("7: the app saw the existing rows", open(seen).read() == "53" if os.path.exists(seen) else False,
                  "db was %d bytes" % before)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
