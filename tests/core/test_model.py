"""Statuses, and the history event each action is recorded as."""

from __future__ import annotations

import pytest

from wayline.core.actions import (
    Action,
    CompleteWorkflow,
    CreateChildWorkflow,
    CreateTimer,
    ScheduleTask,
    SendEvent,
)
from wayline.core.events import (
    TERMINAL_STATUSES,
    ChildWorkflowCreated,
    EventRaised,
    EventSent,
    ExecutionCompleted,
    FailureDetails,
    TaskScheduled,
    TimerCreated,
    TimerOrigin,
    WorkflowStatus,
)

from ._harness import T0, at


def test_statuses_are_daprs_strings() -> None:
    assert WorkflowStatus.RUNNING == "RUNNING"
    assert {s.value for s in WorkflowStatus} == {
        "RUNNING",
        "COMPLETED",
        "CONTINUED_AS_NEW",
        "FAILED",
        "CANCELED",
        "TERMINATED",
        "PENDING",
        "SUSPENDED",
        "STALLED",
    }


def test_terminal_statuses() -> None:
    terminal = {s for s in WorkflowStatus if s.is_terminal}
    assert terminal == {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.TERMINATED}
    assert terminal == TERMINAL_STATUSES


@pytest.mark.parametrize(
    ("action", "event"),
    [
        (
            ScheduleTask(id=1, name="act", input="1", task_execution_id="x"),
            TaskScheduled(event_id=1, timestamp=T0, name="act", input="1", task_execution_id="x"),
        ),
        (
            CreateTimer(id=2, fire_at=at(5), origin=TimerOrigin.EXTERNAL_EVENT, origin_name="e"),
            TimerCreated(
                event_id=2,
                timestamp=T0,
                fire_at=at(5),
                origin=TimerOrigin.EXTERNAL_EVENT,
                origin_name="e",
            ),
        ),
        (
            CreateChildWorkflow(id=3, instance_id="c", name="child", input="2"),
            ChildWorkflowCreated(
                event_id=3, timestamp=T0, instance_id="c", name="child", input="2"
            ),
        ),
        (
            SendEvent(id=4, instance_id="other", name="ping", input="3"),
            EventSent(event_id=4, timestamp=T0, instance_id="other", name="ping", input="3"),
        ),
        (
            CompleteWorkflow(
                id=5,
                status=WorkflowStatus.FAILED,
                failure=FailureDetails(message="m", error_type="E"),
            ),
            ExecutionCompleted(
                event_id=5,
                timestamp=T0,
                status=WorkflowStatus.FAILED,
                failure=FailureDetails(message="m", error_type="E"),
            ),
        ),
    ],
    ids=lambda value: type(value).__name__,
)
def test_each_action_is_recorded_with_its_id_as_event_id(action: Action, event: object) -> None:
    assert action.to_event(T0) == event


def test_carryover_events_are_not_part_of_the_completion_event() -> None:
    action = CompleteWorkflow(
        id=1,
        status=WorkflowStatus.CONTINUED_AS_NEW,
        result="2",
        carryover_events=(EventRaised(timestamp=T0, name="e"),),
    )
    assert action.to_event(T0) == ExecutionCompleted(
        event_id=1, timestamp=T0, status=WorkflowStatus.CONTINUED_AS_NEW, result="2"
    )


def test_base_action_has_no_event() -> None:
    with pytest.raises(NotImplementedError):
        Action(id=1).to_event(T0)
