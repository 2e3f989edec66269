"""Claiming turns with leases, committing them, and giving them back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wayline.core.events import (
    EventRaised,
    ExecutionResumed,
    ExecutionStarted,
    ExecutionSuspended,
    ExecutionTerminated,
    FailureDetails,
    HistoryEvent,
    TaskCompleted,
    TimerFired,
    WorkflowStarted,
    WorkflowStatus,
)
from wayline.errors import LeaseLostError
from wayline.store import Store
from wayline.store.types import NewInstance, OutboundMessage, TurnCommit

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
    events,
    kinds,
    poke,
    run,
    start,
    task,
)

# ----- claiming ----------------------------------------------------------------------------


def test_claim_filters_by_workflow_name(store: Store) -> None:
    create(store, "a", name="alpha")
    create(store, "b", name="beta")
    create(store, "c", name="gamma")

    assert claim(store, names=[]) == []
    assert claimed_ids(claim(store, names=["alpha", "nothing"])) == {"a"}
    assert claimed_ids(claim(store, names={"beta"})) == {"b"}
    assert claimed_ids(claim(store, names=None)) == {"c"}


def test_claim_respects_limit(store: Store) -> None:
    for i in range(5):
        create(store, f"i{i}")

    batches = [claim(store, limit=2) for _ in range(4)]

    assert [len(batch) for batch in batches] == [2, 2, 1, 0]
    assert set().union(*(claimed_ids(b) for b in batches)) == {f"i{i}" for i in range(5)}


def test_claim_returns_instance_record_and_visible_messages(store: Store) -> None:
    create(store, "a", input="x")
    turn = claim_one(store, "a")

    assert turn.instance == store.get_instance("a")
    assert turn.lease_token > 0
    assert [m.id for m in turn.messages] == sorted({m.id for m in turn.messages})


def test_instance_without_visible_messages_is_not_claimable(store: Store) -> None:
    start(store, "a")
    assert claim(store, now=at(1)) == []
    poke(store, "a", now=at(2))
    assert claim(store, now=at(1)) == []  # appended "at" 2s: not visible at 1s
    assert claimed_ids(claim(store, now=at(2))) == {"a"}


def test_lease_excludes_a_second_claim_until_it_expires(store: Store) -> None:
    create(store, "a")
    first = claim_one(store, "a", now=T0, owner="node-a")

    assert claim(store, now=at(10), owner="node-b") == []
    assert claim(store, now=T0 + LEASE - timedelta(microseconds=1), owner="node-b") == []

    second = claim_one(store, "a", now=T0 + LEASE + LEASE / 10, owner="node-b")
    assert second.lease_token > first.lease_token
    assert events(second) == events(first)  # nothing was consumed


def test_expired_lease_fences_the_old_owner(store: Store) -> None:
    create(store, "a")
    first = claim_one(store, "a", now=T0)
    later = at(LEASE.total_seconds() + 1)
    second = claim_one(store, "a", now=later, owner="node-b")

    with pytest.raises(LeaseLostError):
        commit(store, first, now=later)

    commit(store, second, now=later)
    assert store.get_history("a")[0] == WorkflowStarted(timestamp=later)
    record = store.get_instance("a")
    assert record is not None
    assert (record.status, record.version) == (WorkflowStatus.RUNNING, 1)


@pytest.mark.parametrize(
    "wake",
    [ExecutionResumed(timestamp=at(3)), ExecutionTerminated(timestamp=at(3), input='"bye"')],
    ids=["resume", "terminate"],
)
def test_suspended_instance_is_claimable_only_by_resume_or_terminate(
    store: Store, wake: HistoryEvent
) -> None:
    start(store, "a")
    poke(store, "a", now=at(1))
    run(store, "a", now=at(1), status=WorkflowStatus.SUSPENDED)

    held: list[HistoryEvent] = [
        EventRaised(timestamp=at(2), name="held"),
        TaskCompleted(timestamp=at(2), task_scheduled_id=1, result="1"),
    ]
    for event in held:
        store.append_message("a", event, now=at(2))
    # pausing a paused instance changes nothing: not even a message is queued
    store.append_message("a", ExecutionSuspended(timestamp=at(2)), now=at(2))
    assert claim(store, now=at(2)) == []

    store.append_message("a", wake, now=at(3))
    turn = claim_one(store, "a", now=at(3))
    assert events(turn) == [*held, wake]  # every visible message, in arrival order


def test_a_claim_sees_every_committed_message_whatever_its_now_but_future_timers(
    store: Store,
) -> None:
    """A claim's ``now`` is read before it runs (and another node's clock may be
    ahead): a pause, an event and a resume accepted "after" it must still come with the
    status change the claim sees, or the turn would run the event as if never paused
    and drop the resume. Only timers (and scheduled starts) wait for their time."""
    start(store, "a")
    store.append_message("a", EventRaised(timestamp=at(1), name="early"), now=at(1))
    waiting = claim_one(store, "a", now=at(1))
    commit(
        store,
        waiting,
        now=at(1),
        timers=(TimerFired(timestamp=at(100), timer_id=9, fire_at=at(100)),),
    )
    store.append_message("a", EventRaised(timestamp=at(2), name="first"), now=at(2))
    for seconds, event in (
        (10, ExecutionSuspended(timestamp=at(10))),
        (10, EventRaised(timestamp=at(10), name="held")),
        (11, ExecutionResumed(timestamp=at(11))),
    ):
        store.append_message("a", event, now=at(seconds))
    assert store.get_instance("a").status == WorkflowStatus.RUNNING  # type: ignore[union-attr]
    stale = claim_one(store, "a", now=at(5))
    assert kinds(stale) == [
        "EventRaised",
        "ExecutionSuspended",
        "EventRaised",
        "ExecutionResumed",
    ]


def test_pending_instance_is_claimable_only_by_its_start_or_terminate(store: Store) -> None:
    create(store, "a", start_at=at(100))
    store.append_message("a", EventRaised(timestamp=at(1), name="early"), now=at(1))
    store.append_message("a", ExecutionSuspended(timestamp=at(1)), now=at(1))
    store.append_message("a", ExecutionResumed(timestamp=at(1)), now=at(1))
    assert claim(store, now=at(2)) == []

    store.append_message("a", ExecutionTerminated(timestamp=at(3)), now=at(3))
    assert kinds(claim_one(store, "a", now=at(3))) == [
        "EventRaised",
        "ExecutionSuspended",
        "ExecutionResumed",
        "ExecutionTerminated",
    ]


def test_pending_instance_with_due_start_gets_its_early_events_too(store: Store) -> None:
    create(store, "a", start_at=at(10))
    store.append_message("a", EventRaised(timestamp=at(1), name="early"), now=at(1))

    assert claim(store, now=at(5)) == []
    assert sorted(kinds(claim_one(store, "a", now=at(10)))) == ["EventRaised", "ExecutionStarted"]


# ----- committing --------------------------------------------------------------------------


def test_commit_appends_history_in_order_across_turns(store: Store) -> None:
    create(store, "a")
    first = run(store, "a", now=at(1))
    poke(store, "a", now=at(2))
    second = run(store, "a", now=at(2))

    assert store.get_history("a") == [*first.history, *second.history]
    assert isinstance(store.get_history("a")[1], ExecutionStarted)


def test_commit_deletes_consumed_messages_only(store: Store) -> None:
    start(store, "a")
    for i in range(3):
        store.append_message("a", EventRaised(timestamp=at(1), name=f"e{i}"), now=at(1))
    turn = claim_one(store, "a", now=at(1))
    # A message that arrives while the turn is running waits for the next turn.
    late = EventRaised(timestamp=at(2), name="late")
    store.append_message("a", late, now=at(2))

    commit(store, turn, now=at(2), consumed=(turn.messages[0].id, turn.messages[2].id))

    assert events(claim_one(store, "a", now=at(3))) == [turn.messages[1].event, late]


def test_commit_writes_instance_fields_and_releases_the_lease(store: Store) -> None:
    create(store, "a", input="in")
    failure = FailureDetails(
        message="bad", error_type="KeyError", stack_trace="trace", non_retriable=True
    )
    turn = claim_one(store, "a", now=at(1))
    commit(store, turn, now=at(2), custom_status='"half"', output=None)

    record = store.get_instance("a")
    assert record is not None
    assert record.status == WorkflowStatus.RUNNING
    assert record.custom_status == '"half"'
    assert record.last_updated_at == at(2)
    assert record.created_at == T0
    assert record.completed_at is None
    assert record.input == "in"

    poke(store, "a", now=at(3))
    # The commit released the lease: another node may claim at once.
    turn = claim_one(store, "a", now=at(3), owner="node-b")
    commit(
        store,
        turn,
        now=at(4),
        status=WorkflowStatus.FAILED,
        output='"partial"',
        custom_status='"done"',
        failure=failure,
    )
    record = store.get_instance("a")
    assert record is not None
    assert (record.status, record.output, record.custom_status, record.failure) == (
        WorkflowStatus.FAILED,
        '"partial"',
        '"done"',
        failure,
    )
    assert record.completed_at == at(4)
    assert record.last_updated_at == at(4)


def test_version_increments_once_per_commit(store: Store) -> None:
    create(store, "a")
    versions = []
    for step in range(1, 4):
        turn = claim_one(store, "a", now=at(step))
        assert turn.instance.version == step - 1
        commit(store, turn, now=at(step))
        record = store.get_instance("a")
        assert record is not None
        versions.append(record.version)
        poke(store, "a", now=at(step))
    assert versions == [1, 2, 3]

    turn = claim_one(store, "a", now=at(10))
    store.release_turn("a", turn.lease_token)
    record = store.get_instance("a")
    assert record is not None
    assert record.version == 3  # claims and releases are not commits


def test_stale_lease_commit_raises_and_writes_nothing(store: Store) -> None:
    start(store, "target")
    create(store, "a")
    store.append_message("a", EventRaised(timestamp=T0, name="e"), now=T0)
    stale = claim_one(store, "a", now=T0)
    later = at(LEASE.total_seconds() + 1)
    fresh = claim_one(store, "a", now=later, owner="node-b")
    before = store.get_instance("a")

    doomed = TurnCommit(
        instance_id="a",
        lease_token=stale.lease_token,
        now=later,
        status=WorkflowStatus.COMPLETED,
        history=(WorkflowStarted(timestamp=later), *events(stale)),
        consumed=tuple(m.id for m in stale.messages),
        output='"x"',
        custom_status='"y"',
        tasks=(task(1),),
        timers=(TimerFired(timestamp=at(500), timer_id=2, fire_at=at(500)),),
        children=(NewInstance(instance_id="child", name="wf", execution_id="ce"),),
        messages=(
            OutboundMessage(instance_id="target", event=EventRaised(timestamp=later, name="m")),
        ),
    )
    with pytest.raises(LeaseLostError):
        store.commit_turn(doomed)

    assert store.get_instance("a") == before
    assert store.get_history("a") == []
    assert store.get_instance("child") is None
    assert claim_tasks(store, now=later) == []
    assert store.next_wakeup(now=later) == later + LEASE  # fresh's lease, not the timer at 500
    assert claim(store, now=later) == []  # "target" got no message; "a" is still leased
    # The fresh owner still sees (and can consume) every message.
    commit(store, fresh, now=later)
    assert store.get_history("a") == [WorkflowStarted(timestamp=later), *events(stale)]


def test_extending_a_turn_lease_keeps_other_nodes_out(store: Store) -> None:
    create(store, "a")
    turn = claim_one(store, "a", now=T0, owner="node-a")
    assert store.extend_turn_lease("a", turn.lease_token, until=T0 + 3 * LEASE)

    assert claim(store, now=T0 + 2 * LEASE, owner="node-b") == []
    commit(store, turn, now=T0 + 2 * LEASE)  # still ours
    # A lease that ended (committed, released or taken over) is not revived.
    assert not store.extend_turn_lease("a", turn.lease_token, until=T0 + 5 * LEASE)
    assert not store.extend_turn_lease("ghost", 1, until=T0 + LEASE)


def test_an_expired_and_taken_over_lease_cannot_be_extended(store: Store) -> None:
    create(store, "a")
    stale = claim_one(store, "a", now=T0, owner="node-a")
    later = T0 + LEASE + LEASE / 10
    fresh = claim_one(store, "a", now=later, owner="node-b")

    assert not store.extend_turn_lease("a", stale.lease_token, until=later + 10 * LEASE)
    assert store.extend_turn_lease("a", fresh.lease_token, until=later + 2 * LEASE)


def test_a_lease_ends_with_its_commit(store: Store) -> None:
    # A worker retrying a commit call that did succeed must not apply the turn twice.
    create(store, "a")
    turn = claim_one(store, "a")
    done = commit(store, turn, tasks=(task(1),))

    with pytest.raises(LeaseLostError):
        store.commit_turn(done)

    assert store.get_history("a") == list(done.history)
    record = store.get_instance("a")
    assert record is not None
    assert record.version == 1
    assert len(claim_tasks(store)) == 1


def test_a_released_lease_cannot_commit(store: Store) -> None:
    create(store, "a")
    turn = claim_one(store, "a")
    store.release_turn("a", turn.lease_token)

    with pytest.raises(LeaseLostError):
        commit(store, turn)

    assert store.get_history("a") == []
    assert kinds(claim_one(store, "a", now=at(1))) == ["ExecutionStarted"]


def test_commit_for_unknown_instance_raises_lease_lost(store: Store) -> None:
    with pytest.raises(LeaseLostError):
        store.commit_turn(
            TurnCommit(instance_id="ghost", lease_token=1, now=T0, status=WorkflowStatus.RUNNING)
        )
    assert store.get_instance("ghost") is None


def test_stalled_turn_of_a_replaced_instance_never_matches_a_new_lease(store: Store) -> None:
    # Node A's turn stalls past its lease; node B finishes the instance; a client
    # starts the same id again. However many times the new run is claimed, A's
    # old lease token must never become valid again.
    start(store, "a")
    poke(store, "a", now=at(1))
    stalled = claim_one(store, "a", now=at(1))
    finisher = claim_one(store, "a", now=at(100), owner="node-b")
    commit(store, finisher, now=at(100), status=WorkflowStatus.TERMINATED)
    create(store, "a", now=at(101), execution_id="exec-2")

    for step in range(stalled.lease_token + 2):
        turn = claim_one(store, "a", now=at(102 + step), owner="node-c")
        with pytest.raises(LeaseLostError):
            commit(store, stalled, now=at(102 + step))
        store.release_turn("a", turn.lease_token)

    assert store.get_history("a") == []
    record = store.get_instance("a")
    assert record is not None
    assert (record.status, record.execution_id) == (WorkflowStatus.PENDING, "exec-2")


# ----- releasing ---------------------------------------------------------------------------


def test_release_turn_makes_the_instance_claimable_again(store: Store) -> None:
    create(store, "a")
    first = claim_one(store, "a", now=T0)

    store.release_turn("a", first.lease_token)

    second = claim_one(store, "a", now=at(1), owner="node-b")
    assert second.lease_token > first.lease_token
    assert events(second) == events(first)
    assert store.get_history("a") == []


def test_release_with_a_stale_token_does_nothing(store: Store) -> None:
    create(store, "a")
    first = claim_one(store, "a", now=T0)
    second = claim_one(store, "a", now=at(LEASE.total_seconds() + 1), owner="node-b")

    store.release_turn("a", first.lease_token)

    assert claim(store, now=at(LEASE.total_seconds() + 2), owner="node-c") == []
    commit(store, second, now=at(LEASE.total_seconds() + 2))
