"""Turn planning: from a claimed instance and its inbox to one ``TurnCommit``.

Pure functions over core and store types; the engine supplies the executor and
does the I/O. The same planning serves local executors and remote workers: a
remote worker's response is just another ``TurnResult``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from wayline.core.actions import CompleteWorkflow
from wayline.core.events import (
    ChildWorkflowCompleted,
    ChildWorkflowCreated,
    ChildWorkflowFailed,
    EventRaised,
    EventSent,
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionStalled,
    ExecutionStarted,
    ExecutionSuspended,
    ExecutionTerminated,
    FailureDetails,
    HistoryEvent,
    ParentInfo,
    Router,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
    WorkflowStarted,
    WorkflowStatus,
)
from wayline.core.executor import TurnResult
from wayline.core.ids import child_instance_id, new_execution_id, validate_instance_id
from wayline.core.versioning import Stall
from wayline.errors import InvalidInstanceIdError
from wayline.store.types import (
    ClaimedTurn,
    CommitOutcome,
    ContinueAsNew,
    InboxMessage,
    InstanceRecord,
    NewInstance,
    NewTask,
    OutboundMessage,
    TaskLease,
    TurnCommit,
)


@dataclass
class TurnInput:
    """Which inbox messages a turn consumes, and the events it feeds the workflow."""

    new_events: list[HistoryEvent] = field(default_factory=list)
    consumed: list[int] = field(default_factory=list)
    suspended: bool = False
    terminate: ExecutionTerminated | None = None

    @property
    def has_work(self) -> bool:
        return len(self.new_events) > 1 or self.terminate is not None


def select_messages(claimed: ClaimedTurn, now: datetime) -> TurnInput:
    """Decide what this turn consumes, applying suspension and ordering rules.

    - Messages of an older execution (results, timers) are consumed and dropped.
    - A terminate wins over everything and is handled without workflow code.
    - While suspended only resume (and terminate) are consumed; the events held
      meanwhile follow the resume in their arrival order (a timer arrives when it
      fires).
    - A redundant suspend or resume is consumed and dropped, so workers never see
      a resume without a suspend.
    - ``ExecutionStarted`` comes first even if events arrived before it.
    """
    instance = claimed.instance
    plan = TurnInput(new_events=[WorkflowStarted(timestamp=now)])
    current: list[InboxMessage] = []
    for message in claimed.messages:
        if message.execution_id is not None and message.execution_id != instance.execution_id:
            plan.consumed.append(message.id)
        elif isinstance(message.event, ExecutionTerminated) and plan.terminate is None:
            plan.terminate = message.event
            plan.consumed.append(message.id)
        else:
            current.append(message)
    if plan.terminate is not None:
        return plan
    current = _in_arrival_order(current)
    current.sort(key=lambda m: not isinstance(m.event, ExecutionStarted))
    if instance.status == WorkflowStatus.PENDING and not (
        current and isinstance(current[0].event, ExecutionStarted)
    ):
        return plan  # a scheduled start that is not due yet

    suspended = _suspended_before(instance.status, current)
    held: list[InboxMessage] = []

    def take(message: InboxMessage) -> None:
        plan.new_events.append(message.event)
        plan.consumed.append(message.id)

    for message in current:
        event = message.event
        if isinstance(event, ExecutionSuspended):
            if suspended:
                plan.consumed.append(message.id)
            else:
                suspended = True
                take(message)
        elif isinstance(event, ExecutionResumed):
            if not suspended:
                plan.consumed.append(message.id)
            else:
                suspended = False
                take(message)
                for waiting in held:
                    take(waiting)
                held.clear()
        elif suspended:
            held.append(message)
        else:
            take(message)
    plan.suspended = suspended
    return plan


def _in_arrival_order(messages: list[InboxMessage]) -> list[InboxMessage]:
    """The messages in the order they reached the instance.

    That is the inbox's order, except for timers: one is queued by the turn that
    creates it but arrives when it fires, after every pause or resume accepted before
    then (so a timer that fires while the instance is paused is held).
    """
    signals = [
        (position, message.event.timestamp)
        for position, message in enumerate(messages)
        if isinstance(message.event, ExecutionSuspended | ExecutionResumed)
    ]
    if not signals:
        return messages
    keys: list[tuple[int, int, int]] = []
    for position, message in enumerate(messages):
        key = (position, 0, position)
        if isinstance(message.event, TimerFired):
            for signal_position, accepted_at in signals:
                if signal_position > key[0] and accepted_at < message.event.fire_at:
                    key = (signal_position, 1, position)  # right after that signal
        keys.append(key)
    order = sorted(range(len(messages)), key=keys.__getitem__)
    return [messages[i] for i in order]


def _suspended_before(status: WorkflowStatus, messages: Sequence[InboxMessage]) -> bool:
    """Whether the execution was suspended before these messages.

    A pause or resume sets the status when it is accepted and queues a signal that the
    history records when a turn consumes it; queued signals alternate (redundant ones
    are not queued), so the first one tells the state before it.
    """
    for message in messages:
        if isinstance(message.event, ExecutionSuspended):
            return False
        if isinstance(message.event, ExecutionResumed):
            return True
    return status == WorkflowStatus.SUSPENDED


def results_turn(results: Sequence[HistoryEvent], now: datetime) -> TurnInput:
    """The input of an unclaimed turn that consumes activity results directly."""
    return TurnInput(new_events=[WorkflowStarted(timestamp=now), *results])


def record_after(
    instance: InstanceRecord, commit: TurnCommit, outcome: CommitOutcome
) -> InstanceRecord:
    """The instance row as a committed turn left it (what the next turn starts from)."""
    restart = commit.continue_as_new
    return InstanceRecord(
        instance_id=instance.instance_id,
        name=instance.name,
        status=outcome.status,
        execution_id=restart.execution_id if restart else instance.execution_id,
        created_at=instance.created_at,
        last_updated_at=commit.now,
        input=restart.input if restart else instance.input,
        output=commit.output,
        custom_status=commit.custom_status,
        failure=commit.failure,
        parent_instance_id=instance.parent_instance_id,
        parent_task_id=instance.parent_task_id,
        parent_execution_id=instance.parent_execution_id,
        completed_at=commit.now if commit.status.is_terminal else None,
        scheduled_start_at=instance.scheduled_start_at,
        version=outcome.version,
        app_id=instance.app_id,
        parent_app_id=instance.parent_app_id,
        trace_context=restart.trace_context if restart else instance.trace_context,
    )


def _parent_message(
    instance: InstanceRecord, completion: ExecutionCompleted
) -> OutboundMessage | None:
    if instance.parent_instance_id is None or instance.parent_task_id is None:
        return None
    route = Router(instance.app_id, instance.parent_app_id or instance.app_id)
    event: HistoryEvent
    if completion.status == WorkflowStatus.COMPLETED:
        event = ChildWorkflowCompleted(
            timestamp=completion.timestamp,
            task_scheduled_id=instance.parent_task_id,
            result=completion.result,
            router=route,
        )
    else:
        failure = completion.failure or FailureDetails(
            message=f"child workflow '{instance.instance_id}' was {completion.status.value}",
            error_type="ChildWorkflow" + completion.status.value.title(),
        )
        event = ChildWorkflowFailed(
            timestamp=completion.timestamp,
            task_scheduled_id=instance.parent_task_id,
            failure=failure,
            router=route,
        )
    return OutboundMessage(
        instance_id=instance.parent_instance_id,
        event=event,
        execution_id=instance.parent_execution_id,
    )


def plan_termination(
    claimed: ClaimedTurn,
    turn: TurnInput,
    now: datetime,
    active_children: Sequence[InstanceRecord],
) -> TurnCommit:
    """Terminate without running workflow code, so termination never depends on it."""
    assert turn.terminate is not None
    instance = claimed.instance
    completed = ExecutionCompleted(
        timestamp=now,
        status=WorkflowStatus.TERMINATED,
        result=turn.terminate.input,
        router=Router(instance.app_id),
    )
    messages: list[OutboundMessage] = []
    parent = _parent_message(instance, completed)
    if parent is not None:
        messages.append(parent)
    if turn.terminate.recurse:
        for child in active_children:
            messages.append(
                OutboundMessage(
                    instance_id=child.instance_id,
                    event=ExecutionTerminated(timestamp=now, input=turn.terminate.input),
                )
            )
    return TurnCommit(
        instance_id=instance.instance_id,
        lease_token=claimed.lease_token,
        now=now,
        status=WorkflowStatus.TERMINATED,
        history=(turn.new_events[0], turn.terminate, completed),
        consumed=tuple(turn.consumed),
        output=turn.terminate.input,
        custom_status=instance.custom_status,
        messages=tuple(messages),
    )


@dataclass(frozen=True)
class TaskLeasing:
    """Which of a turn's new tasks its node takes at once (leased in the same commit)."""

    lease: TaskLease
    #: The most tasks to take (the node's free activity slots).
    limit: int
    #: Whether the node can run this task (its app and activity name).
    runs_here: Callable[[NewTask], bool]


#: Why a call cannot run where it was sent (kind "activity" or "workflow", its name,
#: the app it was sent to), or None when it can (see ``Engine``).
Refusal = Callable[[str, str, str], FailureDetails | None]


def plan_commit(
    instance: InstanceRecord,
    lease_token: int | None,
    turn: TurnInput,
    result: TurnResult,
    now: datetime,
    *,
    expected_version: int | None = None,
    completed_tasks: tuple[int, ...] = (),
    leasing: TaskLeasing | None = None,
    refuse: Refusal | None = None,
) -> TurnCommit:
    """Translate the workflow's actions into the rows of one atomic commit.

    A claimed turn passes its ``lease_token``; an unclaimed one (the step's fast
    path) passes None, the ``expected_version`` of the instance it ran on and the
    ``completed_tasks`` whose results it consumed. ``leasing`` says which new tasks
    the node takes in the same commit. An activity or child workflow that ``refuse``
    says cannot run where it was sent fails at once (the workflow sees the failure
    in its next turn, and a retry policy applies).
    """
    history: list[HistoryEvent] = list(turn.new_events)
    if result.version_name or result.patches:
        started = history[0]
        assert isinstance(started, WorkflowStarted)
        history[0] = dataclasses.replace(
            started, version_name=result.version_name, patches=result.patches
        )
    tasks: list[NewTask] = []
    timers: list[TimerFired] = []
    children: list[NewInstance] = []
    messages: list[OutboundMessage] = []
    status = WorkflowStatus.SUSPENDED if turn.suspended else WorkflowStatus.RUNNING
    output: str | None = None
    failure: FailureDetails | None = None
    restart: ContinueAsNew | None = None
    for action in result.actions:
        recorded = action.to_event(now, instance.app_id)
        history.append(recorded)
        _plan_step(recorded, instance, now, tasks, timers, children, messages)
        if isinstance(action, CompleteWorkflow):
            if action.status == WorkflowStatus.CONTINUED_AS_NEW:
                restart = ContinueAsNew(
                    execution_id=new_execution_id(),
                    input=action.result,
                    carryover_events=action.carryover_events,
                )
                history = []  # the new execution starts from an empty history
                status = WorkflowStatus.RUNNING
            else:
                status, output, failure = action.status, action.result, action.failure
                assert isinstance(recorded, ExecutionCompleted)
                parent = _parent_message(instance, recorded)
                if parent is not None:
                    messages.append(parent)
    _fail_invalid_child_ids(instance, now, children, messages)
    if refuse is not None:
        _refuse_unroutable(instance, now, refuse, tasks, children, messages)
    task_lease = None
    if leasing is not None and tasks:
        tasks, taken = _take_tasks(tasks, leasing)
        task_lease = leasing.lease if taken else None
    return TurnCommit(
        instance_id=instance.instance_id,
        lease_token=lease_token,
        now=now,
        status=status,
        history=tuple(history),
        consumed=tuple(turn.consumed),
        output=output,
        custom_status=(
            result.custom_status if result.custom_status is not None else instance.custom_status
        ),
        failure=failure,
        tasks=tuple(tasks),
        timers=tuple(timers),
        children=tuple(children),
        messages=tuple(messages),
        continue_as_new=restart,
        expected_version=expected_version,
        completed_tasks=completed_tasks,
        task_lease=task_lease,
        status_before=instance.status,
    )


def _fail_invalid_child_ids(
    instance: InstanceRecord,
    now: datetime,
    children: list[NewInstance],
    messages: list[OutboundMessage],
) -> None:
    """Fail, instead of creating, a child whose given id no API could address.

    Ids the workflow gave are checked as a start checks them; the default id (the
    parent's id and the step, which SDKs generate the same way) may exceed the
    length limit in deep trees and is always accepted.
    """
    for child in list(children):
        assert child.parent is not None
        default = child_instance_id(instance.instance_id, child.parent.task_scheduled_id)
        if child.instance_id == default:
            continue
        try:
            validate_instance_id(child.instance_id)
        except InvalidInstanceIdError as exc:
            children.remove(child)
            failure = FailureDetails(
                error_type=type(exc).__name__,
                message=f"cannot start child workflow '{child.name}': {exc}",
                non_retriable=True,
            )
            _fail_child(instance, now, child, failure, messages)


def _fail_child(
    instance: InstanceRecord,
    now: datetime,
    child: NewInstance,
    failure: FailureDetails,
    messages: list[OutboundMessage],
) -> None:
    assert child.parent is not None
    event = ChildWorkflowFailed(
        timestamp=now,
        task_scheduled_id=child.parent.task_scheduled_id,
        failure=failure,
        router=Router(child.app_id, instance.app_id),
    )
    messages.append(OutboundMessage(instance.instance_id, event, instance.execution_id))


def _refuse_unroutable(
    instance: InstanceRecord,
    now: datetime,
    refuse: Refusal,
    tasks: list[NewTask],
    children: list[NewInstance],
    messages: list[OutboundMessage],
) -> None:
    """Fail, instead of queueing, the calls that no node can run where they were sent."""
    for task in list(tasks):
        failure = refuse("activity", task.name, task.app_id)
        if failure is not None:
            tasks.remove(task)
            event: HistoryEvent = TaskFailed(
                timestamp=now, task_scheduled_id=task.task_id, failure=failure, router=task.router
            )
            messages.append(OutboundMessage(instance.instance_id, event, instance.execution_id))
    for child in list(children):
        failure = refuse("workflow", child.name, child.app_id)
        if failure is not None:
            children.remove(child)
            _fail_child(instance, now, child, failure, messages)


def _take_tasks(tasks: list[NewTask], leasing: TaskLeasing) -> tuple[list[NewTask], int]:
    """Mark the tasks the node takes at once as leased; returns them and the count."""
    marked: list[NewTask] = []
    taken = 0
    for task in tasks:
        if taken < leasing.limit and leasing.runs_here(task):
            task = dataclasses.replace(task, leased=True)
            taken += 1
        marked.append(task)
    return marked, taken


def plan_stall(claimed: ClaimedTurn, stall: Stall, now: datetime) -> TurnCommit:
    """The instance's code does not match its history: discard the turn, keep its
    messages queued for code that matches, and say why (the event once per reason)."""
    instance = claimed.instance
    why = FailureDetails(message=stall.description, error_type=stall.reason.value)
    # A stalled instance keeps its reason as its failure until a turn succeeds: the same
    # reason on the next try is not recorded again.
    history: tuple[HistoryEvent, ...] = (
        ()
        if instance.failure == why
        else (
            ExecutionStalled(
                timestamp=now, reason=stall.reason.value, description=stall.description
            ),
        )
    )
    return TurnCommit(
        instance_id=instance.instance_id,
        lease_token=claimed.lease_token,
        now=now,
        status=WorkflowStatus.STALLED,
        history=history,
        custom_status=instance.custom_status,
        failure=why,
        status_before=instance.status,
    )


def plan_noop(claimed: ClaimedTurn, turn: TurnInput, now: datetime) -> TurnCommit:
    """Consume messages that need no workflow code (stale results, redundant resumes)."""
    instance = claimed.instance
    return TurnCommit(
        instance_id=instance.instance_id,
        lease_token=claimed.lease_token,
        now=now,
        status=instance.status,
        consumed=tuple(turn.consumed),
        output=instance.output,
        custom_status=instance.custom_status,
        failure=instance.failure,
        status_before=instance.status,
    )


def new_child(created: ChildWorkflowCreated, parent: InstanceRecord) -> NewInstance:
    """The instance that a parent's recorded ``ChildWorkflowCreated`` step starts (in
    the app the step names, or the parent's)."""
    target = created.router.target_app_id if created.router else None
    return NewInstance(
        instance_id=created.instance_id,
        name=created.name,
        execution_id=new_execution_id(),
        input=created.input,
        parent=ParentInfo(
            instance_id=parent.instance_id,
            name=parent.name,
            task_scheduled_id=created.event_id,
            execution_id=parent.execution_id,
            propagation=created.propagation,
            app_id=parent.app_id,
        ),
        app_id=target or parent.app_id,
    )


def new_task(scheduled: TaskScheduled, app_id: str) -> NewTask:
    """The activity task that a recorded ``TaskScheduled`` step of a workflow of app
    ``app_id`` queues (in the app the step names, or the workflow's)."""
    target = scheduled.router.target_app_id if scheduled.router else None
    return NewTask(
        task_id=scheduled.event_id,
        name=scheduled.name,
        input=scheduled.input,
        task_execution_id=scheduled.task_execution_id,
        propagation=scheduled.propagation,
        app_id=target or app_id,
        source_app_id=app_id if target else None,
    )


def timer_firing(created: TimerCreated) -> TimerFired:
    """The firing a recorded ``TimerCreated`` step queues (at its time; a worker's
    indefinite wait asks for one at the end of year 9999, which never comes)."""
    return TimerFired(timestamp=created.fire_at, timer_id=created.event_id, fire_at=created.fire_at)


def _plan_step(
    recorded: HistoryEvent,
    instance: InstanceRecord,
    now: datetime,
    tasks: list[NewTask],
    timers: list[TimerFired],
    children: list[NewInstance],
    messages: list[OutboundMessage],
) -> None:
    """Queue what a step the turn recorded asks for."""
    if isinstance(recorded, TaskScheduled):
        tasks.append(new_task(recorded, instance.app_id))
    elif isinstance(recorded, TimerCreated):
        timers.append(timer_firing(recorded))
    elif isinstance(recorded, ChildWorkflowCreated):
        children.append(new_child(recorded, instance))
    elif isinstance(recorded, EventSent):
        messages.append(
            OutboundMessage(
                instance_id=recorded.instance_id,
                event=EventRaised(timestamp=now, name=recorded.name, input=recorded.input),
            )
        )
