#!/usr/bin/env python3
"""Compaction interop with the real Litestream v0.5.17 VFS (issue 5).

Part 1: `walship replicate` with fast levels (L1 2s, L2 6s), snapshots every
30s, l0-retention 5s (checked every 2s) ships a live database a seeded
workload writes from its own process for ~40 s. The replica then holds L1/L2
files, L0 files deleted by retention and more than one snapshot. The
Litestream VFS reads it at the latest point and at 10 past points
(litestream_set_time, which takes files with CreatedAt < T strictly: we use
T = a file's CreatedAt + 1 ms); each view must equal walship's restore at the
same point (-timestamp CreatedAt, files created at or before it) and the
writer's logged state for the commit the database holds.

Part 2: the VFS write mode (LITESTREAM_WRITE_ENABLED) writes a replica. The
v0.5.17 extension never compacts it: VFS compaction exists in the Go library
(VFS.CompactionEnabled, Litestream #979) but the loadable extension reads no
setting that enables it (cmd/litestream-vfs/main.go reads only
LITESTREAM_REPLICA_URL / LOG_* / WRITE_ENABLED / SYNC_INTERVAL / BUFFER_PATH /
HYDRATION_*). So walship's compactor compacts the VFS-written replica (the
test tool walship_compact_replica), the VFS keeps writing on top of the
compacted replica, and walship restores it at the latest point and at every
TXID and time still restorable; the VFS reads it too.

  e2e_compaction_interop.py --walship BIN --compact-tool BIN [--seed N]
                            [--duration-s 40] [--keep]
Prints PASS/FAIL lines and "N passed, M failed"; exit 0 iff nothing failed.
"""

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SUPPORT = os.path.join(HERE, "..", "support")
sys.path.insert(0, SUPPORT)
sys.path.insert(0, HERE)
import dbcheck  # noqa: E402
import litestream_vfs as lvfs  # noqa: E402
from e2e_replicate_restore import Results, WorkloadLog, spread, _err  # noqa: E402

WORKLOAD = os.path.join(SUPPORT, "workload.py")
CMD_TIMEOUT_S = 60
VFS_PAST_POINTS = 10

CONFIG = """\
levels:
  - interval: 2s
  - interval: 6s
snapshot:
  interval: 30s
  retention: 1h
l0-retention: 5s
l0-retention-check-interval: 2s
dbs:
  - path: %(db)s
    monitor-interval: 100ms
    replica:
      type: file
      path: %(replica)s
      sync-interval: 200ms
"""


def now_ms():
    return int(time.time() * 1000)


def listing(replica):
    """[(level, min, max, created_ms, path)] of a file replica, sorted."""
    out = []
    root = os.path.join(replica, "ltx")
    if not os.path.isdir(root):
        return out
    for lvl in sorted(os.listdir(root)):
        d = os.path.join(root, lvl)
        for name in sorted(os.listdir(d)):
            if not name.endswith(".ltx") or "-" not in name:
                continue
            a, b = name[:-4].split("-")
            p = os.path.join(d, name)
            out.append((int(lvl), int(a, 16), int(b, 16),
                        os.stat(p).st_mtime_ns // 1_000_000, p))
    return sorted(out)


class Test:

    def __init__(self, args, res):
        self.args = args
        self.res = res
        self.rng = random.Random(args.seed)
        self.tmp = tempfile.mkdtemp(prefix="walship-e2e-compact-")
        self.db = os.path.join(self.tmp, "app.db")
        self.replica = os.path.join(self.tmp, "replica")
        self.out = os.path.join(self.tmp, "restored")
        os.makedirs(self.out)
        self.procs = []
        self.files = []
        self.n = 0

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in self.files:
            f.close()

    def walship(self, argv, timeout=CMD_TIMEOUT_S):
        try:
            return subprocess.run([self.args.walship] + argv,
                                  capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(e.cmd, -1, b"",
                                               b"timed out")

    def restore(self, replica, extra=()):
        self.n += 1
        out = os.path.join(self.out, "r%d.db" % self.n)
        p = self.walship(["restore", "-o", out] + list(extra) + [replica])
        return p, out

    # ---- part 1 ----------------------------------------------------------

    def replicate(self):
        cfg = os.path.join(self.tmp, "walship.yml")
        with open(cfg, "w") as f:
            f.write(CONFIG % {"db": self.db, "replica": self.replica})
        wl_log = os.path.join(self.tmp, "workload.jsonl")
        err = open(os.path.join(self.tmp, "workload.stderr"), "w")
        log = open(os.path.join(self.tmp, "walship.log"), "w")
        self.files += [err, log]
        wl = subprocess.Popen(
            [sys.executable, WORKLOAD, "--db", self.db, "--log", wl_log,
             "--seed", str(self.args.seed), "--duration-s",
             str(self.args.duration_s), "--rate", "25", "--quiet-every", "20",
             "--quiet-ms", "600", "--big-tx-mb", "2"],
            stdout=err, stderr=err, start_new_session=True)
        self.procs.append(wl)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
                os.path.exists(wl_log) and os.path.getsize(wl_log)):
            time.sleep(0.05)
        ws = subprocess.Popen([self.args.walship, "replicate", "-config", cfg],
                              stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
        self.procs.append(ws)
        rc = wl.wait(timeout=self.args.duration_s + 60)
        self.res.check("workload exited 0", rc == 0, "exit code %s" % rc)
        # Let the levels and L0 retention run past the last write.
        time.sleep(8)
        alive = ws.poll() is None
        self.res.check("walship replicate still running", alive,
                       "exit code %s; see %s" % (ws.poll(), log.name))
        ws.send_signal(signal.SIGTERM)
        try:
            rc = ws.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ws.kill()
            rc = ws.wait()
        self.res.check("walship exits 0 on SIGTERM", rc == 0,
                       "exit code %s" % rc)
        w = WorkloadLog(wl_log)
        self.res.check("workload log complete", w.done is not None and
                       w.last is not None)
        return w

    def check_shape(self, files):
        per = {}
        for lvl, _a, _b, _c, _p in files:
            per[lvl] = per.get(lvl, 0) + 1
        print("  replica files per level: %s" % dict(sorted(per.items())),
              flush=True)
        l0 = [f for f in files if f[0] == 0]
        self.res.check("replica has level-1 files", per.get(1, 0) > 0)
        self.res.check("replica has level-2 files", per.get(2, 0) > 0)
        self.res.check("replica has more than one snapshot",
                       per.get(9, 0) > 1, "%d" % per.get(9, 0))
        self.res.check("L0 retention deleted old L0 files",
                       l0 and l0[0][1] > 1 and len(l0) < l0[-1][2],
                       "L0 %s" % [(f[1], f[2]) for f in l0[:5]])

    def restored_commit(self, path, wl, name):
        """Integrity, commit_no and hash == logged state; returns (commit,
        hash) or None."""
        integ = dbcheck.integrity_check(path)
        if not self.res.check(name + " integrity_check", integ == "ok",
                              integ[:300]):
            return None
        c = dbcheck.commit_no(path)
        h = dbcheck.content_hash(path)
        logged = wl.commits.get(c)
        self.res.check(name + " == logged state of commit %d" % c,
                       logged is not None and logged["hash"] == h,
                       "no such commit" if logged is None else "hash differs")
        return c, h

    def vfs_commit(self, url, ts=None):
        rows = lvfs.vfs_query(url, "SELECT commit_no FROM _wl_meta WHERE id=1",
                              timestamp=ts)
        return int(rows[0][0]) if rows else None

    def part1(self):
        wl = self.replicate()
        if wl.last is None:
            return
        files = listing(self.replica)
        self.check_shape(files)
        url = lvfs.file_url(self.replica)
        p, latest = self.restore(self.replica)
        if self.res.check("walship restore latest exits 0", p.returncode == 0,
                          _err(p)):
            r = self.restored_commit(latest, wl, "walship restore latest")
            self.res.check("walship latest holds the last commit",
                           r is not None and r[0] == wl.last,
                           "commit %s != %s" % (r and r[0], wl.last))
        try:
            h = lvfs.vfs_dump_hash(url)
            self.res.check("Litestream VFS at latest == last logged commit",
                           h == wl.commits[wl.last]["hash"])
        except lvfs.VfsError as e:
            self.res.check("Litestream VFS reads walship's compacted replica",
                           False, str(e)[:800])
            return
        # A TXID inside a compacted range (its L0 files are gone) is refused
        # with the nearest restorable TXIDs, and leaves nothing.
        ends = {f[2] for f in files}
        inside = [x for x in range(2, max(ends)) if x not in ends]
        self.res.check("some TXIDs are only inside compacted files",
                       bool(inside))
        for x in spread(inside, 2):
            p, out = self.restore(self.replica, ["-txid", "%016x" % x])
            err = _err(p)
            self.res.check("walship -txid %x (inside a compacted file) fails "
                           "naming the nearest restorable TXIDs" % x,
                           p.returncode != 0 and "nearest restorable" in err
                           and not os.path.exists(out),
                           "exit %d: %s" % (p.returncode, err))
        # Past points: CreatedAt of files of every kind (levels 1, 2, 9 and
        # the L0 files that are left), except the very newest.
        newest = max(f[3] for f in files)
        by_kind = {}
        for f in files:
            if f[3] < newest:
                by_kind.setdefault(min(f[0], 3), []).append(f)
        picks = []
        for kind in sorted(by_kind):
            picks += spread(sorted(by_kind[kind], key=lambda f: f[3]), 4)
        picks = sorted(set(picks), key=lambda f: f[3])
        picks = spread(picks, VFS_PAST_POINTS)
        self.res.check("at least %d past points" % VFS_PAST_POINTS,
                       len(picks) >= VFS_PAST_POINTS, "got %d" % len(picks))
        for lvl, _a, b, created, _path in picks:
            ts_w = lvfs.rfc3339_ms(created)       # walship: CreatedAt <= T
            ts_v = lvfs.rfc3339_ms(created + 1)   # VFS: CreatedAt < T
            name = "point %s (L%d ..%x)" % (ts_w, lvl, b)
            p, out = self.restore(self.replica, ["-timestamp", ts_w])
            if not self.res.check(name + ": walship -timestamp exits 0",
                                  p.returncode == 0, _err(p)):
                continue
            r = self.restored_commit(out, wl, name + ": walship -timestamp")
            if r is None:
                continue
            try:
                vh = lvfs.vfs_dump_hash(url, timestamp=ts_v)
                vc = self.vfs_commit(url, ts_v)
            except lvfs.VfsError as e:
                self.res.check(name + ": VFS reads it", False, str(e)[:500])
                continue
            self.res.check(name + ": VFS == walship (commit %d)" % r[0],
                           vh == r[1], "VFS commit %s" % vc)
            self.res.check(name + ": VFS == logged state of commit %s" % vc,
                           vc in wl.commits and
                           wl.commits[vc]["hash"] == vh)
            # The file's own TXID restores exactly to the same state.
            p, out = self.restore(self.replica, ["-txid", "%016x" % b])
            if self.res.check(name + ": walship -txid %x exits 0" % b,
                              p.returncode == 0, _err(p)):
                self.res.check(name + ": -txid %x == -timestamp" % b,
                               dbcheck.content_hash(out) == r[1])

    # ---- part 2 ----------------------------------------------------------

    def compact(self, vrep, *ops):
        tmp = os.path.join(self.tmp, "compact-tmp")
        os.makedirs(tmp, exist_ok=True)
        p = subprocess.run([self.args.compact_tool, vrep, tmp] + list(ops),
                           capture_output=True, timeout=CMD_TIMEOUT_S)
        out = p.stdout.decode(errors="replace").strip()
        self.res.check("walship compacts the VFS replica: %s" % " ".join(ops),
                       p.returncode == 0 and out, _err(p) or "nothing written")
        if out:
            print("    " + out.replace("\n", "\n    "), flush=True)

    def part2(self):
        vrep = os.path.join(self.tmp, "vfs-replica")
        buf = os.path.join(self.tmp, "vfs-buffer")
        sessions = lvfs.SAMPLE_SESSIONS + [
            ["INSERT INTO items(name, qty) VALUES('after compaction', 7)",
             "UPDATE tags SET n = 99 WHERE tag = 'a'"]]
        expect = lvfs.replay_plain(sessions,
                                   os.path.join(self.tmp, "vfs-plain.db"))
        try:
            tx = lvfs.vfs_write(vrep, buf, sessions[:3])
            time.sleep(0.05)
            self.compact(vrep, "compact:1")
            tx += lvfs.vfs_write(vrep, buf, sessions[3:5])
            time.sleep(0.05)
            self.compact(vrep, "compact:1", "compact:2")
            time.sleep(0.05)
            self.compact(vrep, "l0-retention:1")
            # The VFS writes on top of the replica walship compacted.
            tx += lvfs.vfs_write(vrep, buf, sessions[5:])
        except lvfs.VfsError as e:
            self.res.check("Litestream VFS write mode around compaction",
                           False, str(e)[:800])
            return
        files = listing(vrep)
        print("  VFS replica after compaction: %s" % [
            "L%d %x-%x" % (f[0], f[1], f[2]) for f in files], flush=True)
        self.res.check("VFS replica has walship's L1 and L2 files",
                       any(f[0] == 1 for f in files) and
                       any(f[0] == 2 for f in files))
        self.res.check("L0 retention deleted the VFS's compacted L0 files",
                       not any(f[0] == 0 and f[2] <= 4 for f in files))
        self.res.check("the VFS wrote TXID %d after the compaction" %
                       len(sessions), tx == list(range(1, len(sessions) + 1)),
                       str(tx))
        p, out = self.restore(vrep)
        if self.res.check("walship restores the compacted VFS replica",
                          p.returncode == 0, _err(p)):
            self.res.check("... integrity_check",
                           dbcheck.integrity_check(out) == "ok")
            self.res.check("... latest == the VFS's last session",
                           dbcheck.content_hash(out) == expect[-1])
        try:
            vh = lvfs.vfs_dump_hash(lvfs.file_url(vrep))
            self.res.check("the VFS reads its walship-compacted replica",
                           vh == expect[-1])
        except lvfs.VfsError as e:
            self.res.check("the VFS reads its walship-compacted replica",
                           False, str(e)[:500])
        # Every file end restores exactly (TXID and CreatedAt), the rest is
        # refused with a clear error and leaves nothing.
        ends = sorted({f[2] for f in files})
        for t in range(1, len(sessions) + 1):
            p, out = self.restore(vrep, ["-txid", "%016x" % t])
            if t in ends:
                if self.res.check("VFS replica -txid %d exits 0" % t,
                                  p.returncode == 0, _err(p)):
                    self.res.check("VFS replica -txid %d == session %d" %
                                   (t, t),
                                   dbcheck.content_hash(out) == expect[t - 1])
            else:
                self.res.check(
                    "VFS replica -txid %d (compacted away) fails cleanly" % t,
                    p.returncode != 0 and not os.path.exists(out) and
                    _err(p) != "", "exit %d: %s" % (p.returncode, _err(p)))
        for f in files:
            if f[2] == ends[-1]:
                continue
            p, out = self.restore(vrep, ["-timestamp",
                                         lvfs.rfc3339_ms(f[3])])
            name = "VFS replica -timestamp CreatedAt of L%d %x-%x" % (
                f[0], f[1], f[2])
            if self.res.check(name + " exits 0", p.returncode == 0, _err(p)):
                self.res.check(name + " == session %d" % f[2],
                               dbcheck.content_hash(out) == expect[f[2] - 1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--walship", required=True)
    ap.add_argument("--compact-tool", required=True)
    ap.add_argument("--seed", type=int,
                    default=int.from_bytes(os.urandom(4), "big"))
    ap.add_argument("--duration-s", type=float, default=40.0)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)
    res = Results()
    print("e2e compaction interop: seed %d (rerun with --seed %d)" %
          (args.seed, args.seed), flush=True)
    for what, path in (("walship", args.walship),
                       ("compact tool", args.compact_tool)):
        if not os.access(path, os.X_OK):
            res.check("%s binary exists" % what, False, path)
            return res.summary()
    try:
        lvfs.vfs_so_path()
    except lvfs.VfsError as e:
        res.check("Litestream VFS extension present", False, str(e))
        return res.summary()
    t = Test(args, res)
    print("  work dir %s" % t.tmp, flush=True)
    started = time.monotonic()
    try:
        t.part1()
        print("  [%.1fs] VFS write mode + walship compaction" %
              (time.monotonic() - started), flush=True)
        t.part2()
    except Exception:
        res.check("harness ran without exceptions", False,
                  traceback.format_exc())
    finally:
        t.cleanup()
    print("  %d restores, %.1fs" % (t.n, time.monotonic() - started),
          flush=True)
    if res.failed or args.keep:
        print("  kept %s" % t.tmp, flush=True)
    else:
        import shutil
        shutil.rmtree(t.tmp, ignore_errors=True)
    return res.summary()


if __name__ == "__main__":
    sys.exit(main())
