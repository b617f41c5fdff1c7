#!/usr/bin/env python3
"""Benchmark for issue 3's figures, printed as one table.

- restore of a database of --db-mb MB from a file replica, beside a plain copy
  of the same bytes (the baseline, in the same run: ratios, not absolutes);
- the replicator's peak RSS and CPU while a separate writer process commits
  --tps transactions per second for --seconds seconds.

Usage: bench/replicate_restore.py [--walship build/src/cli/walship] [--db-mb 100] [--tps 20] [--seconds 60]
"""
import argparse, os, random, shutil, signal, sqlite3, subprocess, sys, tempfile, time

def rss_peak_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(parts[11]) + int(parts[12])) / ticks  # utime + stime

def make_db(path, mb):
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB, n INTEGER)")
    rnd = random.Random(1)
    rows = mb * 1024 // 4  # 4 KiB of half-compressible data per row
    with db:
        for i in range(rows):
            blob = rnd.randbytes(2048) + bytes(2048)
            db.execute("INSERT INTO t (v, n) VALUES (?, ?)", (blob, i))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()

WRITER = r'''
import random, sqlite3, sys, time
path, tps, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA busy_timeout=5000")
rnd = random.Random(2); end = time.time() + seconds; n = 0; nxt = time.time()
lat = []
while time.time() < end:
    t0 = time.time()
    db.execute("BEGIN")
    for _ in range(5):
        db.execute("UPDATE t SET v = ?, n = n + 1 WHERE id = ?", (rnd.randbytes(512), rnd.randint(1, 20000)))
    db.execute("COMMIT")
    lat.append(time.time() - t0); n += 1
    nxt += 1.0 / tps
    time.sleep(max(0, nxt - time.time()))
lat.sort()
print(n, lat[len(lat)//2] * 1000, lat[int(len(lat)*0.99)] * 1000)
'''

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--walship", default=os.path.join(os.path.dirname(__file__), "..", "build", "src", "cli", "walship"))
    ap.add_argument("--db-mb", type=int, default=100)
    ap.add_argument("--tps", type=float, default=20)
    ap.add_argument("--seconds", type=float, default=60)
    a = ap.parse_args()
    w = os.path.abspath(a.walship)
    tmp = tempfile.mkdtemp(prefix="walship-bench-")
    try:
        db, rep = os.path.join(tmp, "app.db"), os.path.join(tmp, "replica")
        make_db(db, a.db_mb)
        db_bytes = os.path.getsize(db)
        cfg = os.path.join(tmp, "walship.yml")
        with open(cfg, "w") as f:
            f.write(f"dbs:\n  - path: {db}\n    replica:\n      path: {rep}\n")
        t0 = time.time()
        rp = subprocess.Popen([w, "replicate", "-config", cfg, "-log-level", "warn"])
        # Initial snapshot: wait for the level-9 file.
        l9 = os.path.join(rep, "ltx", "9")
        while not (os.path.isdir(l9) and os.listdir(l9)):
            time.sleep(0.05)
        snap_s = time.time() - t0
        cpu0, wall0 = cpu_seconds(rp.pid), time.time()
        wr = subprocess.run([sys.executable, "-c", WRITER, db, str(a.tps), str(a.seconds)], capture_output=True, text=True, check=True)
        n, p50, p99 = wr.stdout.split()
        cpu = cpu_seconds(rp.pid) - cpu0
        wall = time.time() - wall0
        rss = rss_peak_kb(rp.pid)
        rp.send_signal(signal.SIGTERM)
        rc = rp.wait(timeout=60)
        # Writer alone (baseline for commit latency).
        wr0 = subprocess.run([sys.executable, "-c", WRITER, db, str(a.tps), "10"], capture_output=True, text=True, check=True)
        _, b50, b99 = wr0.stdout.split()
        rep_bytes = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(rep) for f in fs)
        out = os.path.join(tmp, "restored.db")
        subprocess.run(["sync"])
        t1 = time.time()
        subprocess.run([w, "restore", "-o", out, "-log-level", "warn", "-integrity-check", "none", rep], check=True)
        restore_s = time.time() - t1
        t2 = time.time()
        subprocess.run([w, "restore", "-o", out + "2", "-log-level", "warn", rep], check=True)
        restore_q_s = time.time() - t2
        # Baseline: copy the same replica bytes and fsync them.
        t3 = time.time()
        shutil.copytree(rep, os.path.join(tmp, "copy"))
        subprocess.run(["sync"])
        copy_s = time.time() - t3
        rows = [
            ("database size", f"{db_bytes/1e6:.1f} MB"),
            ("replica size (snapshot + L0)", f"{rep_bytes/1e6:.1f} MB"),
            ("initial snapshot (start to L9 written)", f"{snap_s:.2f} s"),
            (f"writer: {n} tx in {a.seconds:.0f} s, commit p50/p99", f"{float(p50):.2f} / {float(p99):.2f} ms (alone: {float(b50):.2f} / {float(b99):.2f} ms)"),
            ("replicator CPU while writing", f"{100*cpu/wall:.1f} % of one core ({cpu:.2f} s in {wall:.1f} s)"),
            ("replicator peak RSS", f"{rss/1024:.1f} MiB"),
            ("replicate exit code after SIGTERM", str(rc)),
            ("restore latest, no integrity check", f"{restore_s:.2f} s"),
            ("restore latest, quick_check", f"{restore_q_s:.2f} s"),
            ("baseline: copy replica bytes + sync", f"{copy_s:.2f} s"),
            ("restore / copy ratio", f"{restore_s/copy_s:.2f}x"),
        ]
        width = max(len(r[0]) for r in rows)
        print(f"{'metric'.ljust(width)} | value")
        print("-" * width + "-+-" + "-" * 40)
        for k, v in rows:
            print(f"{k.ljust(width)} | {v}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
