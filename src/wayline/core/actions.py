"""Actions: what a workflow turn asks the engine to do.

Each action has the workflow's sequence number ``id`` (from 1, counted across the
whole execution). The engine records every action in the history as the event
``action.to_event(now, app_id)`` with ``event_id == action.id``; replay matches
those events back to the actions the code produces. A call may name the app that
runs it (``app_id``, Dapr's multi-app workflows): the event records the route.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from wayline.core.events import (
    ChildWorkflowCreated,
    EventRaised,
    EventSent,
    ExecutionCompleted,
    FailureDetails,
    HistoryEvent,
    Router,
    TaskScheduled,
    TimerCreated,
    TimerOrigin,
    WorkflowStatus,
)


@dataclass(frozen=True, kw_only=True)
class Action:
    id: int

    def to_event(self, timestamp: datetime, app_id: str | None = None) -> HistoryEvent:
        """The history event that records this action, in a workflow of app ``app_id``."""
        raise NotImplementedError


def _route(app_id: str | None, target_app_id: str | None) -> Router | None:
    return None if app_id is None else Router(app_id, target_app_id)


@dataclass(frozen=True, kw_only=True)
class ScheduleTask(Action):
    name: str
    input: str | None = None
    task_execution_id: str = ""
    propagation: str | None = None
    #: The app to run the activity in (None: the workflow's own).
    app_id: str | None = None

    def to_event(self, timestamp: datetime, app_id: str | None = None) -> HistoryEvent:
        return TaskScheduled(
            event_id=self.id,
            timestamp=timestamp,
            router=_route(app_id, self.app_id),
            name=self.name,
            input=self.input,
            task_execution_id=self.task_execution_id,
            propagation=self.propagation,
        )


@dataclass(frozen=True, kw_only=True)
class CreateTimer(Action):
    fire_at: datetime
    origin: TimerOrigin = TimerOrigin.CREATE_TIMER
    origin_name: str | None = None

    def to_event(self, timestamp: datetime, app_id: str | None = None) -> HistoryEvent:
        return TimerCreated(
            event_id=self.id,
            timestamp=timestamp,
            fire_at=self.fire_at,
            origin=self.origin,
            origin_name=self.origin_name,
        )


@dataclass(frozen=True, kw_only=True)
class CreateChildWorkflow(Action):
    instance_id: str
    name: str
    input: str | None = None
    propagation: str | None = None
    #: The app to run the child in (None: the parent's own).
    app_id: str | None = None

    def to_event(self, timestamp: datetime, app_id: str | None = None) -> HistoryEvent:
        return ChildWorkflowCreated(
            event_id=self.id,
            timestamp=timestamp,
            router=_route(app_id, self.app_id),
            instance_id=self.instance_id,
            name=self.name,
            input=self.input,
            propagation=self.propagation,
        )


@dataclass(frozen=True, kw_only=True)
class SendEvent(Action):
    instance_id: str
    name: str
    input: str | None = None

    def to_event(self, timestamp: datetime, app_id: str | None = None) -> HistoryEvent:
        return EventSent(
            event_id=self.id,
            timestamp=timestamp,
            instance_id=self.instance_id,
            name=self.name,
            input=self.input,
        )


@dataclass(frozen=True, kw_only=True)
class CompleteWorkflow(Action):
    """Ends the execution: COMPLETED, FAILED, TERMINATED or CONTINUED_AS_NEW.

    For ``CONTINUED_AS_NEW``, ``result`` is the new input and ``carryover_events``
    the unprocessed external events the next execution starts with.
    """

    status: WorkflowStatus
    result: str | None = None
    failure: FailureDetails | None = None
    carryover_events: tuple[EventRaised, ...] = field(default=())

    def to_event(self, timestamp: datetime, app_id: str | None = None) -> HistoryEvent:
        return ExecutionCompleted(
            event_id=self.id,
            timestamp=timestamp,
            router=_route(app_id, None),
            status=self.status,
            result=self.result,
            failure=self.failure,
        )
