#!/usr/bin/env python3
"""Tests of fault_proxy.py: byte-exact forwarding (against a recording
upstream), then every fault mode and the counters in front of moto_server
(started here on a free loopback port), driven by botocore.

Last line: "N passed, M failed"; exit 0 if none failed, 1 otherwise, 77 if
moto_server or boto3 is missing (nothing ran).
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_proxy  # noqa: E402
import s3server  # noqa: E402

for _v in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_v, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

try:
    import boto3
    import botocore.exceptions
    from botocore.config import Config
except ImportError:  # pragma: no cover
    boto3 = None

URLOPEN = urllib.request.build_opener(urllib.request.ProxyHandler({})).open
TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


MOTO = None
_bucket_seq = [0]


def client(url, attempts=1, read_timeout=5.0):
    cfg = Config(retries={"total_max_attempts": attempts, "mode": "standard"}, connect_timeout=5,
                 read_timeout=read_timeout, s3={"addressing_style": "path"})
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=cfg)


def new_bucket(s3):
    _bucket_seq[0] += 1
    name = f"fault-proxy-test-{os.getpid()}-{_bucket_seq[0]}"
    s3.create_bucket(Bucket=name)
    return name


def error_code(fn):
    """Runs fn; returns (S3 error code, HTTP status) of the ClientError it raised."""
    try:
        fn()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("expected a ClientError")


def connection_error(fn):
    """Runs fn; passes if it failed below HTTP (reset, timeout)."""
    try:
        fn()
    except botocore.exceptions.BotoCoreError as e:
        return e
    raise AssertionError("expected a connection-level error")


def exists(s3, bucket, key):
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except botocore.exceptions.ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e
        return False


def with_proxy(fn):
    def run():
        with fault_proxy.FaultProxy(MOTO.port) as proxy:
            fn(proxy, client(proxy.url))
    run.__name__ = fn.__name__
    return run


# --- byte-exact forwarding, against a recording upstream ---

class RecordingUpstream:
    """Accepts one connection, records the request bytes (head + body by
    Content-Length or chunked), replies 200 "ok"."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.got = b""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(10)
            rfile = conn.makefile("rb")
            raw, _, headers = fault_proxy._read_head(rfile)
            self.got = raw + fault_proxy._read_body(rfile, headers)
            rfile.close()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        self.sock.close()


def raw_roundtrip(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        data = b""
        while not data.endswith(b"ok"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


@test
def forwards_a_request_byte_exact_keeping_host_and_header_case():
    up = RecordingUpstream()
    request = (b"PUT /bkt/some%20key.ltx?x-id=PutObject HTTP/1.1\r\n"
               b"Host: bkt.s3.example:9000\r\n"
               b"X-Amz-Date: 20260101T000000Z\r\n"
               b"authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
               b"SignedHeaders=host;x-amz-date, Signature=00ff\r\n"
               b"X-Odd-Case:  two  spaces \r\n"
               b"Content-Length: 11\r\n\r\nhello world")
    with fault_proxy.FaultProxy(up.port) as proxy:
        reply = raw_roundtrip(proxy.port, request)
        up.thread.join(timeout=10)
        assert reply.startswith(b"HTTP/1.1 200 OK"), reply
        assert up.got == request, (up.got, request)
        assert proxy.count("PUT") == 1


@test
def forwards_a_chunked_request_byte_exact():
    up = RecordingUpstream()
    request = (b"PUT /bkt/k HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-amz-checksum-crc32: AAAAAA==\r\n\r\n")
    with fault_proxy.FaultProxy(up.port) as proxy:
        raw_roundtrip(proxy.port, request)
        up.thread.join(timeout=10)
        assert up.got == request, up.got


@test
def refuses_an_upstream_off_loopback():
    try:
        fault_proxy.FaultProxy(9000, upstream_host="10.0.0.1")
    except ValueError:
        return
    raise AssertionError("accepted a non-loopback upstream")


@test
def classifies_request_kinds():
    c = fault_proxy.classify
    assert c("GET", "/b?list-type=2&prefix=x") == "LIST"
    assert c("GET", "/b/k") == "GET"
    assert c("POST", "/b?delete") == "DELETE"
    assert c("POST", "/b/k?uploads") == "POST"
    assert c("DELETE", "/b/k") == "DELETE"
    assert c("HEAD", "/b/k") == "HEAD"


# --- against moto_server ---

@test
@with_proxy
def passes_requests_through_and_counts_them_by_kind(proxy, s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="a/1", Body=b"one")
    s3.put_object(Bucket=b, Key="a/2", Body=b"two")
    assert s3.get_object(Bucket=b, Key="a/1")["Body"].read() == b"one"
    assert s3.head_object(Bucket=b, Key="a/2")["ContentLength"] == 3
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="a/")["Contents"]]
    assert keys == ["a/1", "a/2"], keys
    s3.delete_object(Bucket=b, Key="a/1")
    s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a/2"}]})
    c = proxy.counts()
    assert c["by_kind"] == {"PUT": 3, "GET": 1, "HEAD": 1, "LIST": 1, "DELETE": 2}, c
    assert c["by_method"] == {"PUT": 3, "GET": 2, "HEAD": 1, "DELETE": 1, "POST": 1}, c
    assert c["total"] == 8 and c["faults"] == 0, c
    proxy.reset_counts()
    assert proxy.counts()["total"] == 0


@test
@with_proxy
def replies_503_slowdown_for_the_next_n_requests(proxy, s3):
    b = new_bucket(s3)
    proxy.fail_next(2, status=503)
    for _ in range(2):
        assert error_code(lambda: s3.put_object(Bucket=b, Key="k", Body=b"v")) == ("SlowDown", 503)
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    assert proxy.count("PUT") == 4 and proxy.counts()["faults"] == 2
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"v"


@test
@with_proxy
def replies_500_internal_error(proxy, s3):
    b = new_bucket(s3)
    proxy.fail_next(1, status=500, method="HEAD")
    assert error_code(lambda: s3.head_bucket(Bucket=b))[1] == 500  # HEAD: no body, no code
    proxy.fail_next(1, status=500)
    assert error_code(lambda: s3.list_objects_v2(Bucket=b)) == ("InternalError", 500)
    s3.list_objects_v2(Bucket=b)


@test
@with_proxy
def limits_errors_to_a_method_and_key_pattern(proxy, s3):
    b = new_bucket(s3)
    proxy.fail_next(5, status=503, method="PUT", key=r"only-this$")
    s3.put_object(Bucket=b, Key="other", Body=b"x")
    s3.get_object(Bucket=b, Key="other")["Body"].read()
    assert error_code(lambda: s3.put_object(Bucket=b, Key="dir/only-this", Body=b"x"))[1] == 503
    assert not exists(s3, b, "dir/only-this")
    proxy.clear()
    s3.put_object(Bucket=b, Key="dir/only-this", Body=b"x")


@test
@with_proxy
def reset_before_forwarding_leaves_no_write(proxy, s3):
    b = new_bucket(s3)
    proxy.reset_before(1, method="PUT")
    connection_error(lambda: s3.put_object(Bucket=b, Key="k", Body=b"v"))
    assert not exists(s3, b, "k")
    assert proxy.count("PUT") == 2  # bucket + the reset one


@test
@with_proxy
def reset_after_forwarding_applies_the_write_but_loses_the_ack(proxy, s3):
    b = new_bucket(s3)
    proxy.reset_after(1, method="PUT", key=r"/k$")
    connection_error(lambda: s3.put_object(Bucket=b, Key="k", Body=b"applied"))
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"applied"
    # A conditional retry now meets the object the server already has.
    code = error_code(lambda: s3.put_object(Bucket=b, Key="k", Body=b"applied", IfNoneMatch="*"))
    assert code[1] in (409, 412), code


@test
@with_proxy
def delays_responses(proxy, s3):
    b = new_bucket(s3)
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    proxy.delay(0.5, n=1, method="GET")
    t0 = time.monotonic()
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"v"
    assert time.monotonic() - t0 >= 0.5
    proxy.delay(2.0, n=1, method="GET")
    impatient = client(proxy.url, read_timeout=0.3)
    connection_error(lambda: impatient.get_object(Bucket=b, Key="k"))


@test
@with_proxy
def an_outage_resets_everything_until_it_ends(proxy, s3):
    b = new_bucket(s3)
    proxy.outage(1.0)
    end = time.monotonic() + 1.0
    connection_error(lambda: s3.head_bucket(Bucket=b))
    connection_error(lambda: s3.list_objects_v2(Bucket=b))
    time.sleep(max(0.0, end - time.monotonic()) + 0.1)
    s3.head_bucket(Bucket=b)
    c = proxy.counts()
    assert c["faults"] == 2 and c["by_kind"]["HEAD"] == 2 and c["by_kind"]["LIST"] == 1, c


@test
@with_proxy
def a_refusing_outage_refuses_connections_then_listens_again(proxy, s3):
    b = new_bucket(s3)
    proxy.outage(1.0, refuse=True)
    end = time.monotonic() + 1.0
    try:
        socket.create_connection(("127.0.0.1", proxy.port), timeout=2).close()
        raise AssertionError("connection accepted during a refusing outage")
    except ConnectionRefusedError:
        pass
    connection_error(lambda: s3.head_bucket(Bucket=b))
    time.sleep(max(0.0, end - time.monotonic()) + 0.3)
    for _ in range(20):  # bounded: the listener comes back within a few polls
        try:
            s3.head_bucket(Bucket=b)
            break
        except botocore.exceptions.BotoCoreError:
            time.sleep(0.1)
    else:
        raise AssertionError("proxy did not listen again")
    assert proxy.counts()["faults"] == 0  # refused connections never reach the counters


@test
@with_proxy
def serves_concurrent_clients_and_counts_exactly(proxy, s3):
    b = new_bucket(s3)
    errors = []

    def worker(t):
        try:
            c = client(proxy.url)
            for i in range(10):
                c.put_object(Bucket=b, Key=f"t{t}/{i}", Body=f"{t}:{i}".encode())
                assert c.get_object(Bucket=b, Key=f"t{t}/{i}")["Body"].read() == f"{t}:{i}".encode()
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert proxy.counts()["by_kind"] == {"PUT": 61, "GET": 60}, proxy.counts()


@test
@with_proxy
def botocore_retries_succeed_through_transient_errors(proxy, _):
    s3 = client(proxy.url, attempts=3)
    b = new_bucket(s3)
    proxy.fail_next(2, status=503, method="PUT")
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    assert proxy.count("PUT") == 4, proxy.counts()  # bucket + 2 failed + 1


@test
@with_proxy
def large_put_with_expect_continue_passes_and_fails_cleanly(proxy, s3):
    b = new_bucket(s3)
    body = os.urandom(3 << 20)  # botocore sends Expect: 100-continue above 1 MiB
    s3.put_object(Bucket=b, Key="big", Body=body)
    assert s3.get_object(Bucket=b, Key="big")["Body"].read() == body
    proxy.fail_next(1, status=503, method="PUT")
    assert error_code(lambda: s3.put_object(Bucket=b, Key="big2", Body=body)) == ("SlowDown", 503)
    s3.put_object(Bucket=b, Key="big2", Body=body)
    proxy.reset_after(1, method="PUT")
    connection_error(lambda: s3.put_object(Bucket=b, Key="big3", Body=body))
    assert s3.get_object(Bucket=b, Key="big3")["Body"].read() == body


@test
@with_proxy
def control_endpoint_sets_faults_and_reports_counts(proxy, s3):
    b = new_bucket(s3)

    def control(method, what, args=None):
        data = json.dumps(args).encode() if args is not None else None
        req = urllib.request.Request(proxy.url + "/__fault/" + what, data=data, method=method)
        try:
            with URLOPEN(req, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    assert control("POST", "rules", {"kind": "error", "count": 1, "status": 503, "method": "GET"})[0] == 200
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    assert error_code(lambda: s3.get_object(Bucket=b, Key="k")) == ("SlowDown", 503)
    status, counts = control("GET", "counts")
    assert status == 200 and counts["by_kind"] == {"PUT": 2, "GET": 1} and counts["faults"] == 1, counts
    assert control("POST", "outage", {"seconds": 30})[0] == 200
    connection_error(lambda: s3.head_bucket(Bucket=b))
    assert control("POST", "clear", {})[0] == 200
    s3.head_bucket(Bucket=b)
    assert control("POST", "rules", {"kind": "bogus"})[0] == 400
    assert control("POST", "counts/reset", {})[0] == 200
    assert control("GET", "counts")[1]["total"] == 0


@contextlib.contextmanager
def proxy_command(**popen_kw):
    """fault_proxy.py run as a command in front of MOTO, with stdin and stdout
    piped; yields (process, its JSON line); killed at the end if still up."""
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.Popen(
        [sys.executable, os.path.join(here, "fault_proxy.py"), "--upstream", f"127.0.0.1:{MOTO.port}",
         "--exit-on-stdin-eof"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, **popen_kw)
    try:
        yield proc, json.loads(proc.stdout.readline())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@test
def command_line_prints_its_port_and_exits_when_stdin_closes():
    with proxy_command() as (proc, info):
        s3 = client(info["url"])
        new_bucket(s3)
        with URLOPEN(info["url"] + "/__fault/counts", timeout=5) as r:
            assert json.loads(r.read())["by_kind"] == {"PUT": 1}
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0


@test
def command_line_exits_on_sigterm_at_any_moment():
    # SIGTERM alone, and SIGTERM a moment after stdin closes (what the C++
    # tests' FaultProxy does): the proxy stops within seconds every time. Its
    # signal handler once took a lock the main thread could hold, so this
    # pairing could hang the proxy, and the test waiting for it, for good.
    for i in range(12):
        with proxy_command() as (proc, _):
            time.sleep(0.01 * (i % 4))
            if i % 3:
                proc.stdin.close()
                t0 = time.perf_counter()
                while time.perf_counter() - t0 < (i % 5) * 50e-6:
                    pass
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0, proc.returncode


@test
def command_line_runs_with_stdin_closed():
    # A parent with no fd 0: the proxy still starts, and SIGTERM stops it.
    with proxy_command(stderr=subprocess.PIPE, preexec_fn=lambda: os.close(0)) as (proc, info):
        with URLOPEN(info["url"] + "/__fault/counts", timeout=5) as r:
            assert json.loads(r.read())["total"] == 0
        assert proc.poll() is None, "exited although only its stdin was missing"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, proc.returncode
        err = proc.stderr.read().decode(errors="replace")
        assert "Traceback" not in err, err


def main():
    global MOTO
    signal.alarm(600)  # a hung test must not hang the run
    if boto3 is None or not any(os.access(os.path.join(p, "moto_server"), os.X_OK)
                                for p in os.environ.get("PATH", "").split(os.pathsep)):
        print("skipped: needs moto_server and boto3 (pip install 'moto[server]')")
        print("0 passed, 0 failed")
        return 77
    MOTO = s3server.S3Server().start()
    passed = failed = 0
    try:
        for fn in TESTS:
            t0 = time.monotonic()
            try:
                fn()
                passed += 1
                print(f"PASS {fn.__name__} ({time.monotonic() - t0:.2f}s)", flush=True)
            except Exception:  # noqa: BLE001 - report every failure and go on
                failed += 1
                print(f"FAIL {fn.__name__}", flush=True)
                traceback.print_exc()
    finally:
        MOTO.stop()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
