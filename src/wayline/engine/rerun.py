"""Rerun from an event (Dapr 1.16 ``RerunWorkflowFromEvent``): plan the new instance.

A finished instance is run again, under a new id, from one of its activities or
child workflows: the history up to and including that step is copied, steps that
finished before it keep their results, and every step the copy leaves unfinished
(the target, and work that was still in flight when it ran) is queued again and
stamped with the instance it was rerun from. The workflow code then replays the
copy and carries on from there. Pure: the client reads, the store writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from wayline.core.events import (
    ChildWorkflowCompleted,
    ChildWorkflowCreated,
    ChildWorkflowFailed,
    ExecutionStarted,
    HistoryEvent,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
    WorkflowStatus,
)
from wayline.core.ids import child_instance_id, new_execution_id
from wayline.engine.turns import new_child, new_task, timer_firing
from wayline.errors import InvalidRerunError
from wayline.store.types import InstanceRecord, NewInstance, NewTask, TurnCommit


@dataclass(frozen=True)
class RerunRequest:
    source_instance_id: str
    event_id: int
    new_instance_id: str
    #: The target activity's new input (serialized), when ``overwrite_input``.
    input: str | None = None
    overwrite_input: bool = False
    new_child_instance_id: str | None = None


@dataclass(frozen=True)
class RerunPlan:
    """The new instance, and the commit that gives it the copied history and work."""

    instance: NewInstance
    commit: TurnCommit


def plan_rerun(
    source: InstanceRecord,
    history: Sequence[HistoryEvent],
    request: RerunRequest,
    now: datetime,
) -> RerunPlan:
    if not source.status.is_terminal:
        raise InvalidRerunError(
            f"workflow instance '{source.instance_id}' is {source.status.value}: only a "
            "COMPLETED, FAILED or TERMINATED instance can be rerun"
        )
    if request.new_instance_id == source.instance_id:
        raise InvalidRerunError("the rerun needs a new instance id, not the source's own")
    cut = _target(history, request)
    target = history[cut]
    if request.overwrite_input and not isinstance(target, TaskScheduled):
        raise InvalidRerunError(
            f"event {request.event_id} is a child workflow: only an activity's input can "
            "be overwritten"
        )
    if request.new_child_instance_id is not None and not isinstance(target, ChildWorkflowCreated):
        raise InvalidRerunError(
            f"event {request.event_id} is an activity: a new child instance id applies "
            "only to a child workflow"
        )
    execution_id = new_execution_id()
    # The new instance, as the parent its rerun children start from.
    rerun = dataclasses.replace(
        source, instance_id=request.new_instance_id, execution_id=execution_id
    )
    finished = _finished_steps(history[: cut + 1])
    copied: list[HistoryEvent] = []
    tasks: list[NewTask] = []
    timers: list[TimerFired] = []
    children: list[NewInstance] = []
    rerun_from = source.instance_id
    for position, event in enumerate(history[: cut + 1]):
        unfinished = event.event_id not in finished
        if isinstance(event, ExecutionStarted):
            # A new run: the source's span ids are not its own (reruns are not traced).
            event = dataclasses.replace(
                event,
                instance_id=request.new_instance_id,
                execution_id=execution_id,
                parent_trace_context=None,
                workflow_span_id=None,
            )
        elif isinstance(event, TaskScheduled) and unfinished:
            if position == cut and request.overwrite_input:
                event = dataclasses.replace(event, input=request.input)
            event = dataclasses.replace(event, rerun_parent_instance_id=rerun_from)
            tasks.append(new_task(event, source.app_id))
        elif isinstance(event, ChildWorkflowCreated) and unfinished:
            child_id = child_instance_id(request.new_instance_id, event.event_id)
            if position == cut and request.new_child_instance_id:
                child_id = request.new_child_instance_id
            event = dataclasses.replace(
                event, instance_id=child_id, rerun_parent_instance_id=rerun_from
            )
            children.append(new_child(event, rerun))
        elif isinstance(event, TimerCreated) and unfinished:
            event = dataclasses.replace(event, rerun_parent_instance_id=rerun_from)
            timers.append(timer_firing(event))
        copied.append(event)
    instance = NewInstance(
        instance_id=request.new_instance_id,
        name=source.name,
        execution_id=execution_id,
        input=source.input,
        app_id=source.app_id,
    )
    commit = TurnCommit(
        instance_id=request.new_instance_id,
        lease_token=None,
        now=now,
        status=WorkflowStatus.RUNNING,
        history=tuple(copied),
        tasks=tuple(tasks),
        timers=tuple(timers),
        children=tuple(children),
    )
    return RerunPlan(instance, commit)


def _target(history: Sequence[HistoryEvent], request: RerunRequest) -> int:
    for position, event in enumerate(history):
        if event.event_id != request.event_id:
            continue
        if isinstance(event, TaskScheduled | ChildWorkflowCreated):
            return position
        raise InvalidRerunError(
            f"event {request.event_id} of '{request.source_instance_id}' is "
            f"{type(event).__name__}: a rerun starts from an activity (TaskScheduled) or "
            "a child workflow (ChildWorkflowCreated)"
        )
    raise InvalidRerunError(
        f"workflow instance '{request.source_instance_id}' has no event {request.event_id} "
        "(see its history for the event ids of its activities and child workflows)"
    )


def _finished_steps(events: Sequence[HistoryEvent]) -> set[int]:
    """The ids of the steps whose outcome is among ``events``."""
    done: set[int] = set()
    for event in events:
        if isinstance(
            event, TaskCompleted | TaskFailed | ChildWorkflowCompleted | ChildWorkflowFailed
        ):
            done.add(event.task_scheduled_id)
        elif isinstance(event, TimerFired):
            done.add(event.timer_id)
    return done
