"""The context a workflow function receives: its only door to time, ids and steps.

Every step method records an action with the next sequence number and returns a
task; the executor completes tasks as history events arrive. Names and
signatures follow ``dapr-ext-workflow``'s ``DaprWorkflowContext``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from wayline.core import serde
from wayline.core.actions import (
    Action,
    CompleteWorkflow,
    CreateChildWorkflow,
    CreateTimer,
    ScheduleTask,
)
from wayline.core.events import EventRaised, TimerOrigin, WorkflowStatus
from wayline.core.ids import child_instance_id, deterministic_uuid
from wayline.core.propagation import Propagated, PropagatedHistory, scope_name
from wayline.core.registry import name_of
from wayline.core.retry import RetryPolicy
from wayline.core.task import CompletableTask, Task, TaskFailedError
from wayline.core.typed import convert, return_type
from wayline.errors import PayloadTypeError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken to be UTC, as ``current_utc_datetime`` is."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class RetryableTask(CompletableTask[Any]):
    """An activity or child workflow that is re-scheduled after failures per its policy."""

    def __init__(
        self, policy: RetryPolicy, reschedule: Callable[[], Action], timer_origin: TimerOrigin
    ) -> None:
        super().__init__()
        self.policy = policy
        self.reschedule = reschedule
        self.timer_origin = timer_origin
        self.attempts = 1


class ExternalEventTask(CompletableTask[Any]):
    """Waits for an external event; fails with ``TimeoutError`` if its timer fires first."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class WorkflowContext:
    """What a running workflow can do. Deterministic: replay gives the same answers."""

    def __init__(self, instance_id: str, propagated: Propagated | None = None) -> None:
        self._instance_id = instance_id
        # The history the parent's call handed this instance (``core.propagation``).
        self._propagated = propagated
        self._now = EPOCH
        self._is_replaying = False
        self._sequence = 0
        self._uuid_counter = 0
        # Actions produced but not yet matched to history (the turn's new actions).
        self._pending_actions: dict[int, Action] = {}
        # Tasks waiting for a completion event, by the action id that created them.
        self._pending_tasks: dict[int, CompletableTask[Any]] = {}
        # Timers that belong to a retry or an event wait, by timer id.
        self._timer_owners: dict[int, CompletableTask[Any]] = {}
        # Raised events nobody waits for yet: casefolded name -> (name, data) in order.
        self._received_events: dict[str, deque[tuple[str, str | None]]] = {}
        self._event_waiters: dict[str, deque[ExternalEventTask]] = {}
        self._custom_status: str | None = None
        self._completion: CompleteWorkflow | None = None
        self._save_events_on_continue = False
        # Versioning: the patches the history recorded, is_patched's answers so far,
        # and the patches this execution has seen (in first-seen order).
        self._history_patches: set[str] = set()
        self._patch_answers: dict[str, bool] = {}
        self._seen_patches: list[str] = []

    # ----- properties -----------------------------------------------------------------

    @property
    def instance_id(self) -> str:
        return self._instance_id

    @property
    def current_utc_datetime(self) -> datetime:
        """The deterministic time of the current turn (UTC, timezone-aware)."""
        return self._now

    @property
    def is_replaying(self) -> bool:
        """True while the code is re-executing steps that already happened."""
        return self._is_replaying

    # ----- deterministic helpers ------------------------------------------------------

    def new_uuid(self) -> str:
        """A UUID that is the same on every replay of this point of the workflow."""
        self._uuid_counter += 1
        return str(deterministic_uuid(self._instance_id, self._now.isoformat(), self._uuid_counter))

    def get_propagated_history(self) -> PropagatedHistory | None:
        """The history this workflow's parent handed it with its call (``propagation=``)."""
        return None if self._propagated is None else PropagatedHistory(self._propagated)

    def is_patched(self, patch_name: str) -> bool:
        """Whether this run takes the new code path of patch ``patch_name``.

        True if the history recorded the patch, False while replaying history that
        predates it, True otherwise; the answer is fixed for the rest of the run. A
        change of code that drops a recorded patch stalls the instance (STALLED).
        """
        answer = self._patch_answers.get(patch_name)
        if answer is None:
            answer = patch_name in self._history_patches or not self._is_replaying
            self._patch_answers[patch_name] = answer
            if answer:
                self._seen_patches.append(patch_name)
        return answer

    def set_custom_status(self, custom_status: Any) -> None:
        """Publish a status value readable by clients; strings are stored as-is."""
        self._custom_status = (
            custom_status if isinstance(custom_status, str) else serde.dumps(custom_status)
        )

    # ----- steps -------------------------------------------------------------------------

    def call_activity(
        self,
        activity: Callable[..., Any] | str,
        *,
        input: Any = None,
        retry_policy: RetryPolicy | None = None,
        app_id: str | None = None,
        propagation: Any = None,
    ) -> Task[Any]:
        """Schedule an activity; yield the task to get its result.

        ``propagation`` (``PropagationScope.OWN_HISTORY`` or ``LINEAGE``) hands the
        activity this workflow's history so far. ``app_id`` runs it in another app:
        on the nodes (and their workers) of that app sharing this store.
        """
        name = name_of(activity)
        encoded = serde.dumps(input)
        carried = scope_name(propagation)

        def make_action() -> Action:
            return ScheduleTask(
                id=self._next_id(), name=name, input=encoded, propagation=carried, app_id=app_id
            )

        return self._start_step(make_action, retry_policy, return_type(activity))

    def call_child_workflow(
        self,
        workflow: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        retry_policy: RetryPolicy | None = None,
        app_id: str | None = None,
        propagation: Any = None,
    ) -> Task[Any]:
        """Start a child workflow; yield the task to get its output.

        ``propagation`` hands the child this workflow's history so far; ``app_id``
        runs the child in another app.
        """
        name = name_of(workflow)
        encoded = serde.dumps(input)
        carried = scope_name(propagation)

        def make_action() -> Action:
            action_id = self._next_id()
            child_id = instance_id or child_instance_id(self._instance_id, action_id)
            return CreateChildWorkflow(
                id=action_id,
                instance_id=child_id,
                name=name,
                input=encoded,
                propagation=carried,
                app_id=app_id,
            )

        return self._start_step(make_action, retry_policy, return_type(workflow))

    def create_timer(self, fire_at: datetime | timedelta) -> Task[None]:
        """A durable timer: completes at ``fire_at`` (absolute, or relative to now)."""
        return self._create_timer(fire_at, TimerOrigin.CREATE_TIMER, None)

    def wait_for_external_event(
        self, name: str, *, timeout: datetime | timedelta | None = None
    ) -> Task[Any]:
        """Wait for an event raised to this instance; names ignore case, FIFO per name.

        With ``timeout``, the task fails with ``TimeoutError`` when it expires first.
        """
        key = name.casefold()
        task = ExternalEventTask(name)
        buffered = self._received_events.get(key)
        if buffered:
            task.complete(serde.loads_lenient(buffered.popleft()[1]))
            if not buffered:
                del self._received_events[key]
            return task
        if isinstance(timeout, timedelta) and timeout == timedelta(0):
            task.fail(TimeoutError(f"wait for external event {name!r} timed out immediately"))
            return task
        self._event_waiters.setdefault(key, deque()).append(task)
        if timeout is not None and not (isinstance(timeout, timedelta) and timeout < timedelta(0)):
            self._create_timer(timeout, TimerOrigin.EXTERNAL_EVENT, name, owner=task)
        return task

    def continue_as_new(self, new_input: Any, *, save_events: bool = False) -> None:
        """Restart this instance with ``new_input`` and a fresh history.

        With ``save_events=True`` events received but not yet awaited carry over.
        """
        self._save_events_on_continue = save_events
        self._complete(WorkflowStatus.CONTINUED_AS_NEW, serde.dumps(new_input))

    # ----- internals used by the executor ----------------------------------------------

    def _next_id(self) -> int:
        self._sequence += 1
        return self._sequence

    def _start_step(
        self,
        make_action: Callable[[], Action],
        retry_policy: RetryPolicy | None,
        result_type: Any = None,
    ) -> Task[Any]:
        action = make_action()
        task: CompletableTask[Any]
        if retry_policy is None:
            task = CompletableTask()
        else:
            origin = (
                TimerOrigin.ACTIVITY_RETRY
                if isinstance(action, ScheduleTask)
                else TimerOrigin.CHILD_WORKFLOW_RETRY
            )
            task = RetryableTask(retry_policy, make_action, origin)
        task.result_type = result_type
        self._record(action, task)
        return task

    def _record(self, action: Action, task: CompletableTask[Any] | None) -> None:
        self._pending_actions[action.id] = action
        if task is not None:
            self._pending_tasks[action.id] = task

    def _create_timer(
        self,
        fire_at: datetime | timedelta,
        origin: TimerOrigin,
        origin_name: str | None,
        *,
        owner: CompletableTask[Any] | None = None,
    ) -> CompletableTask[None]:
        """Record a timer; ``owner`` is the retry or event wait that it drives."""
        when = self._now + fire_at if isinstance(fire_at, timedelta) else as_utc(fire_at)
        task: CompletableTask[None] = CompletableTask()
        action = CreateTimer(
            id=self._next_id(), fire_at=when, origin=origin, origin_name=origin_name
        )
        self._record(action, task)
        if owner is not None:
            self._timer_owners[action.id] = owner
        return task

    def _complete(self, status: WorkflowStatus, result: str | None, failure: Any = None) -> None:
        if self._completion is not None:
            return
        self._completion = CompleteWorkflow(
            id=self._next_id(), status=status, result=result, failure=failure
        )

    def _deliver_event(self, name: str, data: str | None) -> None:
        key = name.casefold()
        waiters = self._event_waiters.get(key)
        if waiters:
            task = waiters.popleft()
            if not waiters:
                del self._event_waiters[key]
            task.complete(serde.loads_lenient(data))
        else:
            self._buffer_event(name, data)

    def _buffer_event(self, name: str, data: str | None) -> None:
        self._received_events.setdefault(name.casefold(), deque()).append((name, data))

    def _timer_fired(self, timer_id: int) -> None:
        timer = self._pending_tasks.pop(timer_id, None)
        if timer is not None:
            timer.complete(None)
        owner = self._timer_owners.pop(timer_id, None)
        if isinstance(owner, ExternalEventTask):
            self._expire_event_wait(owner)
        elif isinstance(owner, RetryableTask):
            action = owner.reschedule()
            self._record(action, owner)

    def _expire_event_wait(self, task: ExternalEventTask) -> None:
        if task.is_complete:
            return
        key = task.name.casefold()
        waiters = self._event_waiters.get(key)
        if waiters and task in waiters:
            waiters.remove(task)
            if not waiters:
                del self._event_waiters[key]
        task.fail(TimeoutError(f"timed out waiting for external event {task.name!r}"))

    def _task_failed(self, task_id: int, error: TaskFailedError) -> None:
        task = self._pending_tasks.pop(task_id, None)
        if task is None:
            return
        if isinstance(task, RetryableTask) and not error.details.non_retriable:
            delay = task.policy.next_delay(task.attempts)
            if delay is not None:
                task.attempts += 1
                self._create_timer(delay, task.timer_origin, None, owner=task)
                return
        task.fail(error)

    def _task_completed(self, task_id: int, result: str | None) -> None:
        task = self._pending_tasks.pop(task_id, None)
        if task is None:
            return
        value = serde.loads_lenient(result)
        if task.result_type is not None:
            try:
                value = convert(value, task.result_type, f"the result of step #{task_id}")
            except PayloadTypeError as error:
                task.fail(error)
                return
        task.complete(value)

    def _carryover_events(self) -> tuple[EventRaised, ...]:
        if not self._save_events_on_continue:
            return ()
        return tuple(
            EventRaised(timestamp=self._now, name=name, input=data)
            for queue in self._received_events.values()
            for name, data in queue
        )
