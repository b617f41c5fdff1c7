#!/usr/bin/env python3
"""End-to-end test: a seeded workload writes a live SQLite database from its
own process while `walship replicate` ships it to a file replica; then
restores at the latest state, at many times and at many TXIDs must each give
exactly the state the writer logged for that point.

  e2e_replicate_restore.py --walship BIN            replicate, stop, restore
  e2e_replicate_restore.py --walship BIN --kill9    SIGKILL walship 2-3 times
  e2e_replicate_restore.py --walship BIN --interop  cross-check with the real
                                                    Litestream VFS both ways
  ... --s3 [--kill9 | --interop]   the same against an S3 replica on a local
                                   moto_server (tests/support/s3server.py)
Options: --seed N (printed; default random), --duration-s S (40),
--keep (keep the temp dir), --replica-as-url (pass file:///dir, not dir).

--s3: replicate uses the YAML form with explicit keys (type: s3, bucket,
path, endpoint, force-path-style, access-key-id, secret-access-key) and runs
WITHOUT AWS_* credentials in its environment; restore/ltx use the URL form
s3://BUCKET/PREFIX?endpoint=...&forcePathStyle=true with the credentials in
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. Precise file times come from each
object's x-amz-meta-litestream-timestamp (HEAD); listings carry S3
LastModified (whole seconds). The Litestream VFS gets the same URL, the
credentials, and no AWS_CA_BUNDLE.

Prints one PASS/FAIL line per check and, last, "N passed, M failed".
Exit 0 iff nothing failed. Uses python3 stdlib, the sqlite3 CLI and (for
--interop) node_modules/litestream-vfs-linux-amd64 (`npm ci`).
"""

import argparse
import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.join(HERE, "..", "support")
sys.path.insert(0, SUPPORT)
import dbcheck  # noqa: E402
from checks import Results  # noqa: E402
import litestream_vfs as lvfs  # noqa: E402
import s3server  # noqa: E402

WORKLOAD = os.path.join(SUPPORT, "workload.py")
RATE = 40             # transactions per second
QUIET_EVERY = 20      # commits between quiet windows
QUIET_MS = 800        # length of a quiet window
T_BEFORE_END_MS = 50  # restore time = quiet_end_ms - this
MIN_SAMPLES = 20      # timestamp and TXID restores (at least)
VFS_TIME_SAMPLES = 10
WINDOW_TXID_SAMPLES = 8
CMD_TIMEOUT_S = 60
S3_BUCKET = "walship-e2e"
S3_PREFIX = "e2e/app"         # walship's replica
S3_VFS_PREFIX = "vfs/app"     # the replica the Litestream VFS writes
S3_TIMESTAMP_META = "litestream-timestamp"


class Interrupted(BaseException):
    """SIGTERM/SIGINT/SIGHUP: unwind so every child is stopped."""


def now_ms():
    return int(time.time() * 1000)


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def spread(items, n):
    """n items evenly spread over the list, first and last included."""
    if len(items) <= n:
        return list(items)
    idx = sorted({round(i * (len(items) - 1) / (n - 1)) for i in range(n)})
    return [items[i] for i in idx]


class WorkloadLog:
    """Parsed workload.py log."""

    def __init__(self, path):
        self.commits = {}    # commit_no -> {"t_ms", "hash", "op"}
        self.windows = []    # {"quiet_start_ms", "quiet_end_ms", "commit_no"}
        self.vacuums = []
        self.done = None
        with open(path) as f:
            for line in f:
                o = json.loads(line)
                if "quiet_start_ms" in o:
                    self.windows.append(o)
                elif "vacuum_after_commit" in o:
                    self.vacuums.append(o)
                elif "done" in o:
                    self.done = o
                elif "commit_no" in o and "hash" in o:
                    self.commits[o["commit_no"]] = o

    @property
    def last(self):
        return max(self.commits) if self.commits else None


class E2E:

    def __init__(self, args, res, s3=None):
        self.args = args
        self.res = res
        self.s3 = s3             # S3Server (with S3_BUCKET created) or None
        self._s3_times = {}      # key -> capture time ms (None: no metadata)
        self.seed = args.seed
        self.rng = random.Random(self.seed)
        self.tmp = args.workdir or tempfile.mkdtemp(prefix="walship-e2e-")
        os.makedirs(self.tmp, exist_ok=True)
        self.db = os.path.join(self.tmp, "app.db")
        self.wl_log = os.path.join(self.tmp, "workload.jsonl")
        self.replica = os.path.join(self.tmp, "replica")
        self.cfg = os.path.join(self.tmp, "walship.yml")
        self.walship_log = os.path.join(self.tmp, "walship.log")
        self.outdir = os.path.join(self.tmp, "restored")
        os.makedirs(self.outdir, exist_ok=True)
        self.stop_file = os.path.join(self.tmp, "stop-workload")
        self.walship = None
        self.workload = None
        self.up_intervals = []   # [start_ms, end_ms] when walship ran
        self.n_restores = 0
        self.files = []          # log files we opened for children

    # ---- processes -------------------------------------------------------

    def write_config(self):
        if self.s3 is not None:
            # Explicit keys; replicate gets no AWS_* environment variables.
            with open(self.cfg, "w") as f:
                f.write("dbs:\n"
                        "  - path: %s\n"
                        "    monitor-interval: 100ms\n"
                        "    replica:\n"
                        "      type: s3\n"
                        "      bucket: %s\n"
                        "      path: %s\n"
                        "      endpoint: %s\n"
                        "      force-path-style: true\n"
                        "      access-key-id: %s\n"
                        "      secret-access-key: %s\n"
                        "      sync-interval: 200ms\n" % (
                            self.db, S3_BUCKET, S3_PREFIX, self.s3.endpoint,
                            s3server.TEST_KEY, s3server.TEST_SECRET))
            return
        with open(self.cfg, "w") as f:
            f.write("dbs:\n"
                    "  - path: %s\n"
                    "    monitor-interval: 100ms\n"
                    "    replica:\n"
                    "      type: file\n"
                    "      path: %s\n"
                    "      sync-interval: 200ms\n" % (self.db, self.replica))

    def start_workload(self):
        cmd = [sys.executable, WORKLOAD, "--db", self.db, "--log", self.wl_log,
               "--seed", str(self.seed), "--duration-s",
               str(self.args.duration_s), "--rate", str(RATE),
               "--quiet-every", str(QUIET_EVERY), "--quiet-ms", str(QUIET_MS),
               "--stop-file", self.stop_file]
        err = open(os.path.join(self.tmp, "workload.stderr"), "w")
        self.files.append(err)
        self.workload = subprocess.Popen(cmd, stdout=err, stderr=err,
                                         start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if os.path.exists(self.wl_log) and os.path.getsize(self.wl_log):
                with open(self.wl_log) as f:
                    if any('"commit_no":0,' in line for line in f):
                        return True
            if self.workload.poll() is not None:
                break
            time.sleep(0.05)
        return False

    def start_walship(self):
        log = open(self.walship_log, "a")
        self.files.append(log)
        log.write("=== start %d\n" % now_ms())
        log.flush()
        self.walship = subprocess.Popen(
            [self.args.walship, "replicate", "-config", self.cfg],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env=self.replicate_env())
        self.up_intervals.append([now_ms(), None])

    def walship_stopped(self):
        if self.up_intervals and self.up_intervals[-1][1] is None:
            self.up_intervals[-1][1] = now_ms()

    def kill_walship(self, sig):
        """Sends sig to our walship child; returns its exit code (None if it
        did not exit within 30 s, then it is SIGKILLed)."""
        p = self.walship
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(sig)
        try:
            rc = p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = None
        self.walship_stopped()
        self.walship = None
        return rc

    def wait_workload(self):
        try:
            return self.workload.wait(timeout=self.args.duration_s + 60)
        except subprocess.TimeoutExpired:
            self.workload.send_signal(signal.SIGTERM)
            return self.workload.wait(timeout=30)

    def cleanup(self):
        for p in (self.walship, self.workload):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        for f in self.files:
            f.close()

    # ---- walship commands ------------------------------------------------

    def replicate_env(self):
        if self.s3 is None:
            return None
        return {k: v for k, v in os.environ.items()
                if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}

    def command_env(self):
        """restore/ltx: the credentials come from the environment."""
        if self.s3 is None:
            return None
        env = self.replicate_env()
        env["AWS_ACCESS_KEY_ID"] = s3server.TEST_KEY
        env["AWS_SECRET_ACCESS_KEY"] = s3server.TEST_SECRET
        return env

    def vfs_env(self):
        return lvfs.s3_env(s3server.TEST_KEY, s3server.TEST_SECRET) \
            if self.s3 is not None else None

    def s3_url(self, prefix=S3_PREFIX):
        return self.s3.replica_url(S3_BUCKET, prefix)

    def s3_keys(self, prefix):
        return [k for k, _ in self.s3.list_objects(S3_BUCKET, prefix + "/")]

    def s3_capture_ms(self, key):
        """x-amz-meta-litestream-timestamp of an object (epoch ms), or None
        if it has none or is gone. Cached."""
        if key not in self._s3_times:
            h = self.s3.head_object(S3_BUCKET, key)
            ts = h and h["metadata"].get(S3_TIMESTAMP_META)
            self._s3_times[key] = lvfs.parse_rfc3339_ms(ts) if ts else None
        return self._s3_times[key]

    def s3_layout(self):
        """walship's S3 objects: only <prefix>/<level %04x>/<min>-<max>.ltx
        keys, each with litestream-timestamp metadata, and no multipart
        upload left open."""
        objs = self.s3.list_objects(S3_BUCKET)
        pat = re.compile(re.escape(S3_PREFIX) +
                         r"/([0-9a-f]{4})/[0-9a-f]{16}-[0-9a-f]{16}\.ltx")
        levels, stray, no_meta = {}, [], []
        for key, _size in objs:
            m = pat.fullmatch(key)
            if not m:
                stray.append(key)
                continue
            lvl = int(m.group(1), 16)
            levels[lvl] = levels.get(lvl, 0) + 1
            if self.s3_capture_ms(key) is None:
                no_meta.append(key)
        print("  S3 replica: %d objects, per level %s" % (
            len(objs), dict(sorted(levels.items()))), flush=True)
        self.res.check("S3 replica has only LTX objects in the v0.5 layout",
                       not stray and levels, "stray %s" % stray[:10])
        self.res.check("every S3 LTX object has %s metadata" %
                       S3_TIMESTAMP_META, not no_meta, str(no_meta[:10]))
        try:
            r = self.s3.client().list_multipart_uploads(Bucket=S3_BUCKET)
            open_mpu = [u["Key"] for u in r.get("Uploads", [])]
        except Exception as e:  # moto without the call: not walship's fault
            print("  note: ListMultipartUploads failed: %s" % e, flush=True)
            open_mpu = []
        self.res.check("no multipart upload left open", not open_mpu,
                       str(open_mpu[:10]))

    def replica_arg(self):
        if self.s3 is not None:
            return self.s3_url()
        return lvfs.file_url(self.replica) if self.args.replica_as_url \
            else self.replica

    def run(self, argv, timeout=CMD_TIMEOUT_S):
        try:
            return subprocess.run([self.args.walship] + argv,
                                  capture_output=True, timeout=timeout,
                                  env=self.command_env())
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(
                e.cmd, -1, b"", b"timed out after %ds" % timeout)

    def restore(self, out, extra=(), replica=None):
        self.n_restores += 1
        return self.run(["restore", "-o", out] + list(extra) +
                        [replica or self.replica_arg()])

    def ltx_list(self):
        p = self.run(["ltx", "-json", self.replica_arg()])
        if p.returncode != 0:
            raise RuntimeError("ltx -json exit %d: %s" %
                               (p.returncode, _err(p)))
        # The brief says "created"; Litestream itself prints "timestamp" in
        # RFC3339 without fractional seconds. Accept both; with whole seconds
        # the time checks allow 999 ms and the anchor check uses file mtimes.
        files = []
        for o in json.loads(p.stdout):
            created = o["created"] if "created" in o else o["timestamp"]
            if isinstance(created, str):
                ms = lvfs.parse_rfc3339_ms(created)
                precise = "." in created
            else:
                ms, precise = int(created), True
            if self.s3 is not None:
                # S3 listings carry LastModified in whole seconds, even when
                # printed as ".000Z".
                precise = False
            files.append({
                "level": int(o["level"]),
                "min_txid": _txid(o["min_txid"]),
                "max_txid": _txid(o["max_txid"]),
                "size": int(o.get("size", 0)),
                "created_ms": ms,
                "created_slack_ms": 0 if precise else 999,
            })
        return files

    def l0_created_ms(self, f):
        """CreatedAt with ms precision: from the listing if it has it, else
        the file's mtime (the file backend's CreatedAt) or, on S3, the
        object's litestream-timestamp metadata (HEAD)."""
        if f["created_slack_ms"] == 0:
            return f["created_ms"]
        if self.s3 is not None:
            t = self.s3_capture_ms("%s/%04x/%016x-%016x.ltx" % (
                S3_PREFIX, f["level"], f["min_txid"], f["max_txid"]))
            if t is None:
                raise RuntimeError("S3 object of L%d %016x-%016x has no %s "
                                   "metadata (or is gone)" % (
                                       f["level"], f["min_txid"],
                                       f["max_txid"], S3_TIMESTAMP_META))
            return t
        p = os.path.join(self.replica, "ltx", "0", "%016x-%016x.ltx" %
                         (f["min_txid"], f["max_txid"]))
        return os.stat(p).st_mtime_ns // 1_000_000

    def check_restored(self, name, path, expect_commit, wl):
        """Restored file: integrity ok, holds expect_commit (if not None) and
        its content hash is the logged one for the commit it holds. Returns
        the commit_no found (or None)."""
        integ = dbcheck.integrity_check(path)
        if not self.res.check(name + " integrity_check", integ == "ok",
                              integ[:300]):
            return None
        c = dbcheck.commit_no(path)
        h = dbcheck.content_hash(path)
        if expect_commit is not None:
            self.res.check(name + " holds commit %d" % expect_commit,
                           c == expect_commit, "found commit %d" % c)
        logged = wl.commits.get(c)
        self.res.check(name + " content == logged state of commit %d" % c,
                       logged is not None and logged["hash"] == h,
                       "no such logged commit" if logged is None else
                       "hash %s != logged %s" % (h[:12], logged["hash"][:12]))
        return c

    # ---- phases ----------------------------------------------------------

    def replicate_phase(self, kill9):
        self.write_config()
        ok = self.res.check("workload started (seed %d)" % self.seed,
                            self.start_workload(),
                            "see %s/workload.stderr" % self.tmp)
        if not ok:
            return None
        self.start_walship()
        t0 = time.monotonic()
        if kill9:
            d = self.args.duration_s
            n = self.rng.choice([2, 3])
            times = sorted(self.rng.uniform(4, max(5, d - 8)) for _ in range(n))
            for i, t in enumerate(times):
                time.sleep(max(0, t0 + t - time.monotonic()))
                alive = self.walship.poll() is None
                self.res.check("walship alive before kill -9 #%d" % (i + 1),
                               alive, "exit code %s" % self.walship.poll())
                self.kill_walship(signal.SIGKILL)
                down = self.rng.uniform(0.2, 1.5)
                print("  kill -9 #%d at %.1fs, down %.2fs" % (i + 1, t, down),
                      flush=True)
                time.sleep(down)
                self.start_walship()
        rc = self.wait_workload()
        self.res.check("workload exited 0", rc == 0, "exit code %s" % rc)
        time.sleep(2.0 if kill9 else 1.0)
        alive = self.walship.poll() is None
        self.res.check("walship still running at the end", alive,
                       "exit code %s; log %s" % (self.walship.poll(),
                                                 self.walship_log))
        rc = self.kill_walship(signal.SIGTERM)
        self.res.check("walship exits 0 on SIGTERM", rc == 0,
                       "exit code %s" % rc)
        wl = WorkloadLog(self.wl_log)
        self.res.check("workload log complete",
                       wl.done is not None and wl.last is not None)
        if wl.done is not None:
            self.res.check("workload reached every special event",
                           not wl.done["missing_events"],
                           "missing %s" % wl.done["missing_events"])
        print("  %d commits, %d quiet windows, events %s" % (
            len(wl.commits), len(wl.windows),
            wl.done and wl.done.get("events")), flush=True)
        return wl

    def latest_restore(self, wl):
        out = os.path.join(self.outdir, "latest.db")
        p = self.restore(out)
        if not self.res.check("restore latest exits 0", p.returncode == 0,
                              _err(p)):
            return None
        self.check_restored("restore latest", out, wl.last, wl)
        return out

    def existing_output(self, wl, out):
        before = (file_digest(out), os.stat(out).st_mtime_ns,
                  os.path.getsize(out))
        p = self.restore(out)
        after = (file_digest(out), os.stat(out).st_mtime_ns,
                 os.path.getsize(out))
        self.res.check("restore onto existing output without -force fails",
                       p.returncode != 0, "exit code 0")
        self.res.check("existing output left untouched", before == after)
        leftovers = [n for n in os.listdir(self.outdir)
                     if n.startswith("latest.db") and n != "latest.db"]
        self.res.check("no sidecar files beside untouched output",
                       not leftovers, str(leftovers))
        p = self.restore(out, ["-force"])
        if self.res.check("restore -force over existing output exits 0",
                          p.returncode == 0, _err(p)):
            self.check_restored("restore -force", out, wl.last, wl)

    def s3_bad_replicas(self):
        """A missing bucket and an empty prefix: restore fails, no output."""
        for name, url in (
                ("a missing bucket", self.s3.replica_url("no-such-bucket",
                                                         S3_PREFIX)),
                ("an empty prefix", self.s3_url("nothing/here"))):
            out = os.path.join(self.outdir, "bad-s3.db")
            p = self.restore(out, replica=url)
            self.res.check("restore from %s fails" % name,
                           p.returncode != 0 and not os.path.exists(out),
                           "exit code %d" % p.returncode)
            if os.path.exists(out):
                os.remove(out)

    def s3_timestamp_boundaries(self, n=8):
        """-timestamp exactly at an L0 object's stored capture time C(K)
        includes it, at C(K) - 1 ms it does not (restore picks the last file
        created at or before the time). On S3 that time is the object's
        litestream-timestamp metadata, not its LastModified (whole seconds,
        and later than C), so this pins the HEAD-based selection. Each
        restore must equal the -txid restore of the expected file."""
        try:
            files = self.ltx_list()
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            self.res.check("ltx -json lists the replica", False, str(e))
            return
        l0 = sorted((f for f in files if f["level"] == 0),
                    key=lambda f: f["max_txid"])
        # Pairs (previous, file) of consecutive L0 files, skipping the first
        # (nothing before it) and the last (its state is "latest").
        pairs = [(a, b) for a, b in zip(l0, l0[1:-1])
                 if b["min_txid"] == a["max_txid"] + 1]
        by_tx = {}

        def txid_hash(f):
            tx = "%016x" % f["max_txid"]
            if tx not in by_tx:
                out = os.path.join(self.outdir, "btxid-%s.db" % tx)
                p = self.restore(out, ["-txid", tx])
                by_tx[tx] = dbcheck.content_hash(out) if p.returncode == 0 \
                    else None
            return by_tx[tx]

        for prev, f in spread(pairs, n):
            c_prev, c = self.l0_created_ms(prev), self.l0_created_ms(f)
            if c_prev >= c:   # same millisecond: no boundary to test
                continue
            for t, want in ((c, f), (c - 1, prev)):
                ts = lvfs.rfc3339_ms(t)
                out = os.path.join(self.outdir, "bts-%d.db" % t)
                p = self.restore(out, ["-timestamp", ts])
                name = ("restore -timestamp %s (%s capture time of L0 %016x) "
                        "== -txid %016x" % (ts, "at" if t == c else "1ms before",
                                            f["max_txid"], want["max_txid"]))
                if not self.res.check(name + " exits 0", p.returncode == 0,
                                      _err(p)):
                    continue
                h, want_h = dbcheck.content_hash(out), txid_hash(want)
                self.res.check(name, want_h is not None and h == want_h,
                               "-txid restore failed" if want_h is None else
                               "holds commit %d" % dbcheck.commit_no(out))

    def bad_arguments(self):
        """Litestream's restore rejects a time outside the replica's
        [oldest, newest] CreatedAt and -txid together with -timestamp."""
        try:
            files = self.ltx_list()
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            self.res.check("ltx -json lists the replica", False, str(e))
            return
        if not files:
            self.res.check("ltx -json lists the replica", False, "empty")
            return
        newest = max(self.l0_created_ms(f) if f["level"] == 0
                     else f["created_ms"] for f in files)
        oldest = min(f["created_ms"] for f in files)
        tx = "%016x" % max(f["max_txid"] for f in files)
        for name, extra in (
                ("-timestamp after the newest file",
                 ["-timestamp", lvfs.rfc3339_ms(newest + 1000)]),
                ("-timestamp before the oldest file",
                 ["-timestamp", lvfs.rfc3339_ms(oldest - 60000)]),
                ("-txid with -timestamp",
                 ["-txid", tx, "-timestamp", lvfs.rfc3339_ms(newest)])):
            out = os.path.join(self.outdir, "bad.db")
            p = self.restore(out, extra)
            self.res.check("restore %s fails" % name, p.returncode != 0 and
                           not os.path.exists(out), "exit code %d" %
                           p.returncode)
            if os.path.exists(out):
                os.remove(out)

    def window_time(self, w):
        return w["quiet_end_ms"] - T_BEFORE_END_MS

    def usable_windows(self, wl):
        """Windows whose commit was written while walship ran continuously
        from need_up_ms before that commit until the restore time."""
        need_up_ms = 2000 if self.args.kill9 else 1000
        out = []
        for w in wl.windows:
            c = wl.commits.get(w["commit_no"])
            # Commit 0 has no file of its own; after the last commit no file
            # is newer than the window, and (like Litestream) a timestamp
            # after the newest file is an error, not "latest".
            if c is None or w["commit_no"] < 1 or w["commit_no"] >= wl.last:
                continue
            lo, hi = c["t_ms"] - need_up_ms, self.window_time(w)
            if any(s <= lo and (e is None or e >= hi)
                   for s, e in self.up_intervals):
                out.append(w)
        return out

    def timestamp_restores(self, wl, minimum):
        windows = self.usable_windows(wl)
        if minimum:
            self.res.check("at least %d usable quiet windows" % minimum,
                           len(windows) >= minimum, "got %d" % len(windows))
        for w in spread(windows, max(MIN_SAMPLES, minimum)):
            ts = lvfs.rfc3339_ms(self.window_time(w))
            out = os.path.join(self.outdir, "ts-%d.db" % w["commit_no"])
            p = self.restore(out, ["-timestamp", ts])
            name = "restore -timestamp %s (window of commit %d)" % (
                ts, w["commit_no"])
            if self.res.check(name + " exits 0", p.returncode == 0, _err(p)):
                self.check_restored(name, out, w["commit_no"], wl)

    def txid_restores(self, wl):
        try:
            files = self.ltx_list()
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            self.res.check("ltx -json lists the replica", False, str(e))
            return
        l0 = sorted((f for f in files if f["level"] == 0),
                    key=lambda f: f["max_txid"])
        self.res.check("ltx -json lists >= %d L0 files" % MIN_SAMPLES,
                       len(l0) >= MIN_SAMPLES, "got %d" % len(l0))
        seen = []
        for f in spread(l0, MIN_SAMPLES):
            tx = "%016x" % f["max_txid"]
            out = os.path.join(self.outdir, "txid-%s.db" % tx)
            p = self.restore(out, ["-txid", tx])
            name = "restore -txid %s" % tx
            if not self.res.check(name + " exits 0", p.returncode == 0,
                                  _err(p)):
                continue
            c = self.check_restored(name, out, None, wl)
            if c is None:
                continue
            seen.append((f["max_txid"], c))
            logged = wl.commits.get(c)
            if logged is not None:
                self.res.check(
                    name + " commit %d t_ms <= file created" % c,
                    logged["t_ms"] <= f["created_ms"] + f["created_slack_ms"],
                    "t_ms %d > created %d" % (logged["t_ms"], f["created_ms"]))
        mono = all(a[1] <= b[1] for a, b in zip(seen, seen[1:]))
        self.res.check("commit_no non-decreasing in TXID", mono, str(seen))
        # Anchor TXIDs to the writer's clock: inside a quiet window of commit
        # K, the newest L0 file created before the window's restore time
        # holds exactly commit K (catches off-by-one TXID restores, which
        # the checks above cannot see).
        for w in spread(self.usable_windows(wl), WINDOW_TXID_SAMPLES):
            t = self.window_time(w)
            before = [f["max_txid"] for f in l0 if self.l0_created_ms(f) < t]
            if not self.res.check("an L0 file was created before %s" %
                                  lvfs.rfc3339_ms(t), bool(before)):
                continue
            tx = "%016x" % max(before)
            out = os.path.join(self.outdir, "wtxid-%s.db" % tx)
            p = self.restore(out, ["-txid", tx])
            name = "restore -txid %s (newest before window of commit %d)" % (
                tx, w["commit_no"])
            if self.res.check(name + " exits 0", p.returncode == 0, _err(p)):
                self.check_restored(name, out, w["commit_no"], wl)

    # ---- interop ---------------------------------------------------------

    def interop_read(self, wl, latest):
        env = self.vfs_env()
        if self.s3 is not None:
            url = self.s3_url()
            has_files = bool(lvfs.l0_txids_from_keys(
                self.s3_keys(S3_PREFIX), S3_PREFIX))
        else:
            url = lvfs.file_url(self.replica)
            has_files = bool(lvfs.replica_listing(
                os.path.join(self.replica, "ltx")))
        # The VFS blocks forever on a replica without LTX files; fail fast.
        if not self.res.check("walship's replica has ltx/ files", has_files):
            return
        try:
            h = lvfs.vfs_dump_hash(url, env_extra=env)
        except lvfs.VfsError as e:
            self.res.check("Litestream VFS reads walship's replica", False,
                           str(e)[:800])
            return
        self.res.check("Litestream VFS view == walship latest restore",
                       latest is not None and
                       h == dbcheck.content_hash(latest))
        self.res.check("Litestream VFS view == last logged commit",
                       h == wl.commits[wl.last]["hash"])
        self.vfs_integrity(url, latest)
        windows = self.usable_windows(wl)
        self.res.check("at least %d usable quiet windows for the VFS" %
                       VFS_TIME_SAMPLES, len(windows) >= VFS_TIME_SAMPLES,
                       "got %d" % len(windows))
        # The writer is done, so these reads may overlap; on S3 every VFS
        # open reads each object's index from moto (~2 s per CLI run).
        def at(w):
            ts = lvfs.rfc3339_ms(self.window_time(w))
            try:
                return ts, lvfs.vfs_dump_hash(url, timestamp=ts,
                                              env_extra=env), None
            except lvfs.VfsError as e:
                return ts, None, str(e)[:500]

        import concurrent.futures
        todo = spread(windows, VFS_TIME_SAMPLES)
        workers = 3 if self.s3 is not None else 1
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for w, (ts, got, err) in zip(todo, pool.map(at, todo)):
                name = "Litestream VFS at %s == commit %d" % (
                    ts, w["commit_no"])
                self.res.check(name, err is None and
                               got == wl.commits[w["commit_no"]]["hash"],
                               err or "")

    def vfs_integrity(self, url, latest):
        """PRAGMA integrity_check through the VFS. The VFS (v0.5.17) sizes
        the file as the highest page number it ever indexed (FileSize() =
        max pgno over all planned files), so after the database shrank
        (VACUUM, incremental vacuum) the pages past the real commit size
        show up as "Page N is never used". Those lines alone are tolerated
        (N > page count of walship's restore); anything else fails."""
        name = "Litestream VFS integrity_check ok"
        if latest is None:
            self.res.check(name, False, "no latest restore to compare with")
            return
        conn = dbcheck.open_ro(latest)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.close()
        try:
            rows = lvfs.vfs_query(url, "PRAGMA integrity_check(1000000)",
                                  env_extra=self.vfs_env())
        except lvfs.VfsError as e:
            self.res.check(name, False, str(e)[:500])
            return
        lines = "\n".join(str(r[0]) for r in rows).splitlines()
        past, bad = 0, []
        for line in lines:
            m = re.fullmatch(r"Page (\d+) is never used", line)
            if m and int(m.group(1)) > pages:
                past += 1
            elif line not in ("ok", "*** in database main ***"):
                bad.append(line)
        if past:
            print("  note: VFS reports %d pages past the commit size (%d) as "
                  "never used (VFS FileSize = max pgno seen; shrink artifact)"
                  % (past, pages), flush=True)
        self.res.check(name, not bad, "\n".join(bad[:20]))

    def interop_write(self):
        vrep = os.path.join(self.tmp, "vfs-replica")
        sessions = lvfs.SAMPLE_SESSIONS
        env = self.vfs_env()
        buf = os.path.join(self.tmp, "vfs-buffer")
        try:
            if self.s3 is not None:
                vrep = None
                txids = lvfs.vfs_write(
                    None, buf, sessions, env_extra=env,
                    replica_url=self.s3_url(S3_VFS_PREFIX),
                    list_l0=lambda: lvfs.l0_txids_from_keys(
                        self.s3_keys(S3_VFS_PREFIX), S3_VFS_PREFIX))
            else:
                txids = lvfs.vfs_write(vrep, buf, sessions)
        except lvfs.VfsError as e:
            self.res.check("Litestream VFS write mode made a replica", False,
                           str(e)[:800])
            return
        expect = lvfs.replay_plain(sessions,
                                   os.path.join(self.tmp, "vfs-plain.db"))
        if self.s3 is not None:
            vurl = arg = self.s3_url(S3_VFS_PREFIX)
        else:
            vurl = lvfs.file_url(vrep)
            arg = vurl if self.args.replica_as_url else vrep
        want_rows = lvfs.vfs_query(vurl, lvfs.SAMPLE_SUMMARY_SQL,
                                   env_extra=env)
        out = os.path.join(self.outdir, "vfs-latest.db")
        p = self.restore(out, replica=arg)
        if self.res.check("walship restores a VFS-written replica",
                          p.returncode == 0, _err(p)):
            self.res.check("VFS replica restore integrity_check",
                           dbcheck.integrity_check(out) == "ok")
            self.res.check("VFS replica restore content == expected",
                           dbcheck.content_hash(out) == expect[-1])
            conn = dbcheck.open_ro(out)
            rows = [tuple(r) for r in conn.execute(lvfs.SAMPLE_SUMMARY_SQL)]
            conn.close()
            self.res.check("VFS replica restore rows == VFS rows",
                           rows == want_rows, "%s != %s" % (rows, want_rows))
        for i, tx in enumerate(txids):
            todo = [("-txid", ["-txid", "%016x" % tx])]
            # Like Litestream, a timestamp after the newest file is an error,
            # so the newest file's state has no timestamp of its own.
            if tx != txids[-1]:
                if self.s3 is not None:
                    t = self.s3_capture_ms("%s/0000/%016x-%016x.ltx" % (
                        S3_VFS_PREFIX, tx, tx))
                    self.res.check(
                        "VFS-written S3 object %016x has %s metadata" %
                        (tx, S3_TIMESTAMP_META), t is not None)
                else:
                    t = lvfs.l0_file_mtime_ms(vrep, tx)
                if t is not None:
                    todo.append(("-timestamp", ["-timestamp",
                                                lvfs.rfc3339_ms(t + 1)]))
            for how, extra in todo:
                out = os.path.join(self.outdir, "vfs-%s-%d.db" % (how[1:], tx))
                p = self.restore(out, extra, replica=arg)
                name = "VFS replica restore %s %s" % (how, extra[1])
                if self.res.check(name + " exits 0", p.returncode == 0,
                                  _err(p)):
                    self.res.check(name + " content == session %d" % (i + 1),
                                   dbcheck.content_hash(out) == expect[i] and
                                   dbcheck.integrity_check(out) == "ok")


def _txid(v):
    return int(v, 16) if isinstance(v, str) else int(v)


def _err(p):
    return (p.stderr or b"").decode(errors="replace").strip()[-800:]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--walship", required=True, help="path to the binary")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--kill9", action="store_true")
    mode.add_argument("--interop", action="store_true")
    ap.add_argument("--seed", type=int,
                    default=int.from_bytes(os.urandom(4), "big"))
    ap.add_argument("--duration-s", type=float, default=40.0)
    ap.add_argument("--workdir", help="use this dir instead of a temp dir")
    ap.add_argument("--keep", action="store_true", help="keep the work dir")
    ap.add_argument("--replica-as-url", action="store_true",
                    help="pass file:///dir to restore/ltx instead of dir")
    ap.add_argument("--s3", action="store_true",
                    help="replicate to a local moto_server S3 instead")
    args = ap.parse_args(argv)
    res = Results()
    mode_name = "kill9" if args.kill9 else "interop" if args.interop \
        else "basic"
    if args.s3:
        mode_name = "s3 " + mode_name
    print("e2e %s: seed %d (rerun with --seed %d)" % (mode_name, args.seed,
                                                      args.seed), flush=True)
    args.walship = os.path.abspath(args.walship)
    if not (os.path.isfile(args.walship) and
            os.access(args.walship, os.X_OK)):
        res.check("walship binary exists", False,
                  "%s is missing or not executable (build it first)" %
                  args.walship)
        return res.summary()
    if args.interop:
        try:
            lvfs.vfs_so_path()
        except lvfs.VfsError as e:
            res.check("Litestream VFS extension present", False, str(e))
            return res.summary()

    def on_signal(signum, _frame):
        raise Interrupted("signal %d" % signum)

    old_handlers = {sig: signal.signal(sig, on_signal)
                    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    s3 = None
    t = None
    started = time.monotonic()
    try:
        if args.s3:
            work = args.workdir or tempfile.mkdtemp(prefix="walship-e2e-")
            args.workdir_created = not args.workdir
            args.workdir = work
            try:
                s3 = s3server.S3Server(
                    log_path=os.path.join(work, "moto.log")).start()
                s3.create_bucket(S3_BUCKET)
            except (s3server.S3ServerError, OSError) as e:
                res.check("moto_server S3 started", False,
                          "%s (kept %s)" % (e, work))
                return res.summary()
            print("  moto_server at %s, replica %s" % (
                s3.endpoint, s3.replica_url(S3_BUCKET, S3_PREFIX)),
                flush=True)
        t = E2E(args, res, s3)
        print("  work dir %s" % t.tmp, flush=True)
        _run_mode(t, args, res)
    except Interrupted as e:
        res.check("harness not interrupted", False, str(e))
    finally:
        if t is not None:
            t.cleanup()
        if s3 is not None:
            s3.stop()
        for sig, h in old_handlers.items():
            signal.signal(sig, h)
    if t is None:
        return res.summary()
    print("  %d restores, %.1fs" % (t.n_restores, time.monotonic() - started),
          flush=True)
    if res.failed or args.keep:
        print("  kept %s (walship log: %s)" % (t.tmp, t.walship_log),
              flush=True)
    elif not args.workdir or getattr(args, "workdir_created", False):
        import shutil
        shutil.rmtree(t.tmp, ignore_errors=True)
    return res.summary()


def _run_mode(t, args, res):
    t0 = time.monotonic()

    def phase(name):
        print("  [%5.1fs] %s" % (time.monotonic() - t0, name), flush=True)

    try:
        wl = t.replicate_phase(kill9=args.kill9)
        if t.s3 is not None and wl is not None:
            t.s3_layout()
        if wl is not None and wl.last is not None:
            phase("restores")
            latest = t.latest_restore(wl)
            if args.kill9:
                t.txid_restores(wl)
                t.timestamp_restores(wl, minimum=0)
            elif args.interop:
                t.interop_read(wl, latest)
                phase("VFS write mode")
                t.interop_write()
            else:
                if latest:
                    t.existing_output(wl, latest)
                t.bad_arguments()
                if t.s3 is not None:
                    t.s3_bad_replicas()
                    t.s3_timestamp_boundaries()
                t.timestamp_restores(wl, minimum=MIN_SAMPLES)
                t.txid_restores(wl)
    except Exception:  # a harness bug or an unexpected walship output
        res.check("harness ran without exceptions", False,
                  traceback.format_exc())


if __name__ == "__main__":
    sys.exit(main())
