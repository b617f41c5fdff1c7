#!/usr/bin/env python3
"""Content checks for SQLite databases used by walship's end-to-end tests.

The content hash is defined once here and computed by two readers that must
agree by construction:

* ``content_hash(path)`` reads a database file through Python's sqlite3 module;
* ``litestream_vfs.vfs_dump_hash(url)`` reads a replica through the real
  Litestream VFS inside the sqlite3 CLI.

To make the two agree, every value is encoded *by SQLite itself* (``quote()``,
which is lossless for integers, reals, text and blobs) inside the SQL that
``row_query()`` builds; Python only frames and hashes the resulting strings
(``ContentHasher``). Both readers run the same SCHEMA_SQL / COLUMNS_SQL and
the same row queries.

Hash definition (sha256, all text UTF-8):
  "walship-content-hash-v1\\n"
  for each schema object (tables, indexes, views, triggers), excluding names
  starting with ``sqlite_`` or ``_litestream_``, ordered by (name, type):
      "S <type> <len>:<name> <len>:<tbl_name> <len>:<sql>\\n"
  for each table in name order:
      "T <len>:<name>\\n" then for every row "R <len>:<enc>\\n"
  where <enc> is quote(rowid) || '|' || quote(c1) || ',' || quote(c2) ...
  (rows in rowid order), or, for WITHOUT ROWID tables, the columns only,
  rows ordered by all columns. ``_wl_meta`` is included.

Opening: files are opened read-only through a URI, ``immutable=1`` by default
(right for restored files: no -wal/-shm is ever created beside them), or
``mode=ro`` with ``live=True`` for a database another process is writing.

CLI:
  dbcheck.py hash DB [--live]
  dbcheck.py commit-no DB [--live]
  dbcheck.py integrity DB [--live]
"""

import argparse
import hashlib
import re
import sqlite3
import sys
import urllib.parse

HASH_MAGIC = "walship-content-hash-v1\n"

# Names the hash ignores: SQLite internals and Litestream's bookkeeping
# tables (v0.3 used _litestream_seq/_litestream_lock in the database).
_FILTER = ("name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
           "AND name NOT LIKE '\\_litestream\\_%' ESCAPE '\\'")

SCHEMA_SQL = ("SELECT type AS type, name AS name, tbl_name AS tbl, "
              "coalesce(sql, '') AS sql FROM sqlite_master WHERE " + _FILTER +
              " ORDER BY name, type")

COLUMNS_SQL = ("SELECT m.name AS tbl, p.cid AS cid, p.name AS col "
               "FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
               "WHERE m.type = 'table' AND " +
               _FILTER.replace("name", "m.name") + " ORDER BY m.name, p.cid")

_WITHOUT_ROWID_RE = re.compile(r"\)\s*WITHOUT\s+ROWID\s*[;]?\s*$",
                               re.IGNORECASE)


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def table_plan(schema_rows, column_rows):
    """Returns [(table_name, row_sql)] in hash order.

    schema_rows: rows of SCHEMA_SQL as (type, name, tbl, sql) sequences.
    column_rows: rows of COLUMNS_SQL as (tbl, cid, col) sequences.
    """
    columns = {}
    for tbl, _cid, col in column_rows:
        columns.setdefault(tbl, []).append(col)
    plan = []
    for typ, name, _tbl, sql in schema_rows:
        if typ != "table":
            continue
        if sql.upper().startswith("CREATE VIRTUAL TABLE"):
            continue  # no rows of its own; shadow tables are hashed instead
        plan.append((name, row_query(name, columns.get(name, []),
                                     bool(_WITHOUT_ROWID_RE.search(sql)))))
    plan.sort(key=lambda p: p[0])
    return plan


def row_query(table, cols, without_rowid):
    """SQL returning one text column 'v' per row, encoded by SQLite."""
    enc_cols = " || ',' || ".join("quote(%s)" % quote_ident(c) for c in cols)
    if not enc_cols:
        enc_cols = "''"
    if without_rowid:
        order = ", ".join(quote_ident(c) for c in cols)
        return "SELECT %s AS v FROM %s ORDER BY %s" % (
            enc_cols, quote_ident(table), order)
    lower = {c.lower() for c in cols}
    rowid = next(r for r in ("rowid", "_rowid_", "oid") if r not in lower)
    return "SELECT quote(%s) || '|' || %s AS v FROM %s ORDER BY %s" % (
        rowid, enc_cols, quote_ident(table), rowid)


class ContentHasher:
    """Frames schema rows and encoded table rows into the content hash."""

    def __init__(self):
        self._h = hashlib.sha256(HASH_MAGIC.encode())

    def _put(self, s):
        self._h.update(s.encode("utf-8", "surrogatepass"))

    @staticmethod
    def _f(s):
        s = "" if s is None else str(s)
        return "%d:%s" % (len(s), s)

    def schema(self, schema_rows):
        for typ, name, tbl, sql in schema_rows:
            self._put("S %s %s %s %s\n" % (typ, self._f(name), self._f(tbl),
                                           self._f(sql)))

    def table(self, name):
        self._put("T %s\n" % self._f(name))

    def row(self, enc):
        self._put("R %s\n" % self._f(enc))

    def hexdigest(self):
        return self._h.hexdigest()


def hash_with(schema_rows, plan, fetch_rows):
    """fetch_rows(table_name, row_sql) -> iterable of encoded strings."""
    hasher = ContentHasher()
    hasher.schema(schema_rows)
    for name, sql in plan:
        hasher.table(name)
        for enc in fetch_rows(name, sql):
            hasher.row(enc)
    return hasher.hexdigest()


def content_hash_conn(conn):
    """Content hash of what `conn` sees, inside one read transaction if the
    connection is not already in one."""
    own_tx = not conn.in_transaction
    if own_tx:
        conn.execute("BEGIN")
    try:
        schema_rows = [tuple(r) for r in conn.execute(SCHEMA_SQL)]
        column_rows = [tuple(r) for r in conn.execute(COLUMNS_SQL)]
        plan = table_plan(schema_rows, column_rows)

        def fetch(_name, sql):
            for (v,) in conn.execute(sql):
                yield v

        return hash_with(schema_rows, plan, fetch)
    finally:
        if own_tx:
            conn.execute("COMMIT")


def open_ro(db_path, live=False):
    """Read-only connection; never creates files beside db_path.

    live=False: immutable=1 (restored/static files; ignores any -wal).
    live=True: mode=ro (sees the WAL of a database in use; needs its -shm).
    """
    uri = "file:%s?%s" % (urllib.parse.quote(str(db_path)),
                          "mode=ro" if live else "immutable=1")
    conn = sqlite3.connect(uri, uri=True, isolation_level=None,
                           check_same_thread=False)
    return conn


def content_hash(db_path, live=False):
    conn = open_ro(db_path, live)
    try:
        return content_hash_conn(conn)
    finally:
        conn.close()


def commit_no_conn(conn):
    """The workload's commit counter; 0 when _wl_meta does not exist yet."""
    row = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table' "
                       "AND name='_wl_meta'").fetchone()
    if row[0] == 0:
        return 0
    row = conn.execute("SELECT commit_no FROM _wl_meta WHERE id = 1").fetchone()
    return 0 if row is None else int(row[0])


def commit_no(db_path, live=False):
    conn = open_ro(db_path, live)
    try:
        return commit_no_conn(conn)
    finally:
        conn.close()


def integrity_check(db_path, live=False):
    """'ok', or the rows of PRAGMA integrity_check joined by newlines (also
    any error opening or reading the file)."""
    try:
        conn = open_ro(db_path, live)
    except sqlite3.Error as e:
        return "open failed: %s" % e
    try:
        rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    except sqlite3.Error as e:
        return "integrity_check failed: %s" % e
    finally:
        conn.close()
    return "ok" if rows == ["ok"] else "\n".join(str(r) for r in rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["hash", "commit-no", "integrity"])
    ap.add_argument("db")
    ap.add_argument("--live", action="store_true",
                    help="open with mode=ro instead of immutable=1")
    args = ap.parse_args(argv)
    if args.command == "hash":
        print(content_hash(args.db, args.live))
    elif args.command == "commit-no":
        print(commit_no(args.db, args.live))
    else:
        res = integrity_check(args.db, args.live)
        print(res)
        return 0 if res == "ok" else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
