"""The embedded default backend: one SQLite file in WAL mode.

- **Durable by default.** ``synchronous=FULL``: a commit is on disk (the WAL is
  fsynced) before any caller hears of it, so an accepted request survives a power
  loss or a kernel crash. ``synchronous="NORMAL"`` (the store URL's
  ``?synchronous=normal``) skips that fsync: still safe against a killed process,
  but the last commits before a power loss or OS crash can be lost.
- **Group commit.** All writes go through one writer connection. Commands that are
  ready at the same time share one transaction and one fsync (see ``writer``); the
  engine applies its commands on its own loop (``local_writes``), a blocking caller
  on its own thread, without a hand-off when the writer is free.
- **Reads never wait behind writes.** Each reading thread has its own connection;
  WAL readers see the last commit and never block on the writer.
- **Checkpoints off the write path.** Copying the WAL back into the database file
  (and its fsync) would stall every few hundred commits; a background thread does
  it instead, on its own connection, while writers go on.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from wayline.errors import StoreError, StoreUnavailableError
from wayline.store.migrations import load_migrations, split_statements
from wayline.store.rows import Cursor
from wayline.store.sql import SqlStore

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
#: RETURNING (used by commits) arrived in SQLite 3.35.
MIN_SQLITE = (3, 35, 0)
#: Group commits between two background checkpoints (besides one every second).
CHECKPOINT_EVERY = 200
#: The WAL file is truncated back to this size once checkpointed.
WAL_SIZE_LIMIT = 64 * 1024 * 1024


class SqliteStore(SqlStore):
    """A ``Store`` in one SQLite file (``":memory:"`` for a throwaway database).

    Args:
        path: the database file (created if missing).
        synchronous: ``"FULL"`` (default: every commit survives a power loss) or
            ``"NORMAL"`` (survives a killed process only); ``"EXTRA"`` and ``"OFF"``
            as SQLite defines them.
    """

    ready_index_hint = " INDEXED BY instances_ready"
    local_writes = True

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self.synchronous = synchronous.upper()
        if self.synchronous not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"unknown SQLite synchronous mode {synchronous!r}; use one of "
                f"{', '.join(m.lower() for m in SYNCHRONOUS_MODES)}"
            )
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise StoreError(
                f"Wayline needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer; this "
                f"Python links SQLite {sqlite3.sqlite_version}"
            )
        self._memory = self.path == ":memory:"
        self._lock = threading.RLock()  # guards the writer connection
        super().__init__(writer_lock=self._lock, committed=self._committed)
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._local = threading.local()
        self._checkpointer: threading.Thread | None = None
        self._checkpoint_due = threading.Event()
        self._commits_since_checkpoint = 0
        self._conn = self._connect(create=True)
        self._file = self._identity()  # what every commit checks it still writes to
        try:
            self._configure(self._conn)
            if not self._memory:
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA wal_autocheckpoint = 0")
                self._conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            self._migrate()
        except sqlite3.Error as exc:
            # A file that is not a database (or is locked, read-only, corrupt) fails
            # here, not at connect; report it as the store error the API promises.
            self._conn.close()
            raise StoreError(
                f"cannot use SQLite database {self.path!r}: {exc}; check that the file is "
                "a Wayline database and is writable"
            ) from exc

    def _connect(self, *, create: bool) -> sqlite3.Connection:
        # Only the first connection may create the file: a reader opened after the file
        # was deleted must fail, not start an empty database in its place.
        target = self.path if create or self._memory else f"file:{quote(self.path)}?mode=rw"
        try:
            conn = sqlite3.connect(
                target,
                isolation_level=None,
                check_same_thread=False,
                timeout=30.0,
                uri=not (create or self._memory),
            )
        except sqlite3.Error as exc:
            if create:
                raise StoreError(f"cannot open SQLite database {self.path!r}: {exc}") from exc
            # At run time (a new reader): the file became unreachable under us.
            raise StoreUnavailableError(
                f"cannot open a reader of SQLite database {self.path!r}: {exc}"
            ) from exc
        return conn

    def _identity(self) -> tuple[int, int] | None:
        """The database file's (device, inode); None in memory or if it is gone."""
        if self._memory:
            return None
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def _check_file(self) -> None:
        """Refuse to commit into a file that was deleted or replaced under us: the
        connection would write on, into an inode nobody will ever open again."""
        if not self._memory and self._identity() != self._file:
            raise StoreUnavailableError(
                f"the SQLite database file {self.path!r} was deleted or replaced while "
                "this process had it open; writes are refused so that none is lost in the "
                "old file; move the file back (writes resume) or restart the server"
            )

    def is_unavailable(self, exc: BaseException) -> bool:
        # Disk full, read-only, I/O error, locked past the busy timeout (OperationalError);
        # "file is not a database", "database disk image is malformed" (DatabaseError
        # itself). Its other subclasses (IntegrityError, ProgrammingError) are bugs.
        return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError

    def _configure(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA foreign_keys = OFF")

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

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise StoreError("the store is closed")

    # ----- writes ----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self._lock:
            self._check_open()
            cur = self._conn.cursor()
            # IMMEDIATE takes the write lock up front, so concurrent processes on the
            # same file serialize here instead of failing at commit.
            try:
                cur.execute("BEGIN IMMEDIATE")
                yield cur
                self._check_file()
            except BaseException:
                with contextlib.suppress(sqlite3.Error):  # keep the first error
                    self._conn.rollback()
                raise
            else:
                self._count_write()  # before it is visible, as for group commits
                try:
                    self._conn.commit()
                except BaseException:
                    self._count_write(-1)
                    # A COMMIT that failed (disk full) leaves the transaction open, and
                    # every later BEGIN would fail with it: end it.
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.rollback()
                    raise
            finally:
                cur.close()

    # ----- checkpoints -----------------------------------------------------------------------

    def _committed(self) -> None:
        self._commits_since_checkpoint += 1
        if self._commits_since_checkpoint >= CHECKPOINT_EVERY:
            self._request_checkpoint()

    def _request_checkpoint(self) -> None:
        self._commits_since_checkpoint = 0
        if self._memory:
            return
        if self._checkpointer is None:
            self._checkpointer = threading.Thread(
                target=self._checkpoint_loop, name="wayline-sqlite-checkpoint", daemon=True
            )
            self._checkpointer.start()
        self._checkpoint_due.set()

    def _checkpoint_loop(self) -> None:
        conn = self._connect(create=False)
        try:
            self._configure(conn)
            while not self._closed.is_set():
                self._checkpoint_due.wait(1.0)
                self._checkpoint_due.clear()
                if self._closed.is_set():
                    break
                try:
                    # PASSIVE: copies what it can without waiting for (or blocking)
                    # the writer or readers; the WAL restarts from its beginning once
                    # everything in it is copied.
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    continue  # busy or transient: the next round tries again
        finally:
            conn.close()

    # ----- reads -----------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        if self._memory:
            # A second connection to ":memory:" would be another database.
            with self._lock:
                self._check_open()
                cur = self._conn.cursor()
                try:
                    yield cur
                finally:
                    cur.close()
            return
        self._check_open()
        cur = self._reader().cursor()
        try:
            yield cur
        finally:
            cur.close()

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect(create=False)
            self._configure(conn)
            conn.execute("PRAGMA query_only = ON")
            with self._readers_lock:  # not the writer's lock: reads never wait for it
                self._check_open()
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    def change_marker(self) -> int:
        # data_version moves when *another* connection commits: ask the writer, whose
        # own commits do not count (this process already knows of those).
        with self._lock:
            self._check_open()
            row: Any = self._conn.execute("PRAGMA data_version").fetchone()
            return int(row[0])

    def close(self) -> None:
        with self._lock:
            if self._closed.is_set():
                return
            self._closed.set()
        self._writer.close()  # fails whatever is still queued
        self._checkpoint_due.set()
        checkpointer = self._checkpointer
        if checkpointer is not None and checkpointer is not threading.current_thread():
            checkpointer.join(timeout=5.0)
        with self._lock:
            with self._readers_lock:
                for reader in self._readers:
                    reader.close()
                self._readers.clear()
            self._conn.close()
