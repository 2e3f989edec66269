"""Aged databases: a SQLite file holding many finished instances, built fast.

Creating a million instances through an engine's API takes hours, so a few
finished instances are created through the API (``make_template`` in the
scenario scripts) and their rows are cloned with SQL inside the file: every
row of a template instance, in every table that has the instance key column
(``instance_id`` for Wayline, ``workflow_uuid`` for DBOS), is copied once per
clone with a unique key, its timestamps moved back in time so ``created_at``
is spread over the past, and the template's id replaced by the clone's inside
its text columns. Columns come from ``PRAGMA table_info``, so the cloning keeps
working when migrations add columns or tables.

The result is cached in ``.bench-cache/aged/`` under a key that includes the
schema digest of the current code, and copied for each run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import time
from pathlib import Path

# Integer columns holding a point in time (shifted back per clone).
TIME_COLUMN = re.compile(r"(_at|_epoch_ms|timestamp)$")
SPACING_S = 1  # clones are created one second apart, the newest just before the templates


def _time_unit(value: int) -> int:
    """How many units of this timestamp make a second (s, ms or µs since 1970)."""
    if value > 10**14:
        return 1_000_000
    if value > 10**11:
        return 1000
    return 1


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, int]]:
    """(name, declared type, primary-key position) of each column of ``table``."""
    rows = conn.execute(f'SELECT name, type, pk FROM pragma_table_info("{table}")').fetchall()
    return [(str(name), str(kind).upper(), int(pk)) for name, kind, pk in rows]


def keyed_tables(conn: sqlite3.Connection, key: str) -> list[str]:
    """Every table that has the column ``key``."""
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    return [t for t in names if any(c[0] == key for c in _columns(conn, t))]


def _select_expressions(
    conn: sqlite3.Connection, table: str, key: str, count: int
) -> tuple[list[str], list[str]]:
    """The column list and the SELECT expressions that clone one row of ``table``."""
    columns = _columns(conn, table)
    pk_columns = [c for c in columns if c[2] > 0]
    sample = conn.execute(f'SELECT * FROM "{table}" LIMIT 1').fetchone()
    samples = dict(zip([c[0] for c in columns], sample or [None] * len(columns), strict=True))
    new_key = "printf('aged-%08d', seq.n)"
    names, exprs = [], []
    for name, kind, pk in columns:
        quoted = f't."{name}"'
        if name == key:
            expr = new_key
        elif pk and len(pk_columns) == 1 and kind == "INTEGER":
            continue  # a rowid alias (AUTOINCREMENT ids): SQLite assigns new ones
        elif "INT" in kind and TIME_COLUMN.search(name) and isinstance(samples[name], int):
            unit = _time_unit(samples[name])
            expr = f"{quoted} - ({count} - seq.n) * {SPACING_S * unit}"
        elif any(word in kind for word in ("TEXT", "CHAR", "CLOB")) or kind == "":
            expr = f"replace({quoted}, tmpl.id, {new_key})"
        else:
            expr = quoted
        names.append(f'"{name}"')
        exprs.append(expr)
    return names, exprs


def clone_instances(path: Path, key: str, templates: list[str], count: int) -> float:
    """Add ``count`` clones (ids ``aged-00000000``...) of the ``templates`` instances,
    round robin, to the SQLite file ``path``; returns the seconds it took."""
    began = time.perf_counter()
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -500000")  # 500 MB
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("CREATE TEMP TABLE seq (n INTEGER PRIMARY KEY)")
        conn.execute(
            "WITH RECURSIVE c(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM c WHERE n + 1 < ?) "
            "INSERT INTO temp.seq SELECT n FROM c",
            (count,),
        )
        conn.execute("CREATE TEMP TABLE tmpl (idx INTEGER PRIMARY KEY, id TEXT NOT NULL)")
        conn.executemany("INSERT INTO temp.tmpl VALUES (?, ?)", list(enumerate(templates)))
        conn.execute("BEGIN")
        for table in keyed_tables(conn, key):
            names, exprs = _select_expressions(conn, table, key, count)
            conn.execute(
                f'INSERT INTO "{table}" ({", ".join(names)}) '
                f"SELECT {', '.join(exprs)} FROM temp.seq AS seq "
                f"JOIN temp.tmpl AS tmpl ON tmpl.idx = seq.n % {len(templates)} "
                f'JOIN "{table}" AS t ON t."{key}" = tmpl.id ORDER BY seq.n'
            )
        conn.execute("COMMIT")
        if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - began


def count_rows(path: Path, table: str) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])


def copy_database(source: Path, target: Path) -> None:
    """Copy a SQLite file (and its WAL, if one was left) for one run, and flush the
    copy to disk: otherwise the first fsync of the measured engine would pay for
    writing back the whole copy."""
    copies = [(source, target)] + [
        (Path(f"{source}{s}"), Path(f"{target}{s}"))
        for s in ("-wal", "-shm")
        if Path(f"{source}{s}").exists()
    ]
    for src, dst in copies:
        shutil.copyfile(src, dst)
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
