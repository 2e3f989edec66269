"""The ``store`` fixture: every test in this folder runs once per backend.

Adding a backend means adding a param to ``BACKENDS`` and a branch in
``_opener``; the tests themselves only use the ``Store`` protocol.

PostgreSQL runs when ``WAYLINE_TEST_POSTGRES_URL`` names a database the tests
may wipe (every table is emptied before each test, so do not share it and do
not run the PostgreSQL param in parallel). Without the variable the param is
skipped. With it, a server that does not answer (or a backend that refuses the
URL) skips too. Under ``CI=true`` both fail instead: CI must not go green by
skipping the backend it is meant to test.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.ci import unavailable
from wayline.store import Store, open_store
from wayline.store.sqlite import SqliteStore

POSTGRES_URL_VAR = "WAYLINE_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]

# Every table a test may leave rows in; emptied before each PostgreSQL test.
_TABLES = ("history", "inbox", "tasks", "instances", "nodes")

StoreFactory = Callable[[], Store]


def open_postgres_for_tests() -> Store:
    """Open the test PostgreSQL store, or skip (fail under CI) when it is unusable."""
    url = os.environ.get(POSTGRES_URL_VAR, "").strip()
    if not url:
        unavailable(f"set {POSTGRES_URL_VAR}=postgresql://... to run the PostgreSQL backend")
    try:
        store = open_store(url)
        wipe(store)
    except Exception as exc:
        unavailable(f"PostgreSQL at {POSTGRES_URL_VAR} is unusable: {type(exc).__name__}: {exc}")
    return store


def wipe(store: Store) -> None:
    """Empty every table of a shared SQL database so a test starts from nothing."""
    with store.transaction() as cur:  # type: ignore[attr-defined]
        for table in _TABLES:
            cur.execute(f"DELETE FROM {table}")


def _opener(backend: str, tmp_path: Path) -> StoreFactory:
    if backend == "sqlite":
        path = tmp_path / "wayline.db"
        return lambda: SqliteStore(path)
    if backend == "postgres":
        first = open_postgres_for_tests()
        pending = [first]

        def reopen() -> Store:
            # The first call hands out the wiped store; later calls open new connections
            # to the same database, as another process would.
            return pending.pop() if pending else open_store(os.environ[POSTGRES_URL_VAR])

        return reopen
    raise AssertionError(f"unknown backend {backend!r}")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_factory(backend: str, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores on one database (a new connection each call); closes them after."""
    opener = _opener(backend, tmp_path)
    opened: list[Store] = []

    def factory() -> Store:
        store = opener()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    return store_factory()
