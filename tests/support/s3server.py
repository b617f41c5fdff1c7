#!/usr/bin/env python3
"""A throwaway S3 server for tests: `moto_server -H 127.0.0.1 -p PORT` on a
free loopback port, plus bucket creation and object listing over plain HTTP
(no SigV4 needed: moto accepts unsigned requests).

    with S3Server(log_path="/tmp/moto.log") as s3:
        s3.create_bucket("walship-e2e")
        url = s3.replica_url("walship-e2e", "app")
        # s3://walship-e2e/app?endpoint=http://127.0.0.1:PORT&forcePathStyle=true

Every wait is bounded; stop() (also on __exit__) kills the process group.
Run directly for a smoke test: s3server.py [--keep-running-s N].
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

HOST = "127.0.0.1"
START_TIMEOUT_S = 30
HTTP_TIMEOUT_S = 10
TEST_KEY = "test"        # moto accepts any credentials
TEST_SECRET = "test"


class S3ServerError(RuntimeError):
    pass


_ANNOUNCED = re.compile(rb"Running on http://127\.0\.0\.1:(\d+)")


def announced_port(log_path, offset=0):
    """The port moto_server, started with -p 0, says it listens on (werkzeug
    prints " * Running on http://127.0.0.1:N" once bound), or None yet.
    Binding port 0 leaves no window in which another process can take a
    port picked for the server before it binds it. `offset`: where this
    server's output starts in a log that others wrote to before."""
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            m = _ANNOUNCED.search(f.read())
    except OSError:
        return None
    return int(m.group(1)) if m else None


def log_tail(log_path, offset=0, limit=2000):
    """The end of a server's output (from `offset`), for an error message:
    a temporary log is removed by stop() before anyone could read it."""
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "(log %s unreadable: %s)" % (log_path, e)
    if not text.strip():
        return "(log %s empty)" % log_path
    return "log %s:\n%s" % (log_path, text if len(text) <= limit else "..." + text[-limit:])


def moto_server_path():
    p = os.environ.get("WALSHIP_MOTO_SERVER") or shutil.which("moto_server")
    if not p:
        raise S3ServerError("moto_server not found on PATH (pip install "
                            "'moto[server]' or set WALSHIP_MOTO_SERVER)")
    return p


def _die_with_parent():
    """preexec_fn: SIGKILL the server if the test process dies (even by
    SIGKILL, e.g. a ctest timeout). Linux only; best effort."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def aws_env(base=None):
    """An environment for children that talk to this server: test
    credentials, a region, no AWS_CA_BUNDLE / profile lookups."""
    env = dict(os.environ if base is None else base)
    for k in ("AWS_CA_BUNDLE", "AWS_PROFILE", "AWS_SESSION_TOKEN",
              "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL",
              "AWS_ENDPOINT_URL_S3"):
        env.pop(k, None)
    env["AWS_ACCESS_KEY_ID"] = TEST_KEY
    env["AWS_SECRET_ACCESS_KEY"] = TEST_SECRET
    env.setdefault("AWS_REGION", "us-east-1")
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return env


class S3Server:

    def __init__(self, port=None, log_path=None, env=None):
        self.port = port  # None: the one moto_server binds and announces
        self.log_path = log_path
        self.env = env  # the server's environment (None: this process's)
        self.proc = None
        self._log = None
        self._tmp_log = None

    @property
    def endpoint(self):
        return "http://%s:%d" % (HOST, self.port)

    def replica_url(self, bucket, prefix):
        return "s3://%s/%s?endpoint=%s&forcePathStyle=true" % (
            bucket, prefix, self.endpoint)

    # ---- lifecycle -------------------------------------------------------

    def start(self, timeout=START_TIMEOUT_S):
        cmd = [moto_server_path(), "-H", HOST, "-p", str(self.port or 0)]
        if not self.log_path:  # the announced port is read from the log
            fd, self._tmp_log = tempfile.mkstemp(prefix="walship-moto-", suffix=".log")
            os.close(fd)
        log_path = self.log_path or self._tmp_log
        self._log = open(log_path, "ab")
        log_start = self._log.tell()
        self.proc = subprocess.Popen(cmd, stdout=self._log, env=self.env,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL,
                                     start_new_session=True,
                                     preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = log_tail(log_path, log_start)
                self.stop()
                raise S3ServerError("moto_server exited %s at start: %s"
                                    % (self.proc.returncode, tail))
            if not self.port:
                self.port = announced_port(log_path, log_start)
                if not self.port:
                    time.sleep(0.1)
                    continue
            try:
                status, _ = self.request("GET", "/", timeout=2)
                if status == 200:
                    return self
                last = "HTTP %d" % status
            except (OSError, urllib.error.URLError) as e:
                last = str(e)
            time.sleep(0.1)
        tail = log_tail(log_path, log_start)
        self.stop()
        raise S3ServerError("moto_server on 127.0.0.1:%s did not answer within %ds (%s): %s"
                            % (self.port or "?", timeout, last, tail))

    def stop(self):
        p = self.proc
        if p is not None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp_log is not None:
            try:
                os.unlink(self._tmp_log)
            except OSError:
                pass
            self._tmp_log = None

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- HTTP ------------------------------------------------------------

    def request(self, method, path, body=None, timeout=HTTP_TIMEOUT_S):
        """(status, body bytes); HTTP errors are returned, not raised."""
        req = urllib.request.Request(self.endpoint + path, data=body,
                                     method=method)
        if body is not None:
            req.add_header("Content-Type", "application/octet-stream")
        # Never go through a proxy for loopback.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def create_bucket(self, name):
        if len(name) < 3:
            raise ValueError("bucket names need 3+ characters")
        status, body = self.request("PUT", "/" + urllib.parse.quote(name),
                                    body=b"")
        if status != 200:
            raise S3ServerError("create bucket %s: HTTP %d %s" %
                                (name, status, body[:300]))
        return name

    def list_objects(self, bucket, prefix=""):
        """[(key, size)] under prefix (ListObjectsV2, all pages)."""
        out, token = [], None
        for _ in range(10000):
            q = {"list-type": "2", "prefix": prefix}
            if token:
                q["continuation-token"] = token
            status, body = self.request(
                "GET", "/%s?%s" % (urllib.parse.quote(bucket),
                                   urllib.parse.urlencode(q)))
            if status != 200:
                raise S3ServerError("list %s/%s: HTTP %d %s" %
                                    (bucket, prefix, status, body[:300]))
            root = ET.fromstring(body)
            ns = root.tag[:root.tag.index("}") + 1] if "}" in root.tag else ""
            for c in root.iter(ns + "Contents"):
                out.append((c.find(ns + "Key").text,
                            int(c.find(ns + "Size").text)))
            trunc = root.find(ns + "IsTruncated")
            nxt = root.find(ns + "NextContinuationToken")
            if trunc is None or trunc.text != "true" or nxt is None:
                return out
            token = nxt.text
        return out

    def client(self):
        """A botocore S3 client for this server (moto answers some unsigned
        requests, e.g. HEAD of an object, with 403, so those are signed)."""
        if getattr(self, "_client", None) is None:
            import botocore.config
            import botocore.session
            sess = botocore.session.Session()
            self._client = sess.create_client(
                "s3", region_name="us-east-1", endpoint_url=self.endpoint,
                aws_access_key_id=TEST_KEY, aws_secret_access_key=TEST_SECRET,
                verify=False, config=botocore.config.Config(
                    s3={"addressing_style": "path"}, retries={"max_attempts": 2},
                    connect_timeout=HTTP_TIMEOUT_S, read_timeout=HTTP_TIMEOUT_S,
                    proxies={}))
        return self._client

    def head_object(self, bucket, key):
        """{"size", "last_modified" (aware datetime), "metadata" (dict)} or
        None if the object does not exist."""
        import botocore.exceptions
        try:
            r = self.client().head_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey",
                                                           "NotFound"):
                return None
            raise
        return {"size": r["ContentLength"], "last_modified": r["LastModified"],
                "metadata": r.get("Metadata", {})}


def _main():
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep-running-s", type=float, default=0)
    a = ap.parse_args()
    with S3Server() as s3:
        s3.create_bucket("smoke-bucket")
        s3.request("PUT", "/smoke-bucket/a/b.txt", body=b"hello")
        print(s3.endpoint, s3.list_objects("smoke-bucket"),
              s3.head_object("smoke-bucket", "a/b.txt"),
              s3.head_object("smoke-bucket", "a/none"), flush=True)
        time.sleep(a.keep_running_s)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
