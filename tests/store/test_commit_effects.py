"""What a committed turn creates elsewhere: tasks, timers, children, messages, restarts."""

from __future__ import annotations

import pytest

from wayline.core.events import (
    ChildWorkflowFailed,
    EventRaised,
    ExecutionResumed,
    ExecutionStarted,
    ExecutionSuspended,
    FailureDetails,
    ParentInfo,
    Router,
    TaskCompleted,
    TimerFired,
    WorkflowStarted,
    WorkflowStatus,
)
from wayline.store import Store
from wayline.store.types import ContinueAsNew, NewInstance, OutboundMessage

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
    finish,
    kinds,
    poke,
    run,
    start,
    started_event,
    task,
)

TERMINAL = [WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.TERMINATED]


def _child(instance_id: str, parent: str = "p", task_id: int = 1) -> NewInstance:
    return NewInstance(
        instance_id=instance_id,
        name="child-wf",
        execution_id=f"{instance_id}-exec",
        input='"in"',
        parent=ParentInfo(
            instance_id=parent,
            name="wf",
            task_scheduled_id=task_id,
            execution_id=f"{parent}-exec-1",
        ),
    )


def _timer(timer_id: int, seconds: float) -> TimerFired:
    return TimerFired(timestamp=at(seconds), timer_id=timer_id, fire_at=at(seconds))


# ----- tasks -------------------------------------------------------------------------------


def test_commit_queues_activity_tasks_for_the_current_execution(store: Store) -> None:
    create(store, "a", execution_id="e1")
    run(store, "a", tasks=(task(1, "charge", '"card"'), task(2, "ship")))

    claimed = claim_tasks(store)
    assert [(t.instance_id, t.execution_id, t.task_id, t.name, t.input) for t in claimed] == [
        ("a", "e1", 1, "charge", '"card"'),
        ("a", "e1", 2, "ship", None),
    ]
    assert all(t.attempt == 1 for t in claimed)


# ----- timers ------------------------------------------------------------------------------


def test_timers_are_inbox_rows_that_become_visible_when_due(store: Store) -> None:
    create(store, "a", execution_id="e1")
    run(store, "a", timers=(_timer(1, 60), _timer(2, 30)))

    assert store.next_wakeup(now=T0) == at(30)
    assert claim(store, now=at(29)) == []

    turn = claim_one(store, "a", now=at(30))
    assert events(turn) == [_timer(2, 30)]
    assert turn.messages[0].execution_id == "e1"
    commit(store, turn, now=at(30))

    assert store.next_wakeup(now=at(30)) == at(60)
    assert store.next_wakeup(now=at(61)) == at(60)  # due: a claim finds it now
    last = claim_one(store, "a", now=at(61))
    assert events(last) == [_timer(1, 60)]
    commit(store, last, now=at(61))
    assert store.next_wakeup(now=at(61)) is None


def test_next_wakeup_is_none_when_nothing_is_pending(store: Store) -> None:
    assert store.next_wakeup(now=T0) is None
    create(store, "a")
    assert store.next_wakeup(now=at(1)) == T0  # its start is runnable now
    run(store, "a", now=at(1))
    assert store.next_wakeup(now=at(1)) is None  # RUNNING, waiting for nothing due


def test_next_wakeup_spans_every_instance(store: Store) -> None:
    start(store, "a")
    start(store, "b")
    poke(store, "a", now=at(1))
    run(store, "a", now=at(1), timers=(_timer(1, 500),))
    poke(store, "b", now=at(1))
    run(store, "b", now=at(1), timers=(_timer(1, 200),))

    assert store.next_wakeup(now=at(1)) == at(200)
    run(store, "b", now=at(200))
    assert store.next_wakeup(now=at(200)) == at(500)


def test_next_wakeup_is_the_lease_expiry_of_a_runnable_leased_instance(store: Store) -> None:
    # Its node may have died mid-turn: another node claims it once the lease expires.
    start(store, "a")
    poke(store, "a", now=at(1))
    claim_one(store, "a", now=at(1))
    assert store.next_wakeup(now=at(2)) == at(1) + LEASE


def test_next_wakeup_ignores_held_events_of_a_suspended_instance(store: Store) -> None:
    start(store, "a")
    store.append_message("a", ExecutionSuspended(timestamp=at(1)), now=at(1))
    run(store, "a", now=at(1), status=WorkflowStatus.SUSPENDED)
    poke(store, "a", now=at(2))  # held until resume: not work
    assert store.next_wakeup(now=at(3)) is None
    assert claim(store, now=at(3)) == []
    store.append_message("a", ExecutionResumed(timestamp=at(4)), now=at(4))
    assert store.next_wakeup(now=at(5)) == at(4)


# ----- children ----------------------------------------------------------------------------


def test_commit_creates_child_instances(store: Store) -> None:
    start(store, "p")
    poke(store, "p", now=at(1))
    child = _child("c1", task_id=4)
    run(store, "p", now=at(1), children=(child,))

    record = store.get_instance("c1")
    assert record is not None
    assert record.status == WorkflowStatus.PENDING
    assert (record.parent_instance_id, record.parent_task_id, record.parent_execution_id) == (
        "p",
        4,
        "p-exec-1",
    )
    assert record.created_at == at(1)
    started = started_event(claim_one(store, "c1", now=at(1)))
    assert started == ExecutionStarted(
        timestamp=at(1),
        name="child-wf",
        instance_id="c1",
        execution_id="c1-exec",
        input='"in"',
        parent=child.parent,
        router=Router("wayline"),
    )
    assert [r.instance_id for r in store.active_children("p")] == ["c1"]


def test_child_with_an_active_duplicate_id_fails_in_the_parent(store: Store) -> None:
    start(store, "taken", input='"original"')
    start(store, "p")
    poke(store, "p", now=at(1))
    before = store.get_instance("taken")

    run(store, "p", now=at(1), children=(_child("taken", task_id=3),))

    assert store.get_instance("taken") == before
    turn = claim_one(store, "p", now=at(2))
    [failed] = events(turn)
    assert isinstance(failed, ChildWorkflowFailed)
    assert failed.task_scheduled_id == 3
    assert failed.failure.error_type == "InstanceAlreadyExistsError"
    assert "taken" in failed.failure.message
    assert turn.messages[0].execution_id == "p-exec-1"


def test_child_with_a_finished_duplicate_id_replaces_it(store: Store) -> None:
    start(store, "old")
    finish(store, "old", now=at(1))
    start(store, "p")
    poke(store, "p", now=at(2))

    run(store, "p", now=at(2), children=(_child("old"),))

    record = store.get_instance("old")
    assert record is not None
    assert (record.status, record.parent_instance_id) == (WorkflowStatus.PENDING, "p")
    assert store.get_history("old") == []
    assert claimed_ids(claim(store, now=at(3))) == {"old"}  # the parent got no failure


# ----- messages to other instances ---------------------------------------------------------


def test_messages_reach_active_instances(store: Store) -> None:
    start(store, "sender")
    start(store, "target", execution_id="t1")
    create(store, "pending")
    poke(store, "sender", now=at(1))
    to_target = EventRaised(timestamp=at(1), name="hello", input='"x"')
    to_exact = EventRaised(timestamp=at(1), name="exact")
    to_pending = EventRaised(timestamp=at(1), name="early")

    run(
        store,
        "sender",
        now=at(1),
        messages=(
            OutboundMessage(instance_id="target", event=to_target),
            OutboundMessage(instance_id="target", event=to_exact, execution_id="t1"),
            OutboundMessage(instance_id="pending", event=to_pending),
        ),
    )

    assert events(claim_one(store, "target", now=at(2))) == [to_target, to_exact]
    assert kinds(claim_one(store, "pending", now=at(2))) == ["ExecutionStarted", "EventRaised"]


def test_messages_to_finished_unknown_or_other_executions_are_dropped(store: Store) -> None:
    start(store, "sender")
    start(store, "done")
    finish(store, "done", now=at(1))
    start(store, "moved-on", execution_id="current")
    poke(store, "sender", now=at(2))

    run(
        store,
        "sender",
        now=at(2),
        messages=(
            OutboundMessage(instance_id="done", event=EventRaised(timestamp=at(2), name="x")),
            OutboundMessage(instance_id="ghost", event=EventRaised(timestamp=at(2), name="x")),
            OutboundMessage(
                instance_id="moved-on",
                event=EventRaised(timestamp=at(2), name="x"),
                execution_id="previous",
            ),
        ),
    )

    assert claim(store, now=at(3)) == []
    assert store.get_instance("ghost") is None
    record = store.get_instance("sender")
    assert record is not None
    assert record.version == 2  # the commit itself went through


# ----- terminal commits --------------------------------------------------------------------


@pytest.mark.parametrize("status", TERMINAL)
def test_terminal_commit_deletes_remaining_inbox_and_tasks(
    store: Store, status: WorkflowStatus
) -> None:
    start(store, "a")
    poke(store, "a", now=at(1))
    run(store, "a", now=at(1), tasks=(task(1), task(2)), timers=(_timer(3, 100),))
    leased = claim_tasks(store, now=at(2), limit=1)
    for i in range(3):
        poke(store, "a", now=at(2), name=f"e{i}")
    turn = claim_one(store, "a", now=at(3))
    poke(store, "a", now=at(3), name="during-the-turn")

    commit(store, turn, now=at(4), status=status, consumed=(turn.messages[0].id,), output='"r"')

    record = store.get_instance("a")
    assert record is not None
    assert (record.status, record.output, record.completed_at) == (status, '"r"', at(4))
    assert claim(store, now=at(200)) == []
    assert store.next_wakeup(now=at(4)) is None
    assert claim_tasks(store, now=at(200)) == []
    assert not store.complete_task(
        leased[0], TaskCompleted(timestamp=at(5), task_scheduled_id=1), now=at(5)
    )
    assert claim(store, now=at(200)) == []


def test_failed_commit_records_failure_details(store: Store) -> None:
    start(store, "a")
    failure = FailureDetails(message="it broke", error_type="RuntimeError", stack_trace="tb")
    finish(store, "a", now=at(1), status=WorkflowStatus.FAILED, failure=failure)

    record = store.get_instance("a")
    assert record is not None
    assert record.failure == failure
    assert record.output is None


# ----- continue-as-new ---------------------------------------------------------------------


def test_continue_as_new_restarts_the_instance(store: Store) -> None:
    create(store, "a", input='"v1"', execution_id="e1")
    run(store, "a", custom_status='"cs"', tasks=(task(1), task(2)), timers=(_timer(3, 100),))
    old_task, _ = claim_tasks(store, now=at(1))
    assert store.complete_task(
        old_task, TaskCompleted(timestamp=at(1), task_scheduled_id=1, result="1"), now=at(1)
    )
    kept = EventRaised(timestamp=at(1), name="arrived-meanwhile")
    store.append_message("a", kept, now=at(1))
    turn = claim_one(store, "a", now=at(2))
    # The turn saw the task result; the event arrives only after the claim.
    assert kinds(turn) == ["TaskCompleted", "EventRaised"]
    carried = EventRaised(timestamp=at(1), name="carried", input='"c"')
    version = turn.instance.version

    commit(
        store,
        turn,
        now=at(3),
        history=(),
        consumed=(turn.messages[0].id,),
        custom_status='"cs"',
        continue_as_new=ContinueAsNew(execution_id="e2", input='"v2"', carryover_events=(carried,)),
    )

    record = store.get_instance("a")
    assert record is not None
    assert (record.status, record.execution_id, record.input, record.version) == (
        WorkflowStatus.RUNNING,
        "e2",
        '"v2"',
        version + 1,
    )
    assert record.created_at == T0
    assert record.completed_at is None
    assert store.get_history("a") == []
    assert claim_tasks(store, now=at(200)) == []  # old-execution tasks are gone
    restarted = claim_one(store, "a", now=at(4))
    # Old-execution rows (the task result) are gone; an event not addressed to an
    # execution stays, behind the new start and the carried-over events (which the old
    # execution received before it).
    assert events(restarted) == [
        ExecutionStarted(
            timestamp=at(3),
            name="wf",
            instance_id="a",
            execution_id="e2",
            input='"v2"',
            router=Router("wayline"),
        ),
        carried,
        kept,
    ]
    commit(store, restarted, now=at(4))
    assert store.get_history("a")[0] == WorkflowStarted(timestamp=at(4))
    assert store.next_wakeup(now=at(4)) is None  # the old execution's timer is gone


def test_continue_as_new_of_a_child_keeps_its_parent(store: Store) -> None:
    start(store, "p")
    poke(store, "p", now=at(1))
    run(store, "p", now=at(1), children=(_child("c", task_id=9),))
    run(store, "c", now=at(2))
    poke(store, "c", now=at(3))

    run(
        store,
        "c",
        now=at(3),
        history=(),
        continue_as_new=ContinueAsNew(execution_id="c-exec-2", input=None),
    )

    record = store.get_instance("c")
    assert record is not None
    assert (record.parent_instance_id, record.parent_task_id, record.parent_execution_id) == (
        "p",
        9,
        "p-exec-1",
    )
    parent = started_event(claim_one(store, "c", now=at(4))).parent
    assert parent is not None
    assert (parent.instance_id, parent.task_scheduled_id, parent.execution_id) == (
        "p",
        9,
        "p-exec-1",
    )
    assert [r.instance_id for r in store.active_children("p")] == ["c"]
