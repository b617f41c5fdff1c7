#!/usr/bin/env python3
"""TEST DOUBLE for the e2e harness only: NOT walship, NOT the Litestream
format. It speaks the slice of walship's CLI that tests/e2e uses, so the
harness's own logic (timing of quiet windows, TXID/created checks, kill -9
handling, exit codes) can be exercised before the real binary exists:

  fake_walship.py replicate -config CFG     (file replica only)
  fake_walship.py restore -o OUT [-txid HEX16 | -timestamp RFC3339] [-force] REPLICA
  fake_walship.py ltx -json REPLICA

"Replication" = every monitor tick, if the database's content changed, a
consistent copy (backup API) is stored as REPLICA/fake/<txid>.db with its
creation time as mtime. Restores copy the newest copy with txid <= -txid or
created < -timestamp. A replica holding real LTX files (ltx/) is restored
through the Litestream VFS instead (exercises the harness's VFS-write interop
checks); the interop read checks need walship's LTX output and fail here.
FAKE_WALSHIP_BUG=overwrite|txid_off_by_one|late_ts injects a bug, to check
that the harness notices.
"""

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import litestream_vfs as lvfs  # noqa: E402
from litestream_vfs import parse_rfc3339_ms, rfc3339_ms  # noqa: E402


def parse_config(path):
    """Just enough YAML: the first `path:` is the DB, the one after
    `replica:` is the replica directory; `monitor-interval: Nms`."""
    db = replica = None
    interval = 0.1
    in_replica = False
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s.startswith("replica:"):
                in_replica = True
            m = re.match(r"-?\s*path:\s*(\S+)", s)
            if m:
                if in_replica:
                    replica = m.group(1)
                elif db is None:
                    db = m.group(1)
            m = re.match(r"monitor-interval:\s*(\d+)ms", s)
            if m:
                interval = int(m.group(1)) / 1000.0
    return db, replica, interval


def snapshots(replica):
    d = os.path.join(replica, "fake")
    out = []
    for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if n.endswith(".db"):
            p = os.path.join(d, n)
            out.append((int(n[:-3], 16), os.stat(p).st_mtime_ns // 1000000, p))
    return out


def replicate(args):
    db, replica, interval = parse_config(args.config)
    d = os.path.join(replica, "fake")
    os.makedirs(d, exist_ok=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    have = snapshots(replica)
    txid = have[-1][0] if have else 0
    last_version = None
    src = None
    while True:
        final = bool(stop)
        try:
            if src is None and os.path.exists(db):
                src = sqlite3.connect("file:%s?mode=ro" % db, uri=True,
                                      isolation_level=None)
            if src is not None:
                src.execute("BEGIN")
                has = src.execute("SELECT count(*) FROM sqlite_master "
                                  "WHERE name = '_wl_meta'").fetchone()[0]
                ver = src.execute("SELECT commit_no FROM _wl_meta WHERE "
                                  "id = 1").fetchone()[0] if has else -1
                if ver != last_version:
                    tmp = os.path.join(d, "tmp")
                    dst = sqlite3.connect(tmp)
                    src.backup(dst)
                    dst.close()
                    src.execute("COMMIT")
                    txid += 1
                    p = os.path.join(d, "%016x.db" % txid)
                    os.replace(tmp, p)
                    now = time.time_ns()
                    os.utime(p, ns=(now, now))
                    last_version = ver
                else:
                    src.execute("COMMIT")
        except sqlite3.Error as e:
            print("fake replicate: %s" % e, file=sys.stderr)
            src = None
        if final:
            return 0
        time.sleep(interval)


def restore(args):
    out = args.o
    bug = os.environ.get("FAKE_WALSHIP_BUG", "")  # to prove tests can fail
    if os.path.exists(out) and os.path.getsize(out) > 0 and not args.force \
            and bug != "overwrite":
        print("restore: output %s already exists" % out, file=sys.stderr)
        return 1
    if args.txid and args.timestamp:
        print("restore: cannot specify both -txid and -timestamp",
              file=sys.stderr)
        return 1
    if os.path.isdir(os.path.join(args.replica, "ltx")):
        return restore_ltx_via_vfs(args)
    cands = snapshots(args.replica)
    if args.txid:
        cands = [c for c in cands if c[0] <= int(args.txid, 16) -
                 (bug == "txid_off_by_one")]
    if args.timestamp:
        t = parse_rfc3339_ms(args.timestamp)
        if cands and t > cands[-1][1]:
            print("restore: timestamp after the newest backup", file=sys.stderr)
            return 1
        cands = [c for c in cands if c[1] < t + 1000 * (bug == "late_ts")]
    if not cands:
        print("restore: no matching backup files available", file=sys.stderr)
        return 1
    shutil.copyfile(cands[-1][2], out + ".tmp")
    os.replace(out + ".tmp", out)
    return 0


def restore_ltx_via_vfs(args):
    """A real LTX replica (e.g. written by the VFS write mode): let the
    Litestream VFS do the restore (VACUUM INTO). -txid maps to that L0 file's
    mtime + 1 ms."""
    ts = args.timestamp
    if args.txid:
        ts = lvfs.l0_file_mtime_ms(args.replica, int(args.txid, 16)) + 1
    try:
        lvfs.vfs_vacuum_into(lvfs.file_url(args.replica), args.o + ".tmp", ts)
    except (lvfs.VfsError, OSError) as e:
        print("restore: %s" % e, file=sys.stderr)
        return 1
    os.replace(args.o + ".tmp", args.o)
    return 0


def ltx(args):
    rows = [{"level": 0, "min_txid": "%016x" % t, "max_txid": "%016x" % t,
             "size": os.path.getsize(p), "created": rfc3339_ms(ms)}
            for t, ms, p in snapshots(args.replica)]
    print(json.dumps(rows) if args.json else "\n".join(map(str, rows)))
    return 0


def main(argv):
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("replicate")
    r.add_argument("-config", required=True)
    r.set_defaults(fn=replicate)
    s = sub.add_parser("restore")
    s.add_argument("-o", required=True)
    s.add_argument("-txid")
    s.add_argument("-timestamp")
    s.add_argument("-force", action="store_true")
    s.add_argument("replica")
    s.set_defaults(fn=restore)
    lx = sub.add_parser("ltx")
    lx.add_argument("-json", action="store_true")
    lx.add_argument("replica")
    lx.set_defaults(fn=ltx)
    args = ap.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
