"""Hand-built histories, and a runner that checks the cached path against replay.

A :class:`Scenario` drives one workflow turn by turn the way the engine's cache
does (one executor, only new events per turn) and, for every turn, also replays
the stored history on a fresh executor. Both must give the same actions and
custom status, and replaying the history written so far must add no action: the
engine relies on both paths agreeing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from wayline.core import serde
from wayline.core.actions import Action, CompleteWorkflow
from wayline.core.events import (
    ChildWorkflowCompleted,
    ChildWorkflowCreated,
    ChildWorkflowFailed,
    EventRaised,
    ExecutionStarted,
    ExecutionTerminated,
    FailureDetails,
    HistoryEvent,
    ParentInfo,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
    WorkflowStarted,
    WorkflowStatus,
)
from wayline.core.executor import TurnResult, WorkflowExecutor

INSTANCE = "wf-1"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """``T0`` plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)


# ----- event builders ------------------------------------------------------------------


def workflow_started(now: datetime = T0) -> WorkflowStarted:
    return WorkflowStarted(timestamp=now)


def started(
    value: Any = None,
    *,
    name: str = "wf",
    instance_id: str = INSTANCE,
    raw: str | None = None,
    parent: ParentInfo | None = None,
) -> ExecutionStarted:
    """``ExecutionStarted`` with ``value`` as JSON input (or ``raw`` text as-is)."""
    return ExecutionStarted(
        timestamp=T0,
        name=name,
        instance_id=instance_id,
        execution_id="exec-1",
        input=raw if raw is not None else serde.dumps(value),
        parent=parent,
    )


def completed(task_id: int, result: Any = None, *, raw: str | None = None) -> TaskCompleted:
    return TaskCompleted(
        timestamp=T0,
        task_scheduled_id=task_id,
        result=raw if raw is not None else serde.dumps(result),
    )


def failure(
    message: str = "boom",
    error_type: str = "ValueError",
    *,
    non_retriable: bool = False,
    stack_trace: str | None = "Traceback: activity",
) -> FailureDetails:
    return FailureDetails(
        message=message,
        error_type=error_type,
        stack_trace=stack_trace,
        non_retriable=non_retriable,
    )


def failed(task_id: int, message: str = "boom", *, non_retriable: bool = False) -> TaskFailed:
    return TaskFailed(
        timestamp=T0,
        task_scheduled_id=task_id,
        failure=failure(message, non_retriable=non_retriable),
    )


def fired(timer_id: int, fire_at: datetime) -> TimerFired:
    return TimerFired(timestamp=fire_at, timer_id=timer_id, fire_at=fire_at)


def raised(name: str, data: Any = None, *, raw: str | None = None) -> EventRaised:
    return EventRaised(timestamp=T0, name=name, input=raw if raw is not None else serde.dumps(data))


def child_completed(task_id: int, result: Any = None) -> ChildWorkflowCompleted:
    return ChildWorkflowCompleted(
        timestamp=T0, task_scheduled_id=task_id, result=serde.dumps(result)
    )


def child_failed(
    task_id: int, message: str = "child boom", *, non_retriable: bool = False
) -> ChildWorkflowFailed:
    return ChildWorkflowFailed(
        timestamp=T0,
        task_scheduled_id=task_id,
        failure=failure(message, "RuntimeError", non_retriable=non_retriable),
    )


def terminated(output: Any = None) -> ExecutionTerminated:
    return ExecutionTerminated(timestamp=T0, input=serde.dumps(output))


def scheduled(task_id: int, name: str, value: Any = None) -> TaskScheduled:
    """A recorded ``ScheduleTask`` action, for hand-written past histories."""
    return TaskScheduled(timestamp=T0, event_id=task_id, name=name, input=serde.dumps(value))


def timer_created(timer_id: int, fire_at: datetime) -> TimerCreated:
    return TimerCreated(timestamp=T0, event_id=timer_id, fire_at=fire_at)


def child_created(task_id: int, name: str, instance_id: str) -> ChildWorkflowCreated:
    return ChildWorkflowCreated(timestamp=T0, event_id=task_id, instance_id=instance_id, name=name)


# ----- assertions on turn results -------------------------------------------------------


def completion(result: TurnResult) -> CompleteWorkflow:
    """The turn's completion action; fails the test if the workflow did not end."""
    action = result.completion
    assert action is not None, f"the workflow did not complete: {result.actions}"
    assert result.actions == (action,), "a completion is the only action of its turn"
    return action


def output(result: TurnResult) -> Any:
    """The decoded output of a turn that completed the workflow successfully."""
    action = completion(result)
    assert action.status == WorkflowStatus.COMPLETED, action.failure
    return serde.loads(action.result)


def failure_of(result: TurnResult) -> FailureDetails:
    """The failure details of a turn that failed the workflow."""
    action = completion(result)
    assert action.status == WorkflowStatus.FAILED, action
    assert action.failure is not None
    return action.failure


# ----- the runner ------------------------------------------------------------------------


class Scenario:
    """One workflow run turn by turn on a cached executor, each turn checked by replay.

    Args:
        workflow: the workflow function.
        instance_id: the instance id the executors run under.
        wrap_context: passed on to every executor.
    """

    def __init__(
        self,
        workflow: Callable[..., Any],
        *,
        instance_id: str = INSTANCE,
        wrap_context: Callable[[Any], Any] | None = None,
    ) -> None:
        self.workflow = workflow
        self.instance_id = instance_id
        self.wrap_context = wrap_context
        self.executor = self.new_executor()
        self.history: list[HistoryEvent] = []
        self.turns = 0

    def new_executor(self) -> WorkflowExecutor:
        return WorkflowExecutor(self.instance_id, self.workflow, self.wrap_context)

    def start(self, value: Any = None, *, now: datetime = T0, **kwargs: Any) -> TurnResult:
        """The first turn: ``[WorkflowStarted, ExecutionStarted]``."""
        return self.turn(started(value, instance_id=self.instance_id, **kwargs), now=now)

    def turn(self, *events: HistoryEvent, now: datetime | None = None) -> TurnResult:
        """Run one turn of ``events`` (after a ``WorkflowStarted`` stamped ``now``).

        ``now`` defaults to one minute per turn after ``T0``.
        """
        if now is None:
            now = at(60 * self.turns)
        new_events = [workflow_started(now), *events]
        result = self.executor.execute([], new_events)

        replayed = self.new_executor().execute(list(self.history), new_events)
        assert replayed == result, (
            f"turn {self.turns}: replay disagrees with the cached executor\n"
            f"cached:   {result}\nreplayed: {replayed}"
        )

        self.history.extend(new_events)
        self.history.extend(action.to_event(now) for action in result.actions)
        self.turns += 1

        again = self.new_executor().execute(list(self.history), [])
        expected: tuple[Action, ...] = () if result.completion is None else result.actions
        assert again.actions == expected, (
            f"replaying the stored history after turn {self.turns - 1} gave {again.actions}"
        )
        assert again.custom_status == result.custom_status
        return result

    def replay_all(self) -> TurnResult:
        """Replay everything stored so far on a fresh executor, with no new events."""
        return self.new_executor().execute(list(self.history), [])
