#!/usr/bin/env python3
"""walship vs Litestream v0.3.13, side by side against moto_server on loopback,
printed as ONE table (issue 5 item 7). Every timing is also given as a ratio to
the peer and to a raw curl transfer of the same bytes, all in the same run
(the machine is noisy: compare ratios, not absolutes).

  1. restore latest (time; peak RSS = the restore process's own VmHWM) of a
     --sizes database (100M, 1G) with ~1000 small write transactions of
     history: build the database, replicate, initial snapshot, 1000
     transactions, wait until replicated, stop; then restore into a new file
     --restore-runs times (default 3), the two tools alternating, each
     restore's content hash = the source's; the median time counts, the
     highest peak RSS. Baseline: curl GETs of the
     objects the tool's restore reads (walship: `restore -dry-run -json`;
     Litestream: its generation's snapshot + WAL segments), 8 parallel ranges.
     Context for the restore time (both tools pay them, the machine sets
     them): the first byte of one GET of the largest object (moto reads the
     whole object before it answers any GET) and the time to write and
     fdatasync the database's bytes on the same disk (a restore overlaps
     this with the download, so it is not a floor).
  2. initial snapshot upload: walship `replicate -once`; Litestream: from
     start until its snapshot object exists (bucket polled every 50 ms).
     Baseline: sequential curl PUTs of the same objects' bytes (not of
     walship's first snapshot: its log says the server copied it from the
     first L0 file, so those bytes never cross the network; shown apart).
  3. replication lag p50/p99 at 20 tx/s (tests/support/workload.py), with
     sync-interval (and monitor-interval) 1s and 100ms, through a timing proxy
     (tests/support/fault_proxy.py): lag of a commit = end of the first data
     PUT (walship: L0 */0000/*.ltx; Litestream: */wal/*) that started after the commit.
     Also data PUT p99, and the target lag p99 <= sync + 2 x PUT p99.
  4. writer throughput at full speed (small INSERT transactions,
     synchronous=NORMAL) alone, then beside each replicator, in rounds of
     (alone, walship, alone, litestream) and a last alone run; ratio of the
     medians, and the median of the paired ratios (each run beside a
     replicator / the mean of the alone runs just before and after it; the
     target walship >= 0.97 is judged on this one).
  5. replicator CPU (user+sys s per minute, /proc/PID/stat) and peak RSS
     (VmHWM) during the 20 tx/s, sync 1s run.
  6. S3 requests per minute by method during that run (steady window).

moto_server runs with glibc's malloc on 2 MiB pages (GLIBC_TUNABLES=
glibc.malloc.hugetlb=1: transparent huge pages for its large buffers), unless
--moto-small-pages. moto copies the whole object into a new buffer for every
GET (and every PUT), and on this VM each 4 KiB page fault costs ~11 us: a
500 MB object then takes 1.3-1.6 s before its first byte, for both tools and
for curl alike, where S3 answers in tens of ms. With 2 MiB pages the same GET
starts after 0.06-1 s (1 s when the VM has given the freed memory back to its
host). Measured on 2026-12-06 with `curl -w %{time_starttransfer}` and a
500 MB touch loop (4 KiB: 1.33 s; 2 MiB: 0.03 s warm, 0.93 s cold).

Usage:
  bench/vs_litestream.py --walship BIN [--litestream BIN] [--sizes 100M,1G]
                         [--quick] [--only LIST] [--restore-runs N] [--out table.md] [--keep]
                         [--moto-small-pages]
--only: comma-separated scenarios, from restore (1), snapshot (2), steady
(3, 5, 6), throughput (4); default all. The table shows only their rows.
--quick: 100 MB only, 20 s steady runs, 2 rounds of 3 s throughput runs, one
restore per tool (~4 min).
The full run (100M,1G, 3 restores each, 60 s steady runs, 6 rounds of 5 s throughput runs) takes 13-20 min.
Litestream v0.3.13 comes from `npm ci` (node_modules/@flydotio/...); moto_server,
curl, boto3 must be installed. Progress goes to stderr, the table to stdout.
"""

import argparse
import collections
import glob
import json
import os
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "support"))
from replicate_restore import cpu_seconds, make_db, rss_peak_kb  # noqa: E402
import dbcheck  # noqa: E402
import fault_proxy  # noqa: E402
import litestream_vfs  # noqa: E402
import s3_testlib as t  # noqa: E402

BUCKET = "vsbench"
HISTORY_TX, HISTORY_TPS = 1000, 200      # transactions of history, at most this many per second
STEADY_TPS = 20
SCENARIOS = ("restore", "snapshot", "steady", "throughput")  # --only; steady = items 3, 5, 6

# Exactly N small transactions (5 row updates of 512 random bytes each in
# make_db's table t), paced at most R per second; prints N.
HISTORY_WRITER = r'''
import random, sqlite3, sys, time
path, n, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
db = sqlite3.connect(path, isolation_level=None, timeout=30)
db.execute("PRAGMA busy_timeout=30000")
rows = db.execute("SELECT max(id) FROM t").fetchone()[0]
rnd, nxt = random.Random(2), time.monotonic()
for _ in range(n):
    db.execute("BEGIN IMMEDIATE")
    for _ in range(5):
        db.execute("UPDATE t SET v = ?, n = n + 1 WHERE id = ?", (rnd.randbytes(512), rnd.randint(1, rows)))
    db.execute("COMMIT")
    nxt += 1.0 / rate
    time.sleep(max(0.0, nxt - time.monotonic()))
print(n)
'''

THROUGHPUT_WRITER = r'''
import sqlite3, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
db = sqlite3.connect(path, isolation_level=None, timeout=30)
db.execute("PRAGMA busy_timeout=30000")
db.execute("PRAGMA journal_mode=wal")
db.execute("PRAGMA synchronous=NORMAL")
db.execute("CREATE TABLE IF NOT EXISTS tp (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)")
n, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO tp (v, n) VALUES (?, ?)", ("x" * 100, n))
    db.execute("COMMIT")
    n += 1
print(n)
'''


def log(msg):
    print("[vs_litestream %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def wait_until(pred, timeout_s, poll_s=0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(poll_s)
    return pred()


def parse_size(s):
    s = s.strip().upper().rstrip("B")
    mult = {"K": 1 / 1024, "M": 1, "G": 1024}.get(s[-1:], None)
    return int(float(s[:-1]) * mult) if mult else int(s)


# ---- the timing proxy ----------------------------------------------------

class TimingProxy(fault_proxy.FaultProxy):
    """fault_proxy without faults that records every forwarded request as
    (wall start, wall end, method, kind, path): start = request head read,
    end = upstream response read in full."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self._tl = threading.local()
        self.log = []

    def _decide(self, method, path, kind):
        self._tl.cur = (time.time(), method, kind, path)
        return super()._decide(method, path, kind)

    def _forward(self, method, request):
        try:
            return super()._forward(method, request)
        finally:
            start, m, kind, path = self._tl.cur
            with self._lock:
                self.log.append((start, time.time(), m, kind, path))

    def records(self, t0=0.0, t1=float("inf")):
        with self._lock:
            return [r for r in self.log if t0 <= r[0] < t1]


# ---- the environment: moto, optional proxy, children ---------------------

# moto's environment: malloc on 2 MiB pages unless --moto-small-pages (see
# the module's docstring). Only moto's: the measured tools keep their own.
MOTO_HUGE_PAGES = True


def moto_env():
    env = os.environ.copy()
    if MOTO_HUGE_PAGES:
        tun = env.get("GLIBC_TUNABLES", "")
        env["GLIBC_TUNABLES"] = (tun + ":" if tun else "") + "glibc.malloc.hugetlb=1"
    return env


class Env:
    """One moto_server (+ a TimingProxy), a bucket, a direct boto3 client and
    every child process, all stopped by close(). Duck-types s3_testlib.S3Env
    for s3_testlib.Writer (tmp, spawn)."""

    def __init__(self, tmp, proxy=False):
        self.tmp = tmp
        self.children = []
        self.proxy = None
        self.moto = t.Moto(os.path.join(tmp, "moto.log"), env=moto_env())
        try:
            if proxy:
                self.proxy = TimingProxy(self.moto.port).start()
            self.s3 = t.s3_client(self.moto.url)
            self.s3.create_bucket(Bucket=BUCKET)
        except BaseException:
            self.close()
            raise

    def endpoint(self, via_proxy=False):
        return self.proxy.url if via_proxy else self.moto.url

    def spawn(self, cmd, log_path=None):
        p = t.spawn(cmd, log_path, env=t.os.environ.copy())
        self.children.append(p)
        return p

    def objects(self, prefix):
        out, token = [], None
        while True:
            kw = {"Bucket": BUCKET, "Prefix": prefix}
            if token:
                kw["ContinuationToken"] = token
            r = self.s3.list_objects_v2(**kw)
            out += [(o["Key"], o["Size"]) for o in r.get("Contents", [])]
            if not r.get("IsTruncated"):
                return out
            token = r["NextContinuationToken"]

    def download(self, key, path):
        self.s3.download_file(BUCKET, key, path)

    def wait_stable(self, prefix, quiet_s, timeout_s=600):
        """Waits until the listing under prefix has not changed for quiet_s."""
        last, since = None, time.monotonic()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            cur = sorted(self.objects(prefix))
            if cur != last:
                last, since = cur, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return True
            time.sleep(0.25)
        return False

    def close(self):
        for p in reversed(self.children):
            t.stop_process(p, signal.SIGKILL, 5)
        self.children = []
        if self.proxy is not None:
            self.proxy.stop()
            self.proxy = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None


def _vm_hwm_kb(pid):
    """VmHWM of pid in KiB; 0 once it has exited (a zombie has no memory lines)."""
    try:
        return rss_peak_kb(pid)
    except OSError:
        return 0


def run_measured(cmd, timeout=1800, sample_s=0.02):
    """Runs cmd; returns (seconds, peak RSS in KiB, returncode, output).

    Peak RSS is the child's own VmHWM (/proc/PID/status), read every sample_s
    until it exits; VmHWM never decreases, so the last value read is the peak,
    missing at most a rise in the last sample_s (an exited child, a zombie, has
    no VmHWM any more). Checked against `/usr/bin/time -v` run from a shell.
    Not ru_maxrss from wait4: the child is forked from this Python process and
    exec keeps the process-wide maxrss, so ru_maxrss counts the fork's copy of
    Python's resident pages (43-80 MiB seen, whatever the command used)."""
    out = tempfile.TemporaryFile()
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                         preexec_fn=t._die_with_parent)
    peak, done = [0], threading.Event()

    def sample():  # Popen returns after the exec: every value read is the command's own
        while not done.is_set():
            peak[0] = max(peak[0], _vm_hwm_kb(p.pid))
            done.wait(sample_s)

    sampler = threading.Thread(target=sample, name="vmhwm-%d" % p.pid, daemon=True)
    killer = threading.Timer(timeout, p.kill)  # p is not reaped before killer is cancelled: no pid reuse
    sampler.start()
    killer.start()
    try:
        os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)  # not reaped: the sampler never reads a reused pid
        secs = time.monotonic() - t0
        killer.cancel()
        done.set()
        sampler.join()
        p.wait()
    except BaseException:
        killer.cancel()
        done.set()
        p.kill()
        p.wait()
        raise
    finally:
        out.seek(0)
        text = out.read().decode(errors="replace")
        out.close()
    if secs >= timeout:
        raise subprocess.TimeoutExpired(cmd, timeout, text)
    return secs, peak[0], p.returncode, text


# ---- curl baselines --------------------------------------------------------

def _curl_block(url, extra):
    return ["url = \"%s\"" % url] + extra + ["user = \"test:test\"", "aws-sigv4 = \"aws:amz:us-east-1:s3\"",
                                             "fail", "silent", "show-error"]


def curl_get_parallel(endpoint, objs, streams=8):
    """GETs [(key, size)] with `curl --parallel` (streams at a time); objects
    bigger than total/streams are split into ranged GETs. Returns seconds."""
    total = sum(s for _, s in objs)
    chunk = max(1 << 20, -(-total // streams))
    lines = []
    for key, size in objs:
        url = "%s/%s/%s" % (endpoint, BUCKET, key)
        if size <= chunk:
            lines += _curl_block(url, ["output = \"/dev/null\""]) + ["next"]
            continue
        for off in range(0, size, chunk):
            lines += _curl_block(url, ["output = \"/dev/null\"",
                                       "range = \"%d-%d\"" % (off, min(size, off + chunk) - 1)]) + ["next"]
    return _curl(lines[:-1], ["--parallel", "--parallel-max", str(streams)])[0]


def curl_first_byte(endpoint, key):
    """Seconds until the first body byte of one GET of the whole object
    (moto reads the whole object before it answers)."""
    lines = _curl_block("%s/%s/%s" % (endpoint, BUCKET, key),
                        ["output = \"/dev/null\"", "write-out = \"%{time_starttransfer}\""])
    return float(_curl(lines, [])[1].strip())


def disk_write_s(path, nbytes):
    """Seconds to write nbytes to a new file at path and fdatasync it (what a
    restore of an nbytes database must also write, overlapped with its
    download); the file is removed."""
    buf = os.urandom(1 << 20)
    t0 = time.monotonic()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        left = nbytes
        while left > 0:
            left -= os.write(fd, buf[:min(left, len(buf))])
        os.fdatasync(fd)
    finally:
        os.close(fd)
        os.remove(path)
    return time.monotonic() - t0


def curl_put_sequential(endpoint, files):
    """PUTs [(local path, key)] one after the other (one curl process, one
    connection reused). Returns seconds."""
    lines = []
    for path, key in files:
        lines += _curl_block("%s/%s/%s" % (endpoint, BUCKET, key),
                             ["upload-file = \"%s\"" % path, "output = \"/dev/null\""]) + ["next"]
    return _curl(lines[:-1], [])[0]


def _curl(lines, flags):
    """Runs curl on a config of `lines`; returns (seconds, stdout)."""
    with tempfile.NamedTemporaryFile("w", suffix=".curlrc", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        cfg = f.name
    try:
        t0 = time.monotonic()
        r = subprocess.run(["curl", "-q"] + flags + ["-K", cfg], capture_output=True, text=True, timeout=1800)
        secs = time.monotonic() - t0
        if r.returncode != 0:
            raise RuntimeError("curl failed (%d): %s" % (r.returncode, r.stderr.strip()[:500]))
        return secs, r.stdout
    finally:
        os.unlink(cfg)


# ---- the two tools -----------------------------------------------------------

def yaml_config(path, db, endpoint, prefix, sync):
    """The same Litestream-style YAML for both tools."""
    with open(path, "w") as f:
        f.write("dbs:\n"
                "  - path: %s\n"
                "    monitor-interval: %s\n"
                "    replicas:\n"
                "      - type: s3\n"
                "        bucket: %s\n"
                "        path: %s\n"
                "        endpoint: %s\n"
                "        region: us-east-1\n"
                "        force-path-style: true\n"
                "        sync-interval: %s\n"
                "        access-key-id: test\n"
                "        secret-access-key: test\n" % (db, sync, BUCKET, prefix, endpoint, sync))
    return path


class Walship:
    name = "walship"

    def __init__(self, binary):
        self.bin = binary

    def data_put(self, path):
        """An L0 upload (new commits); compaction outputs (levels 1..9) are not."""
        return path.endswith(".ltx") and "/0000/" in path

    def replicate_cmd(self, cfg):
        return [self.bin, "replicate", "-config", cfg, "-log-level", "warn"]

    def initial_snapshot(self, env, cfg, prefix, logp):
        """walship replicate -once; returns (seconds, [(key, size)] uploaded).
        Objects the log says were copied on the server (the first snapshot
        is a copy of the first L0 file) are not uploaded bytes: they go to
        self.copied."""
        cmd = [self.bin, "replicate", "-config", cfg, "-log-level", "info", "-once"]
        secs, _, rc, out = run_measured(cmd)
        with open(logp, "a") as f:
            f.write(out)
        if rc != 0:
            raise RuntimeError("walship replicate -once failed (%d): %s" % (rc, out[-500:]))
        copied = set(re.findall(r"snapshot (\S+) copied on the replica", out))
        objs = env.objects(prefix + "/")
        self.copied = [o for o in objs if o[0] in copied]
        return secs, [o for o in objs if o[0] not in copied]

    def restore_cmd(self, cfg, db, out):
        return [self.bin, "restore", "-config", cfg, "-o", out, "-integrity-check", "none", "-log-level", "warn", db]

    def restore_objects(self, env, cfg, db, prefix):
        r = t.run([self.bin, "restore", "-config", cfg, "-dry-run", "-json", "-o", os.path.join(env.tmp, "dry.db"),
                   db], 120)
        if r.returncode != 0:
            raise RuntimeError("walship restore -dry-run failed: %s" % (r.stderr or r.stdout)[-500:])
        plan = json.loads(r.stdout)
        files = plan.get("files") if isinstance(plan, dict) else plan
        sizes = dict(env.objects(prefix + "/"))
        out = []
        for f in files or []:
            key = f.get("key") or f.get("path") or f.get("name")
            if key not in sizes:  # a path relative to the replica, or TXIDs only
                key = "%s/%04x/%016x-%016x.ltx" % (prefix, int(f["level"]), t._txid(f["min_txid"]),
                                                     t._txid(f["max_txid"]))
            out.append((key, sizes[key]))
        return out


class Litestream3:
    name = "litestream v0.3.13"

    def __init__(self, binary):
        self.bin = binary

    def data_put(self, path):
        return "/wal/" in path

    def replicate_cmd(self, cfg):
        return [self.bin, "replicate", "-config", cfg]

    def initial_snapshot(self, env, cfg, prefix, logp):
        """Time from start until the snapshot object exists; the replicator
        keeps running (returned as self.proc)."""
        t0 = time.monotonic()
        self.proc = env.spawn(self.replicate_cmd(cfg), logp)
        snaps = []

        def have():
            nonlocal snaps
            snaps = [o for o in env.objects(prefix + "/") if "/snapshots/" in o[0]]
            if self.proc.poll() is not None:
                raise RuntimeError("litestream exited %s (log %s)" % (self.proc.returncode, logp))
            return bool(snaps)

        if not wait_until(have, 1800, 0.05):
            raise RuntimeError("litestream: no snapshot after 30 min")
        return time.monotonic() - t0, snaps

    def restore_cmd(self, cfg, db, out):
        return [self.bin, "restore", "-config", cfg, "-o", out, db]

    def restore_objects(self, env, cfg, db, prefix):
        """The latest generation's newest snapshot and the WAL segments from its
        index on (what v0.3 restore downloads)."""
        objs = env.objects(prefix + "/")
        gens = sorted({k.split("/generations/")[1].split("/")[0] for k, _ in objs})
        gen = gens[-1]
        g = [(k, s) for k, s in objs if "/generations/%s/" % gen in k]
        snaps = sorted((k, s) for k, s in g if "/snapshots/" in k)
        snap = snaps[-1]
        idx = int(os.path.basename(snap[0]).split(".")[0], 16)
        wal = [(k, s) for k, s in g if "/wal/" in k and int(os.path.basename(k).split("_")[0], 16) >= idx]
        return [snap] + sorted(wal)


# ---- scenario 1+2: snapshot, history, restore --------------------------------

# A tool's replica built for scenario 1: where it is, and its figures (out).
Built = collections.namedtuple("Built", "tool tag d cfg db prefix out")


def scenario_restore(args, tools, mb, template, res, only):
    """Scenario 1 if "restore" in only, 2 if "snapshot" in only (a restore
    needs the snapshot, but its curl PUT baseline is skipped when not asked).
    Both tools' replicas are built first; then the restores run in
    --restore-runs rounds, the tools alternating (the first one first in even
    rounds, last in odd ones), so that both meet the machine's drift alike."""
    do_snap, do_restore = "snapshot" in only, "restore" in only
    tmp = tempfile.mkdtemp(prefix="vs-restore-", dir=args.tmp)
    env = Env(tmp)
    try:
        built = []  # a Built for each tool whose restore is measured
        for tool in tools:
            tag = "%s/%dMB" % (tool.name, mb)
            d = os.path.join(tmp, tool.name.split()[0])
            os.makedirs(d)
            db = os.path.join(d, "app.db")
            shutil.copyfile(template, db)
            prefix = "r%d-%s" % (mb, tool.name.split()[0])
            cfg = yaml_config(os.path.join(d, "cfg.yml"), db, env.endpoint(), prefix, "1s")
            logp = os.path.join(d, "replicate.log")
            log("%s: initial snapshot" % tag)
            snap_s, snap_objs = tool.initial_snapshot(env, cfg, prefix, logp)
            snap_bytes = sum(s for _, s in snap_objs)
            log("%s: snapshot %.2f s (%.1f MB in %d objects)" % (tag, snap_s, snap_bytes / 1e6, len(snap_objs)))
            out = {"snap_s": snap_s, "snap_bytes": snap_bytes,
                   "snap_copied_bytes": sum(s for _, s in getattr(tool, "copied", []))}
            proc = getattr(tool, "proc", None)  # Litestream keeps running after its snapshot
            if do_restore:
                if isinstance(tool, Walship):
                    proc = env.spawn(tool.replicate_cmd(cfg), logp)
                log("%s: writing %d transactions" % (tag, HISTORY_TX))
                wr = subprocess.run([sys.executable, "-c", HISTORY_WRITER, db, str(HISTORY_TX), str(HISTORY_TPS)],
                                    capture_output=True, text=True, check=True)
                out["ntx"] = int(wr.stdout.split()[0])
                env.wait_stable(prefix + "/", 3.0)
            if proc is not None:
                rc = t.stop_process(proc, signal.SIGTERM, 120)
                if rc != 0:
                    log("%s: replicator exit code %s after SIGTERM (log %s)" % (tag, rc, logp))
            if do_snap:
                # curl PUT baseline: the snapshot objects' bytes.
                files = []
                for i, (key, _) in enumerate(snap_objs):
                    p = os.path.join(d, "snapobj%d" % i)
                    env.download(key, p)
                    files.append((p, "curl/%s/%d" % (prefix, i)))
                out["snap_curl_s"] = curl_put_sequential(env.endpoint(), files)
                for p, _ in files:
                    os.remove(p)
            res[(tool.name, mb)] = out
            if do_restore:
                built.append(Built(tool, tag, d, cfg, db, prefix, out))
            else:
                remove_dbs(d)
        if built:
            restore_rounds(env, built, args.restore_runs)
        for b in built:
            remove_dbs(b.d)
    finally:
        env.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def remove_dbs(d):
    for f in glob.glob(os.path.join(d, "*.db*")):
        os.remove(f)


def restore_rounds(env, built, runs):
    """Scenario 1's measured part: each tool restores its db's replica `runs`
    times, the tools alternating; each restore's content hash must equal the
    source's. Then, per tool, the curl GET baseline and the context figures.
    Adds to each out: restore_s (the median), restore_runs_s (all of them),
    restore_rss_kb (the highest peak)."""
    src_hash, objs = [], []  # per built tool
    for b in built:
        o = b.tool.restore_objects(env, b.cfg, b.db, b.prefix)
        src_hash.append(dbcheck.content_hash(b.db, live=True))
        objs.append(o)
        b.out.update({"restore_runs_s": [], "restore_rss_kb": 0, "hash_ok": True,
                      "restore_bytes": sum(s for _, s in o), "restore_objs": len(o)})
    for r in range(runs):
        order = list(range(len(built))) if r % 2 == 0 else list(reversed(range(len(built))))
        for i in order:
            b, out = built[i], built[i].out
            restored = os.path.join(b.d, "restored.db")
            for f in glob.glob(restored + "*"):
                os.remove(f)
            subprocess.run(["sync"])
            log("%s: restore %d of %d (%d objects, %.1f MB)" % (b.tag, r + 1, runs, out["restore_objs"],
                                                               out["restore_bytes"] / 1e6))
            rs, rss, rrc, rout = run_measured(b.tool.restore_cmd(b.cfg, b.db, restored))
            if rrc != 0:
                raise RuntimeError("%s restore failed (%d): %s" % (b.tag, rrc, rout[-800:]))
            ok = dbcheck.content_hash(restored) == src_hash[i]
            log("%s: restore %.2f s, peak RSS %.1f MiB, hash %s" % (b.tag, rs, rss / 1024, "ok" if ok else "MISMATCH"))
            out["restore_runs_s"].append(rs)
            out["restore_rss_kb"] = max(out["restore_rss_kb"], rss)
            out["hash_ok"] = out["hash_ok"] and ok
    for b, o in zip(built, objs):
        tag, d, out = b.tag, b.d, b.out
        out["restore_s"] = statistics.median(out["restore_runs_s"])
        get_s = curl_get_parallel(env.endpoint(), o)
        # Context (see the module doc): the largest object's first byte, and the
        # database's bytes written and fdatasync'd on this disk. The first
        # byte after a pause, as a restore meets it: this VM gives memory
        # freed for 2 s back to its host, and moto's next copy faults it in.
        time.sleep(3)
        first_s = curl_first_byte(env.endpoint(), max(o, key=lambda x: x[1])[0])
        subprocess.run(["sync"])
        restored = os.path.join(d, "restored.db")
        write_s = disk_write_s(os.path.join(d, "disk-write-test"), os.path.getsize(restored))
        log("%s: restore median %.2f s (%s), curl %.2f s, first byte %.2f s, disk write %.2f s" % (
            tag, out["restore_s"], " / ".join("%.2f" % x for x in out["restore_runs_s"]), get_s, first_s, write_s))
        out.update({"restore_curl_s": get_s, "first_byte_s": first_s, "disk_write_s": write_s})


# ---- scenario 3+5+6: steady 20 tx/s ------------------------------------------

def scenario_steady(args, tools, sync, res):
    tmp = tempfile.mkdtemp(prefix="vs-steady-", dir=args.tmp)
    env = Env(tmp, proxy=True)
    try:
        sync_s = float(sync[:-2]) / 1000 if sync.endswith("ms") else float(sync[:-1])
        for tool in tools:
            tag = "%s/sync %s" % (tool.name, sync)
            d = os.path.join(tmp, tool.name.split()[0])
            os.makedirs(d)
            db = os.path.join(d, "app.db")
            c = sqlite3.connect(db)
            c.execute("PRAGMA journal_mode=wal")
            c.close()
            prefix = "s-%s-%s" % (sync, tool.name.split()[0])
            cfg = yaml_config(os.path.join(d, "cfg.yml"), db, env.endpoint(via_proxy=True), prefix, sync)
            logp = os.path.join(d, "replicate.log")
            proc = env.spawn(tool.replicate_cmd(cfg), logp)
            wr = t.Writer(env, db, 1234, STEADY_TPS, args.steady_s + 120, name="writer-" + tool.name.split()[0],
                          big_tx_mb=0,
                          est_commits=10 ** 9)
            if not wr.start():
                raise RuntimeError("%s: writer did not start (%s)" % (tag, wr.stderr))
            wait_until(lambda: any(tool.data_put(r[4]) for r in env.proxy.records()), 60)
            time.sleep(3.0)  # warm-up: snapshot and first uploads behind us
            log("%s: steady window %.0f s" % (tag, args.steady_s))
            w0, cpu0 = time.time(), cpu_seconds(proc.pid)
            time.sleep(args.steady_s)
            w1, cpu1 = time.time(), cpu_seconds(proc.pid)
            rss = rss_peak_kb(proc.pid)
            wr.stop()
            time.sleep(max(3.0, 3 * sync_s))  # the last commits' uploads
            rc = t.stop_process(proc, signal.SIGTERM, 60)
            if rc != 0:
                log("%s: replicator exit code %s after SIGTERM (log %s)" % (tag, rc, logp))
            reqs = env.proxy.records()
            data = sorted((r for r in reqs if r[2] == "PUT" and tool.data_put(r[4])), key=lambda r: r[0])
            commits = [c["t_ms"] / 1000.0 for n, c in sorted(wr.result().commits.items())
                       if n > 1 and w0 <= c["t_ms"] / 1000.0 < w1]
            lags, unmatched, j = [], 0, 0
            for tc in commits:
                while j < len(data) and data[j][0] <= tc:
                    j += 1
                if j == len(data):
                    unmatched += 1
                else:
                    lags.append(data[j][1] - tc)
            put_ms = [(r[1] - r[0]) * 1000 for r in data if w0 <= r[0] < w1]
            window = [r for r in reqs if w0 <= r[0] < w1]
            mins = (w1 - w0) / 60.0
            by = {}
            for r in window:
                by[r[3]] = by.get(r[3], 0) + 1
            out = {
                "commits": len(commits), "unmatched": unmatched,
                "lag_p50_ms": pct(lags, 50) * 1000, "lag_p99_ms": pct(lags, 99) * 1000,
                "put_p99_ms": pct(put_ms, 99), "puts": len(put_ms),
                "cpu_s_per_min": (cpu1 - cpu0) / mins, "rss_kb": rss,
                "req_per_min": {k: v / mins for k, v in sorted(by.items())},
                "req_total_per_min": len(window) / mins, "sync_s": sync_s,
            }
            out["target_ok"] = out["lag_p99_ms"] <= sync_s * 1000 + 2 * out["put_p99_ms"]
            log("%s: lag p50 %.0f ms p99 %.0f ms, PUT p99 %.1f ms, %d commits, CPU %.2f s/min, RSS %.1f MiB, "
                "requests/min %s" % (tag, out["lag_p50_ms"], out["lag_p99_ms"], out["put_p99_ms"],
                                     len(commits), out["cpu_s_per_min"], rss / 1024,
                                     {k: round(v, 1) for k, v in out["req_per_min"].items()}))
            res[(tool.name, sync)] = out
    finally:
        env.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


# ---- scenario 4: writer throughput ---------------------------------------------

def scenario_throughput(args, tools, res):
    """Rounds of (alone, walship, alone, litestream), then one more alone run:
    every run beside a replicator sits between two runs alone. The machine
    drifts (runs alone vary by +-15 % here), so each such run is also taken
    as a ratio to the mean of the two alone runs around it (a paired ratio);
    res[name + " paired"] lists those."""
    tmp = tempfile.mkdtemp(prefix="vs-tput-", dir=args.tmp)
    env = Env(tmp)
    try:
        runs = []
        for _ in range(args.tput_rounds):
            for tool in tools:
                runs += [None, tool]
        runs.append(None)
        rates = []
        for i, tool in enumerate(runs):
            d = os.path.join(tmp, "run%d" % i)
            os.makedirs(d)
            db = os.path.join(d, "app.db")
            subprocess.run([sys.executable, "-c", THROUGHPUT_WRITER, db, "0"], check=True, capture_output=True)
            proc = None
            if tool is not None:
                prefix = "tp%d-%s" % (i, tool.name.split()[0])
                cfg = yaml_config(os.path.join(d, "cfg.yml"), db, env.endpoint(), prefix, "1s")
                proc = env.spawn(tool.replicate_cmd(cfg), os.path.join(d, "replicate.log"))
                if not wait_until(lambda: env.objects(prefix + "/"), 60):
                    raise RuntimeError("%s: no initial upload" % tool.name)
                time.sleep(1.0)
            subprocess.run(["sync"])
            cpu0 = cpu_seconds(proc.pid) if proc else 0.0
            moto0 = cpu_seconds(env.moto.proc.pid)
            wr = subprocess.run([sys.executable, "-c", THROUGHPUT_WRITER, db, str(args.tput_s)],
                                capture_output=True, text=True, check=True)
            cpu = (cpu_seconds(proc.pid) - cpu0) if proc else 0.0
            moto = cpu_seconds(env.moto.proc.pid) - moto0
            n = int(wr.stdout.split()[0])
            name = tool.name if tool else "alone"
            log("throughput %s: %d tx in %.0f s (%.0f tx/s); CPU replicator %.1f s, moto %.1f s" % (
                name, n, args.tput_s, n / args.tput_s, cpu, moto))
            res.setdefault(name, []).append(n / args.tput_s)
            rates.append(n / args.tput_s)
            res.setdefault(name + " cpu", []).append((cpu / args.tput_s, moto / args.tput_s))
            if proc is not None:
                t0 = time.monotonic()
                rc = t.stop_process(proc, signal.SIGTERM, 30)
                log("  %s stopped (exit %s) in %.1f s" % (tool.name, rc, time.monotonic() - t0))
            shutil.rmtree(d, ignore_errors=True)
        for i, tool in enumerate(runs):
            if tool is not None:  # runs i-1 and i+1 are alone
                res.setdefault(tool.name + " paired", []).append(rates[i] / ((rates[i - 1] + rates[i + 1]) / 2))
    finally:
        env.close()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


# ---- the table -------------------------------------------------------------------

def ratio(a, b):
    return "%.2fx" % (a / b) if b else "-"


def build_table(tools, sizes, restore, steady, tput):
    ws, ls = tools[0].name, tools[1].name
    rows = []  # (metric, walship, walship/curl, litestream, litestream/curl, walship/litestream)

    for mb in sizes:  # a scenario's rows only when it ran (--only)
        w, l = restore.get((ws, mb)) or {}, restore.get((ls, mb)) or {}
        if "restore_s" in w and "restore_s" in l:
            rows.append(("restore %d MB (%d / %d tx history), s, median of %d" % (
                             mb, w["ntx"], l["ntx"], len(w["restore_runs_s"])),
                         "%.2f" % w["restore_s"], ratio(w["restore_s"], w["restore_curl_s"]),
                         "%.2f" % l["restore_s"], ratio(l["restore_s"], l["restore_curl_s"]),
                         ratio(w["restore_s"], l["restore_s"])))
            rows.append(("  each restore, s (in order; the tools alternate)",
                         " / ".join("%.2f" % x for x in w["restore_runs_s"]), "",
                         " / ".join("%.2f" % x for x in l["restore_runs_s"]), "", ""))
            rows.append(("  bytes read (objects); curl 8x GET, s",
                         "%.1f MB (%d); %.2f" % (w["restore_bytes"] / 1e6, w["restore_objs"], w["restore_curl_s"]),
                         "",
                         "%.1f MB (%d); %.2f" % (l["restore_bytes"] / 1e6, l["restore_objs"], l["restore_curl_s"]),
                         "", ""))
            def context(x):
                return "%.2f; %.2f" % (x["first_byte_s"], x["disk_write_s"])

            rows.append(("  largest object's first byte; db written + fdatasync'd, s",
                         context(w), "", context(l), "", ""))
            rows.append(("  restore peak RSS (VmHWM, highest of the runs), MiB", "%.1f" % (w["restore_rss_kb"] / 1024), "",
                         "%.1f" % (l["restore_rss_kb"] / 1024), "",
                         ratio(w["restore_rss_kb"], l["restore_rss_kb"])))
            rows.append(("  restored content hash = source",
                         "yes" if w["hash_ok"] else "NO", "", "yes" if l["hash_ok"] else "NO", "", ""))
        if "snap_curl_s" in w and "snap_curl_s" in l:
            rows.append(("initial snapshot %d MB, s" % mb,
                         "%.2f" % w["snap_s"], ratio(w["snap_s"], w["snap_curl_s"]),
                         "%.2f" % l["snap_s"], ratio(l["snap_s"], l["snap_curl_s"]),
                         ratio(w["snap_s"], l["snap_s"])))
            def uploaded(x):
                s = "%.1f MB" % (x["snap_bytes"] / 1e6)
                if x.get("snap_copied_bytes"):
                    s += " (+ %.1f MB copied by the server)" % (x["snap_copied_bytes"] / 1e6)
                return s + "; %.2f" % x["snap_curl_s"]

            rows.append(("  bytes uploaded; curl PUT of them, s", uploaded(w), "", uploaded(l), "", ""))

    for sync in ("1s", "100ms"):
        w, l = steady.get((ws, sync)), steady.get((ls, sync))
        if not (w and l):
            continue
        rows.append(("lag p50 / p99 at %d tx/s, sync %s, ms" % (STEADY_TPS, sync),
                     "%.0f / %.0f" % (w["lag_p50_ms"], w["lag_p99_ms"]), "",
                     "%.0f / %.0f" % (l["lag_p50_ms"], l["lag_p99_ms"]), "",
                     ratio(w["lag_p99_ms"], l["lag_p99_ms"]) + " (p99)"))
        rows.append(("  data PUT p99, ms (PUTs)", "%.1f (%d)" % (w["put_p99_ms"], w["puts"]), "",
                     "%.1f (%d)" % (l["put_p99_ms"], l["puts"]), "", ratio(w["put_p99_ms"], l["put_p99_ms"])))
        rows.append(("  lag p99 <= sync + 2 x PUT p99",
                     "yes" if w["target_ok"] else "NO", "", "yes" if l["target_ok"] else "NO", "", ""))
        rows.append(("  replicator CPU, s per min", "%.2f" % w["cpu_s_per_min"], "",
                     "%.2f" % l["cpu_s_per_min"], "", ratio(w["cpu_s_per_min"], l["cpu_s_per_min"])))
        rows.append(("  replicator peak RSS, MiB", "%.1f" % (w["rss_kb"] / 1024), "",
                     "%.1f" % (l["rss_kb"] / 1024), "", ratio(w["rss_kb"], l["rss_kb"])))

        def reqs(x):
            return ", ".join("%s %.0f" % (k, v) for k, v in x["req_per_min"].items()) or "0"

        rows.append(("  S3 requests per min (by kind)", reqs(w), "", reqs(l), "",
                     ratio(w["req_total_per_min"], l["req_total_per_min"])))

    if tput.get("alone") and tput.get(ws) and tput.get(ls):
        alone = statistics.median(tput["alone"])
        wv, lv = statistics.median(tput[ws]), statistics.median(tput[ls])
        def runs(xs):
            return " / ".join("%.0f" % x for x in xs)

        rows.append(("writer tx/s, full speed, median", "%.0f" % wv, "", "%.0f" % lv, "", ratio(wv, lv)))
        rows.append(("  each run beside the replicator", runs(tput[ws]), "", runs(tput[ls]), "", ""))
        # The alone runs are shared; they go in the first column.
        rows.append(("  each run alone (median %.0f)" % alone, runs(tput["alone"]), "", "", "", ""))
        def cores(name):
            c = tput.get(name + " cpu") or [(0.0, 0.0)]
            return "%.2f / %.2f" % (statistics.median(x[0] for x in c), statistics.median(x[1] for x in c))

        rows.append(("  CPU cores busy: replicator / moto", cores(ws), "", cores(ls), "", ""))
        rows.append(("  with / without replicator, medians",
                     "%.3f" % (wv / alone), "", "%.3f" % (lv / alone), "", ""))
        wp, lp = statistics.median(tput[ws + " paired"]), statistics.median(tput[ls + " paired"])

        def paired(xs):
            return " / ".join("%.2f" % x for x in xs)

        rows.append(("  with / without, median paired ratio (walship >= 0.97)",
                     "%.3f %s (%s)" % (wp, "ok" if wp >= 0.97 else "BELOW", paired(tput[ws + " paired"])), "",
                     "%.3f (%s)" % (lp, paired(tput[ls + " paired"])), "", ""))

    head = ("metric", "walship", "/curl", ls, "/curl", "walship/litestream")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    text = [" | ".join(c.ljust(widths[i]) for i, c in enumerate(head)),
            "-+-".join("-" * w for w in widths)]
    text += [" | ".join(c.ljust(widths[i]) for i, c in enumerate(r)) for r in rows]
    md = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    md += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(text), "\n".join(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--walship", default=os.path.join(ROOT, "build", "src", "cli", "walship"))
    ap.add_argument("--litestream", default=None, help="Litestream v0.3.13 binary (default: node_modules)")
    ap.add_argument("--sizes", default="100M,1G")
    ap.add_argument("--quick", action="store_true", help="100 MB only, shorter runs")
    ap.add_argument("--steady-s", type=float, default=None, help="steady 20 tx/s window (default 60, quick 20)")
    ap.add_argument("--tput-s", type=float, default=None, help="throughput run length (default 5, quick 3)")
    ap.add_argument("--tput-rounds", type=int, default=None, help="throughput rounds (default 6, quick 2)")
    ap.add_argument("--only", default=",".join(SCENARIOS), metavar="LIST",
                    help="comma-separated scenarios to run, from: %s (default all)" % ", ".join(SCENARIOS))
    ap.add_argument("--out", help="also write the table as markdown here")
    ap.add_argument("--tmp", default=None, help="where the temp dirs go")
    ap.add_argument("--keep", action="store_true", help="keep temp dirs")
    ap.add_argument("--restore-runs", type=int, default=None,
                    help="restores per tool and size, alternating; the median counts (default 3, quick 1)")
    ap.add_argument("--moto-small-pages", action="store_true",
                    help="run moto_server with glibc's default 4 KiB pages (see above)")
    args = ap.parse_args()
    global MOTO_HUGE_PAGES
    MOTO_HUGE_PAGES = not args.moto_small_pages
    sizes = [100] if args.quick else [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    args.steady_s = args.steady_s or (20.0 if args.quick else 60.0)
    args.tput_s = args.tput_s or (3.0 if args.quick else 5.0)
    args.tput_rounds = args.tput_rounds or (2 if args.quick else 6)
    args.restore_runs = max(1, args.restore_runs or (1 if args.quick else 3))
    only = {x.strip() for x in args.only.split(",") if x.strip()}
    if not only or only - set(SCENARIOS):
        ap.error("--only: unknown %s; choose from %s" % (
            ", ".join(sorted(only - set(SCENARIOS))) or "(empty)", ", ".join(SCENARIOS)))
    def on_signal(sig, _frame):  # raised in the main thread: the finally blocks stop every child
        raise t.Aborted("signal %d" % sig)

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, on_signal)
    if not t.have_moto() or not shutil.which("curl"):
        print("needs moto_server, boto3 and curl", file=sys.stderr)
        return 77
    lsbin = args.litestream or litestream_vfs.litestream_v3_path()
    v = subprocess.run([lsbin, "version"], capture_output=True, text=True).stdout.strip()
    if v != "v0.3.13":
        log("warning: %s reports version %r, not v0.3.13" % (lsbin, v))
    tools = [Walship(os.path.abspath(args.walship)), Litestream3(lsbin)]
    wv = subprocess.run([tools[0].bin, "version"], capture_output=True, text=True).stdout.strip()
    pages = "2 MiB pages (glibc.malloc.hugetlb=1)" if MOTO_HUGE_PAGES else "4 KiB pages"
    log("walship %s (%s), litestream %s; sizes %s MB; moto_server malloc on %s" % (wv, tools[0].bin, v, sizes, pages))
    restore, steady, tput = {}, {}, {}
    t_start = time.monotonic()
    work = tempfile.mkdtemp(prefix="vs-litestream-", dir=args.tmp)
    try:
        if only & {"restore", "snapshot"}:
            for mb in sizes:
                template = os.path.join(work, "template-%d.db" % mb)
                log("building a %d MB database" % mb)
                make_db(template, mb)
                scenario_restore(args, tools, mb, template, restore, only)
                os.remove(template)
        if "steady" in only:
            for sync in ("1s", "100ms"):
                scenario_steady(args, tools, sync, steady)
        if "throughput" in only:
            scenario_throughput(args, tools, tput)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    text, md = build_table(tools, sizes, restore, steady, tput)
    log("done in %.0f s" % (time.monotonic() - t_start))
    print("moto_server malloc on %s" % pages)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write("walship %s vs Litestream %s, moto_server on loopback (malloc on %s), %s\n\n%s\n" % (
                wv, v, pages, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
