#!/usr/bin/env python3
"""S3 figures for walship against moto_server on loopback, each beside a plain
curl transfer of the same bytes to the same server (ratios, same run):

- initial snapshot upload of a --db-mb MB database (`replicate -once`: the
  TXID-1 L0 file and the level-9 snapshot) vs curl PUT of those objects' bytes;
- restore latest vs curl GET of the same objects.

Usage: bench/s3_vs_curl.py [--walship build/src/cli/walship] [--db-mb 100]
"""
import argparse, os, shutil, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "support"))
from replicate_restore import make_db  # noqa: E402
import s3server  # noqa: E402

def curl(args, out="/dev/null"):
    t = time.time()
    subprocess.run(["curl", "-sS", "-f", "-o", out, "--aws-sigv4", "aws:amz:us-east-1:s3",
                    "--user", "test:test"] + args, check=True)
    return time.time() - t

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--walship", default=os.path.join(os.path.dirname(__file__), "..", "build", "src", "cli", "walship"))
    ap.add_argument("--db-mb", type=int, default=100)
    a = ap.parse_args()
    w = os.path.abspath(a.walship)
    tmp = tempfile.mkdtemp(prefix="walship-s3bench-")
    # moto_server binds a port of its own choosing and announces it (no port
    # picked here that another process could take first).
    moto = s3server.S3Server(log_path=os.path.join(tmp, "moto.log"))
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    try:
        moto.start()
        base = moto.endpoint
        moto.create_bucket("bench")
        db = os.path.join(tmp, "app.db")
        make_db(db, a.db_mb)
        url = f"s3://bench/db?endpoint={base}&forcePathStyle=true"
        t0 = time.time()
        subprocess.run([w, "replicate", "-once", "-log-level", "warn", db, url], env=env, check=True)
        up_s = time.time() - t0
        # The objects walship uploaded, fetched once to get their bytes for curl.
        objs = []
        for key in ("db/0000/0000000000000001-0000000000000001.ltx", "db/0009/0000000000000001-0000000000000001.ltx"):
            p = os.path.join(tmp, key.replace("/", "_"))
            curl([f"{base}/bench/{key}"], out=p)
            objs.append(p)
        up_bytes = sum(os.path.getsize(p) for p in objs)
        curl_put = sum(curl(["-T", p, f"{base}/bench/curl/{os.path.basename(p)}"]) for p in objs)
        out = os.path.join(tmp, "restored.db")
        t1 = time.time()
        subprocess.run([w, "restore", "-o", out, "-log-level", "warn", "-integrity-check", "none", url], env=env, check=True)
        restore_s = time.time() - t1
        t2 = time.time()
        subprocess.run([w, "restore", "-o", out + "2", "-log-level", "warn", url], env=env, check=True)
        restore_q = time.time() - t2
        # Restore reads the level-9 snapshot only (one file at TXID 1).
        curl_get = curl([f"{base}/bench/db/0009/0000000000000001-0000000000000001.ltx"])
        snap = os.path.getsize(objs[1])
        rows = [
            ("database size", f"{os.path.getsize(db)/1e6:.1f} MB"),
            ("initial upload: replicate -once (L0 + L9)", f"{up_s:.2f} s for {up_bytes/1e6:.1f} MB"),
            ("  curl PUT of the same bytes", f"{curl_put:.2f} s  (ratio {up_s/curl_put:.2f}x)"),
            ("restore latest from moto (no integrity check)", f"{restore_s:.2f} s for {snap/1e6:.1f} MB"),
            ("restore latest from moto (quick_check)", f"{restore_q:.2f} s"),
            ("  curl GET of the same bytes", f"{curl_get:.2f} s  (ratio {restore_s/curl_get:.2f}x)"),
        ]
        width = max(len(r[0]) for r in rows)
        print(f"{'metric'.ljust(width)} | value")
        print("-" * width + "-+-" + "-" * 40)
        for k, v in rows:
            print(f"{k.ljust(width)} | {v}")
    finally:
        moto.stop()
        shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
