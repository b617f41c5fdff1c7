#!/usr/bin/env python3
"""Tests of s3server.py's start errors, with fake moto_server scripts (no real
server needed): a server that exits at start, and one that never says which
port it listens on, give an error that quotes their output; an environment
given to S3Server is the server's. The log they
wrote to is a temporary file that stop() removes, so naming it is not enough.

Last line: "N passed, M failed"; exit 0 if none failed, 1 otherwise.
"""

import os
import re
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import s3server  # noqa: E402


def fake_server(d, name, body):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body + "\n")
    os.chmod(path, stat.S_IRWXU)
    return path


def start_error(path, timeout, env=None):
    """The S3ServerError of starting the fake server at path, or None."""
    os.environ["WALSHIP_MOTO_SERVER"] = path
    srv = s3server.S3Server(env=env)
    try:
        srv.start(timeout=timeout)
    except s3server.S3ServerError as e:
        return srv, str(e)
    srv.stop()
    return srv, None


def test_exit_at_start(d):
    srv, err = start_error(fake_server(d, "exits", "echo 'fake moto_server: refusing on purpose' >&2; exit 3"), 10)
    assert err is not None, "start succeeded"
    assert "exited 3 at start" in err, err
    assert "refusing on purpose" in err, err
    # The log quoted is the temporary one, and stop() removed it.
    m = re.search(r"log (\S+walship-moto-\S+\.log):", err)
    assert m, err
    assert not os.path.exists(m.group(1)), "the temporary log was kept: " + m.group(1)


def test_never_announces(d):
    t0 = time.monotonic()
    srv, err = start_error(fake_server(d, "silent", "echo 'fake moto_server: up, port unsaid'; exec sleep 60"), 2)
    assert err is not None, "start succeeded"
    assert "did not answer within 2s" in err, err
    assert "port unsaid" in err, err
    assert srv.proc.poll() is not None, "the server was left running"
    assert time.monotonic() - t0 < 30, "stop() took too long"


def test_env_reaches_server(d):
    # The bench gives moto an environment of its own (malloc tunables); the
    # server must get that one, and without it this process's.
    path = fake_server(d, "env", "echo \"mark=[$WALSHIP_TEST_MARK]\"; exit 3")
    env = dict(os.environ, WALSHIP_TEST_MARK="given-42")
    _, err = start_error(path, 10, env=env)
    assert err is not None and "mark=[given-42]" in err, err
    os.environ.pop("WALSHIP_TEST_MARK", None)
    _, err = start_error(path, 10)
    assert err is not None and "mark=[]" in err, err


def main():
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="walship-s3server-test-") as d:
        for t in (test_exit_at_start, test_never_announces, test_env_reaches_server):
            try:
                t(d)
                passed += 1
                print("ok   %s" % t.__name__)
            except AssertionError as e:
                failed += 1
                print("FAIL %s: %s" % (t.__name__, e))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
