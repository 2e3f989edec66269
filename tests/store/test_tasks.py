"""Activity tasks: claiming with leases, renewing, giving back, completing once."""

from __future__ import annotations

from datetime import timedelta

from wayline.core.events import FailureDetails, TaskCompleted, TaskFailed, WorkflowStatus
from wayline.store import Store

from ._support import (
    LEASE,
    T0,
    at,
    claim,
    claim_one,
    claim_tasks,
    commit,
    create,
    events,
    finish,
    poke,
    run,
    start,
    task,
)


def _with_tasks(store: Store, instance_id: str = "a", *names: str) -> None:
    create(store, instance_id, execution_id=f"{instance_id}-e1")
    run(store, instance_id, tasks=tuple(task(i + 1, name) for i, name in enumerate(names)))


def _done(task_id: int, result: str | None = None) -> TaskCompleted:
    return TaskCompleted(timestamp=at(5), task_scheduled_id=task_id, result=result)


def test_claim_tasks_filters_by_name_and_respects_limit(store: Store) -> None:
    _with_tasks(store, "a", "charge", "ship", "charge", "mail")

    assert claim_tasks(store, names=[]) == []
    first = claim_tasks(store, names=["charge"], limit=1)
    assert [(t.task_id, t.name) for t in first] == [(1, "charge")]
    rest = claim_tasks(store, names={"charge", "ship"})
    assert sorted((t.task_id, t.name) for t in rest) == [(2, "ship"), (3, "charge")]
    assert [t.name for t in claim_tasks(store, names=None)] == ["mail"]
    assert claim_tasks(store) == []


def test_task_lease_excludes_others_until_it_expires(store: Store) -> None:
    _with_tasks(store, "a", "act")
    [first] = claim_tasks(store, now=T0, owner="w1")

    assert claim_tasks(store, now=at(10), owner="w2") == []

    [again] = claim_tasks(store, now=T0 + LEASE + timedelta(seconds=1), owner="w2")
    assert again.key == first.key
    assert (first.attempt, again.attempt) == (1, 2)


def test_extend_task_leases_keeps_only_the_owners_tasks(store: Store) -> None:
    _with_tasks(store, "a", "x", "y")
    mine, other = claim_tasks(store, now=T0, owner="w1")

    store.extend_task_leases([], owner="w1", until=at(1000))
    store.extend_task_leases([mine.key], owner="w1", until=at(1000))
    store.extend_task_leases([other.key], owner="someone-else", until=at(1000))

    expired = T0 + LEASE + timedelta(seconds=1)
    long = timedelta(hours=1)
    assert [t.key for t in claim_tasks(store, now=expired, owner="w2", lease=long)] == [other.key]
    assert claim_tasks(store, now=at(999), owner="w3") == []
    assert [t.key for t in claim_tasks(store, now=at(1001), owner="w3")] == [mine.key]


def test_release_tasks_gives_them_back_without_counting_an_attempt(store: Store) -> None:
    _with_tasks(store, "a", "x", "y")
    first, second = claim_tasks(store, now=T0, owner="w1")

    store.release_tasks([], owner="w1")
    store.release_tasks([first.key], owner="w1")
    store.release_tasks([second.key], owner="not-the-owner")

    [again] = claim_tasks(store, now=at(1), owner="w2")
    assert again.key == first.key
    assert again.attempt == 1


def test_complete_task_delivers_the_result_once(store: Store) -> None:
    _with_tasks(store, "a", "act")
    [claimed] = claim_tasks(store)

    assert store.complete_task(claimed, _done(1, '"ok"'), now=at(5))
    assert not store.complete_task(claimed, _done(1, '"again"'), now=at(6))

    turn = claim_one(store, "a", now=at(7))
    assert events(turn) == [_done(1, '"ok"')]
    assert turn.messages[0].execution_id == "a-e1"
    assert claim_tasks(store, now=at(1000)) == []  # completed: never handed out again


def test_complete_task_records_failures(store: Store) -> None:
    _with_tasks(store, "a", "act")
    [claimed] = claim_tasks(store)
    failed = TaskFailed(
        timestamp=at(5),
        task_scheduled_id=1,
        failure=FailureDetails(message="nope", error_type="ValueError", non_retriable=True),
    )

    assert store.complete_task(claimed, failed, now=at(5))

    assert events(claim_one(store, "a", now=at(5))) == [failed]


def test_at_least_once_execution_completes_exactly_once(store: Store) -> None:
    # Worker 1's lease expires mid-run, worker 2 re-runs the task; both finish.
    _with_tasks(store, "a", "act")
    [slow] = claim_tasks(store, now=T0, owner="w1")
    [fast] = claim_tasks(store, now=T0 + LEASE + timedelta(seconds=1), owner="w2")

    assert store.complete_task(fast, _done(1, '"fast"'), now=at(40))
    assert not store.complete_task(slow, _done(1, '"slow"'), now=at(41))

    assert events(claim_one(store, "a", now=at(42))) == [_done(1, '"fast"')]


def test_complete_task_after_the_instance_finished_is_ignored(store: Store) -> None:
    _with_tasks(store, "a", "act")
    [claimed] = claim_tasks(store)
    finish(store, "a", now=at(1), status=WorkflowStatus.TERMINATED)
    before = store.get_instance("a")

    assert not store.complete_task(claimed, _done(1), now=at(5))

    assert store.get_instance("a") == before
    assert claim(store, now=at(5)) == []


def test_complete_task_of_a_replaced_instance_is_ignored(store: Store) -> None:
    _with_tasks(store, "a", "act")
    [claimed] = claim_tasks(store)
    finish(store, "a", now=at(1))
    store.purge_instance("a")
    start(store, "a", now=at(2), execution_id="a-e2")

    assert not store.complete_task(claimed, _done(1), now=at(5))

    assert claim(store, now=at(5)) == []


def test_tasks_of_each_instance_are_independent(store: Store) -> None:
    _with_tasks(store, "a", "act")
    _with_tasks(store, "b", "act")
    by_instance = {t.instance_id: t for t in claim_tasks(store)}
    assert set(by_instance) == {"a", "b"}

    assert store.complete_task(by_instance["b"], _done(1, '"b"'), now=at(1))

    turn = claim_one(store, "b", now=at(2))
    assert events(turn) == [_done(1, '"b"')]
    commit(store, turn, now=at(2))
    poke(store, "a", now=at(3))
    assert [type(e).__name__ for e in events(claim_one(store, "a", now=at(3)))] == ["EventRaised"]
