"""What the engine tells an operator about instances: their lifecycle at INFO
(started, completed, terminated, continued as new), and one line per thing that went
wrong at WARNING, with the instance id and the error's message (its stack at DEBUG).

Every record about an instance carries ``instance_id`` and ``workflow_name`` as
attributes (``workflow_name`` where this node knows it: an activity's records carry
it when the node holds its instance in the replay cache, as on the step's fast
path), so a structured formatter (``wayline.observability.logging``) can emit them
as fields; activity records carry ``activity_name`` and ``task_id`` too. Messages are
formatted only when their level is enabled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from wayline.core.events import (
    ExecutionStarted,
    FailureDetails,
    TaskFailed,
    TimerCreated,
    TimerOrigin,
    WorkflowStatus,
)
from wayline.engine.observer import Observer
from wayline.store.types import ClaimedTask, CommitOutcome, InstanceRecord, TaskResult, TurnCommit

log = logging.getLogger("wayline.engine")

_RETRIED = {
    TimerOrigin.ACTIVITY_RETRY: "activity",
    TimerOrigin.CHILD_WORKFLOW_RETRY: "child workflow",
}

#: The ends of an instance logged at INFO (a failure is a WARNING, with its message).
_ENDED = {
    WorkflowStatus.COMPLETED: "completed",
    WorkflowStatus.TERMINATED: "terminated",
}


def about(instance_id: str, workflow_name: str | None = None, **fields: Any) -> dict[str, Any]:
    """The ``extra=`` of a record about an instance: its id, its workflow's name (when
    known) and ``fields``."""
    return {"instance_id": instance_id, "workflow_name": workflow_name, **fields}


def _stack(failure: FailureDetails, fields: dict[str, Any]) -> None:
    if failure.stack_trace and log.isEnabledFor(logging.DEBUG):
        log.debug("stack of that failure:\n%s", failure.stack_trace.rstrip(), extra=fields)


class LogObserver(Observer):
    """The engine's log lines, as an observer of what happens.

    ``workflow_name`` finds the workflow of an activity task's instance where the node
    knows it cheaply (its replay cache); None where it does not.
    """

    def __init__(self, workflow_name: Callable[[str], str | None]) -> None:
        self._workflow_name = workflow_name

    def about_task(self, task: ClaimedTask, **fields: Any) -> dict[str, Any]:
        """The ``extra=`` of a record about an activity task."""
        name = self._workflow_name(task.instance_id)
        return about(
            task.instance_id,
            name,
            activity_name=task.name,
            task_id=task.task_id,
            **fields,
        )

    def activity_finished(self, task: ClaimedTask, result: TaskResult, *, seconds: float) -> None:
        """An activity raised (or its worker reported a failure)."""
        if not isinstance(result, TaskFailed) or not log.isEnabledFor(logging.WARNING):
            return
        failure = result.failure
        fields = self.about_task(task, error_type=failure.error_type)
        log.warning(
            "activity %r of workflow instance %r failed: %s: %s",
            task.name,
            task.instance_id,
            failure.error_type,
            failure.message,
            extra=fields,
        )
        _stack(failure, fields)

    def turn_committed(
        self,
        instance: InstanceRecord,
        commit: TurnCommit,
        outcome: CommitOutcome,
        *,
        seconds: float,
        commit_seconds: float,
    ) -> None:
        """A committed turn's start, retries and end (the failure with its message)."""
        if not log.isEnabledFor(logging.WARNING):
            return
        iid, name = instance.instance_id, instance.name
        for event in commit.history:
            if isinstance(event, ExecutionStarted):
                log.info(
                    "workflow instance %r (%s) started",
                    iid,
                    name,
                    extra=about(iid, name, status="RUNNING"),
                )
            elif isinstance(event, TimerCreated) and event.origin in _RETRIED:
                log.warning(
                    "workflow instance %r retries its failed %s at %s",
                    iid,
                    _RETRIED[event.origin],
                    event.fire_at.isoformat(),
                    extra=about(iid, name),
                )
        status = commit.status
        if commit.continue_as_new is not None:
            log.info(
                "workflow instance %r (%s) continued as new",
                iid,
                name,
                extra=about(iid, name, status="CONTINUED_AS_NEW"),
            )
        elif status in _ENDED:
            log.info(
                "workflow instance %r (%s) %s",
                iid,
                name,
                _ENDED[status],
                extra=about(iid, name, status=status.value),
            )
        elif status == WorkflowStatus.FAILED and commit.failure is not None:
            failure = commit.failure
            fields = about(iid, name, status=status.value, error_type=failure.error_type)
            log.warning(
                "workflow instance %r (%s) failed: %s: %s",
                iid,
                name,
                failure.error_type,
                failure.message,
                extra=fields,
            )
            _stack(failure, fields)

    def result_discarded(self, task: ClaimedTask) -> None:
        """Another node took the task over after this node's lease ran out, or the
        instance ended meanwhile (the usual case, hence INFO)."""
        log.info(
            "the result of activity %r of workflow instance %r was discarded: its task was "
            "taken over by another node (lease expired) or its instance ended",
            task.name,
            task.instance_id,
            extra=self.about_task(task),
        )

    def lease_lost(self, instance_id: str, why: str) -> None:
        """Another node redoes the turn."""
        name = self._workflow_name(instance_id)
        log.warning("%s", why, extra=about(instance_id, name))

    def lease_taken_over(self, kind: str, instance_id: str, previous_owner: str) -> None:
        """The previous owner died or stalled mid-work: this node redoes it."""
        name = self._workflow_name(instance_id)
        log.warning(
            "took over the %s lease of workflow instance %r from node %r, whose lease had "
            "expired (it stopped or stalled mid-%s); this node redoes that work",
            kind,
            instance_id,
            previous_owner,
            kind,
            extra=about(instance_id, name),
        )
