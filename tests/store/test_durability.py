"""Reopening, concurrency between connections and threads, migrations, closing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from wayline.core.events import TaskCompleted, TimerFired, WorkflowStatus
from wayline.errors import LeaseLostError, StoreError
from wayline.store import Store
from wayline.store.types import ClaimedTurn, InstanceQuery

from ._support import (
    LEASE,
    T0,
    at,
    claim,
    claim_one,
    claim_tasks,
    claimed_ids,
    commit,
    create,
    finish,
    poke,
    run,
    start,
    task,
)
from .conftest import StoreFactory

T = TypeVar("T")


def _in_parallel(workers: list[Callable[[], T]]) -> list[T]:
    """Run callables on threads released together by a barrier; re-raise any error."""
    barrier = threading.Barrier(len(workers))

    def call(fn: Callable[[], T]) -> T:
        barrier.wait(timeout=10)
        return fn()

    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        futures = [pool.submit(call, fn) for fn in workers]
        return [f.result(timeout=30) for f in futures]


def test_a_reopened_store_sees_everything(store_factory: StoreFactory) -> None:
    first = store_factory()
    start(first, "done", input='"in"')
    finish(first, "done", now=at(1), output='"out"')
    create(first, "a", execution_id="a1")
    run(
        first,
        "a",
        now=at(2),
        custom_status='"cs"',
        tasks=(task(1, "act", '"x"'),),
        timers=(TimerFired(timestamp=at(100), timer_id=2, fire_at=at(100)),),
    )
    create(first, "waiting", start_at=at(50))
    create(first, "leased")
    claim_one(first, "leased", now=at(3))
    records = {i: first.get_instance(i) for i in ("done", "a", "waiting", "leased")}
    histories = {i: first.get_history(i) for i in records}
    first.close()

    second = store_factory()

    assert {i: second.get_instance(i) for i in records} == records
    assert {i: second.get_history(i) for i in records} == histories
    assert second.count_instances(InstanceQuery()) == 4
    assert second.next_wakeup(now=at(3)) == at(3) + LEASE  # "leased" may be taken over then
    assert claim(second, now=at(4)) == []  # "leased" is still leased
    [claimed_task] = claim_tasks(second, now=at(4))
    assert (claimed_task.instance_id, claimed_task.execution_id, claimed_task.input) == (
        "a",
        "a1",
        '"x"',
    )
    assert claimed_ids(claim(second, now=at(100))) == {"a", "waiting", "leased"}


def test_commits_of_one_connection_are_visible_to_another(store_factory: StoreFactory) -> None:
    writer, reader = store_factory(), store_factory()
    marker = reader.change_marker()

    start(writer, "a")

    assert reader.get_instance("a") == writer.get_instance("a")
    assert reader.get_history("a") == writer.get_history("a")
    assert reader.change_marker() != marker


def test_reopening_does_not_reapply_migrations(store_factory: StoreFactory) -> None:
    def versions(store: Store) -> list[int]:
        with store.read() as cur:  # type: ignore[attr-defined]
            cur.execute("SELECT version FROM schema_migrations ORDER BY version")
            return [row[0] for row in cur.fetchall()]

    first = store_factory()
    start(first, "a")
    applied = versions(first)
    assert applied == list(range(1, len(applied) + 1)) and applied
    first.close()

    for _ in range(2):
        again = store_factory()
        assert versions(again) == applied
        assert again.get_instance("a") is not None
        again.close()


def test_concurrent_claims_never_share_an_instance(store_factory: StoreFactory) -> None:
    setup = store_factory()
    ids = {f"i{n:03d}" for n in range(60)}
    for instance_id in sorted(ids):
        create(setup, instance_id)
    # Two threads on one store object, two more on their own connections.
    stores = [setup, setup, store_factory(), store_factory()]

    def claimer(store: Store, owner: str) -> Callable[[], list[str]]:
        def loop() -> list[str]:
            got: list[str] = []
            while batch := claim(store, owner=owner, limit=3, now=at(1)):
                got.extend(t.instance.instance_id for t in batch)
            return got

        return loop

    results = _in_parallel([claimer(s, f"node-{n}") for n, s in enumerate(stores)])

    claimed = [i for result in results for i in result]
    assert sorted(claimed) == sorted(ids)  # each exactly once
    assert claim(setup, now=at(2), owner="late") == []


def test_racing_commits_of_old_and_new_lease_owner_apply_once(
    store_factory: StoreFactory,
) -> None:
    store = store_factory()
    create(store, "a")
    stale = claim_one(store, "a", now=T0)
    fresh = claim_one(store, "a", now=T0 + LEASE * 2, owner="node-b")

    def committer(target: Store, turn: ClaimedTurn) -> Callable[[], str]:
        def go() -> str:
            try:
                commit(target, turn, now=T0 + LEASE * 2)
            except LeaseLostError:
                return "lease lost"
            return "ok"

        return go

    outcomes = _in_parallel([committer(store, stale), committer(store_factory(), fresh)])

    assert outcomes == ["lease lost", "ok"]
    record = store.get_instance("a")
    assert record is not None
    assert (record.status, record.version) == (WorkflowStatus.RUNNING, 1)
    assert len(store.get_history("a")) == 2


def test_concurrent_completions_of_one_task_apply_once(store_factory: StoreFactory) -> None:
    store = store_factory()
    create(store, "a")
    run(store, "a", tasks=(task(1),))
    [claimed] = claim_tasks(store)
    stores = [store, store, store_factory(), store_factory()]
    result = TaskCompleted(timestamp=at(1), task_scheduled_id=1, result='"r"')

    def completer(target: Store) -> Callable[[], bool]:
        return lambda: target.complete_task(claimed, result, now=at(1))

    outcomes = _in_parallel([completer(s) for s in stores])

    assert sorted(outcomes) == [False, False, False, True]
    poke(store, "a", now=at(2))
    turn = claim_one(store, "a", now=at(2))
    assert [type(m.event).__name__ for m in turn.messages] == ["TaskCompleted", "EventRaised"]


def test_a_closed_store_refuses_work(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.close()
    store.close()  # closing twice is harmless

    with pytest.raises(StoreError):
        store.get_instance("a")
    with pytest.raises(StoreError):
        create(store, "a")
