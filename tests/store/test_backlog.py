"""What a store reports for metrics: the backlog of runnable work (``Store.backlog``)
and claims that take over an expired lease (``taken_over_from``)."""

from __future__ import annotations

from datetime import timedelta

from wayline.core.events import TimerFired, WorkflowStatus
from wayline.store import Store
from wayline.store.types import Backlog, NewTask, TaskLease

from ._support import (
    LEASE,
    T0,
    at,
    claim,
    claim_one,
    claim_tasks,
    commit,
    create,
    finish,
    run,
    start,
    task,
)


def test_an_empty_store_has_no_backlog(store: Store) -> None:
    assert store.backlog(now=T0) == Backlog(0, 0, 0, None, None)


def test_backlog_counts_runnable_turns_tasks_and_due_timers(store: Store) -> None:
    create(store, "new-1", now=at(1))
    create(store, "new-2", now=at(3))
    create(store, "later", now=at(1), start_at=at(100))  # scheduled: not runnable yet
    start(store, "done")
    finish(store, "done", status=WorkflowStatus.COMPLETED)
    start(store, "idle")  # running, nothing in its inbox
    create(store, "busy", now=at(2))
    run(store, "busy", now=at(2), tasks=(task(1), task(2)))
    create(store, "sleeper")
    sleeping = (TimerFired(timestamp=T0, timer_id=1, fire_at=at(50)),)
    run(store, "sleeper", timers=sleeping)

    backlog = store.backlog(now=at(10))
    assert backlog == Backlog(
        runnable_turns=2,  # new-1, new-2
        runnable_tasks=2,
        due_timers=0,
        oldest_turn=at(1),
        oldest_task=at(2),
    )

    # At 60 s the timer is due (its instance is runnable) and so is the scheduled start.
    later = store.backlog(now=at(120))
    assert (later.runnable_turns, later.due_timers) == (4, 1)
    assert later.oldest_turn == at(1)


def test_backlog_leaves_out_work_running_under_a_live_lease(store: Store) -> None:
    create(store, "a", now=at(1))
    create(store, "b", now=at(2))
    turn = claim_one(store, "a", now=at(3))
    assert store.backlog(now=at(4)).runnable_turns == 1  # b only
    assert store.backlog(now=at(4)).oldest_turn == at(2)
    # Once the lease has expired, the turn is runnable again (another node may take it).
    expired = store.backlog(now=at(3) + LEASE + timedelta(seconds=1))
    assert (expired.runnable_turns, expired.oldest_turn) == (2, at(1))
    commit(store, turn, now=at(5))

    run(store, "b", now=at(5), tasks=(task(1),))
    [claimed] = claim_tasks(store, now=at(6))
    assert store.backlog(now=at(7)).runnable_tasks == 0
    assert store.backlog(now=at(6) + LEASE + timedelta(seconds=1)).runnable_tasks == 1
    assert claimed.scheduled_at == at(5)


def test_a_claim_names_the_node_whose_expired_lease_it_takes_over(store: Store) -> None:
    create(store, "a")
    create(store, "b")
    first = claim(store, now=T0, owner="node-a")
    assert {t.taken_over_from for t in first} == {None}
    for turn in first:
        if turn.instance.instance_id == "b":
            store.release_turn("b", turn.lease_token)  # given back: not a takeover

    later = T0 + LEASE + timedelta(seconds=1)
    taken = {t.instance.instance_id: t.taken_over_from for t in claim(store, now=later, owner="b")}
    assert taken == {"a": "node-a", "b": None}


def test_a_task_claim_names_the_worker_whose_expired_lease_it_takes_over(store: Store) -> None:
    create(store, "a", execution_id="a-e1")
    run(store, "a", tasks=(task(1), task(2)))
    first, second = claim_tasks(store, now=T0, owner="w1")
    assert (first.taken_over_from, second.taken_over_from) == (None, None)
    store.release_tasks([second.key], owner="w1")

    later = T0 + LEASE + timedelta(seconds=1)
    again = {t.key: t.taken_over_from for t in claim_tasks(store, now=later, owner="w2")}
    assert again == {first.key: "w1", second.key: None}


def test_tasks_leased_by_their_commit_are_no_takeover_and_know_when_they_were_scheduled(
    store: Store,
) -> None:
    create(store, "a")
    turn = claim_one(store, "a")
    commit(
        store,
        turn,
        now=at(2),
        tasks=(NewTask(task_id=1, name="act", leased=True),),
        task_lease=TaskLease("node-a", at(2) + LEASE),
    )
    assert store.backlog(now=at(3)).runnable_tasks == 0
    # The commit's lease expires; the next claim takes the task over from node-a.
    [taken] = claim_tasks(store, now=at(2) + LEASE + timedelta(seconds=1), owner="node-b")
    assert (taken.taken_over_from, taken.scheduled_at) == ("node-a", at(2))
