#!/usr/bin/env python3
"""Runs the real Litestream VFS (npm litestream-vfs-linux-amd64@0.5.17,
`litestream-vfs.so`) through Debian's sqlite3 CLI, as an oracle that reads and
writes Litestream v0.5 replicas.

Python's sqlite3 module cannot load extensions here, so every call is one
`sqlite3 -bail -json :memory:` subprocess fed a script on stdin:
  .load <so>                       registers VFS "litestream" from env vars
  .open file:walship.db?vfs=litestream
  [SELECT litestream_set_time('<RFC3339>')]   output sent to /dev/null
  <queries>
Dot-commands must be on their own lines, hence stdin, not the SQL argument.

What we learned by experiment (v0.5.17, file:// replicas):
* Logs go to STDOUT unless LITESTREAM_LOG_FILE is set, so we always set it
  (a per-call file; its tail is shown in errors).
* Opening a replica that has no LTX files (or a missing directory) in
  read-only mode BLOCKS forever waiting for a restore plan: every call has a
  timeout.
* litestream_set_time(T) picks files with CreatedAt < T (strictly; file
  backend CreatedAt = file mtime = LTX header timestamp). If no file
  qualifies it errors "cannot calc restore plan: transaction not available";
  WITHOUT -bail the CLI would then go on and answer at LATEST - so -bail is
  essential. litestream_time() returns the target time, not a file's time.
* Write mode (LITESTREAM_WRITE_ENABLED=true, LITESTREAM_BUFFER_PATH=file):
  - needs NO existing replica: on an empty/missing directory it logs "no
    existing database found, creating new database" and the first sync
    writes ltx/0/0000000000000001-0000000000000001.ltx (a full snapshot).
  - dirty pages are uploaded as ONE L0 file (MinTXID = MaxTXID = previous+1)
    per sync. A sync happens on the ticker (LITESTREAM_SYNC_INTERVAL, default
    1s) and on the final close of the connection; a COMMIT by itself does not
    upload. The buffer file is removed after a clean close.
  - After a ticker sync, further writes on the SAME connection fail with
    "database disk image is malformed" (observed with 100ms). So we set
    LITESTREAM_SYNC_INTERVAL=1h and write each batch in its own short CLI
    session: exactly one L0 file per session, flushed when sqlite3 exits
    normally. If the CLI exits on an error (-bail) nothing is uploaded.
  - Page sizes other than the default 4096 produce a replica whose
    integrity_check reports "Page N is never used": keep 4096.
  - Files it writes: NoChecksum flag, block page encoding (flag 0x0001),
    file mode 0600, mtime = header timestamp; no other objects.
  - The database it writes is in rollback-journal mode (journal_mode
    reports "delete"); `PRAGMA journal_mode=WAL` is refused.
* `VACUUM INTO 'file:/path?vfs=unix'` copies the VFS view into a plain file.
* S3 URLs: the child must not inherit AWS_CA_BUNDLE (this machine sets it and
  the VFS then fails with "unable to add custom RootCAs"). Against moto
  (s3://B/P?endpoint=http://127.0.0.1:PORT&forcePathStyle=true, credentials
  in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, see s3_env) reads, time travel
  and write mode behave as with file:// (write mode: one
  P/0000/<tx>-<tx>.ltx per session, with x-amz-meta-litestream-timestamp in
  ms, which is the CreatedAt it and walship use). Every open reads each L0
  object (plus a HEAD each with litestream_set_time): ~2 s per CLI run for
  ~180 files on moto.
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dbcheck  # noqa: E402

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VFS_SO_REL = "node_modules/litestream-vfs-linux-amd64/litestream-vfs.so"
LITESTREAM_V3_REL = "node_modules/@flydotio/litestream-linux-x64/litestream"
DEFAULT_TIMEOUT_S = 60


class VfsError(RuntimeError):
    pass


def vfs_so_path():
    """WALSHIP_LITESTREAM_VFS_SO, else <repo>/node_modules/... (npm ci)."""
    p = os.environ.get("WALSHIP_LITESTREAM_VFS_SO") or os.path.join(
        REPO_ROOT, VFS_SO_REL)
    if not os.path.isfile(p):
        raise VfsError("litestream-vfs.so not found at %s (run `npm ci` in %s "
                       "or set WALSHIP_LITESTREAM_VFS_SO)" % (p, REPO_ROOT))
    return p


def litestream_v3_path():
    """The Litestream v0.3.13 binary from @flydotio/litestream-linux-x64."""
    p = os.environ.get("WALSHIP_LITESTREAM_V3") or os.path.join(
        REPO_ROOT, LITESTREAM_V3_REL)
    if not os.path.isfile(p):
        raise VfsError("litestream v0.3 binary not found at %s" % p)
    return p


def sqlite3_cli():
    return os.environ.get("WALSHIP_SQLITE3_CLI", "sqlite3")


def file_url(path):
    return "file://" + os.path.abspath(path)


def rfc3339_ms(t):
    """RFC3339 UTC with milliseconds from epoch ms (int), a datetime, or a
    string (returned unchanged)."""
    if isinstance(t, str):
        return t
    if isinstance(t, datetime.datetime):
        if t.tzinfo is None:
            raise ValueError("naive datetime")
        t = int(t.timestamp() * 1000)
    secs, ms = divmod(int(t), 1000)
    d = datetime.datetime.fromtimestamp(secs, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % ms


def parse_rfc3339_ms(s):
    """Epoch ms (floor) from an RFC3339 string such as Go prints."""
    s = s.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    # fromisoformat in 3.11 accepts up to 6 fractional digits; Go may print 9.
    if "." in s:
        head, rest = s.split(".", 1)
        i = 0
        while i < len(rest) and rest[i].isdigit():
            i += 1
        frac, tz = rest[:i], rest[i:]
        s = head + "." + (frac + "000000")[:6] + tz
    d = datetime.datetime.fromisoformat(s)
    if d.tzinfo is None:
        d = d.replace(tzinfo=datetime.timezone.utc)
    return (int(d.replace(microsecond=0).timestamp()) * 1000 +
            d.microsecond // 1000)


def child_env(replica_url, env_extra=None, log_file=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LITESTREAM_")}
    env.pop("AWS_CA_BUNDLE", None)
    env["LITESTREAM_REPLICA_URL"] = replica_url
    if log_file:
        env["LITESTREAM_LOG_FILE"] = log_file
    for k, v in (env_extra or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def _sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def run_script(replica_url, lines, env_extra=None, timestamp=None,
               timeout=DEFAULT_TIMEOUT_S, json_mode=True):
    """Runs script lines against the VFS; returns stdout. Raises VfsError."""
    head = [".load " + vfs_so_path(), ".open file:walship.db?vfs=litestream"]
    if timestamp is not None:
        head += [".output /dev/null",
                 "SELECT litestream_set_time(%s);" %
                 _sql_str(rfc3339_ms(timestamp)),
                 ".output stdout"]
    return _run_cli(head + list(lines), replica_url, env_extra, timeout,
                    json_mode)


def run_plain_script(db_path, lines, timeout=DEFAULT_TIMEOUT_S):
    """Same CLI and output path, on a plain file opened immutable (no VFS).
    Used to check that the CLI/JSON path hashes like dbcheck's Python path."""
    uri = "file:%s?immutable=1" % urllib.parse.quote(os.path.abspath(db_path))
    return _run_cli([".open " + uri] + list(lines), None, None, timeout, True)


def _run_cli(script_lines, replica_url, env_extra, timeout, json_mode):
    with tempfile.TemporaryDirectory(prefix="walship-vfs-") as tmp:
        log_file = os.path.join(tmp, "vfs.log")
        script = "\n".join(script_lines) + "\n"
        cmd = [sqlite3_cli(), "-bail"] + (["-json"] if json_mode else []) + [
            ":memory:"]
        env = child_env(replica_url or "", env_extra, log_file)
        where = replica_url or "plain file"
        try:
            p = subprocess.run(cmd, input=script.encode(), capture_output=True,
                               env=env, timeout=timeout, cwd=tmp)
        except subprocess.TimeoutExpired:
            raise VfsError("sqlite3 + litestream VFS timed out after %ss on %s "
                           "(an empty replica blocks forever)%s" %
                           (timeout, where, _log_tail(log_file))) from None
        if p.returncode != 0:
            raise VfsError("sqlite3 + litestream VFS failed (exit %d) on %s: "
                           "%s%s" % (p.returncode, where,
                                     p.stderr.decode(errors="replace").strip(),
                                     _log_tail(log_file)))
        return p.stdout.decode("utf-8", "surrogateescape")


def _log_tail(path, n=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()[-n:]
    except OSError:
        return ""
    return ("\n  vfs log:\n    " + "\n    ".join(lines)) if lines else ""


def parse_json_stream(text):
    """The CLI's -json mode prints one JSON array per statement that returned
    rows; returns the list of arrays."""
    dec = json.JSONDecoder()
    out, i, n = [], 0, len(text)
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return out
        val, i = dec.raw_decode(text, i)
        out.append(val)


def _rows(arr):
    return [tuple(r.values()) for r in arr]


def vfs_query(replica_url, sql, env_extra=None, timestamp=None,
              timeout=DEFAULT_TIMEOUT_S):
    """Rows (tuples) of `sql` over the replica, optionally at `timestamp`
    (RFC3339 string, epoch ms, or aware datetime) via litestream_set_time.
    Several statements: their rows are concatenated."""
    sql = sql.strip()
    if not sql.endswith(";"):
        sql += ";"
    out = run_script(replica_url, [sql], env_extra, timestamp, timeout)
    rows = []
    for arr in parse_json_stream(out):
        rows += _rows(arr)
    return rows


_MARK = "walship_marker"


def _sections(text):
    """Splits -json output into {marker: [rows...]} using marker rows."""
    sections, cur = {}, None
    for arr in parse_json_stream(text):
        if len(arr) == 1 and list(arr[0].keys()) == [_MARK]:
            cur = arr[0][_MARK]
            sections[cur] = []
            continue
        if cur is None:
            raise VfsError("unexpected output before first marker")
        sections[cur] += _rows(arr)
    return sections


def _mark(name):
    return "SELECT %s AS %s;" % (_sql_str(name), _MARK)


def vfs_dump_hash(replica_url, timestamp=None, env_extra=None,
                  timeout=DEFAULT_TIMEOUT_S, with_txid=False):
    """dbcheck's content hash of the database the VFS serves (latest, or at
    `timestamp`). Two CLI runs: schema, then rows; retried if the replica
    moved in between. with_txid=True returns (hash, litestream_txid())."""
    h, txid = _cli_hash(
        lambda lines: run_script(replica_url, lines, env_extra, timestamp,
                                 timeout),
        "SELECT litestream_txid() AS txid;")
    return (h, txid) if with_txid else h


def cli_dump_hash(db_path, timeout=DEFAULT_TIMEOUT_S):
    """The content hash of a plain file computed through the sqlite3 CLI and
    its -json output, exactly as vfs_dump_hash does (for self-tests)."""
    return _cli_hash(lambda lines: run_plain_script(db_path, lines, timeout),
                     "SELECT NULL AS txid;")[0]


def _cli_hash(run, txid_sql):
    for _attempt in range(5):
        s1 = _sections(run([
            _mark("schema"), dbcheck.SCHEMA_SQL + ";",
            _mark("columns"), dbcheck.COLUMNS_SQL + ";",
            _mark("txid"), txid_sql]))
        schema = s1["schema"]
        plan = dbcheck.table_plan(schema, s1["columns"])
        lines = [_mark("schema"), dbcheck.SCHEMA_SQL + ";",
                 _mark("txid"), txid_sql]
        for i, (_name, sql) in enumerate(plan):
            lines += [_mark("t%d" % i), sql + ";"]
        s2 = _sections(run(lines))
        if s2["schema"] != schema or s2["txid"] != s1["txid"]:
            continue
        by_name = {name: s2["t%d" % i] for i, (name, _) in enumerate(plan)}
        h = dbcheck.hash_with(schema, plan,
                              lambda name, _sql: (r[0] for r in by_name[name]))
        txid = s1["txid"][0][0] if s1["txid"] else None
        return h, txid
    raise VfsError("database kept changing while hashing it")


def vfs_vacuum_into(replica_url, out_path, timestamp=None, env_extra=None,
                    timeout=DEFAULT_TIMEOUT_S):
    """Copies the VFS view into a plain SQLite file (VACUUM INTO ...vfs=unix).
    An independent way to look at what the VFS serves."""
    uri = "file:%s?vfs=unix" % os.path.abspath(out_path)
    run_script(replica_url, ["VACUUM INTO %s;" % _sql_str(uri)], env_extra,
               timestamp, timeout)


def l0_txids(replica_dir):
    """MaxTXIDs of the L0 files in a file replica, sorted."""
    d = os.path.join(replica_dir, "ltx", "0")
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return []
    return sorted(int(n.split("-")[1].split(".")[0], 16) for n in names
                  if n.endswith(".ltx"))


def vfs_write(replica_dir, buffer_path, statements, env_extra=None,
              timeout=DEFAULT_TIMEOUT_S, replica_url=None, list_l0=None):
    """Writes to a replica through the VFS write mode.

    statements: a list of SQL strings (one session) or a list of lists (one
    session each). Each session is one sqlite3 CLI run that ends with a clean
    close, which uploads exactly one L0 file. Returns the new L0 TXIDs.

    File replica: replica_dir. Other replicas (S3): replica_dir=None,
    replica_url and list_l0 (a callable returning the sorted L0 MaxTXIDs);
    env_extra then carries the credentials (see s3_env).
    """
    if statements and isinstance(statements[0], str):
        sessions = [statements]
    else:
        sessions = statements
    if replica_url is None:
        os.makedirs(replica_dir, exist_ok=True)
        url = file_url(replica_dir)
        list_l0 = list_l0 or (lambda: l0_txids(replica_dir))
    else:
        url = replica_url
        if list_l0 is None:
            raise ValueError("list_l0 is required with replica_url")
    env = {"LITESTREAM_WRITE_ENABLED": "true",
           "LITESTREAM_BUFFER_PATH": buffer_path,
           "LITESTREAM_SYNC_INTERVAL": "1h"}
    env.update(env_extra or {})
    written = []
    for stmts in sessions:
        before = list_l0()
        lines = []
        for s in stmts:
            s = s.strip()
            lines.append(s if s.endswith(";") else s + ";")
        run_script(url, lines, env, None, timeout, json_mode=False)
        after = list_l0()
        new = sorted(set(after) - set(before))
        if len(new) != 1 or (before and new[0] != before[-1] + 1):
            raise VfsError("VFS write session did not upload exactly one L0 "
                           "file (before %s, after %s)" % (before[-3:],
                                                           after[-3:]))
        written += new
    return written


def s3_env(access_key_id, secret_access_key, region="us-east-1"):
    """env_extra for S3 replica URLs (child_env drops AWS_CA_BUNDLE)."""
    return {"AWS_ACCESS_KEY_ID": access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret_access_key,
            "AWS_REGION": region, "AWS_SESSION_TOKEN": None,
            "AWS_PROFILE": None}


def l0_txids_from_keys(keys, prefix):
    """MaxTXIDs of the L0 objects among S3 keys under prefix ("a/b"), sorted
    (layout <prefix>/0000/<min>-<max>.ltx)."""
    head = (prefix.rstrip("/") + "/0000/") if prefix else "0000/"
    out = []
    for k in keys:
        if k.startswith(head) and k.endswith(".ltx"):
            name = k[len(head):]
            if "/" not in name:
                out.append(int(name.split("-")[1].split(".")[0], 16))
    return sorted(out)


# A deterministic set of write sessions for interop tests (no randomblob, no
# VACUUM: VACUUM through the VFS write mode leaves the page count unshrunk
# and integrity_check then reports "Page N is never used"). Each inner list
# is one vfs_write session = one L0 file.
SAMPLE_SESSIONS = [
    ["CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, "
     "price REAL, data BLOB)",
     "CREATE TABLE tags(tag TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID",
     "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
     "WHERE i < 200) INSERT INTO items(name, qty, price, data) SELECT "
     "'item ''' || i || '''', i * 7 % 13, i / 7.0, "
     "CAST(printf('%0300d', i) AS BLOB) FROM s",
     "INSERT INTO tags VALUES('a', 1), ('b', NULL), ('c' || char(10) || 'd', -5)"],
    ["WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s "
     "WHERE i < 2000) INSERT INTO items(name, qty, price, data) SELECT "
     "'bulk ' || i, i, i * 0.25, CAST(printf('%0900d', i) AS BLOB) FROM s"],
    ["UPDATE items SET qty = qty + 1000, price = NULL WHERE id % 5 = 0",
     "DELETE FROM items WHERE id % 7 = 3",
     "INSERT OR REPLACE INTO tags VALUES('b', 2)"],
    ["ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'n/a'",
     "CREATE INDEX items_qty ON items(qty)",
     "UPDATE items SET note = 'x' || id WHERE id < 50"],
    ["DELETE FROM items WHERE id > 600",
     "INSERT INTO items(name, qty) VALUES('last', 42)"],
]

# A row summary both sides can compute (Python sqlite3 and the VFS CLI).
SAMPLE_SUMMARY_SQL = ("SELECT count(*), sum(qty), total(price), "
                      "sum(length(data)), (SELECT group_concat(tag || '=' || "
                      "coalesce(n, 'null'), ';') FROM tags) FROM items")


def replay_plain(sessions, db_path):
    """Applies the sessions to a plain SQLite file with Python's sqlite3, one
    transaction per session; returns the content hash after each."""
    import sqlite3
    conn = sqlite3.connect(db_path, isolation_level=None)
    hashes = []
    try:
        for stmts in sessions:
            conn.execute("BEGIN")
            for stmt in stmts:
                conn.execute(stmt)
            conn.execute("COMMIT")
            hashes.append(dbcheck.content_hash_conn(conn))
    finally:
        conn.close()
    return hashes


def l0_file_mtime_ms(replica_dir, txid):
    """CreatedAt of an L0 file in a file replica (mtime, ms)."""
    p = os.path.join(replica_dir, "ltx", "0", "%016x-%016x.ltx" % (txid, txid))
    return os.stat(p).st_mtime_ns // 1_000_000


def replica_listing(replica_dir):
    """['relative/path size', ...] for a report."""
    out = []
    for root, dirs, files in os.walk(replica_dir):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            out.append("%s %d" % (os.path.relpath(p, replica_dir),
                                  os.path.getsize(p)))
    return out
