"""History events: the durable record a workflow is replayed from.

The kinds mirror durabletask's ``HistoryEvent`` one to one, so the gRPC layer is a
thin translation. Payloads (``input``, ``result``) are opaque serialized text; the
core never parses them except where the workflow code asks for a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class WorkflowStatus(StrEnum):
    """Runtime status of an instance, as Dapr spells it.

    A ``StrEnum``, so ``state.runtime_status == "RUNNING"`` holds.
    """

    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CONTINUED_AS_NEW = "CONTINUED_AS_NEW"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    TERMINATED = "TERMINATED"
    PENDING = "PENDING"
    SUSPENDED = "SUSPENDED"
    #: Its code does not match its history (a removed patch, a missing version): it
    #: waits for code that does (see ``core.versioning``).
    STALLED = "STALLED"

    @property
    def is_terminal(self) -> bool:
        """True for the statuses an instance never leaves (purge is allowed)."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {WorkflowStatus.COMPLETED, WorkflowStatus.FAILED, WorkflowStatus.TERMINATED}
)


@dataclass(frozen=True)
class FailureDetails:
    """Why a task or workflow failed."""

    message: str
    error_type: str
    stack_trace: str | None = None
    non_retriable: bool = False


@dataclass(frozen=True)
class TraceContext:
    """A W3C trace context carried by history events (durabletask's ``TraceContext``).

    ``trace_parent`` is the 4-part ``traceparent`` (``00-<trace id>-<span id>-<flags>``);
    the kernel only stores it: tracing adapters (``wayline.observability``) fill it in.
    """

    trace_parent: str
    trace_state: str | None = None


#: Marks optional trace fields, which the codec leaves out of an event's JSON while
#: they are None (histories stay byte-identical with tracing off).
_OMIT_NONE = {"omit_none": True}


@dataclass(frozen=True)
class ParentInfo:
    """Links a child workflow to the parent action that created it."""

    instance_id: str
    name: str
    task_scheduled_id: int
    execution_id: str | None = None
    #: The scope of history the parent's call hands the child (``core.propagation``).
    propagation: str | None = None
    #: The app the parent runs in (multi-app workflows).
    app_id: str | None = None


@dataclass(frozen=True)
class Router:
    """Which app an event came from and, for a call to another app, which app it went
    to (durabletask's ``TaskRouter``, recorded as Dapr records it)."""

    source_app_id: str
    target_app_id: str | None = None

    @staticmethod
    def of_start(app_id: str, parent_app_id: str | None) -> Router:
        """The route of an instance's ``ExecutionStarted``: the app that started it, and
        its own app when that is another (a child called in another app)."""
        if parent_app_id is None or parent_app_id == app_id:
            return Router(app_id)
        return Router(parent_app_id, app_id)


@dataclass(frozen=True, kw_only=True)
class HistoryEvent:
    """Base of every history event.

    ``event_id`` is the action sequence number for events recording an action
    (``-1`` elsewhere); ``timestamp`` is when the event was created; ``router``, on
    the events of starts, calls, their results and completions, the apps involved.
    """

    event_id: int = -1
    timestamp: datetime
    router: Router | None = None


@dataclass(frozen=True, kw_only=True)
class WorkflowStarted(HistoryEvent):
    """First event of every turn; its timestamp is the workflow's clock.

    A remote worker may report the workflow version it ran and the patches the
    code has seen (``is_patched``); they are recorded on this event, as durabletask
    does, so a replay answers ``is_patched`` the same way.
    """

    version_name: str | None = None
    patches: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ExecutionStarted(HistoryEvent):
    name: str
    instance_id: str
    execution_id: str
    input: str | None = None
    parent: ParentInfo | None = None
    scheduled_start: datetime | None = None
    #: The span this run's ``orchestration`` span continues (tracing on only).
    parent_trace_context: TraceContext | None = field(default=None, metadata=_OMIT_NONE)
    #: The ``orchestration`` span's id (16 hex digits), the same across every turn.
    workflow_span_id: str | None = field(default=None, metadata=_OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class ExecutionCompleted(HistoryEvent):
    status: WorkflowStatus
    result: str | None = None
    failure: FailureDetails | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionTerminated(HistoryEvent):
    input: str | None = None
    recurse: bool = True


@dataclass(frozen=True, kw_only=True)
class ExecutionSuspended(HistoryEvent):
    input: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionResumed(HistoryEvent):
    input: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskScheduled(HistoryEvent):
    name: str
    input: str | None = None
    task_execution_id: str = ""
    #: Set on work a rerun queued again: the instance it was rerun from.
    rerun_parent_instance_id: str | None = None
    #: The history this call carries to the activity (``core.propagation``).
    propagation: str | None = None
    #: The workflow's ``orchestration`` span, the parent of the activity's span.
    parent_trace_context: TraceContext | None = field(default=None, metadata=_OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class TaskCompleted(HistoryEvent):
    task_scheduled_id: int
    result: str | None = None
    task_execution_id: str = ""


@dataclass(frozen=True, kw_only=True)
class TaskFailed(HistoryEvent):
    task_scheduled_id: int
    failure: FailureDetails
    task_execution_id: str = ""


@dataclass(frozen=True, kw_only=True)
class ChildWorkflowCreated(HistoryEvent):
    instance_id: str
    name: str
    input: str | None = None
    rerun_parent_instance_id: str | None = None
    propagation: str | None = None
    #: The parent's ``orchestration`` span, the parent of the child's.
    parent_trace_context: TraceContext | None = field(default=None, metadata=_OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class ChildWorkflowCompleted(HistoryEvent):
    task_scheduled_id: int
    result: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChildWorkflowFailed(HistoryEvent):
    task_scheduled_id: int
    failure: FailureDetails


class TimerOrigin(StrEnum):
    """Why a durable timer exists (durabletask's ``TimerOrigin``)."""

    CREATE_TIMER = "create_timer"
    EXTERNAL_EVENT = "external_event"
    ACTIVITY_RETRY = "activity_retry"
    CHILD_WORKFLOW_RETRY = "child_workflow_retry"


@dataclass(frozen=True, kw_only=True)
class TimerCreated(HistoryEvent):
    fire_at: datetime
    origin: TimerOrigin = TimerOrigin.CREATE_TIMER
    origin_name: str | None = None
    rerun_parent_instance_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TimerFired(HistoryEvent):
    timer_id: int
    fire_at: datetime


@dataclass(frozen=True, kw_only=True)
class EventRaised(HistoryEvent):
    name: str
    input: str | None = None


@dataclass(frozen=True, kw_only=True)
class EventSent(HistoryEvent):
    instance_id: str
    name: str
    input: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionStalled(HistoryEvent):
    reason: str = ""
    description: str = ""


ALL_EVENT_TYPES: tuple[type[HistoryEvent], ...] = (
    WorkflowStarted,
    ExecutionStarted,
    ExecutionCompleted,
    ExecutionTerminated,
    ExecutionSuspended,
    ExecutionResumed,
    TaskScheduled,
    TaskCompleted,
    TaskFailed,
    ChildWorkflowCreated,
    ChildWorkflowCompleted,
    ChildWorkflowFailed,
    TimerCreated,
    TimerFired,
    EventRaised,
    EventSent,
    ExecutionStalled,
)

EVENT_TYPES_BY_NAME: dict[str, type[HistoryEvent]] = {t.__name__: t for t in ALL_EVENT_TYPES}
