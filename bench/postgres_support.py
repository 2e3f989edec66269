"""The PostgreSQL server the PG scenarios use, and the scratch databases on it.

The server comes from ``WAYLINE_BENCH_POSTGRES_URL`` or ``WAYLINE_TEST_POSTGRES_URL``;
the benchmark never touches the database those URLs name. It drops and creates
its own databases (``wayline_bench``, ``dbos_bench``) on the same server before
every run, so each run starts empty.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import psycopg

URL_VARS = ("WAYLINE_BENCH_POSTGRES_URL", "WAYLINE_TEST_POSTGRES_URL")
BENCH_DATABASES = ("wayline_bench", "dbos_bench")


def server_url() -> str | None:
    """The configured server's URL, or None when no variable is set."""
    return next((os.environ[v] for v in URL_VARS if os.environ.get(v)), None)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_url(url: str) -> str:
    return with_database(url, "postgres")


def _connect(url: str) -> psycopg.Connection[Any]:
    import psycopg

    try:
        return psycopg.connect(_admin_url(url), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)


@contextlib.contextmanager
def fresh_database(url: str, name: str) -> Iterator[str]:
    """Drop and create ``name`` on the server of ``url``; yields its URL; drops it after."""
    if name not in BENCH_DATABASES:
        raise ValueError(f"refusing to wipe {name!r}: not a benchmark database")
    if urlsplit(url).path.lstrip("/") == name:
        raise ValueError(f"{name!r} is the database the environment names; not wiping it")
    conn = _connect(url)
    try:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    try:
        yield with_database(url, name)
    finally:
        conn = _connect(url)
        try:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


def server_version(url: str) -> str:
    """``PostgreSQL 15.18`` or the error that prevented asking."""
    try:
        conn = _connect(url)
        try:
            row = conn.execute("SHOW server_version").fetchone()
        finally:
            conn.close()
        return f"PostgreSQL {str(row[0]).split()[0]}" if row else "unknown"
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"
