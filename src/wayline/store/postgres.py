"""The PostgreSQL dialect: many engine processes on many machines share one database.

All store logic lives in :class:`~wayline.store.sql.SqlStore`; this module only
supplies what differs:

- connections come from a ``psycopg_pool.ConnectionPool`` (each store call is one
  transaction on one pooled connection, in ``READ COMMITTED``);
- the SQL layer's ``?`` placeholders become psycopg's ``%s`` in one place
  (:func:`to_pyformat`);
- claims lock candidate rows with ``FOR UPDATE SKIP LOCKED``, so engines on many
  nodes claim disjoint work without waiting on each other, and a turn's commit
  locks its instance row ``FOR UPDATE`` before checking its fencing token;
- migrations run under a transaction-scoped advisory lock, so several processes
  opening a fresh database at once apply each migration exactly once;
- a trigger sends ``NOTIFY wayline_work`` whenever a transaction adds an inbox
  message or a queued activity task, naming the session that wrote it; a listener
  connection per process turns other sessions' notifications into wake-ups for
  the engines watching this store (``watch_changes``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from wayline.errors import InstanceAlreadyExistsError, StoreError
from wayline.store import redact_url
from wayline.store.commands import WriteCommand
from wayline.store.migrations import load_migrations
from wayline.store.rows import Cursor, StatementResult
from wayline.store.sql import SqlStore

log = logging.getLogger("wayline.store.postgres")

#: The channel the ``wayline_notify_work`` trigger notifies (see migration 0001).
CHANNEL = "wayline_work"
#: Advisory lock key held while migrating ("wayline" in ASCII).
MIGRATION_LOCK_KEY = 0x7761796C696E65
_DUPLICATE_ID = re.compile(r"\(instance_id\)=\((.*)\) already exists")


@functools.lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """The SQL layer's ``?`` placeholders as psycopg's ``%s`` (a literal ``%`` doubled).

    The shared SQL never puts ``?`` or ``%`` inside string literals, so a plain
    replacement is exact.
    """
    return sql.replace("%", "%%").replace("?", "%s")


class _PgCursor:
    """A psycopg cursor speaking the SQL layer's ``?`` parameter style.

    In a write transaction (``transaction=True``) its ``BEGIN`` is sent with the
    first statement, so inside a pipeline it costs no round trip of its own.
    """

    def __init__(self, cur: psycopg.Cursor[Any], *, transaction: bool = False) -> None:
        self._cur = cur
        self.begin_pending = transaction
        self.began = False

    def begin(self) -> None:
        """Open the transaction if this is the first statement in it."""
        if self.begin_pending:
            self.begin_pending = False
            self._cur.execute("BEGIN")
            self.began = True

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _PgCursor:
        self.begin()
        self._cur.execute(to_pyformat(sql), params)
        return self

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._cur.connection


class _PgResult:
    """A statement sent on its own cursor; its rows are read once its pipeline synced."""

    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self._cur = cur

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount


class PostgresStore(SqlStore):
    """A ``Store`` in a PostgreSQL database shared by any number of processes.

    Args:
        url: a libpq connection URI (``postgresql://user:password@host:5432/db``) or
            key/value string.
        min_connections / max_connections: bounds of the connection pool (one more
            connection per process is used to LISTEN, once an engine watches).
        connect_timeout: seconds to wait for the first connection before failing.
    """

    claim_lock_clause = " FOR UPDATE SKIP LOCKED"
    row_lock_clause = " FOR UPDATE"

    def __init__(
        self,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
        connect_timeout: float = 10.0,
    ) -> None:
        super().__init__(retryable=_is_transient_conflict, concurrent_writes=True)
        self.url = url
        self._watchers: list[Callable[[], None]] = []
        self._watch_lock = threading.Lock()
        self._listener: threading.Thread | None = None
        # One direct connection first: it fails fast, with libpq's own reason (refused,
        # bad password, no such database), where a pool would retry until its timeout.
        try:
            with psycopg.connect(url, connect_timeout=max(1, round(connect_timeout))) as conn:
                self._migrate(conn)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot use PostgreSQL at {redact_url(url)}: {str(exc).strip()}; check that the "
                "server runs and that the URL, user, password and database are right"
            ) from exc
        # Names this store's sessions: its own writes' notifications are not wake-ups.
        self._session_name = f"wayline-{uuid.uuid4().hex[:16]}"
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            kwargs={"application_name": self._session_name, "autocommit": True},
            min_size=min_connections,
            max_size=max_connections,
            open=False,
            name="wayline",
            timeout=30.0,
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout)
        except PoolTimeout as exc:
            self._pool.close()
            raise StoreError(
                f"cannot open a pool of connections to PostgreSQL at {redact_url(url)} within "
                f"{connect_timeout} s"
            ) from exc

    @staticmethod
    def _migrate(conn: psycopg.Connection[Any]) -> None:
        with conn.transaction(), conn.cursor() as cur:
            # Held until this transaction ends: concurrent openers wait here, then
            # see the versions the first one recorded.
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            cur.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            row = cur.fetchone()
            current = int(row[0]) if row else 0
            for version, script in load_migrations("postgres"):
                if version <= current:
                    continue
                cur.execute(script.encode())  # one script: function bodies may hold ';'
                cur.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))

    # ----- dialect hooks -----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Cursor]:
        if self._closed.is_set():
            raise StoreError("the store is closed")
        # Pooled connections are in autocommit mode: the transaction is ours to open
        # (lazily, see _PgCursor) and to end.
        with self._pool.connection() as conn, conn.cursor() as raw:
            cur = _PgCursor(raw, transaction=True)
            try:
                yield cur
            except BaseException:
                if cur.began:
                    with contextlib.suppress(psycopg.Error):
                        conn.execute("ROLLBACK")
                raise
            if cur.began:
                conn.execute("COMMIT")
        self._count_write()

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        if self._closed.is_set():
            raise StoreError("the store is closed")
        with self._pool.connection() as conn, conn.cursor() as cur:
            yield _PgCursor(cur)

    def pipeline(self, cur: Cursor) -> AbstractContextManager[None]:
        # psycopg's pipeline mode: statements go out without waiting for each result;
        # leaving the block syncs, and every result is then at hand.
        assert isinstance(cur, _PgCursor)
        return cur.connection.pipeline()  # type: ignore[return-value]

    def statement(self, cur: Cursor, sql: str, params: Sequence[Any] = ()) -> StatementResult:
        assert isinstance(cur, _PgCursor)
        cur.begin()
        own = cur.connection.cursor()
        own.execute(to_pyformat(sql), params)
        return _PgResult(own)

    def apply(self, cur: Cursor, command: WriteCommand) -> Any:
        try:
            return super().apply(cur, command)
        except pg_errors.UniqueViolation as exc:
            # Two nodes creating the same id at once: the loser's INSERT hits the key.
            if exc.diag.constraint_name == "instances_pkey":
                match = _DUPLICATE_ID.search(exc.diag.message_detail or "")
                raise InstanceAlreadyExistsError(match.group(1) if match else "?") from exc
            raise

    def is_unavailable(self, exc: BaseException) -> bool:
        # Connection lost or refused, server shutting down, disk full (class 53), pool
        # exhausted (PoolTimeout), a standby after failover (read-only transaction).
        # Not a deadlock or serialization failure (OperationalErrors too): the group
        # writer applies those again, so they must reach it as themselves.
        return isinstance(
            exc,
            psycopg.OperationalError | psycopg.InterfaceError | pg_errors.ReadOnlySqlTransaction,
        ) and not _is_transient_conflict(exc)

    def change_marker(self) -> int:
        # The first not-yet-completed transaction id: it moves whenever any
        # transaction that wrote something ends, on whichever connection.
        with self._reading() as cur:
            cur.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
            return int(cur.fetchone()[0])

    # ----- wake-ups (LISTEN/NOTIFY) ------------------------------------------------------

    def watch_changes(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from a listener thread) when any node adds runnable work.

        Also called after the listener (re)connects, since notifications sent while
        it was away are lost. Callbacks must be quick and thread-safe.
        """
        with self._watch_lock:
            self._watchers.append(callback)
            if self._listener is None and not self._closed.is_set():
                self._listener = threading.Thread(
                    target=self._listen, name="wayline-pg-listen", daemon=True
                )
                self._listener.start()

    def unwatch_changes(self, callback: Callable[[], None]) -> None:
        with self._watch_lock:
            if callback in self._watchers:
                self._watchers.remove(callback)

    def _fire(self) -> None:
        with self._watch_lock:
            watchers = list(self._watchers)
        for callback in watchers:
            try:
                callback()
            except Exception:
                log.exception("a change watcher failed")

    def _listen(self) -> None:
        backoff = 0.1
        while not self._closed.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    backoff = 0.1
                    self._fire()
                    while not self._closed.is_set():
                        # The timeout only bounds how long close() waits for this thread.
                        for notice in conn.notifies(timeout=0.25):
                            if notice.payload != self._session_name:
                                self._fire()
            except psycopg.Error as exc:
                if self._closed.is_set():
                    return
                log.warning(
                    "the PostgreSQL LISTEN connection failed (%s); reconnecting in %.1f s "
                    "(engines fall back to polling meanwhile)",
                    exc,
                    backoff,
                )
                self._closed.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def close(self) -> None:
        if self._closed.is_set():
            return
        super().close()
        listener = self._listener
        if listener is not None and listener is not threading.current_thread():
            listener.join(timeout=2.0)
        self._pool.close()


def _is_transient_conflict(exc: BaseException) -> bool:
    """A deadlock or serialization failure between nodes: worth applying again."""
    return isinstance(exc, pg_errors.DeadlockDetected | pg_errors.SerializationFailure)
