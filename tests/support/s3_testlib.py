#!/usr/bin/env python3
"""Helpers for walship's end-to-end tests against an S3 emulator (moto_server)
behind tests/support/fault_proxy.py.

  S3Env        moto_server on a free loopback port, a FaultProxy in front of
               it, a bucket, a boto3 client straight to moto (uncounted), and
               every child process started through it (walship, the writer),
               all stopped by close() on every exit path (children also get
               PR_SET_PDEATHSIG, so they die with the test process).
  Walship      one `walship replicate -config` child: config, log, SIGTERM.
  timed writer `s3_testlib.py writer --latency-out F -- <workload.py args>`
               runs tests/support/workload.py in-process and records how
               long each write transaction took (BEGIN IMMEDIATE wait,
               COMMIT, whole transaction), written as JSON to F at the end.

Stdlib + boto3. Loopback only.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dbcheck  # noqa: E402
import fault_proxy  # noqa: E402
import s3server  # noqa: E402

WORKLOAD = os.path.join(HERE, "workload.py")

for _v in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_v, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_REGION", "us-east-1")

try:
    import boto3
    from botocore.config import Config
except ImportError:  # pragma: no cover
    boto3 = None


class Aborted(BaseException):
    """A signal (SIGALRM timeout, SIGTERM, SIGINT) ends the run; cleanup still runs."""


class Results:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s%s" % (name, (" (" + detail + ")") if detail else ""), flush=True)
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, (": " + detail) if detail else ""), flush=True)
        return ok


def now_ms():
    return int(time.time() * 1000)


def have_moto():
    return boto3 is not None and any(
        os.access(os.path.join(p, "moto_server"), os.X_OK)
        for p in os.environ.get("PATH", "").split(os.pathsep))


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when this process dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(cmd, log_path=None, env=None):
    """Starts a child in its own session (so its whole group can be stopped),
    stdout+stderr appended to log_path (or discarded)."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, preexec_fn=_die_with_parent)
    finally:
        if log_path:
            out.close()


def stop_process(proc, sig=signal.SIGTERM, timeout=10.0):
    """Sends sig to proc's process group (it leads its own session), waits up
    to timeout, then SIGKILLs the group. Returns the exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    return proc.returncode


def run(cmd, timeout=60):
    """Runs a command to completion (bounded); returns CompletedProcess."""
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_die_with_parent)


class Moto(s3server.S3Server):
    """moto_server, started: .port, .url, .proc, stop()."""

    def __init__(self, log_path=None, env=None):
        super().__init__(log_path=log_path, env=env)
        self.start()  # S3ServerError (a RuntimeError) if it does not come up

    @property
    def url(self):
        return self.endpoint


def s3_client(endpoint):
    cfg = Config(retries={"total_max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                 s3={"addressing_style": "path"})
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=cfg)


class RecordingProxy(fault_proxy.FaultProxy):
    """A FaultProxy that also records (monotonic time, kind, method, path,
    faulted) of every counted request; cleared with reset_counts()."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.requests = []

    def _decide(self, method, path, kind):
        r = super()._decide(method, path, kind)
        with self._lock:
            self.requests.append((time.monotonic(), kind, method, path, r is not None))
        return r

    def reset_counts(self):
        super().reset_counts()
        with self._lock:
            self.requests = []

    def recorded(self):
        with self._lock:
            return list(self.requests)


class S3Env:
    """moto + proxy + bucket + tracked children. Use as a context manager."""

    def __init__(self, bucket="walship-e2e", tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="walship-s3-e2e-")
        self.moto = None
        self.proxy = None
        self.children = []
        self.bucket = bucket
        self.moto = Moto(os.path.join(self.tmp, "moto.log"))
        try:
            self.proxy = RecordingProxy(self.moto.port).start()
            self.s3 = s3_client(self.moto.url)  # direct: never counted by the proxy
            self.s3.create_bucket(Bucket=bucket)
        except BaseException:
            self.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def url(self, prefix, direct=False):
        """The replica URL through the proxy (or straight to moto)."""
        port = self.moto.port if direct else self.proxy.port
        return "s3://%s/%s?endpoint=http://127.0.0.1:%d&forcePathStyle=true" % (self.bucket, prefix, port)

    def spawn(self, cmd, log_path=None):
        p = spawn(cmd, log_path)
        self.children.append(p)
        return p

    def close(self):
        for p in reversed(self.children):
            stop_process(p, signal.SIGKILL if p.poll() is None else signal.SIGTERM, 5)
        self.children = []
        if self.proxy is not None:
            self.proxy.clear()
            self.proxy.stop()
            self.proxy = None
        if self.moto is not None:
            self.moto.stop()
            self.moto = None

    def objects(self, prefix):
        """[{Key, Size, LastModified}] under prefix, listed straight from moto."""
        out, token = [], None
        for _ in range(10000):
            kw = {"Bucket": self.bucket, "Prefix": prefix}
            if token:
                kw["ContinuationToken"] = token
            r = self.s3.list_objects_v2(**kw)
            out += r.get("Contents", [])
            if not r.get("IsTruncated"):
                break
            token = r["NextContinuationToken"]
        return out

    def tail(self, key, n):
        r = self.s3.get_object(Bucket=self.bucket, Key=key, Range="bytes=-%d" % n)
        return r["Body"].read()


# ---- LTX object checks --------------------------------------------------

LTX_HEADER = 100
LTX_TRAILER = 16
LTX_CHECKSUM_FLAG = 1 << 63
LTX_NO_CHECKSUM = 0x2


def _uvarint(buf, i):
    x = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("bad uvarint")
        b = buf[i]
        i += 1
        x |= (b & 0x7F) << shift
        if b < 0x80:
            return x, i
        shift += 7


def check_ltx_object(key, data):
    """None if `data` is structurally a whole LTX file matching its key's
    name, else why not. Checks (no LZ4 needed): size, magic "LTX1", header
    TXIDs = file name, the trailer-side page index (its length field, the
    6-byte end-of-pages marker, the 0 terminator, every frame inside the page
    area, at least one page), trailer checksum flags. The file checksum (over
    uncompressed pages) is verified by `walship restore`."""
    name = key.rsplit("/", 1)[-1]
    n = len(data)
    if n < LTX_HEADER + LTX_TRAILER:
        return "%s: %d bytes, shorter than header + trailer" % (key, n)
    if data[:4] != b"LTX1":
        return "%s: bad magic %r" % (key, data[:4])
    flags = int.from_bytes(data[4:8], "big")
    mn = int.from_bytes(data[16:24], "big")
    mx = int.from_bytes(data[24:32], "big")
    want = "%016x-%016x.ltx" % (mn, mx)
    if name != want:
        return "%s: header says TXIDs %s" % (key, want)
    idx_len = int.from_bytes(data[n - 24:n - 16], "big")
    idx_start = n - 24 - idx_len
    pages_end = idx_start - 6
    if idx_len < 1 or pages_end < LTX_HEADER:
        return "%s: page index length %d does not fit a %d-byte file" % (key, idx_len, n)
    if data[pages_end:idx_start] != b"\0" * 6:
        return "%s: no end-of-pages marker before the page index" % key
    if data[n - 25] != 0:
        return "%s: page index not terminated" % key
    i, pages = idx_start, 0
    try:
        while True:
            pgno, i = _uvarint(data, i)
            if pgno == 0:
                break
            off, i = _uvarint(data, i)
            size, i = _uvarint(data, i)
            if off < LTX_HEADER or off + size > pages_end:
                return "%s: page %d frame [%d, +%d) outside the page area" % (key, pgno, off, size)
            pages += 1
    except ValueError:
        return "%s: page index unreadable" % key
    if i != n - 24:
        return "%s: page index ends at %d, not %d" % (key, i, n - 24)
    if pages == 0:
        return "%s: no pages" % key
    file_ck = int.from_bytes(data[n - 8:], "big")
    if not (flags & LTX_NO_CHECKSUM) and not file_ck & LTX_CHECKSUM_FLAG:
        return "%s: file checksum %016x lacks the checksum flag" % (key, file_ck)
    return None


def check_all_objects(env, prefix):
    """(number of .ltx objects, total bytes, [problems]) for every object under prefix."""
    problems, n, total = [], 0, 0
    for o in env.objects(prefix):
        key = o["Key"]
        if not key.endswith(".ltx"):
            problems.append("%s: unexpected object (not .ltx)" % key)
            continue
        n += 1
        total += o["Size"]
        if o["Size"] < 100:
            problems.append("%s: only %d bytes" % (key, o["Size"]))
            continue
        data = env.s3.get_object(Bucket=env.bucket, Key=key)["Body"].read()
        why = check_ltx_object(key, data)
        if why:
            problems.append(why)
    return n, total, problems


class Walship:
    """One `walship replicate -config CFG` child."""

    def __init__(self, env, binary, db, url, name="walship", monitor="1s", sync="1s", log_level=None,
                 extra_replica=""):
        self.env = env
        self.binary = binary
        self.cfg = os.path.join(env.tmp, name + ".yml")
        self.log = os.path.join(env.tmp, name + ".log")
        self.log_level = log_level
        with open(self.cfg, "w") as f:
            f.write("dbs:\n"
                    "  - path: %s\n"
                    "    monitor-interval: %s\n"
                    "    replica:\n"
                    "      url: \"%s\"\n"
                    "      sync-interval: %s\n%s" % (db, monitor, url, sync, extra_replica))
        self.proc = None

    def start(self):
        cmd = [self.binary, "replicate", "-config", self.cfg]
        if self.log_level:
            cmd += ["-log-level", self.log_level]
        self.proc = self.env.spawn(cmd, self.log)
        return self.proc

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=60):
        """SIGTERM (final sync), bounded; returns (exit code, seconds taken);
        None as code if it had to be SIGKILLed."""
        t0 = time.monotonic()
        p = self.proc
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                stop_process(p, signal.SIGKILL, 5)
                return None, time.monotonic() - t0
        return p.returncode, time.monotonic() - t0

    def log_lines(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []


def ltx_json(binary, url, level="0", timeout=30):
    """`walship ltx -json URL` parsed; raises on failure."""
    r = run([binary, "ltx", "-json", "-level", str(level), url], timeout)
    if r.returncode != 0:
        raise RuntimeError("walship ltx failed (%d): %s" % (r.returncode, (r.stderr or r.stdout).strip()))
    return json.loads(r.stdout)


def _txid(v):
    if isinstance(v, int):
        return v
    return int(str(v), 16)


def ltx_files(doc):
    """The list of file entries in a `walship ltx -json` document."""
    if isinstance(doc, list):
        return doc
    for k in ("files", "ltx", "entries"):
        if isinstance(doc, dict) and isinstance(doc.get(k), list):
            return doc[k]
    raise ValueError("unrecognised walship ltx -json output: %r" % (doc,))


def max_txid(binary, url, timeout=30):
    """The highest max TXID across the replica's levels (0 if empty)."""
    files = ltx_files(ltx_json(binary, url, "all", timeout))
    best = 0
    for f in files:
        for k in ("max_txid", "maxTXID", "max", "MaxTXID"):
            if k in f:
                best = max(best, _txid(f[k]))
                break
    return best


def restore(binary, url, out, txid=None, timeout=120):
    cmd = [binary, "restore", "-o", out, "-integrity-check", "full"]
    if txid is not None:
        cmd += ["-txid", "%016x" % txid]
    cmd.append(url)
    if os.path.exists(out):
        os.remove(out)
    return run(cmd, timeout)


def restore_summary(r):
    """The last line of a `walship restore` run (its result or its error)."""
    lines = [ln for ln in ((r.stdout or "") + "\n" + (r.stderr or "")).splitlines() if ln.strip()]
    if r.returncode == 0:
        done = [ln for ln in lines if ln.startswith("restored ")]
        return (done or lines or [""])[-1][:300]
    return " | ".join(lines[-3:])[:600]


class WriterLog:
    """Parsed workload.py log plus the timed writer's latency summary."""

    def __init__(self, log_path, latency_path=None):
        self.commits = {}
        self.done = None
        with open(log_path) as f:
            for line in f:
                try:
                    o = json.loads(line)
                except ValueError:
                    continue
                if "done" in o:
                    self.done = o
                elif "commit_no" in o and "hash" in o:
                    self.commits[o["commit_no"]] = o
        self.latency = None
        if latency_path and os.path.exists(latency_path):
            with open(latency_path) as f:
                self.latency = json.load(f)

    @property
    def last(self):
        return max(self.commits) if self.commits else None

    def final_hash(self):
        return self.commits[self.last]["hash"]


class Writer:
    """The timed workload writer as a child of env."""

    def __init__(self, env, db, seed, rate, duration_s, name="writer", big_tx_mb=1, est_commits=0):
        self.env = env
        self.db = db
        self.log = os.path.join(env.tmp, name + ".jsonl")
        self.latency = os.path.join(env.tmp, name + ".latency.json")
        self.stderr = os.path.join(env.tmp, name + ".stderr")
        self.stop_file = os.path.join(env.tmp, name + ".stop")
        self.cmd = [sys.executable, os.path.abspath(__file__), "writer", "--latency-out", self.latency, "--",
                    "--db", db, "--log", self.log, "--seed", str(seed), "--rate", str(rate),
                    "--duration-s", str(duration_s), "--stop-file", self.stop_file,
                    "--big-tx-mb", str(big_tx_mb)]
        if est_commits:
            self.cmd += ["--est-commits", str(est_commits)]
        self.proc = None

    def start(self, wait_s=20):
        self.proc = self.env.spawn(self.cmd, self.stderr)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if os.path.exists(self.log):
                with open(self.log) as f:
                    if any('"op":"setup"' in line for line in f):
                        return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def commits(self):
        try:
            with open(self.log) as f:
                return sum(1 for line in f if '"hash"' in line)
        except FileNotFoundError:
            return 0

    def stop(self, timeout=60):
        """Asks the writer to stop between transactions; returns exit code."""
        with open(self.stop_file, "w"):
            pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return stop_process(self.proc, signal.SIGKILL, 5)

    def result(self):
        return WriterLog(self.log, self.latency)


def wait_for_txid(binary, url, target, timeout_s, poll_s=0.5):
    """Polls the replica's max TXID until >= target; returns (reached, txid,
    seconds waited)."""
    t0 = time.monotonic()
    cur = -1
    while True:
        try:
            cur = max_txid(binary, url)
        except (RuntimeError, ValueError, subprocess.TimeoutExpired):
            cur = -1
        if cur >= target:
            return True, cur, time.monotonic() - t0
        if time.monotonic() - t0 >= timeout_s:
            return False, cur, time.monotonic() - t0
        time.sleep(poll_s)


def local_txid(db):
    """The TXID walship's local L0 files reached for db (from its meta dir),
    or None if the layout is not recognised."""
    meta = os.path.join(os.path.dirname(db), "." + os.path.basename(db) + "-litestream", "ltx", "0")
    best = None
    for root, _dirs, files in os.walk(meta):
        for n in files:
            if n.endswith(".ltx") and "-" in n:
                try:
                    best = max(best or 0, int(n.split("-")[1].split(".")[0], 16))
                except ValueError:
                    pass
    return best


# ---- the timed writer (runs as its own process) --------------------------

def _writer_main(argv):
    import argparse

    import workload

    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-out", required=True)
    ap.add_argument("rest", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    rest = a.rest[1:] if a.rest and a.rest[0] == "--" else a.rest
    samples = []  # (total_ms, begin_ms, commit_ms, commit_no, op)

    class Timed(workload.Workload):
        def q(self, sql, params=()):
            if sql == "BEGIN IMMEDIATE":
                self._t_begin = time.monotonic()
                r = super().q(sql, params)
                self._begin_ms = (time.monotonic() - self._t_begin) * 1000
                return r
            if sql == "COMMIT":
                t = time.monotonic()
                r = super().q(sql, params)
                end = time.monotonic()
                samples.append(((end - self._t_begin) * 1000, self._begin_ms, (end - t) * 1000,
                                self.commit_no + 1))
                return r
            return super().q(sql, params)

    args = workload.parse_args(rest)
    wl = Timed(args)

    def on_signal(_sig, _frame):
        wl.stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        wl.run()
    finally:
        def mx(i):
            return max((s[i] for s in samples), default=0.0)
        srt = sorted(s[0] for s in samples)
        p99 = srt[min(len(srt) - 1, int(len(srt) * 0.99))] if srt else 0.0
        worst = sorted(samples, reverse=True)[:5]
        out = {"n": len(samples), "max_tx_ms": round(mx(0), 2), "p99_tx_ms": round(p99, 2),
               "max_begin_ms": round(mx(1), 2), "max_commit_ms": round(mx(2), 2),
               "worst": [{"tx_ms": round(s[0], 2), "begin_ms": round(s[1], 2), "commit_ms": round(s[2], 2),
                          "commit_no": s[3]} for s in worst]}
        tmp = a.latency_out + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f)
        os.replace(tmp, a.latency_out)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "writer":
        sys.exit(_writer_main(sys.argv[2:]))
    print("usage: s3_testlib.py writer --latency-out F -- <workload.py args>", file=sys.stderr)
    sys.exit(2)
