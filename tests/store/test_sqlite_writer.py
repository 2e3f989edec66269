"""The SQLite store's writer: durable by default, group commit, reads beside writes."""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from wayline.core.events import EventRaised
from wayline.errors import InstanceAlreadyExistsError, StoreError
from wayline.store import open_store
from wayline.store.commands import AppendMessage, CreateInstance
from wayline.store.sqlite import SqliteStore
from wayline.store.types import AppendResult, NewInstance

from ._support import T0, create


def _synchronous(store: Any) -> int:
    with store.transaction() as cur:  # the writer connection: the one that commits
        cur.execute("PRAGMA synchronous")
        return int(cur.fetchone()[0])


def test_the_default_store_fsyncs_every_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for url in (None, "sqlite:///w.db", "sqlite:///w.db?synchronous=full", tmp_path / "x.db"):
        store = open_store(url)
        try:
            assert _synchronous(store) == 2  # FULL: survives a power loss
        finally:
            store.close()


def test_synchronous_normal_is_an_explicit_opt_out(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'w.db'}?synchronous=normal")
    try:
        assert _synchronous(store) == 1  # NORMAL: survives a killed process only
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["w.db"]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///w.db?synchronous=sometimes",
        "sqlite:///w.db?synchronous=off",
        "sqlite:///w.db?journal=wal",
        "sqlite:///w.db?synchronous",
    ],
)
def test_bad_sqlite_url_options_are_refused_and_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match="synchronous"):
        open_store(url)
    assert list(tmp_path.iterdir()) == []


def test_commands_ready_together_share_one_transaction(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "w.db")
    try:
        before = store.write_transactions
        with store.transaction():  # holds the writer: the commands below queue up
            futures = [
                store.submit(CreateInstance(NewInstance(f"i{n}", "wf", f"e{n}"), T0))
                for n in range(50)
            ]
            assert not any(f.done() for f in futures)
        assert [f.result(timeout=30) for f in futures] == [None] * 50
        assert store.write_transactions == before + 2  # the held one, then one group
        assert all(store.get_instance(f"i{n}") is not None for n in range(50))
    finally:
        store.close()


def test_one_failing_command_leaves_the_rest_of_its_group_intact(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "w.db")
    try:
        create(store, "taken")
        with store.transaction():
            futures: list[Future[Any]] = [
                store.submit(CreateInstance(NewInstance("a", "wf", "ea"), T0)),
                store.submit(CreateInstance(NewInstance("taken", "wf", "again"), T0)),
                store.submit(AppendMessage("a", EventRaised(timestamp=T0, name="e"), T0)),
            ]
        assert futures[0].result(timeout=30) is None
        with pytest.raises(InstanceAlreadyExistsError):
            futures[1].result(timeout=30)
        assert futures[2].result(timeout=30) == AppendResult.APPENDED
        record = store.get_instance("taken")
        assert record is not None and record.execution_id == "taken-exec-1"
    finally:
        store.close()


def test_blocking_writers_on_many_threads_are_grouped_and_all_durable(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    store = SqliteStore(path)
    try:
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: create(store, f"t{n}"), range(400)))
        assert store.write_transactions <= 400 + 1  # migrations, then at most one each
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM instances").fetchone()[0] == 400
    finally:
        conn.close()


def test_reads_do_not_wait_for_the_writer(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "w.db")
    try:
        create(store, "a")
        read: Future[Any] = Future()
        with store.transaction() as cur:  # a write in progress, not committed yet
            cur.execute("UPDATE instances SET name = 'changed' WHERE instance_id = 'a'")
            thread = threading.Thread(target=lambda: read.set_result(store.get_instance("a")))
            thread.start()
            record = read.result(timeout=30)  # answered while the writer is held
        thread.join()
        assert record is not None and record.name == "wf"  # the last committed state
        changed = store.get_instance("a")
        assert changed is not None and changed.name == "changed"
    finally:
        store.close()


def test_commands_after_close_fail_clearly(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "w.db")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.submit(CreateInstance(NewInstance("a", "wf", "e"), T0))
    with pytest.raises(StoreError, match="closed"):
        create(store, "a")
    with pytest.raises(StoreError, match="closed"):
        store.get_instance("a")
