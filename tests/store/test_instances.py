"""Creating instances, reading them back, and appending to their inbox."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from wayline.core.events import (
    EventRaised,
    ExecutionStarted,
    ExecutionTerminated,
    FailureDetails,
    ParentInfo,
    Router,
    WorkflowStarted,
    WorkflowStatus,
)
from wayline.errors import InstanceAlreadyExistsError
from wayline.store import Store
from wayline.store.types import AppendResult, InstanceQuery, InstanceRecord

from ._support import (
    T0,
    at,
    claim,
    claim_one,
    claim_tasks,
    commit,
    create,
    events,
    finish,
    kinds,
    run,
    start,
    started_event,
    task,
)


def test_create_instance_is_pending_with_execution_started_queued(store: Store) -> None:
    create(store, "a", name="order", input='{"n": 1}', execution_id="exec-1", now=T0)

    record = store.get_instance("a")
    assert record == InstanceRecord(
        instance_id="a",
        name="order",
        status=WorkflowStatus.PENDING,
        execution_id="exec-1",
        created_at=T0,
        last_updated_at=T0,
        input='{"n": 1}',
        version=0,
    )
    assert store.get_history("a") == []
    turn = claim_one(store, "a", now=T0)
    assert events(turn) == [
        ExecutionStarted(
            timestamp=T0,
            name="order",
            instance_id="a",
            execution_id="exec-1",
            input='{"n": 1}',
            router=Router("wayline"),
        )
    ]


def test_create_child_instance_records_its_parent(store: Store) -> None:
    parent = ParentInfo(instance_id="p", name="parent-wf", task_scheduled_id=7, execution_id="pe")
    create(store, "c", parent=parent)

    record = store.get_instance("c")
    assert record is not None
    assert (record.parent_instance_id, record.parent_task_id, record.parent_execution_id) == (
        "p",
        7,
        "pe",
    )
    assert started_event(claim_one(store, "c")).parent == parent


def test_unknown_instance_reads_as_none_and_empty_history(store: Store) -> None:
    assert store.get_instance("nope") is None
    assert store.get_history("nope") == []


def test_payloads_and_ids_round_trip_unchanged(store: Store) -> None:
    text = '{"emoji": "\u00e9\u4e2d\U0001f600", "quote": "it\'s", "nl": "a\\nb"}'
    create(store, "id with spaces/and:colons", input=text)
    record = store.get_instance("id with spaces/and:colons")
    assert record is not None
    assert record.input == text


@pytest.mark.parametrize("state", ["PENDING", "RUNNING", "SUSPENDED"])
def test_duplicate_active_id_raises_and_changes_nothing(store: Store, state: str) -> None:
    create(store, "a", input="1")
    if state != "PENDING":
        run(store, "a", status=WorkflowStatus(state))
    before = store.get_instance("a")
    history = store.get_history("a")

    with pytest.raises(InstanceAlreadyExistsError) as caught:
        create(store, "a", name="other", input="2", execution_id="exec-2", now=at(5))

    assert caught.value.instance_id == "a"
    assert store.get_instance("a") == before
    assert store.get_history("a") == history
    if state == "PENDING":
        # Still exactly the original start in the inbox, no second one.
        turn = claim_one(store, "a", now=at(5))
        assert kinds(turn) == ["ExecutionStarted"]
        assert started_event(turn).input == "1"
    else:
        assert claim(store, now=at(5)) == []


@pytest.mark.parametrize(
    "status", [WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.TERMINATED]
)
def test_create_replaces_terminal_instance(store: Store, status: WorkflowStatus) -> None:
    start(store, "a", input="old", execution_id="exec-1")
    failure = FailureDetails(message="boom", error_type="ValueError")
    finish(
        store,
        "a",
        status=status,
        now=at(1),
        output="out",
        custom_status="cs",
        failure=failure if status == WorkflowStatus.FAILED else None,
        tasks=(task(1),),
    )
    assert store.get_history("a") != []

    create(store, "a", name="wf2", input="new", execution_id="exec-2", now=at(10))

    assert store.get_instance("a") == InstanceRecord(
        instance_id="a",
        name="wf2",
        status=WorkflowStatus.PENDING,
        execution_id="exec-2",
        created_at=at(10),
        last_updated_at=at(10),
        input="new",
        version=0,
    )
    assert store.get_history("a") == []
    assert claim_tasks(store, now=at(10)) == []
    turn = claim_one(store, "a", now=at(10))
    assert kinds(turn) == ["ExecutionStarted"]
    assert started_event(turn).execution_id == "exec-2"


def test_scheduled_start_is_not_claimable_before_due(store: Store) -> None:
    create(store, "a", now=T0, start_at=at(60))

    record = store.get_instance("a")
    assert record is not None
    assert record.status == WorkflowStatus.PENDING
    assert record.scheduled_start_at == at(60)
    assert claim(store, now=at(59)) == []
    assert store.next_wakeup(now=T0) == at(60)

    turn = claim_one(store, "a", now=at(60))
    assert started_event(turn).scheduled_start == at(60)


def test_scheduled_start_in_the_past_is_claimable_now(store: Store) -> None:
    create(store, "a", now=T0, start_at=at(-60))
    assert kinds(claim_one(store, "a", now=T0)) == ["ExecutionStarted"]


def test_terminate_reaches_a_scheduled_instance_before_its_start(store: Store) -> None:
    create(store, "a", now=T0, start_at=at(3600))
    terminate = ExecutionTerminated(timestamp=at(1), input='"stop"')
    assert store.append_message("a", terminate, now=at(1)) == AppendResult.APPENDED

    turn = claim_one(store, "a", now=at(1))
    assert events(turn) == [terminate]  # the start is not visible yet


def test_append_message_queues_events_in_arrival_order(store: Store) -> None:
    start(store, "a")
    raised = [EventRaised(timestamp=at(i), name=f"e{i}", input=str(i)) for i in range(1, 4)]
    for event in raised:
        assert store.append_message("a", event, now=event.timestamp) == AppendResult.APPENDED

    assert events(claim_one(store, "a", now=at(5))) == raised


def test_append_message_to_pending_instance_is_kept_for_later(store: Store) -> None:
    create(store, "a")
    early = EventRaised(timestamp=T0, name="early")
    assert store.append_message("a", early, now=T0) == AppendResult.APPENDED

    turn = claim_one(store, "a")
    assert kinds(turn) == ["ExecutionStarted", "EventRaised"]


@pytest.mark.parametrize(
    "status", [WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.TERMINATED]
)
def test_append_message_to_finished_instance_is_dropped(
    store: Store, status: WorkflowStatus
) -> None:
    start(store, "a")
    finish(store, "a", status=status, now=at(1))
    before = store.get_instance("a")

    result = store.append_message("a", EventRaised(timestamp=at(2), name="late"), now=at(2))

    assert result == AppendResult.FINISHED
    assert claim(store, now=at(2)) == []
    assert store.next_wakeup(now=at(1)) is None
    assert store.get_instance("a") == before


def test_append_message_to_unknown_instance_is_not_found(store: Store) -> None:
    result = store.append_message("ghost", EventRaised(timestamp=T0, name="x"), now=T0)
    assert result == AppendResult.NOT_FOUND
    assert store.get_instance("ghost") is None
    assert claim(store) == []


def test_history_reads_back_the_committed_events(store: Store) -> None:
    create(store, "a", input="in")
    turn = claim_one(store, "a")
    history = (WorkflowStarted(timestamp=T0), *events(turn))

    commit(store, turn, history=history)

    assert store.get_history("a") == list(history)


def test_times_in_any_timezone_mean_the_same_instant(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = T0.astimezone(plus_two)
    create(store, "a", now=local, start_at=(T0 + timedelta(seconds=60)).astimezone(plus_two))

    record = store.get_instance("a")
    assert record is not None
    assert record.created_at == T0
    assert record.scheduled_start_at == at(60)
    assert claim(store, now=at(59)) == []
    assert kinds(claim_one(store, "a", now=at(60))) == ["ExecutionStarted"]
    found = store.list_instances(InstanceQuery(created_from=local, created_to=at(1))).instances
    assert [r.instance_id for r in found] == ["a"]
