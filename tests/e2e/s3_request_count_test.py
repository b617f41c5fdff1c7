#!/usr/bin/env python3
"""End-to-end: how many S3 requests does `walship replicate` make in steady
state? walship replicates a live database to moto_server through
tests/support/fault_proxy.py (no faults; the proxy counts requests by kind).

  1. walship starts (it may LIST and GET then), the writer starts
     (20 tx/s), the first uploads land;
  2. right after an upload pass, the proxy's counters are reset and the
     bucket is listed straight from moto (uncounted);
  3. ~30 s of steady writing (sync-interval 1s, monitor-interval 1s), then
     the writer stops, walship catches up (polled straight against moto),
     then ~5 s idle;
  4. checks: PUTs = new objects in the window (same keys, none twice),
     about one L0 PUT per second while writing, zero LIST, no GET of an L0
     file or snapshot (level 1 is compacted from local L0 copies; level 2+
     reads its level-1 inputs: a few GETs per interval), while idle no
     request but compaction's (at the 30 s level-1 boundaries); HEADs
     reported (a cost per PUT);
  5. SIGTERM walship (exit 0), restore (straight from moto) = the writer's
     final state, integrity ok.

  s3_request_count_test.py --walship BIN [--seed N] [--window-s 30] [--keep]

Last line "N passed, M failed"; exit 0 iff none failed (77: moto_server or
boto3 missing). moto, the proxy and every child are stopped on every path.
"""

import argparse
import os
import random
import re
import shutil
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
import dbcheck  # noqa: E402
import s3_testlib as t  # noqa: E402

RATE = 20


Aborted = t.Aborted
Results = t.Results


def wait_until(pred, timeout_s, poll_s=0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(poll_s)
    return pred()


def wait_local_stable(db, stable_s=2.5, timeout_s=30):
    """Waits until walship's local L0 position stops moving; returns it."""
    last, since = t.local_txid(db), time.monotonic()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.25)
        cur = t.local_txid(db)
        if cur != last:
            last, since = cur, time.monotonic()
        elif time.monotonic() - since >= stable_s:
            break
    return last


def compaction_key(key, inputs=False):
    """An object of compaction levels 1..8 (S3 layout: <prefix>/<level %04x>/...).
    With inputs, the level-1..7 files that level 2+ compactions read."""
    m = re.search(r"/(000[0-9])/[0-9a-f]{16}-[0-9a-f]{16}\.ltx", key)
    if not m:
        return False
    level = int(m.group(1), 16)
    return 1 <= level <= (7 if inputs else 8)


def run(args, res):
    env = t.S3Env(bucket="walship-reqcount")
    print("workdir %s, seed %d" % (env.tmp, args.seed), flush=True)
    ok = False
    try:
        db = os.path.join(env.tmp, "app.db")
        prefix = "db"
        url_direct = env.url(prefix, direct=True)
        ws = t.Walship(env, args.walship, db, env.url(prefix), monitor="1s", sync="1s")
        ws.start()
        wr = t.Writer(env, db, args.seed, RATE, args.window_s + 120, big_tx_mb=0,
                      est_commits=int(RATE * (args.window_s + 10)))
        if not res.check("writer started", wr.start()):
            return
        # Start-up: the initial snapshot and first L0s uploaded.
        if not res.check("start-up uploads", wait_until(lambda: env.proxy.count("PUT") >= 3, 30),
                         "counts %s" % env.proxy.counts()):
            return
        startup = env.proxy.counts()
        print("start-up requests: %s" % startup["by_kind"], flush=True)
        # Open the window right after an upload pass (passes are >= 1 s apart).
        c0 = env.proxy.count("PUT")
        wait_until(lambda: env.proxy.count("PUT") > c0, 10, 0.02)
        time.sleep(0.3)
        env.proxy.reset_counts()
        t_start = time.monotonic()
        before = {o["Key"] for o in env.objects(prefix + "/")}
        time.sleep(args.window_s)
        wr_rc = wr.stop()
        t_writer_end = time.monotonic()
        res.check("writer exit 0", wr_rc == 0, "rc %s" % wr_rc)
        local = wait_local_stable(db)
        reached, remote, waited = t.wait_for_txid(args.walship, url_direct, local or 1, 60)
        res.check("replica caught up after the writer stopped", reached,
                  "local %s, replica %s after %.1fs" % (local, remote, waited))
        t_idle = time.monotonic()
        time.sleep(5.0)
        t_end = time.monotonic()
        counts = env.proxy.counts()
        reqs = env.proxy.recorded()
        after = env.objects(prefix + "/")
        new = {o["Key"] for o in after} - before
        kinds = counts["by_kind"]
        puts = [r for r in reqs if r[1] == "PUT"]
        put_keys = [r[3].split("/", 2)[-1] for r in puts]
        n_put, n_head = kinds.get("PUT", 0), kinds.get("HEAD", 0)
        new_l0 = sorted(k for k in new if "/0000/" in k)
        print("window %.1fs (writing %.1fs): requests %s; new objects %d (L0 %d, other %s)" % (
            t_end - t_start, t_writer_end - t_start, kinds, len(new), len(new_l0),
            sorted(k for k in new if "/0000/" not in k)), flush=True)

        res.check("PUTs = new objects in the window", n_put == len(new),
                  "%d PUTs, %d new objects" % (n_put, len(new)))
        dup = sorted({k for k in put_keys if put_keys.count(k) > 1})
        res.check("no key PUT twice", not dup, ", ".join(dup[:5]))
        res.check("PUT keys are exactly the new objects", set(put_keys) == new,
                  "PUT only: %s; new only: %s" % (sorted(set(put_keys) - new)[:5], sorted(new - set(put_keys))[:5]))
        res.check("zero LIST", kinds.get("LIST", 0) == 0, "%d" % kinds.get("LIST", 0))
        gets = [r[3] for r in reqs if r[1] == "GET"]
        bad_gets = [k for k in gets if not compaction_key(k, inputs=True)]
        res.check("no GET of an L0 file or snapshot (level 1 reads local L0 copies)", not bad_gets,
                  "%d GETs: %s" % (len(gets), bad_gets[:5]))
        print("compaction: %d GETs of level-1+ inputs, %d PUTs of level-1+ outputs" % (
            len(gets), sum(1 for k in put_keys if compaction_key(k))), flush=True)
        res.check("zero DELETE/POST", kinds.get("DELETE", 0) == 0 and kinds.get("POST", 0) == 0, str(kinds))
        steady = [r for r in reqs if t_start <= r[0] < t_writer_end]
        steady_s = t_writer_end - t_start
        steady_puts = sum(1 for r in steady if r[1] == "PUT" and "/0000/" in r[3])
        steady_heads = sum(1 for r in steady if r[1] == "HEAD")
        per_min = len(steady) * 60.0 / steady_s
        put_per_s = steady_puts / steady_s
        print("steady state: %.1f requests/min (%.1f PUT/min, %.1f HEAD/min); %.2f PUT/s at sync-interval 1s" % (
            per_min, steady_puts * 60.0 / steady_s, steady_heads * 60.0 / steady_s, put_per_s), flush=True)
        res.check("about one L0 PUT per second while writing", 0.6 <= put_per_s <= 1.3, "%.2f PUT/s" % put_per_s)
        print("HEAD requests: %d in the window, %.2f per PUT" % (n_head, n_head / max(1, n_put)), flush=True)
        idle = [r for r in reqs if r[0] >= t_idle and not (r[1] in ("PUT", "GET", "HEAD") and compaction_key(r[3]))]
        res.check("no requests but compaction's while idle (5 s, nothing to upload)", not idle,
                  "%d: %s" % (len(idle), sorted({r[1] for r in idle})))

        if not res.check("walship still running", ws.alive(), "exit %s" % (ws.proc.poll(),)):
            return
        rc, took = ws.stop(60)
        res.check("walship SIGTERM exit 0", rc == 0, "rc %s after %.1fs" % (rc, took))
        wl = wr.result()
        out = os.path.join(env.tmp, "restored.db")
        r = t.restore(args.walship, url_direct, out)
        if res.check("restore latest", r.returncode == 0, t.restore_summary(r)):
            h = dbcheck.content_hash(out)
            res.check("restore = writer's final state", h == wl.final_hash(),
                      "writer commit %d (%d commits)" % (wl.last, len(wl.commits)))
            ic = dbcheck.integrity_check(out)
            res.check("integrity_check", ic == "ok", ic[:300])
        errs = [ln for ln in ws.log_lines()
                if re.match(r"^\S+\s+(warning|warn|error|critical|fatal)\s", ln) and "does not exist" not in ln]
        res.check("walship logged no errors or warnings", not errs, "; ".join(errs[:3]))
        if wl.latency:
            print("writer: %d commits, max tx %.1f ms, max COMMIT %.1f ms" % (
                wl.latency["n"], wl.latency["max_tx_ms"], wl.latency["max_commit_ms"]), flush=True)
        ok = True
    finally:
        env.close()
        if ok and res.failed == 0 and not args.keep:
            shutil.rmtree(env.tmp, ignore_errors=True)
        else:
            print("kept %s" % env.tmp, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--walship", required=True)
    ap.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    ap.add_argument("--window-s", type=float, default=30.0)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    def on_signal(sig, _frame):  # raised where the main thread is: finally blocks clean up
        raise Aborted("timed out (SIGALRM)" if sig == signal.SIGALRM else "signal %d" % sig)

    for s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    signal.alarm(300)  # a hung run must not hang ctest
    if not t.have_moto():
        print("skipped: needs moto_server and boto3")
        print("0 passed, 0 failed")
        return 77
    res = Results()
    try:
        run(args, res)
    except (Exception, Aborted):  # noqa: BLE001 - reported as a failure (cleanup ran in run())
        res.failed += 1
        print("FAIL unexpected exception or abort", flush=True)
        traceback.print_exc()
    print("%d passed, %d failed" % (res.passed, res.failed), flush=True)
    return 0 if res.failed == 0 and res.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
