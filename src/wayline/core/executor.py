"""The replay executor: ``(past events, new events) -> actions``.

An executor holds one execution's live state (the suspended generator and its
pending tasks). The first call replays the stored history; later calls on the
same executor feed only the events that are new since, which is how the engine's
cache keeps a workflow's cost linear in its steps. Both paths produce identical
actions. Pure: no clock, no I/O, no threads.
"""

from __future__ import annotations

import asyncio
import inspect
import traceback
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from wayline.core import serde
from wayline.core.actions import (
    Action,
    CompleteWorkflow,
    CreateChildWorkflow,
    CreateTimer,
    ScheduleTask,
    SendEvent,
)
from wayline.core.asyncloop import WorkflowEventLoop
from wayline.core.context import WorkflowContext
from wayline.core.events import (
    ChildWorkflowCompleted,
    ChildWorkflowCreated,
    ChildWorkflowFailed,
    EventRaised,
    EventSent,
    ExecutionStarted,
    ExecutionTerminated,
    FailureDetails,
    HistoryEvent,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
    WorkflowStarted,
    WorkflowStatus,
)
from wayline.core.propagation import Propagated
from wayline.core.registry import VersionedWorkflow, Workflow, call_with_input
from wayline.core.task import NonDeterminismError, Task, TaskFailedError
from wayline.core.versioning import Stall, patch_mismatch, version_not_available
from wayline.errors import PayloadTypeError

# Events recording an action, and the action class each must match on replay.
_RECORDS: dict[type[HistoryEvent], type[Action]] = {
    TaskScheduled: ScheduleTask,
    TimerCreated: CreateTimer,
    ChildWorkflowCreated: CreateChildWorkflow,
    EventSent: SendEvent,
}


@dataclass(frozen=True)
class TurnResult:
    """What one turn produced: new actions (a completion, if any, is the only one).

    ``version_name`` and ``patches`` are recorded on the turn's WorkflowStarted. With
    ``stall`` set the code does not match the history: the actions are discarded.
    """

    actions: tuple[Action, ...]
    custom_status: str | None
    version_name: str | None = None
    patches: tuple[str, ...] = ()
    stall: Stall | None = None

    @property
    def completion(self) -> CompleteWorkflow | None:
        for action in self.actions:
            if isinstance(action, CompleteWorkflow):
                return action
        return None


def failure_from_exception(exc: BaseException) -> FailureDetails:
    """Failure details of an exception raised by user code."""
    if isinstance(exc, TaskFailedError):
        inner = exc.details
        return FailureDetails(
            message=str(exc),
            error_type=type(exc).__name__,
            stack_trace=inner.stack_trace,
        )
    return FailureDetails(
        message=str(exc) or type(exc).__name__,
        error_type=type(exc).__name__,
        stack_trace="".join(traceback.format_exception(exc)),
        # By name, so the NonRetryableError of dapr-ext-workflow counts too; subclasses count.
        non_retriable=isinstance(exc, PayloadTypeError)
        or any(c.__name__ == "NonRetryableError" for c in type(exc).__mro__),
    )


def describe_step(event_or_action: HistoryEvent | Action) -> str:
    """An event or an action as divergence messages name it (``TaskScheduled 'pay'``)."""
    name = getattr(event_or_action, "name", None)
    kind = type(event_or_action).__name__
    return f"{kind} {name!r}" if name else kind


class WorkflowExecutor:
    """Runs one workflow execution turn by turn.

    Args:
        instance_id: the instance being executed.
        workflow: the workflow function, ``fn(ctx, input)`` or ``fn(ctx)``, or the
            versions of one (the history says which one runs).
        wrap_context: optional factory that wraps the context handed to the code
            (used to hand workflows a subclass with extra helpers).
        propagated: the history the instance's parent handed it with its call.
    """

    def __init__(
        self,
        instance_id: str,
        workflow: Workflow,
        wrap_context: Callable[[WorkflowContext], Any] | None = None,
        propagated: Propagated | None = None,
    ) -> None:
        self._workflow = workflow
        self._name: str = (
            workflow.name
            if isinstance(workflow, VersionedWorkflow)
            else getattr(workflow, "__name__", "workflow")
        )
        # What the history recorded (WorkflowStarted), and the version this code runs.
        self._recorded_version: str | None = None
        self._recorded_patches: tuple[str, ...] = ()
        self._version: str | None = None
        self._stall: Stall | None = None
        self._ctx = WorkflowContext(instance_id, propagated)
        self._user_ctx = wrap_context(self._ctx) if wrap_context else self._ctx
        self._generator: Generator[Any, Any, Any] | None = None
        # An async def workflow: its loop and its coroutine's task.
        self._loop: WorkflowEventLoop | None = None
        self._main: asyncio.Task[Any] | None = None
        self._awaiting: Task[Any] | None = None
        self._started = False
        #: The divergence that failed this execution, if one did (the replay checker
        #: reports its parts).
        self.nondeterminism: NonDeterminismError | None = None

    @property
    def context(self) -> WorkflowContext:
        return self._ctx

    @property
    def is_complete(self) -> bool:
        return self._ctx._completion is not None

    def execute(
        self, past_events: Sequence[HistoryEvent], new_events: Sequence[HistoryEvent]
    ) -> TurnResult:
        """Apply ``past_events`` as replay and ``new_events`` as new; return the actions.

        Actions returned by the previous call are taken as committed: on a cached
        executor pass only what is new since then, with ``past_events`` empty.
        """
        ctx = self._ctx
        ctx._pending_actions.clear()
        try:
            ctx._is_replaying = True
            for event in past_events:
                self._apply(event)
            ctx._is_replaying = False
            for event in new_events:
                self._apply(event)
        except NonDeterminismError as exc:
            self.nondeterminism = exc
            ctx._is_replaying = False
            ctx._completion = None
            ctx._complete(WorkflowStatus.FAILED, None, failure_from_exception(exc))
        patches = tuple(ctx._seen_patches)
        stall = self._stall or patch_mismatch(self._recorded_patches, patches)
        if stall is not None:
            # The code does not match the history (even if it also failed on it).
            return TurnResult(actions=(), custom_status=ctx._custom_status, stall=stall)
        if patches:
            self._recorded_patches = patches  # recorded by this turn's commit
        completion = ctx._completion
        if completion is not None:
            if completion.status == WorkflowStatus.CONTINUED_AS_NEW:
                completion = CompleteWorkflow(
                    id=completion.id,
                    status=completion.status,
                    result=completion.result,
                    carryover_events=ctx._carryover_events(),
                )
            actions: tuple[Action, ...] = (completion,)
        else:
            actions = tuple(ctx._pending_actions[k] for k in sorted(ctx._pending_actions))
        return TurnResult(
            actions=actions,
            custom_status=ctx._custom_status,
            version_name=self._version,
            patches=patches,
        )

    # ----- event handling ---------------------------------------------------------------

    def _apply(self, event: HistoryEvent) -> None:
        ctx = self._ctx
        if isinstance(event, WorkflowStarted):
            ctx._now = event.timestamp
            if event.version_name:
                self._recorded_version = event.version_name
            if event.patches:
                ctx._history_patches.update(event.patches)
                self._recorded_patches = event.patches
            return
        action_type = _RECORDS.get(type(event))
        if ctx._completion is not None:
            # Nothing after the end runs code, but a recorded step the code never reached
            # is a change of code, and an event may still be carried over to a new run.
            if action_type is not None:
                raise NonDeterminismError(
                    f"step #{event.event_id}: the history has {describe_step(event)}, but the "
                    "workflow code now finishes before it; the code changed since this "
                    "instance started (start a new instance, or register the changed code "
                    "under a new workflow name)",
                    step=event.event_id,
                    recorded=describe_step(event),
                    current="the workflow finishes",
                )
            if isinstance(event, EventRaised):
                ctx._buffer_event(event.name, event.input)
            return
        if action_type is not None:
            self._match_recorded_action(event, action_type)
        elif isinstance(event, ExecutionStarted):
            self._start(event)
        elif isinstance(event, TaskCompleted):
            ctx._task_completed(event.task_scheduled_id, event.result)
        elif isinstance(event, TaskFailed):
            ctx._task_failed(
                event.task_scheduled_id,
                TaskFailedError(
                    f"activity task #{event.task_scheduled_id} failed: {event.failure.message}",
                    event.failure,
                ),
            )
        elif isinstance(event, ChildWorkflowCompleted):
            ctx._task_completed(event.task_scheduled_id, event.result)
        elif isinstance(event, ChildWorkflowFailed):
            ctx._task_failed(
                event.task_scheduled_id,
                TaskFailedError(
                    f"child workflow #{event.task_scheduled_id} failed: {event.failure.message}",
                    event.failure,
                ),
            )
        elif isinstance(event, TimerFired):
            ctx._timer_fired(event.timer_id)
        elif isinstance(event, EventRaised):
            ctx._deliver_event(event.name, event.input)
        elif isinstance(event, ExecutionTerminated):
            ctx._complete(WorkflowStatus.TERMINATED, event.input)
            return
        # ExecutionSuspended/Resumed, ExecutionCompleted, ExecutionStalled: the engine
        # holds events while suspended, so the code has nothing to do for them.
        self._resume()

    def _match_recorded_action(self, event: HistoryEvent, action_type: type[Action]) -> None:
        pending = self._ctx._pending_actions.pop(event.event_id, None)
        if pending is None:
            raise NonDeterminismError(
                f"step #{event.event_id}: the history has {describe_step(event)}, but the "
                "workflow code did not schedule anything with that sequence number; "
                "the code changed since this instance started (start a new instance, "
                "or register the changed code under a new workflow name)",
                step=event.event_id,
                recorded=describe_step(event),
            )
        same_name = getattr(pending, "name", None) == getattr(event, "name", None)
        if not isinstance(pending, action_type) or not same_name:
            raise NonDeterminismError(
                f"step #{event.event_id}: the history has {describe_step(event)}, but the "
                f"workflow code now does {describe_step(pending)}; the code changed since this "
                "instance started (start a new instance, or register the changed code "
                "under a new workflow name)",
                step=event.event_id,
                recorded=describe_step(event),
                current=describe_step(pending),
            )

    def _start(self, event: ExecutionStarted) -> None:
        if self._started:
            return
        self._started = True
        workflow = self._workflow
        if isinstance(workflow, VersionedWorkflow):
            resolved = workflow.resolve(self._recorded_version)
            if resolved is None:
                self._stall = version_not_available(self._name, self._recorded_version)
                return
            workflow, self._version = resolved
        try:
            result = call_with_input(workflow, self._user_ctx, serde.loads_lenient(event.input))
        except Exception as exc:
            self._fail(exc)
            return
        if inspect.iscoroutine(result):
            ctx = self._ctx
            # Its I/O methods are set on the class to refuse: mypy cannot see them.
            self._loop = WorkflowEventLoop(  # type: ignore[abstract]
                lambda: ctx.current_utc_datetime, lambda when: ctx.create_timer(when)
            )
            self._main = self._loop.create_task(result, name=f"workflow {self._name}")
        elif inspect.isasyncgen(result):
            self._fail(
                TypeError(
                    "the workflow is an async generator (async def with yield): write it as "
                    "async def that awaits ctx tasks, or as a generator that yields them"
                )
            )
        elif isinstance(result, Generator):
            self._generator = result
        else:
            self._finish(result)

    def _resume(self) -> None:
        """Run the generator until it waits on an unfinished task or ends."""
        if self._loop is not None:
            self._resume_coroutine(self._loop)
            return
        gen = self._generator
        ctx = self._ctx
        while gen is not None and ctx._completion is None:
            awaiting = self._awaiting
            try:
                if awaiting is None:
                    yielded = next(gen)
                elif not awaiting.is_complete:
                    return
                elif awaiting.is_failed:
                    exc = awaiting.get_exception()
                    assert exc is not None
                    yielded = gen.throw(exc)
                else:
                    yielded = gen.send(awaiting.get_result())
            except StopIteration as stop:
                self._generator = None
                self._finish(stop.value)
                return
            except Exception as exc:
                self._generator = None
                self._fail(exc)
                return
            if not isinstance(yielded, Task):
                self._generator = None
                self._fail(
                    TypeError(
                        f"workflow yielded {type(yielded).__name__}; yield tasks from ctx "
                        "(call_activity, create_timer, ...) or when_all/when_any"
                    )
                )
                return
            self._awaiting = yielded

    def _resume_coroutine(self, loop: WorkflowEventLoop) -> None:
        """Run an ``async def`` workflow's loop until it waits; end the workflow if its
        coroutine returned or raised."""
        ctx = self._ctx
        if ctx._completion is not None:
            return
        loop.run_until_idle()
        main = self._main
        assert main is not None
        if ctx._completion is not None or not main.done():
            return  # continued as new, or waiting
        if main.cancelled():
            self._fail(asyncio.CancelledError("the workflow's own task was cancelled"))
            return
        error = main.exception()
        if error is not None:
            self._fail(error)
            return
        running = loop.pending_tasks()
        if running:
            names = ", ".join(repr(task.get_name()) for task in running)
            self._fail(
                RuntimeError(
                    f"the workflow returned while {len(running)} task(s) it started were "
                    f"still running ({names}): await every task it creates (or cancel it "
                    "and await it) before returning"
                )
            )
            return
        self._finish(main.result())

    def _finish(self, value: Any) -> None:
        try:
            result = serde.dumps(value)
        except Exception as exc:  # an output the converter rejects fails the workflow
            self._fail(exc)
            return
        self._ctx._complete(WorkflowStatus.COMPLETED, result)

    def _fail(self, exc: BaseException) -> None:
        self._ctx._complete(WorkflowStatus.FAILED, None, failure_from_exception(exc))
