"""What the engine and the client report as it happens, for logs, metrics and traces.

The engine calls an ``Observer`` at a few points of a step (a turn committed, an
activity started and finished, a lease lost) and the client once per management
operation. The base class does nothing; the log writer (``engine.logs``) and the
Prometheus and OpenTelemetry adapters (``wayline.observability``) override what
they need. The engine imports neither adapter: with none configured a hook is
one call to an empty method.

Hooks run on the engine's loop (or the client's thread) and must be quick and must
not raise: an observer that fails is logged, never allowed to fail a step.
Numbers that are cheap to read when asked (backlogs, cache hits, store
transactions) are not pushed through here: adapters read them when scraped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from wayline.core.events import TraceContext
from wayline.store.types import (
    ClaimedTask,
    CommitOutcome,
    InstanceRecord,
    NewInstance,
    TaskResult,
    TurnCommit,
)

if TYPE_CHECKING:
    from wayline.engine.engine import Engine

log = logging.getLogger("wayline.engine")

#: Management operations as Dapr's workflow metrics name them (``operation`` label):
#: raise event, terminate, pause and resume are all ``add_event``, as in Dapr.
CREATE_WORKFLOW: Final = "create_workflow"
GET_WORKFLOW: Final = "get_workflow"
ADD_EVENT: Final = "add_event"
PURGE_WORKFLOW: Final = "purge_workflow"

#: What a lease is on (``lease_taken_over``'s ``kind``).
TURN: Final = "turn"
ACTIVITY: Final = "activity"


class Observer:
    """Receives what happens; every hook is optional (the default does nothing)."""

    def operation(
        self, operation: str, instance_id: str | None, *, ok: bool, seconds: float
    ) -> None:
        """A client operation (``CREATE_WORKFLOW``, ...) finished; ``ok`` is False when it
        raised (bad input included)."""

    def instance_starting(
        self, new: NewInstance, *, trace_parent: TraceContext | None, now: datetime
    ) -> NewInstance:
        """A client is about to create ``new`` (its ``CREATE_WORKFLOW`` operation follows);
        returns the instance to create: a tracing adapter adds its trace fields.
        ``trace_parent``: the trace context the caller's request carried, if any."""
        return new

    def turn_planned(self, instance: InstanceRecord, commit: TurnCommit) -> TurnCommit:
        """A turn of ``instance`` is about to be committed; returns the commit to write:
        a tracing adapter adds its trace fields (never anything workflow code sees)."""
        return commit

    def activity_trace_context(self, task: ClaimedTask) -> TraceContext | None:
        """The trace context a remote worker's run of ``task`` continues (asked after
        ``activity_started``, for the worker's ``ActivityRequest``); None: none."""
        return None

    def turn_committed(
        self,
        instance: InstanceRecord,
        commit: TurnCommit,
        outcome: CommitOutcome,
        *,
        seconds: float,
        commit_seconds: float,
    ) -> None:
        """A turn of ``instance`` (its row as the turn began) is durable: ``seconds``
        from the turn's start to its commit, ``commit_seconds`` of which waiting for the
        store. ``commit.history`` holds the turn's new events (``ExecutionStarted`` on
        an instance's first turn); ``outcome.status`` the status it left."""

    def turn_failed(self, instance_id: str, workflow_name: str, error: BaseException) -> None:
        """A turn raised before it committed; the instance's next turn retries it."""

    def lease_lost(self, instance_id: str, why: str) -> None:
        """This node's lease on an instance's turn was taken over (another node redoes
        the turn)."""

    def activity_started(self, task: ClaimedTask) -> None:
        """An activity task starts to run here (its code, or its dispatch to a worker)."""

    def activity_finished(self, task: ClaimedTask, result: TaskResult, *, seconds: float) -> None:
        """An activity task's attempt ended with ``result`` (a failure included)."""

    def activity_requeued(self, task: ClaimedTask, why: str) -> None:
        """An activity task went back to the queue unfinished (its worker was lost)."""

    def result_discarded(self, task: ClaimedTask) -> None:
        """An activity result found its task gone (taken over, or its instance ended)."""

    def lease_taken_over(self, kind: str, instance_id: str, previous_owner: str) -> None:
        """This node claimed work (``kind``: ``TURN`` or ``ACTIVITY``) whose lease, held
        by ``previous_owner``, had expired: that node died or stalled mid-work."""

    def engine_started(self, engine: Engine) -> None:
        """``engine`` runs: an adapter may keep it to read what is cheap to read when
        asked (backlogs, replay-cache hits, store transactions, connected workers)."""

    def engine_stopped(self, engine: Engine) -> None:
        """``engine`` stopped (its store may be closed next)."""


class Observers(Observer):
    """Several observers as one; one that raises is logged and the others still run."""

    def __init__(self, observers: Iterable[Observer]) -> None:
        # Nested fan-outs are flattened: one loop per hook, however they were combined.
        self.observers: tuple[Observer, ...] = tuple(
            inner
            for observer in observers
            for inner in (observer.observers if isinstance(observer, Observers) else (observer,))
        )

    def _each(self, hook: str, *args: Any, **kwargs: Any) -> None:
        for observer in self.observers:
            try:
                getattr(observer, hook)(*args, **kwargs)
            except Exception:
                log.exception("observer %s failed; the engine carries on", type(observer).__name__)

    def operation(
        self, operation: str, instance_id: str | None, *, ok: bool, seconds: float
    ) -> None:
        self._each("operation", operation, instance_id, ok=ok, seconds=seconds)

    def instance_starting(
        self, new: NewInstance, *, trace_parent: TraceContext | None, now: datetime
    ) -> NewInstance:
        for observer in self.observers:
            try:
                new = observer.instance_starting(new, trace_parent=trace_parent, now=now)
            except Exception:
                log.exception("observer %s failed; the client carries on", type(observer).__name__)
        return new

    def turn_planned(self, instance: InstanceRecord, commit: TurnCommit) -> TurnCommit:
        for observer in self.observers:
            try:
                commit = observer.turn_planned(instance, commit)
            except Exception:
                log.exception("observer %s failed; the engine carries on", type(observer).__name__)
        return commit

    def activity_trace_context(self, task: ClaimedTask) -> TraceContext | None:
        for observer in self.observers:
            try:
                found = observer.activity_trace_context(task)
            except Exception:
                log.exception("observer %s failed; the engine carries on", type(observer).__name__)
                continue
            if found is not None:
                return found
        return None

    def turn_committed(
        self,
        instance: InstanceRecord,
        commit: TurnCommit,
        outcome: CommitOutcome,
        *,
        seconds: float,
        commit_seconds: float,
    ) -> None:
        self._each(
            "turn_committed",
            instance,
            commit,
            outcome,
            seconds=seconds,
            commit_seconds=commit_seconds,
        )

    def turn_failed(self, instance_id: str, workflow_name: str, error: BaseException) -> None:
        self._each("turn_failed", instance_id, workflow_name, error)

    def lease_lost(self, instance_id: str, why: str) -> None:
        self._each("lease_lost", instance_id, why)

    def activity_started(self, task: ClaimedTask) -> None:
        self._each("activity_started", task)

    def activity_finished(self, task: ClaimedTask, result: TaskResult, *, seconds: float) -> None:
        self._each("activity_finished", task, result, seconds=seconds)

    def activity_requeued(self, task: ClaimedTask, why: str) -> None:
        self._each("activity_requeued", task, why)

    def result_discarded(self, task: ClaimedTask) -> None:
        self._each("result_discarded", task)

    def lease_taken_over(self, kind: str, instance_id: str, previous_owner: str) -> None:
        self._each("lease_taken_over", kind, instance_id, previous_owner)

    def engine_started(self, engine: Engine) -> None:
        self._each("engine_started", engine)

    def engine_stopped(self, engine: Engine) -> None:
        self._each("engine_stopped", engine)


def guarded(observer: Observer) -> Observer:
    """``observer`` with its failures logged instead of raised."""
    return observer if isinstance(observer, Observers) else Observers((observer,))
