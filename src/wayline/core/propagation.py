"""History propagation (dapr-ext-workflow 1.18): a step may carry its caller's history.

A workflow calls an activity or a child workflow with ``propagation=`` a scope; the
callee then receives the caller's history so far (``OWN_HISTORY``), or that plus what
the caller itself received (``LINEAGE``), one chunk per workflow, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from wayline.core.events import (
    ChildWorkflowCompleted,
    ChildWorkflowCreated,
    ChildWorkflowFailed,
    FailureDetails,
    HistoryEvent,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
)


class PropagationScope(StrEnum):
    """durabletask's ``HistoryPropagationScope`` (NONE is no scope at all)."""

    OWN_HISTORY = "OWN_HISTORY"
    LINEAGE = "LINEAGE"


def scope_name(value: Any) -> str | None:
    """The name of a scope given as ours, dapr-ext-workflow's enum member, or its name
    (None: no scope), as a call records it."""
    if value is None:
        return None
    name = getattr(value, "name", value)
    if name == "NONE":
        return None
    try:
        return PropagationScope(name).value
    except ValueError:
        raise ValueError(
            f"propagation must be PropagationScope.OWN_HISTORY or LINEAGE, got {value!r}"
        ) from None


@dataclass(frozen=True)
class HistoryChunk:
    """One workflow's history as propagated: events up to the call that carries it."""

    app_id: str
    instance_id: str
    workflow_name: str
    events: tuple[HistoryEvent, ...]


@dataclass(frozen=True)
class Propagated:
    scope: PropagationScope
    chunks: tuple[HistoryChunk, ...]


def history_up_to(history: Sequence[HistoryEvent], event_id: int) -> tuple[HistoryEvent, ...]:
    """The history up to and including the step with ``event_id`` (the call)."""
    for position, event in enumerate(history):
        if event.event_id == event_id:
            return tuple(history[: position + 1])
    return tuple(history)


def propagate(
    scope: PropagationScope, own: HistoryChunk, received: Propagated | None
) -> Propagated:
    """What a call with ``scope`` carries: the caller's chunk, after its lineage."""
    chunks: tuple[HistoryChunk, ...] = (own,)
    if scope is PropagationScope.LINEAGE and received is not None:
        chunks = (*received.chunks, own)
    return Propagated(scope, chunks)


# ----- what the receiving code reads (dapr-ext-workflow's query API) ---------------------


class PropagationNotFoundError(LookupError):
    """A query of propagated history found nothing by that name."""


@dataclass(frozen=True)
class ActivityResult:
    """One activity call as the propagated history shows it (payloads as JSON text)."""

    name: str
    started: bool
    completed: bool
    failed: bool
    input: str | None
    output: str | None
    error: FailureDetails | None


@dataclass(frozen=True)
class ChildWorkflowResult:
    name: str
    started: bool
    completed: bool
    failed: bool
    output: str | None
    error: FailureDetails | None


@dataclass(frozen=True)
class WorkflowResult:
    """One workflow's chunk of a propagated history."""

    instance_id: str
    app_id: str
    name: str
    events: tuple[HistoryEvent, ...] = field(repr=False)

    def get_activities_by_name(self, name: str) -> list[ActivityResult]:
        """Every call of activity ``name`` in this chunk, in order."""
        return [
            self._activity(e)
            for e in self.events
            if isinstance(e, TaskScheduled) and e.name == name
        ]

    def get_last_activity_by_name(self, name: str) -> ActivityResult:
        found = self.get_activities_by_name(name)
        if not found:
            raise PropagationNotFoundError(
                f"no activity named {name!r} in propagated history for workflow {self.name!r}"
            )
        return found[-1]

    def get_child_workflows_by_name(self, name: str) -> list[ChildWorkflowResult]:
        return [
            self._child(e)
            for e in self.events
            if isinstance(e, ChildWorkflowCreated) and e.name == name
        ]

    def get_last_child_workflow_by_name(self, name: str) -> ChildWorkflowResult:
        found = self.get_child_workflows_by_name(name)
        if not found:
            raise PropagationNotFoundError(
                f"no child workflow named {name!r} in propagated history for workflow {self.name!r}"
            )
        return found[-1]

    def _activity(self, scheduled: TaskScheduled) -> ActivityResult:
        output, error, completed, failed = None, None, False, False
        for e in self.events:
            if isinstance(e, TaskCompleted) and e.task_scheduled_id == scheduled.event_id:
                completed, output = True, e.result
            elif isinstance(e, TaskFailed) and e.task_scheduled_id == scheduled.event_id:
                failed, error = True, e.failure
        return ActivityResult(
            scheduled.name, True, completed, failed, scheduled.input, output, error
        )

    def _child(self, created: ChildWorkflowCreated) -> ChildWorkflowResult:
        output, error, completed, failed = None, None, False, False
        for e in self.events:
            if isinstance(e, ChildWorkflowCompleted) and e.task_scheduled_id == created.event_id:
                completed, output = True, e.result
            elif isinstance(e, ChildWorkflowFailed) and e.task_scheduled_id == created.event_id:
                failed, error = True, e.failure
        return ChildWorkflowResult(created.name, True, completed, failed, output, error)


class PropagatedHistory:
    """The history a step received from its callers: one chunk per workflow, the
    oldest ancestor first and the immediate caller last (``get_propagated_history``)."""

    def __init__(self, propagated: Propagated) -> None:
        self.scope = propagated.scope
        self._chunks = propagated.chunks
        self.events = [e for chunk in propagated.chunks for e in chunk.events]

    def get_app_ids(self) -> list[str]:
        return list(dict.fromkeys(chunk.app_id for chunk in self._chunks))

    def get_events_by_app_id(self, app_id: str) -> list[HistoryEvent]:
        return [e for c in self._chunks if c.app_id == app_id for e in c.events]

    def get_events_by_instance_id(self, instance_id: str) -> list[HistoryEvent]:
        return [e for c in self._chunks if c.instance_id == instance_id for e in c.events]

    def get_events_by_workflow_name(self, workflow_name: str) -> list[HistoryEvent]:
        return [e for c in self._chunks if c.workflow_name == workflow_name for e in c.events]

    def get_workflows(self) -> list[WorkflowResult]:
        return [
            WorkflowResult(c.instance_id, c.app_id, c.workflow_name, c.events) for c in self._chunks
        ]

    def get_workflows_by_name(self, name: str) -> list[WorkflowResult]:
        return [w for w in self.get_workflows() if w.name == name]

    def get_last_workflow_by_name(self, name: str) -> WorkflowResult:
        found = self.get_workflows_by_name(name)
        if not found:
            raise PropagationNotFoundError(f"no workflow named {name!r} in propagated history")
        return found[-1]
