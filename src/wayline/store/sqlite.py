"""The embedded default backend: one SQLite file, WAL mode, one writer connection."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wayline.errors import StoreError
from wayline.store.migrations import load_migrations, split_statements
from wayline.store.sql import Cursor, SqlStore


class SqliteStore(SqlStore):
    """A ``Store`` in one SQLite file (``":memory:"`` for a throwaway database).

    Durable against a killed process: WAL with ``synchronous=NORMAL`` loses no
    committed transaction unless the machine itself loses power; pass
    ``synchronous="FULL"`` for that too.
    """

    def __init__(self, path: str | Path, *, synchronous: str = "NORMAL") -> None:
        super().__init__()
        self.path = str(path)
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"unknown SQLite synchronous mode {synchronous!r}")
        try:
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=30.0
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        self._lock = threading.RLock()
        try:
            self._conn.execute("PRAGMA busy_timeout = 30000")
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self._conn.execute("PRAGMA foreign_keys = OFF")
            self._migrate()
        except sqlite3.Error as exc:
            # A file that is not a database (or is locked, read-only, corrupt) fails
            # here, not at connect; report it as the store error the API promises.
            self._conn.close()
            raise StoreError(
                f"cannot use SQLite database {self.path!r}: {exc}; check that the file is "
                "a Wayline database and is writable"
            ) from exc

    def _migrate(self) -> None:
        with self.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
            )
            cur.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            current = cur.fetchone()[0]
            for version, script in load_migrations("sqlite"):
                if version <= current:
                    continue
                for statement in split_statements(script):
                    cur.execute(statement)
                cur.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock:
            if self._closed.is_set():
                raise StoreError("the store is closed")
            cur = self._conn.cursor()
            # IMMEDIATE takes the write lock up front, so concurrent processes on the
            # same file serialize here instead of failing at commit.
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                self._conn.rollback()
                raise
            else:
                self._conn.commit()
            finally:
                cur.close()

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        with self._lock:
            if self._closed.is_set():
                raise StoreError("the store is closed")
            cur = self._conn.cursor()
            try:
                yield cur
            finally:
                cur.close()

    def change_marker(self) -> int:
        with self._lock:
            row: Any = self._conn.execute("PRAGMA data_version").fetchone()
            return int(row[0])

    def close(self) -> None:
        with self._lock:
            if not self._closed.is_set():
                super().close()
                self._conn.close()
