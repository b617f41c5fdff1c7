#!/usr/bin/env python3
"""`walship verify` on a real replica: a real SQLite database replicated with
`walship replicate -once` to a directory a few times with writes in between.
A clean replica verifies (exit 0, -json window as the files say); then each
kind of damage, on a fresh copy, gives its documented exit code and a stderr
line naming the object: a deleted L0 file in the middle (7), a flipped byte
(4), a truncated file (4), a copy to an overlapping name (7 + 4 -> 4), an empty
replica (3). Also the -config DB_PATH form. Label: integration.

Usage: verify_cli_test.py --walship BIN
Prints "N passed, N failed" last; exit code 0 only if all passed.
"""
import argparse, json, os, re, shutil, sqlite3, subprocess, sys, tempfile

NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$")
TIMEOUT_S = 120


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import Results  # noqa: E402

def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)


def must(cmd):
    r = run(cmd)
    if r.returncode != 0:
        raise RuntimeError("%s -> %d\n%s" % (" ".join(cmd), r.returncode, r.stderr[-2000:]))
    return r


def ltx_files(rep):
    """[(level, min, max, key)] of a file-layout replica, keys as walship names them."""
    out = []
    root = os.path.join(rep, "ltx")
    for level in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, level))):
            m = NAME.match(name)
            if m:
                out.append((int(level), int(m.group(1), 16), int(m.group(2), 16), "ltx/%s/%s" % (level, name)))
    return out


def path_of(rep, key):
    return os.path.join(rep, key)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--walship", required=True)
    args = ap.parse_args()
    walship = os.path.abspath(args.walship)
    res = Results()
    tmp = tempfile.mkdtemp(prefix="walship-verify-e2e-")
    try:
        db = os.path.join(tmp, "app.db")
        rep = os.path.join(tmp, "replica")
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("PRAGMA journal_mode=wal")
        con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
        con.execute("INSERT INTO t (v) SELECT randomblob(300) FROM (WITH RECURSIVE c(x) AS "
                    "(SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 200) SELECT x FROM c)")
        must([walship, "replicate", "-once", db, rep])
        for i in range(5):
            con.execute("INSERT INTO t (v) VALUES (randomblob(1000))")
            con.execute("UPDATE t SET v = randomblob(300) WHERE id = ?", (i + 1,))
            must([walship, "replicate", "-once", db, rep])
        con.close()
        files = ltx_files(rep)
        l0 = sorted([f for f in files if f[0] == 0], key=lambda f: f[1])
        print("replica: %d files, %d at L0: %s" % (len(files), len(l0), [f[3] for f in files]), flush=True)
        res.check("replica has at least 4 L0 files", len(l0) >= 4, str(files))

        # ---- clean ----
        r = run([walship, "verify", rep])
        res.check("clean: exit 0", r.returncode == 0, "exit %d\n%s%s" % (r.returncode, r.stdout, r.stderr))
        res.check("clean: table says OK", "OK" in r.stdout and "restorable:" in r.stdout, r.stdout)
        r = run([walship, "verify", "-json", "-parallelism", "3", rep])
        res.check("clean -json: exit 0", r.returncode == 0, r.stderr)
        try:
            j = json.loads(r.stdout)
        except ValueError as e:
            j = {}
            res.check("clean -json: parses", False, "%s: %r" % (e, r.stdout[:500]))
        last = max(f[2] for f in files)
        first = min(f[2] for f in files if f[1] == 1)
        w = j.get("window") or {}
        res.check("clean -json: ok, no problems", j.get("ok") is True and j.get("problems") == [], str(j))
        res.check("clean -json: window last TXID", w.get("last_txid") == "%016x" % last, "%s vs %x" % (w, last))
        res.check("clean -json: window first TXID", w.get("first_txid") == "%016x" % first, "%s vs %x" % (w, first))
        res.check("clean -json: times", bool(w.get("first_time")) and bool(w.get("last_time")), str(w))
        res.check("clean -json: exact range within the window",
                  j.get("exact_from_txid") is not None and first <= int(j["exact_from_txid"], 16) <= last, str(j))
        res.check("clean -json: counts", j.get("files") == len(files) and
                  j.get("bytes") == sum(os.path.getsize(path_of(rep, f[3])) for f in files) and
                  sum(l["files"] for l in j.get("levels", [])) == len(files), str(j))

        # ---- -config DB_PATH ----
        cfg = os.path.join(tmp, "walship.yml")
        with open(cfg, "w") as f:
            f.write("dbs:\n  - path: %s\n    replica:\n      type: file\n      path: %s\n" % (db, rep))
        r = run([walship, "verify", "-config", cfg, db])
        res.check("-config DB_PATH: exit 0", r.returncode == 0, "exit %d\n%s" % (r.returncode, r.stderr))

        # ---- damage, each on a fresh copy ----
        def damaged(name, damage, want_exit, want_in_stderr, check_json=None):
            copy = os.path.join(tmp, "damaged-" + name)
            shutil.copytree(rep, copy)
            damage(copy)
            r = run([walship, "verify", copy])
            ok = res.check("%s: exit %d" % (name, want_exit), r.returncode == want_exit,
                           "exit %d\n%s" % (r.returncode, r.stderr))
            for s in want_in_stderr:
                res.check("%s: stderr names %s" % (name, s), s in r.stderr, r.stderr)
            rj = run([walship, "verify", "-json", copy])
            try:
                jj = json.loads(rj.stdout)
                keys = [p["key"] for p in jj["problems"]]
                res.check("%s: -json lists the problem, same exit" % name,
                          rj.returncode == want_exit and jj["ok"] is False and want_in_stderr[0] in keys, str(jj))
                if check_json:
                    check_json(jj)
            except (ValueError, KeyError) as e:
                res.check("%s: -json parses" % name, False, "%s: %r" % (e, rj.stdout[:300]))
            shutil.rmtree(copy)
            return ok

        mid = l0[len(l0) // 2]
        after = l0[len(l0) // 2 + 1]
        before = l0[len(l0) // 2 - 1]
        def broken_chain(jj):
            res.check("deleted L0: -json says where the chain breaks",
                      jj["reachable_txid"] == "%016x" % before[2] and jj["exact_from_txid"] is None and
                      jj["window"]["last_txid"] == "%016x" % last, str(jj))
        damaged("deleted L0", lambda c: os.remove(path_of(c, mid[3])), 7, [after[3], before[3]], broken_chain)

        def flip(c, key, where):
            p = path_of(c, key)
            with open(p, "r+b") as f:
                f.seek(where(os.path.getsize(p)))
                b = f.read(1)
                f.seek(-1, os.SEEK_CUR)
                f.write(bytes([b[0] ^ 0xFF]))
        damaged("flipped byte in a page", lambda c: flip(c, mid[3], lambda n: 100 + 20), 4, [mid[3]])
        damaged("flipped byte in the trailer", lambda c: flip(c, l0[-1][3], lambda n: n - 3), 4, [l0[-1][3]])

        snap = [f for f in files if f[0] == 9][0]
        def truncate(c):
            p = path_of(c, snap[3])
            os.truncate(p, os.path.getsize(p) // 2)
        damaged("truncated", truncate, 4, [snap[3]])

        over_key = "ltx/0/%016x-%016x.ltx" % (mid[1], after[2])
        def overlap(c):
            shutil.copy2(path_of(c, mid[3]), path_of(c, over_key))
        damaged("copy to an overlapping name", overlap, 4, [over_key])

        r = run([walship, "verify", "-parallelism", "0", rep])
        res.check("-parallelism 0: exit 2", r.returncode == 2, "exit %d\n%s" % (r.returncode, r.stderr))

        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        r = run([walship, "verify", empty])
        res.check("empty replica: exit 3", r.returncode == 3, "exit %d\n%s" % (r.returncode, r.stderr))
        res.check("empty replica: says no backups", "no backups found" in r.stderr, r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
