"""What the engine tells an operator about instances: one line per thing that went
wrong, with the instance id and the error's message (its stack at DEBUG).

Every record carries ``instance_id`` (and ``workflow_name`` where known) as
attributes, so a structured formatter can emit them as fields.
"""

from __future__ import annotations

import logging

from wayline.core.events import (
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


def _stack(failure: FailureDetails, about: dict[str, str]) -> None:
    if failure.stack_trace and log.isEnabledFor(logging.DEBUG):
        log.debug("stack of that failure:\n%s", failure.stack_trace.rstrip(), extra=about)


class LogObserver(Observer):
    """The engine's log lines, as an observer of what happens."""

    def activity_finished(self, task: ClaimedTask, result: TaskResult, *, seconds: float) -> None:
        """An activity raised (or its worker reported a failure)."""
        if not isinstance(result, TaskFailed):
            return
        failure = result.failure
        about = {"instance_id": task.instance_id}
        log.warning(
            "activity %r of workflow instance %r failed: %s: %s",
            task.name,
            task.instance_id,
            failure.error_type,
            failure.message,
            extra=about,
        )
        _stack(failure, about)

    def turn_committed(
        self,
        instance: InstanceRecord,
        commit: TurnCommit,
        outcome: CommitOutcome,
        *,
        seconds: float,
        commit_seconds: float,
    ) -> None:
        """A committed turn's retries and, if it failed the workflow, its failure."""
        about = {"instance_id": instance.instance_id, "workflow_name": instance.name}
        for event in commit.history:
            if isinstance(event, TimerCreated) and event.origin in _RETRIED:
                log.warning(
                    "workflow instance %r retries its failed %s at %s",
                    instance.instance_id,
                    _RETRIED[event.origin],
                    event.fire_at.isoformat(),
                    extra=about,
                )
        failure = commit.failure
        if commit.status == WorkflowStatus.FAILED and failure is not None:
            log.warning(
                "workflow instance %r (%s) failed: %s: %s",
                instance.instance_id,
                instance.name,
                failure.error_type,
                failure.message,
                extra=about,
            )
            _stack(failure, about)

    def result_discarded(self, task: ClaimedTask) -> None:
        """Another node took the task over after this node's lease ran out, or the
        instance ended meanwhile (the usual case, hence INFO)."""
        log.info(
            "the result of activity %r of workflow instance %r was discarded: its task was "
            "taken over by another node (lease expired) or its instance ended",
            task.name,
            task.instance_id,
            extra={"instance_id": task.instance_id},
        )

    def lease_lost(self, instance_id: str, why: str) -> None:
        """Another node redoes the turn."""
        log.warning("%s", why, extra={"instance_id": instance_id})

    def lease_taken_over(self, kind: str, instance_id: str, previous_owner: str) -> None:
        """The previous owner died or stalled mid-work: this node redoes it."""
        log.warning(
            "took over the %s lease of workflow instance %r from node %r, whose lease had "
            "expired (it stopped or stalled mid-%s); this node redoes that work",
            kind,
            instance_id,
            previous_owner,
            kind,
            extra={"instance_id": instance_id},
        )
