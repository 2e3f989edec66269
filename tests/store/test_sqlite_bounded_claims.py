"""Finding work costs the same with 0 or thousands of finished and waiting instances.

Structural facts about the SQL the SQLite store runs (taken from ``readiness``, the
one place it is built): every query that finds work is an index range, never a
table scan, and the number of SQLite VM instructions it executes is identical in a
database that also holds thousands of finished, waiting and suspended instances.
No timing is involved.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from wayline.core.events import EventRaised, TimerFired, WorkflowStarted, WorkflowStatus
from wayline.core.ids import DEFAULT_APP_ID
from wayline.store.commands import AppendMessage, ClaimTurns, CreateInstance
from wayline.store.readiness import (
    BACKLOG_TASKS_SQL,
    DUE_TIMERS_SQL,
    MARK_READY_SQL,
    NEXT_READY_SQL,
    NEXT_RUNNABLE_SQL,
    NEXT_TASK_SQL,
    backlog_turns_sql,
    claim_tasks_sql,
    claim_terminations_sql,
    claim_turns_sql,
    ready_at_sql,
)
from wayline.store.rows import to_micros
from wayline.store.sqlite import SqliteStore
from wayline.store.types import NewInstance, TurnCommit

from ._support import LEASE, T0, at, create, poke, run, task

BACKGROUND = 1500  # of each kind: finished, waiting on a timer, waiting on an event, ...


def _wait_all(futures: Sequence[Future[Any]]) -> list[Any]:
    return [f.result(timeout=60) for f in futures]


def _turns(store: SqliteStore, prefix: str, count: int) -> list[Any]:
    """Create ``count`` instances and claim their first turns (each a group commit)."""
    _wait_all(
        [
            store.submit(CreateInstance(NewInstance(f"{prefix}{n}", "wf", f"{prefix}{n}-e"), T0))
            for n in range(count)
        ]
    )
    claimed: list[Any] = store.submit(ClaimTurns("node", None, T0, LEASE, count)).result()
    assert len(claimed) == count
    return claimed


def _commit_all(store: SqliteStore, turns: Sequence[Any], **fields: Any) -> None:
    _wait_all(
        [
            store.submit(
                TurnCommit(
                    instance_id=t.instance.instance_id,
                    lease_token=t.lease_token,
                    now=T0,
                    history=(WorkflowStarted(timestamp=T0), *(m.event for m in t.messages)),
                    consumed=tuple(m.id for m in t.messages),
                    **fields,
                )
            )
            for t in turns
        ]
    )


def _add_background(store: SqliteStore) -> None:
    """Thousands of instances that have nothing to do now: finished, waiting on a far
    timer, waiting for an event, suspended with held events."""
    _commit_all(store, _turns(store, "done", BACKGROUND), status=WorkflowStatus.COMPLETED)
    far = TimerFired(timestamp=at(86_400), timer_id=1, fire_at=at(86_400))
    _commit_all(
        store, _turns(store, "timer", BACKGROUND), status=WorkflowStatus.RUNNING, timers=(far,)
    )
    _commit_all(store, _turns(store, "idle", BACKGROUND), status=WorkflowStatus.RUNNING)
    suspended = _turns(store, "held", BACKGROUND)
    _commit_all(store, suspended, status=WorkflowStatus.SUSPENDED)
    _wait_all(
        [
            store.submit(
                AppendMessage(t.instance.instance_id, EventRaised(timestamp=T0, name="x"), T0)
            )
            for t in suspended
        ]
    )


def _add_work(store: SqliteStore) -> None:
    """The work both databases share: started instances, events, tasks, a timer."""
    create(store, "sleeper")
    run(store, "sleeper", timers=(TimerFired(timestamp=at(60), timer_id=1, fire_at=at(60)),))
    for n in range(3):
        create(store, f"new{n}")
    for n in range(3):
        create(store, f"busy{n}")
        run(store, f"busy{n}", tasks=(task(1), task(2)))
        poke(store, f"busy{n}", now=at(1))


def _vm_steps(path: Path, sql: str, params: Sequence[Any]) -> tuple[int, list[Any]]:
    """SQLite VM instructions ``sql`` executes (and its rows), on its own connection."""
    conn = sqlite3.connect(path)
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn.set_progress_handler(count, 1)
    try:
        rows = conn.execute(sql, params).fetchall()
    finally:
        conn.close()
    return steps, rows


def _plan(path: Path, sql: str, params: Sequence[Any]) -> str:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    finally:
        conn.close()
    return "\n".join(row[-1] for row in rows)


def _scans(plan: str) -> list[str]:
    """The plan's full scans of a table or index (a constant row is not one)."""
    return [line for line in plan.splitlines() if "SCAN" in line and "CONSTANT ROW" not in line]


NOW = to_micros(at(2))
HINT = SqliteStore.ready_index_hint
APP = DEFAULT_APP_ID
WORK_FINDERS: dict[str, tuple[str, Sequence[Any]]] = {
    "claim turns": (claim_turns_sql(None, "", HINT), (NOW, NOW, APP, 100)),
    "claim turns of some names": (
        claim_turns_sql(2, "", HINT),
        (NOW, NOW, APP, "wf", "x", 100),
    ),
    "claim tasks": (claim_tasks_sql(None), (NOW, APP, 100)),
    "claim tasks of some names": (claim_tasks_sql(1), (NOW, APP, "act", 100)),
    "next timer": (NEXT_READY_SQL, (NOW,)),
    "next runnable": (NEXT_RUNNABLE_SQL, (NOW, NOW)),
    "next task": (NEXT_TASK_SQL, ()),
    # Store.backlog (metrics): what is runnable now, by the same index ranges.
    "backlog of turns": (backlog_turns_sql(HINT), (NOW, NOW)),
    "backlog of tasks": (BACKLOG_TASKS_SQL, (NOW,)),
    "due timers": (DUE_TIMERS_SQL, (NOW,)),
}


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two databases with the same runnable work; the second also holds 6,000
    instances with nothing to do."""
    paths = []
    for name, background in (("small", False), ("aged", True)):
        path = tmp_path_factory.mktemp(name) / "wayline.db"
        store = SqliteStore(path, synchronous="NORMAL")
        try:
            if background:
                _add_background(store)
            _add_work(store)
        finally:
            store.close()
        paths.append(path)
    return paths[0], paths[1]


@pytest.mark.parametrize("finder", list(WORK_FINDERS))
def test_finding_work_costs_the_same_in_an_aged_database(
    databases: tuple[Path, Path], finder: str
) -> None:
    small, aged = databases
    sql, params = WORK_FINDERS[finder]
    small_steps, small_rows = _vm_steps(small, sql, params)
    aged_steps, aged_rows = _vm_steps(aged, sql, params)
    assert aged_rows == small_rows
    assert aged_steps == small_steps


@pytest.mark.parametrize("finder", list(WORK_FINDERS))
def test_finding_work_is_an_index_range_not_a_scan(
    databases: tuple[Path, Path], finder: str
) -> None:
    _, aged = databases
    sql, params = WORK_FINDERS[finder]
    plan = _plan(aged, sql, params)
    assert not _scans(plan), plan
    table = re.search(r"FROM (\w+)", sql)
    assert table is not None
    assert f"INDEX {table.group(1)}_" in plan, plan


def test_claiming_terminations_of_any_name_reads_only_queued_terminates(
    databases: tuple[Path, Path],
) -> None:
    small, aged = databases
    sql, params = claim_terminations_sql(), (NOW, NOW, 100)
    assert _vm_steps(aged, sql, params) == _vm_steps(small, sql, params)
    plan = _plan(aged, sql, params)
    # the one scan is of the partial index, which holds queued terminates only
    assert _scans(plan) == ["SCAN inbox USING INDEX inbox_terminations"], plan


def test_keeping_readiness_up_to_date_touches_one_instance(databases: tuple[Path, Path]) -> None:
    _, aged = databases
    expression, params = ready_at_sql("busy0", WorkflowStatus.SUSPENDED)
    plan = _plan(aged, f"SELECT {expression}", params)
    assert not _scans(plan) and "inbox_instance" in plan, plan
    plan = _plan(aged, MARK_READY_SQL, (NOW, "busy0", NOW))
    assert not _scans(plan), plan


def test_only_instances_with_work_are_in_the_ready_index(databases: tuple[Path, Path]) -> None:
    _, aged = databases
    conn = sqlite3.connect(aged)
    try:
        ready = dict(
            conn.execute(
                "SELECT instance_id, ready_at FROM instances WHERE ready_at IS NOT NULL"
            ).fetchall()
        )
    finally:
        conn.close()
    waiting = {f"timer{n}" for n in range(BACKGROUND)}
    runnable = {f"new{n}" for n in range(3)} | {f"busy{n}" for n in range(3)}
    assert set(ready) == waiting | runnable | {"sleeper"}
    assert {ready[i] for i in waiting} == {to_micros(at(86_400))}
