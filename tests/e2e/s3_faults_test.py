#!/usr/bin/env python3
"""End-to-end: `walship replicate` to moto_server through
tests/support/fault_proxy.py while faults are injected, one case each:

  put_500            500 InternalError on the next 5 .ltx PUTs
  slowdown_503       three bursts of 4 x 503 SlowDown (any request), 3 s apart
  reset_before       4 .ltx PUTs reset before forwarding (never applied)
  reset_after        2 .ltx PUTs applied by the server, then the connection
                     reset (ack lost)
  slow_responses     every response held 2 s, for 8 s
  outage_60s         60 s full outage (listener closed: connections refused)

Per case: a fresh database and prefix; the writer (tests/support/workload.py,
10 tx/s, timed by s3_testlib's writer) and walship start; once the first
uploads landed the fault is injected and the writer keeps writing through
it; after it, the time until the replica holds the position walship had
locally when the fault ended is measured ("catch-up"); the writer stops,
walship catches up (polled with `walship ltx -json` straight against moto,
bounded), then SIGTERM (exit 0 expected). Checks:
  - the fault hit (every injected rule consumed / faults counted);
  - restore latest (straight from moto) = the writer's final state, and
    integrity_check ok;
  - no half-written object: every object is .ltx, >= 116 bytes, magic,
    header TXIDs = name, page index + trailer intact (s3_testlib), and the
    restore (which verifies file checksums) succeeded;
  - the writer was never blocked: max BEGIN IMMEDIATE wait < 1 s, max
    COMMIT < 1 s (a replica-bound wait would be seconds), and it kept >= 70%
    of its rate; the figures are reported;
  - walship logged each state change once: error/warn lines during the
    case = "replica reachable again"/"sync recovered" lines, at most 2 (the
    outage: exactly 1 and 1), never one per failed request.

  s3_faults_test.py --walship BIN [--seed N] [--only CASE ...] [--keep]

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

RATE = 10
LTX_KEY = r"\.ltx$"
# "Never blocked": a writer held up by the replica would wait seconds (2 s slow
# responses, a 60 s outage, the 30 s busy timeout). Below these, waits are the
# machine's load or walship's local checkpoint barrier (BEGIN IMMEDIATE while
# it syncs the WAL tail and checkpoints: local work only), both reported.
MAX_BEGIN_MS = 1000
MAX_COMMIT_MS = 1000
CATCH_UP_LIMIT_S = 150


Aborted = t.Aborted
Results = t.Results


# ---- the faults: each injects, lasts its phase, returns the rules to check --

def f_put_500(p):
    rules = [p.fail_next(5, status=500, method="PUT", key=LTX_KEY)]
    time.sleep(8)
    return rules


def f_slowdown_503(p):
    rules = []
    for _ in range(3):
        rules.append(p.fail_next(4, status=503))
        time.sleep(3)
    return rules


def f_reset_before(p):
    rules = [p.reset_before(4, method="PUT", key=LTX_KEY)]
    time.sleep(8)
    return rules


def f_reset_after(p):
    rules = [p.reset_after(2, method="PUT", key=r"/0000/[0-9a-f-]+\.ltx$")]
    time.sleep(8)
    return rules


def f_slow(p):
    p.delay(2.0, n=None)
    time.sleep(8)
    p.clear()
    return []


def f_outage(p):
    p.outage(60, refuse=True)
    time.sleep(60.2)
    return []


CASES = [
    # name, inject, expected commits (places the workload's special events in the fault phase)
    ("put_500", f_put_500, 250),
    ("slowdown_503", f_slowdown_503, 250),
    ("reset_before", f_reset_before, 250),
    ("reset_after", f_reset_after, 250),
    ("slow_responses", f_slow, 250),
    ("outage_60s", f_outage, 700),
]

LEVEL_RE = re.compile(r"^\S+\s+(trace|debug|info|warning|warn|error|critical|fatal)\s")
BAD_LEVELS = ("warning", "warn", "error", "critical", "fatal")


def classify_log(lines):
    errs, recs, kept = [], [], []
    for ln in lines:
        m = LEVEL_RE.match(ln)
        level = m.group(1) if m else ""
        if level in BAD_LEVELS:
            errs.append(ln)
        if ("replica reachable again" in ln or "sync recovered" in ln) and "compaction" not in ln:
            recs.append(ln)
        if "was already on the replica" in ln:
            kept.append(ln)
    return errs, recs, kept


def wait_local_stable(db, stable_s=2.5, timeout_s=30):
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


def run_case(env, args, res, name, inject, est, seed, summary):
    def check(what, ok, detail=""):
        return res.check("%s: %s" % (name, what), ok, detail)

    cdir = os.path.join(env.tmp, name)
    os.makedirs(cdir)
    db = os.path.join(cdir, "app.db")
    prefix = name
    url_direct = env.url(prefix, direct=True)
    env.proxy.clear()
    env.proxy.reset_counts()
    ws = t.Walship(env, args.walship, db, env.url(prefix), name="walship-" + name, monitor="1s", sync="1s")
    wr = t.Writer(env, db, seed, RATE, 600, name="writer-" + name, big_tx_mb=1, est_commits=est)
    fig = {"case": name}
    summary.append(fig)
    try:
        ws.start()
        if not check("writer started", wr.start()):
            return
        t_write0 = time.monotonic()
        ok, txid, _ = t.wait_for_txid(args.walship, url_direct, 2, 30)
        if not check("first uploads before the fault", ok, "replica at %s" % txid):
            return
        log_mark = len(ws.log_lines())
        before = env.proxy.counts()
        t_fault = time.monotonic()
        rules = inject(env.proxy)
        t_fault_end = time.monotonic()
        during = env.proxy.counts()
        faults = during["faults"] - before["faults"]
        fig["faulted_requests"] = faults
        left = [r.count for r in rules if r.count]
        if name == "outage_60s":  # refused connections never reach the proxy's counters
            through = [r for r in env.proxy.recorded() if t_fault + 0.5 <= r[0] <= t_fault_end - 0.5]
            check("outage held (no request reached moto during it)", not through,
                  "%d requests got through: %s" % (len(through), sorted({r[1] for r in through})))
        else:
            check("fault hit walship", faults > 0 and not left,
                  "%d requests faulted in %.0fs; unconsumed %s" % (faults, t_fault_end - t_fault, left))
        # Catch-up: until the replica holds what walship had locally at the fault's end.
        target = t.local_txid(db) or 1
        ok, remote, waited = t.wait_for_txid(args.walship, url_direct, target, CATCH_UP_LIMIT_S, 0.25)
        fig["catch_up_s"] = round(waited, 1)
        check("caught up after the fault", ok, "replica reached local TXID %d in %.1fs (now %d)" % (
            target, waited, remote))
        time.sleep(max(0.0, 3.0 - waited))  # keep writing a little after the fault
        t_write1 = time.monotonic()
        wr_rc = wr.stop()
        check("writer exit 0", wr_rc == 0, "rc %s" % wr_rc)
        local = wait_local_stable(db)
        ok, remote, waited = t.wait_for_txid(args.walship, url_direct, local or 1, 60)
        check("replica caught up after the writer stopped", ok, "local %s, replica %s, %.1fs" % (
            local, remote, waited))
        lines = ws.log_lines()[log_mark:]
        errs, recs, kept = classify_log(lines)
        # The compaction thread meets the same outage on its own schedule:
        # at most one error line of its own (its recovery line comes at its
        # next level boundary, possibly after this check).
        comp_errs = [e for e in errs if "compact" in e]
        errs = [e for e in errs if "compact" not in e]
        check("compaction logged at most one error", len(comp_errs) <= 1, " || ".join(e[:300] for e in comp_errs[:3]))
        attempts = sum(int(m) for e in errs for m in re.findall(r"\((\d+) attempts", e))
        fig["log"] = {"error_warn": len(errs), "recovered": len(recs), "already_on_replica": len(kept),
                      "attempts_in_logged_errors": attempts}
        if name == "outage_60s":
            once = len(errs) == 1 and len(recs) == 1
        else:
            once = len(errs) == len(recs) and len(errs) <= 2
        check("logged once per state change", once,
              "%d error/warn, %d recovery lines; %d requests faulted at the proxy, %d attempts named in the "
              "logged errors%s" % (len(errs), len(recs), faults, attempts,
                                   (": " + " || ".join(e[:400] for e in errs[:4])) if errs else ""))
        if name == "reset_after":
            check("lost acks recognised as our own uploads", len(kept) >= 1 and not errs,
                  "%d 'already on the replica' lines" % len(kept))
        if not check("walship still running", ws.alive(), "exit %s" % (ws.proc.poll(),)):
            return
        rc, took = ws.stop(90)
        check("SIGTERM exit 0", rc == 0, "rc %s after %.1fs" % (rc, took))
        tail = ws.log_lines()[log_mark + len(lines):]
        bad_tail = [ln for ln in tail if LEVEL_RE.match(ln) and LEVEL_RE.match(ln).group(1) in BAD_LEVELS]
        check("clean shutdown log", not bad_tail, " || ".join(bad_tail[:3]))

        wl = wr.result()
        out = os.path.join(cdir, "restored.db")
        r = t.restore(args.walship, url_direct, out)
        if check("restore latest", r.returncode == 0, t.restore_summary(r)):
            h = dbcheck.content_hash(out)
            check("restore = writer's final state", h == wl.final_hash(), "writer at commit %d" % wl.last)
            ic = dbcheck.integrity_check(out)
            check("integrity_check", ic == "ok", ic[:300])
        n, total, problems = t.check_all_objects(env, prefix + "/")
        check("every object whole", n > 0 and not problems, "%d objects, %d bytes; %s" % (
            n, total, "; ".join(problems[:5])))
        lat = wl.latency or {}
        fig["writer"] = {k: lat.get(k) for k in ("n", "max_tx_ms", "p99_tx_ms", "max_begin_ms", "max_commit_ms")}
        writing_s = t_write1 - t_write0
        rate = len(wl.commits) / writing_s if writing_s > 0 else 0
        check("writer never blocked", bool(lat) and lat["max_begin_ms"] < MAX_BEGIN_MS and
              lat["max_commit_ms"] < MAX_COMMIT_MS and rate >= 0.7 * RATE,
              "%d commits in %.0fs (%.1f tx/s), max BEGIN wait %.1f ms, max COMMIT %.1f ms, max tx %.1f ms "
              "(p99 %.1f ms; worst at commit %s)" % (
                  lat.get("n", 0), writing_s, rate, lat.get("max_begin_ms", -1), lat.get("max_commit_ms", -1),
                  lat.get("max_tx_ms", -1), lat.get("p99_tx_ms", -1),
                  (lat.get("worst") or [{}])[0].get("commit_no")))
        c = env.proxy.counts()
        fig["requests"] = c["by_kind"]
        print("%s: requests %s, %d faulted" % (name, c["by_kind"], c["faults"]), flush=True)
    finally:
        env.proxy.clear()
        for p in (wr.proc, ws.proc):
            if p is not None and p.poll() is None:
                t.stop_process(p, signal.SIGKILL, 5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--walship", required=True)
    ap.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    ap.add_argument("--only", action="append", choices=[c[0] for c in CASES])
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    def on_signal(sig, _frame):  # raised in the main thread: finally blocks clean up
        raise Aborted("timed out (SIGALRM)" if sig == signal.SIGALRM else "signal %d" % sig)

    for s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    signal.alarm(540)
    if not t.have_moto():
        print("skipped: needs moto_server and boto3")
        print("0 passed, 0 failed")
        return 77
    res = Results()
    summary = []
    t0 = time.monotonic()
    env = None
    try:
        env = t.S3Env(bucket="walship-faults")
        print("workdir %s, seed %d" % (env.tmp, args.seed), flush=True)
        for i, (name, inject, est) in enumerate(CASES):
            if args.only and name not in args.only:
                continue
            c0 = time.monotonic()
            try:
                run_case(env, args, res, name, inject, est, args.seed + i, summary)
            except Aborted:
                raise
            except Exception:  # noqa: BLE001 - report and go on with the next case
                res.check("%s: no unexpected exception" % name, False, traceback.format_exc()[-800:])
            print("%s: %.0fs" % (name, time.monotonic() - c0), flush=True)
    except BaseException:  # noqa: BLE001 - timeout/signal: report, clean up, fail
        res.failed += 1
        print("FAIL aborted", flush=True)
        traceback.print_exc()
    finally:
        if env is not None:
            env.close()
    print("figures:", flush=True)
    for f in summary:
        print("  %s" % f, flush=True)
    print("total %.0fs" % (time.monotonic() - t0), flush=True)
    if env is not None:
        if res.failed == 0 and not args.keep:
            shutil.rmtree(env.tmp, ignore_errors=True)
        else:
            print("kept %s" % env.tmp, flush=True)
    print("%d passed, %d failed" % (res.passed, res.failed), flush=True)
    return 0 if res.failed == 0 and res.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
