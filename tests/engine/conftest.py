"""Fixtures: runtimes on a real database with replay verification on.

The backend is SQLite (a file in ``tmp_path``) unless ``WAYLINE_TEST_BACKEND=postgres``:
then every test runs on the PostgreSQL database named by ``WAYLINE_TEST_POSTGRES_URL``,
emptied before each test (do not share it, do not run in parallel). A PostgreSQL
that does not answer skips the test, except under ``CI=true`` where it fails.

Every runtime made here uses ``EngineSettings(always_replay=True)``: each turn run on a
cached executor is also replayed from the stored history and compared. A disagreement
(or any other error the engine logs) fails the test at teardown.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import wayline
from store.conftest import POSTGRES_URL_VAR, open_postgres_for_tests

from ._support import settings

BACKEND_VAR = "WAYLINE_TEST_BACKEND"


class Runtimes:
    """Makes runtimes on one database file and shuts every one of them down afterwards."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._made: list[wayline.WorkflowRuntime] = []

    def new(self, **kwargs: Any) -> wayline.WorkflowRuntime:
        """A runtime on the shared database; ``kwargs`` go to ``WorkflowRuntime``."""
        kwargs.setdefault("settings", settings())
        runtime = wayline.WorkflowRuntime(store=self.url, **kwargs)
        self._made.append(runtime)
        return runtime

    def shutdown_all(self) -> None:
        for runtime in reversed(self._made):
            runtime.shutdown(timeout=10)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    backend = os.environ.get(BACKEND_VAR, "sqlite").strip().lower() or "sqlite"
    if backend in {"postgres", "postgresql"}:
        open_postgres_for_tests().close()  # emptied; skips (fails under CI) if unusable
        return os.environ[POSTGRES_URL_VAR]
    if backend != "sqlite":
        raise pytest.UsageError(f"{BACKEND_VAR}={backend!r}: use sqlite or postgres")
    return f"sqlite:///{tmp_path / 'wayline.db'}"


@pytest.fixture
def runtimes(db_url: str) -> Iterator[Runtimes]:
    made = Runtimes(db_url)
    yield made
    made.shutdown_all()


@pytest.fixture
def runtime(runtimes: Runtimes) -> wayline.WorkflowRuntime:
    """A runtime (not started) on the test's database: register, then ``with runtime:``."""
    return runtimes.new()


@pytest.fixture(autouse=True)
def engine_logged_no_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail the test if the engine logged an error (e.g. a replay disagreement)."""
    caplog.set_level(logging.WARNING, logger="wayline")
    yield
    records = [
        *caplog.get_records("setup"),
        *caplog.get_records("call"),
        *caplog.records,
    ]
    formatter = logging.Formatter("%(name)s: %(message)s")
    errors = [
        formatter.format(r)
        for r in records
        if r.name.startswith("wayline") and r.levelno >= logging.ERROR
    ]
    assert not errors, f"the engine logged errors: {errors}"
