#!/usr/bin/env python3
"""Fault-injecting HTTP/1.1 reverse proxy for tests against an S3 emulator.

Listens on 127.0.0.1 (a free port by default) in front of an upstream on
loopback (moto_server, s3rver, ...). Requests are forwarded byte-exact: the
request line, every header (Host included, case and order kept) and the body
go upstream unchanged, so SigV4 signatures still verify where checked. Each
request gets its own upstream connection; the client connection is kept alive.
Bodies are buffered in memory (test-sized objects). A client's
"Expect: 100-continue" is answered by the proxy itself (or by the injected
error), and the upstream's own interim 100 is dropped.

Faults, chosen through the Python API or the control endpoint. A rule applies
to the next `count` matching requests (None = until cleared); a rule matches a
request by method (e.g. "PUT") and by `key`, a regex searched in the URL path
(without the query). The first matching rule with requests left decides.

  error        reply `status` (500 / 503 ...) with an S3 error XML body
               (Code SlowDown for 503, InternalError otherwise, or `code`);
               the request is not forwarded.
  reset_before reset the client connection (RST) before forwarding.
  reset_after  forward, read the whole upstream response, then reset the
               client connection: the server applied the write, the client
               never hears so ("ack lost").
  delay        forward, then hold the response for `seconds` (slow response).
  outage(S)    for S seconds every request except control is reset at once;
               with refuse=True the listening socket is closed instead, so
               connections are refused (and open ones reset), then reopened
               on the same port.

Counters (requests that reached the proxy, faulted or not; control requests
and refused connections excluded): by method, and by kind: PUT, GET, HEAD, LIST (GET with
list-type=2), DELETE (DELETE, or POST with ?delete), POST (other POSTs).

Control endpoint, on the same port (no S3 bucket can be named "__fault"):
  POST /__fault/rules    JSON {"kind": "error", "count": 2, "status": 503,
                               "method": "PUT", "key": "\\.ltx$",
                               "code": "SlowDown", "seconds": 0.5}
  POST /__fault/outage   JSON {"seconds": 3, "refuse": false}
  POST /__fault/clear    drops every rule and ends an outage
  GET  /__fault/counts   JSON {"by_kind": {...}, "by_method": {...},
                               "total": N, "faults": N}
  POST /__fault/counts/reset

Command line: fault_proxy.py --upstream 127.0.0.1:PORT [--port 0] prints one
JSON line {"port": N, "url": "http://127.0.0.1:N"} and serves until SIGTERM
or SIGINT (with --exit-on-stdin-eof also until its stdin closes, so a parent
that dies takes the proxy with it).

Stdlib only. Loopback only: the upstream must be 127.0.0.1, ::1 or localhost.
"""

import argparse
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

MAX_HEAD = 64 * 1024
CONTROL_PREFIX = "/__fault/"
LOOPBACK = ("127.0.0.1", "::1", "localhost")

_ERROR_TEXT = {
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Service is unable to handle request.",
}


class _Reset(Exception):
    """The client connection is to be reset (RST) now."""


class _Closed(Exception):
    """A peer closed the connection or sent something unreadable."""


def _read_head(rfile):
    """Reads a request/response head; returns (raw bytes, first line, headers
    as a list of (lower-case name, value)). Raises _Closed on EOF."""
    raw = bytearray()
    lines = []
    while True:
        line = rfile.readline(MAX_HEAD + 1)
        if not line:
            raise _Closed("connection closed")
        raw += line
        if len(raw) > MAX_HEAD:
            raise _Closed("head too large")
        if line in (b"\r\n", b"\n"):
            if not lines:  # tolerate a stray CRLF between requests
                raw.clear()
                continue
            break
        lines.append(line.rstrip(b"\r\n").decode("latin-1"))
    headers = []
    for h in lines[1:]:
        name, _, value = h.partition(":")
        headers.append((name.strip().lower(), value.strip()))
    return bytes(raw), lines[0], headers


def _header(headers, name):
    for n, v in headers:
        if n == name:
            return v
    return None


def _read_exact(rfile, n):
    out = bytearray()
    while len(out) < n:
        chunk = rfile.read(min(n - len(out), 1 << 20))
        if not chunk:
            raise _Closed("short body")
        out += chunk
    return bytes(out)


def _read_chunked(rfile):
    """Reads a chunked body (with trailers) and returns its raw bytes."""
    out = bytearray()
    for _ in range(10_000_000):
        line = rfile.readline(MAX_HEAD)
        if not line:
            raise _Closed("short chunked body")
        out += line
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while True:  # trailers, then an empty line
                t = rfile.readline(MAX_HEAD)
                if not t:
                    raise _Closed("short chunked trailer")
                out += t
                if t in (b"\r\n", b"\n"):
                    return bytes(out)
        out += _read_exact(rfile, size + 2)
    raise _Closed("too many chunks")


def _read_body(rfile, headers):
    te = (_header(headers, "transfer-encoding") or "").lower()
    if "chunked" in te:
        return _read_chunked(rfile)
    n = int(_header(headers, "content-length") or 0)
    return _read_exact(rfile, n) if n else b""


def _reset(sock, rfile=None):
    """Closes `sock` with an RST (SO_LINGER 0) instead of a FIN."""
    try:
        if rfile is not None:
            rfile.close()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def classify(method, target):
    """The request kind counted: PUT, GET, HEAD, LIST, DELETE, POST, or the method."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query, keep_blank_values=True)
    if method == "GET":
        return "LIST" if query.get("list-type") == ["2"] else "GET"
    if method == "POST":
        return "DELETE" if "delete" in query else "POST"
    return method


def s3_error_xml(code, request_id):
    msg = _ERROR_TEXT.get(code, code)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{msg}</Message>"
        f"<RequestId>{request_id}</RequestId><HostId>fault-proxy</HostId></Error>"
    ).encode()


class Rule:
    KINDS = ("error", "reset_before", "reset_after", "delay")

    def __init__(self, kind, count=1, method=None, key=None, status=503, code=None, seconds=0.0):
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (one of {', '.join(self.KINDS)})")
        self.kind = kind
        self.count = count
        self.method = method.upper() if method else None
        self.key = re.compile(key) if key else None
        self.status = int(status)
        self.code = code or ("SlowDown" if self.status == 503 else "InternalError")
        self.seconds = float(seconds)

    def matches(self, method, path):
        if self.count is not None and self.count <= 0:
            return False
        if self.method and self.method != method:
            return False
        return not (self.key and not self.key.search(path))


class FaultProxy:
    """The proxy. start() binds and serves in background threads; stop() ends it.
    All methods are thread-safe."""

    def __init__(self, upstream_port, upstream_host="127.0.0.1", port=0, timeout=30.0):
        if upstream_host not in LOOPBACK:
            raise ValueError(f"upstream must be on loopback, not {upstream_host!r}")
        self.upstream = (upstream_host, int(upstream_port))
        self.timeout = timeout
        self._want_port = port
        self._lock = threading.Lock()
        self._rules = []
        self._outage_until = 0.0
        self._refuse_until = 0.0
        self._by_kind = {}
        self._by_method = {}
        self._total = 0
        self._faults = 0
        self._stop = threading.Event()
        self._sock = None
        self._threads = []
        self._conns = set()
        self.port = None

    # --- lifecycle ---
    def _listen(self, port):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.settimeout(0.2)
        return sock

    def start(self):
        self._sock = self._listen(self._want_port)
        self.port = self._sock.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, name="fault-proxy-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._close_listener()
        for t in self._threads:
            t.join(timeout=5)
        self._close_listener()  # if the accept loop had just reopened it

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    # --- faults ---
    def add_rule(self, kind, count=1, method=None, key=None, status=503, code=None, seconds=0.0):
        rule = Rule(kind, count, method, key, status, code, seconds)
        with self._lock:
            self._rules.append(rule)
        return rule

    def fail_next(self, n=1, status=503, method=None, key=None, code=None):
        return self.add_rule("error", n, method, key, status, code)

    def reset_before(self, n=1, method=None, key=None):
        return self.add_rule("reset_before", n, method, key)

    def reset_after(self, n=1, method=None, key=None):
        return self.add_rule("reset_after", n, method, key)

    def delay(self, seconds, n=None, method=None, key=None):
        return self.add_rule("delay", n, method, key, seconds=seconds)

    def outage(self, seconds, refuse=False):
        with self._lock:
            self._outage_until = time.monotonic() + float(seconds)
            if refuse:
                self._refuse_until = self._outage_until
        if refuse:  # refuse from now on; open connections die now, not at their next request
            self._close_listener()
            self._reset_all()

    def clear(self):
        with self._lock:
            self._rules.clear()
            self._outage_until = 0.0
            self._refuse_until = 0.0

    def _close_listener(self):
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # Linux: wakes accept(), stops listening now
            except OSError:
                pass
            sock.close()

    def _reset_all(self):
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # --- counters ---
    def counts(self):
        with self._lock:
            return {
                "by_kind": dict(self._by_kind),
                "by_method": dict(self._by_method),
                "total": self._total,
                "faults": self._faults,
            }

    def count(self, kind):
        with self._lock:
            return self._by_kind.get(kind, 0)

    def reset_counts(self):
        with self._lock:
            self._by_kind.clear()
            self._by_method.clear()
            self._total = 0
            self._faults = 0

    # --- serving ---
    def _accept_loop(self):
        while not self._stop.is_set():
            with self._lock:
                refusing = time.monotonic() < self._refuse_until
                sock = self._sock
            if refusing:
                if sock is not None:
                    self._close_listener()
                self._stop.wait(0.02)
                continue
            if sock is None:
                try:
                    sock = self._listen(self.port)
                except OSError:  # the old socket is still being torn down
                    self._stop.wait(0.05)
                    continue
                with self._lock:
                    self._sock = sock
            try:
                conn, _ = sock.accept()
            except socket.timeout:
                continue
            except OSError:  # closed by an outage or stop()
                continue
            conn.settimeout(self.timeout)
            with self._lock:
                self._conns.add(conn)
            t = threading.Thread(target=self._serve, args=(conn,), name="fault-proxy-conn", daemon=True)
            t.start()
            self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def _serve(self, conn):
        rfile = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                if not self._one_request(conn, rfile):
                    break
            rfile.close()
            conn.close()
        except _Reset:
            _reset(conn, rfile)
        except (_Closed, OSError, ValueError):
            try:
                rfile.close()
                conn.close()
            except OSError:
                pass
        finally:
            with self._lock:
                self._conns.discard(conn)

    def _decide(self, method, path, kind):
        """Counts the request; returns the rule that applies (or None), or "outage"."""
        with self._lock:
            self._total += 1
            self._by_kind[kind] = self._by_kind.get(kind, 0) + 1
            self._by_method[method] = self._by_method.get(method, 0) + 1
            if time.monotonic() < self._outage_until:
                self._faults += 1
                return "outage"
            for r in self._rules:
                if r.matches(method, path):
                    if r.count is not None:
                        r.count -= 1
                    self._faults += 1
                    return r
        return None

    def _one_request(self, conn, rfile):
        """Serves one request; False when the client connection is to be closed."""
        try:
            raw_head, line, headers = _read_head(rfile)
        except (_Closed, socket.timeout):
            return False
        parts = line.split(" ")
        if len(parts) != 3:
            raise _Closed("bad request line")
        method, target, _ = parts
        path = urllib.parse.unquote(urllib.parse.urlsplit(target).path)
        if path.startswith(CONTROL_PREFIX):
            body = _read_body(rfile, headers)
            self._control(conn, method, path, body)
            return True
        rule = self._decide(method, path, classify(method, target))
        if rule == "outage" or (rule and rule.kind == "reset_before"):
            raise _Reset()
        expect = (_header(headers, "expect") or "").lower() == "100-continue"
        if rule and rule.kind == "error":
            if expect:  # answer instead of 100 Continue; the body never comes
                self._send_error(conn, rule, close=True)
                return False
            _read_body(rfile, headers)
            self._send_error(conn, rule, close=False)
            return True
        if expect:  # we read the body now; upstream's own 100 is dropped below
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = _read_body(rfile, headers)
        response, close = self._forward(method, raw_head + body)
        if rule and rule.kind == "reset_after":
            raise _Reset()
        if rule and rule.kind == "delay":
            self._stop.wait(rule.seconds)
        conn.sendall(response)
        client_close = (_header(headers, "connection") or "").lower() == "close"
        return not (close or client_close)

    def _forward(self, method, request):
        """Sends the request upstream on a new connection; returns (raw final
        response, whether it asked to close)."""
        with socket.create_connection(self.upstream, timeout=self.timeout) as up:
            up.sendall(request)
            urfile = up.makefile("rb")
            try:
                while True:
                    raw, status_line, headers = _read_head(urfile)
                    status = int(status_line.split(" ")[1])
                    if 100 <= status < 200:
                        continue  # interim (100 Continue): already sent our own
                    break
                te = (_header(headers, "transfer-encoding") or "").lower()
                if method == "HEAD" or status in (204, 304):
                    body = b""
                elif "chunked" in te:
                    body = _read_chunked(urfile)
                elif _header(headers, "content-length") is not None:
                    body = _read_exact(urfile, int(_header(headers, "content-length")))
                else:  # delimited by close
                    body = urfile.read()
                    if "connection" not in (n for n, _ in headers):
                        raw = raw[:-2] + b"Connection: close\r\n\r\n"
                    return raw + body, True
            finally:
                urfile.close()
        close = (_header(headers, "connection") or "").lower() == "close"
        return raw + body, close

    def _send_error(self, conn, rule, close):
        with self._lock:
            rid = f"fault-{self._faults}"
        body = s3_error_xml(rule.code, rid)
        reason = {500: "Internal Server Error", 503: "Service Unavailable"}.get(rule.status, "Error")
        head = (
            f"HTTP/1.1 {rule.status} {reason}\r\n"
            "Content-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"x-amz-request-id: {rid}\r\n"
            + ("Connection: close\r\n" if close else "")
            + "\r\n"
        )
        conn.sendall(head.encode() + body)

    def _control(self, conn, method, path, body):
        try:
            args = json.loads(body or b"{}")
            what = path[len(CONTROL_PREFIX):].rstrip("/")
            if what == "counts" and method == "GET":
                out = self.counts()
            elif what == "counts/reset" and method == "POST":
                self.reset_counts()
                out = {"ok": True}
            elif what == "rules" and method == "POST":
                self.add_rule(
                    args["kind"], args.get("count", 1), args.get("method"), args.get("key"),
                    args.get("status", 503), args.get("code"), args.get("seconds", 0.0))
                out = {"ok": True}
            elif what == "outage" and method == "POST":
                self.outage(args["seconds"], bool(args.get("refuse", False)))
                out = {"ok": True}
            elif what == "clear" and method == "POST":
                self.clear()
                out = {"ok": True}
            else:
                raise ValueError(f"unknown control request {method} {path}")
            status = "200 OK"
        except (ValueError, KeyError, TypeError, re.error) as e:
            out, status = {"error": str(e)}, "400 Bad Request"
        data = json.dumps(out).encode()
        conn.sendall(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the emulator (loopback)")
    ap.add_argument("--port", type=int, default=0, help="port to listen on (0 = a free one)")
    ap.add_argument("--exit-on-stdin-eof", action="store_true", help="also stop when stdin closes")
    args = ap.parse_args(argv)
    host, _, port = args.upstream.rpartition(":")
    # The signal handler only flips a flag. It must not take a lock: it runs
    # in the main thread between two bytecodes, possibly while that thread
    # holds that very lock (an Event.set() there can deadlock when SIGTERM
    # comes just as the stdin thread wakes the main loop). It is in place
    # before the port is printed, so a SIGTERM right after is a clean stop.
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append("SIGTERM"))
    proxy = FaultProxy(int(port), upstream_host=host or "127.0.0.1", port=args.port).start()
    print(json.dumps({"port": proxy.port, "url": proxy.url}), flush=True)

    def wait_stdin():
        # Raw reads of fd 0, not sys.stdin: no buffered reader's lock held by
        # a daemon thread at interpreter shutdown, and fd 0 may be closed.
        try:
            while os.read(0, 4096):
                pass
        except OSError:  # no stdin to watch (fd 0 closed): SIGTERM only
            return
        stop.append("stdin closed")

    if args.exit_on_stdin_eof:
        threading.Thread(target=wait_stdin, daemon=True).start()
    try:
        while not stop:
            time.sleep(0.1)
    except KeyboardInterrupt:
        pass
    proxy.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
