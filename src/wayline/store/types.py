"""Row-level domain types exchanged between the engine, the client and a store."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from wayline.core.events import (
    EventRaised,
    FailureDetails,
    HistoryEvent,
    ParentInfo,
    Router,
    TaskCompleted,
    TaskFailed,
    TimerFired,
    TraceContext,
    WorkflowStatus,
)
from wayline.core.ids import DEFAULT_APP_ID


@dataclass(frozen=True)
class InstanceRecord:
    """One workflow instance's metadata row (its current execution)."""

    instance_id: str
    name: str
    status: WorkflowStatus
    execution_id: str
    created_at: datetime
    last_updated_at: datetime
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    failure: FailureDetails | None = None
    parent_instance_id: str | None = None
    parent_task_id: int | None = None
    parent_execution_id: str | None = None
    completed_at: datetime | None = None
    scheduled_start_at: datetime | None = None
    # Incremented by every committed turn; the engine's replay cache keys on it.
    version: int = 0
    #: The app whose nodes run it, and its parent's app (multi-app workflows).
    app_id: str = DEFAULT_APP_ID
    parent_app_id: str | None = None
    #: 1, plus one for every continue-as-new (the history holds the current one only).
    generation: int = 1
    #: What a tracing adapter keeps about the current execution's ``orchestration``
    #: span (opaque to the store and the engine); None when it is not traced.
    trace_context: str | None = None


@dataclass(frozen=True)
class NewInstance:
    """An instance to create (by a client start or a parent's child action)."""

    instance_id: str
    name: str
    execution_id: str
    input: str | None = None
    parent: ParentInfo | None = None
    start_at: datetime | None = None
    #: The app whose nodes run it.
    app_id: str = DEFAULT_APP_ID
    #: Tracing (set by a tracing adapter, else None): the ``ExecutionStarted`` fields,
    #: and the opaque text the instance row keeps (``InstanceRecord.trace_context``).
    parent_trace_context: TraceContext | None = None
    workflow_span_id: str | None = None
    trace_context: str | None = None


@dataclass(frozen=True)
class InboxMessage:
    """A pending event for an instance, consumed by exactly one committed turn."""

    id: int
    event: HistoryEvent
    execution_id: str | None = None


@dataclass(frozen=True)
class ClaimedTurn:
    """An instance leased for one turn, with its visible inbox in arrival order."""

    instance: InstanceRecord
    messages: tuple[InboxMessage, ...]
    lease_token: int
    #: The node whose lease on the instance had expired when this claim took it over
    #: (a node that died or stalled mid-turn); None when the instance was unleased.
    taken_over_from: str | None = None


@dataclass(frozen=True)
class NewTask:
    """An activity task to queue (from a ``ScheduleTask`` action).

    ``leased``: lease it to the committing node in the same commit (``TurnCommit.
    task_lease``), which runs it at once instead of claiming it later.
    """

    task_id: int
    name: str
    input: str | None = None
    task_execution_id: str = ""
    leased: bool = False
    #: The scope of history the activity receives (``core.propagation``), if any.
    propagation: str | None = None
    #: The app whose nodes run it, and the workflow's app when that is another one.
    app_id: str = DEFAULT_APP_ID
    source_app_id: str | None = None
    #: Opaque text of a tracing adapter (the span the activity's span continues).
    trace_context: str | None = None

    @property
    def router(self) -> Router:
        return _task_router(self.app_id, self.source_app_id)


def _task_router(app_id: str, source_app_id: str | None) -> Router:
    """The route a task's scheduling recorded, which its result records too."""
    return Router(app_id) if source_app_id is None else Router(source_app_id, app_id)


@dataclass(frozen=True)
class TaskLease:
    """Who holds the tasks a commit leases to its own node, and until when."""

    owner: str
    until: datetime


@dataclass(frozen=True)
class NodeInfo:
    """One engine sharing the store, and what it can run (``store.nodes``)."""

    node_id: str
    app_id: str
    workflows: frozenset[str]
    activities: frozenset[str]
    #: Remote workers may connect to it (a server): it may run any name.
    remote_workers: bool


@dataclass(frozen=True)
class ClaimedTask:
    """An activity task leased to one worker."""

    key: int
    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None
    attempt: int
    task_execution_id: str = ""
    propagation: str | None = None
    app_id: str = DEFAULT_APP_ID
    source_app_id: str | None = None
    trace_context: str | None = None
    #: When the turn that scheduled it committed (the task row's creation).
    scheduled_at: datetime | None = None
    #: The worker whose lease on the task had expired when this claim took it over;
    #: None when the task was queued (or leased to this node by its turn's commit).
    taken_over_from: str | None = None

    @property
    def router(self) -> Router:
        return _task_router(self.app_id, self.source_app_id)


@dataclass(frozen=True)
class OutboundMessage:
    """An event for another instance; dropped if that instance (execution) is gone."""

    instance_id: str
    event: HistoryEvent
    execution_id: str | None = None


@dataclass(frozen=True)
class ContinueAsNew:
    """Restart the instance: new execution, new input, fresh history."""

    execution_id: str
    input: str | None
    carryover_events: tuple[EventRaised, ...] = ()
    #: Tracing (set by a tracing adapter): as ``NewInstance``'s fields of that name.
    parent_trace_context: TraceContext | None = None
    workflow_span_id: str | None = None
    trace_context: str | None = None


@dataclass(frozen=True)
class TurnCommit:
    """Everything one turn changes, committed in one transaction or not at all.

    A turn either ran under a claimed lease (``lease_token``: it must still match,
    and the lease ends with the commit) or ran unclaimed on this node's cached
    state of the instance (``expected_version``: the instance must be RUNNING,
    unleased and unchanged since, or nothing is written). The unclaimed form is the
    step's fast path: ``completed_tasks`` names the activity tasks whose results the
    turn consumed directly (never through the inbox); each must still exist.
    """

    instance_id: str
    lease_token: int | None
    now: datetime
    status: WorkflowStatus
    history: tuple[HistoryEvent, ...] = ()
    consumed: tuple[int, ...] = ()
    output: str | None = None
    custom_status: str | None = None
    failure: FailureDetails | None = None
    tasks: tuple[NewTask, ...] = ()
    timers: tuple[TimerFired, ...] = ()
    children: tuple[NewInstance, ...] = ()
    messages: tuple[OutboundMessage, ...] = ()
    continue_as_new: ContinueAsNew | None = None
    expected_version: int | None = None
    completed_tasks: tuple[int, ...] = ()
    task_lease: TaskLease | None = None
    #: The instance's status when the turn began. A pause or resume accepted since then
    #: set the status already (``store.suspension``), and it stands.
    status_before: WorkflowStatus | None = None
    #: For a commit that finishes the instance: when its state may be deleted
    #: (retention); None keeps it until purged.
    expires_at: datetime | None = None


@dataclass(frozen=True)
class CommitOutcome:
    """What a committed turn produced that its node acts on at once."""

    #: The instance row's version after the commit.
    version: int
    #: Its status after the commit: the turn's, unless a pause or resume that arrived
    #: while the turn ran set it (see ``store.suspension``).
    status: WorkflowStatus
    #: The new tasks leased to the committing node (``NewTask.leased``), in order.
    leased_tasks: tuple[ClaimedTask, ...] = ()
    #: When the instance is next runnable (inbox messages that arrived meanwhile, a
    #: timer); None when it waits for something that has not happened yet.
    ready_at: datetime | None = None


TaskResult = TaskCompleted | TaskFailed


@dataclass(frozen=True)
class Backlog:
    """Work waiting in a store at one moment (``Store.backlog``), for metrics.

    Runnable means claimable now: an unleased (or lease-expired) instance with a
    message it may consume, a queued (or lease-expired) activity task. Work running
    under a live lease is not counted.
    """

    #: Instances with a turn to run now.
    runnable_turns: int
    #: Activity tasks waiting for a worker.
    runnable_tasks: int
    #: Timers whose time has come, not yet consumed by a turn.
    due_timers: int
    #: Since when the longest-waiting runnable turn / task has been runnable (None: none).
    oldest_turn: datetime | None = None
    oldest_task: datetime | None = None


class AppendResult(StrEnum):
    """Outcome of appending an event to an instance's inbox."""

    APPENDED = "appended"
    FINISHED = "finished"  # the instance is terminal: the event was dropped
    NOT_FOUND = "not_found"


class InstanceSort(StrEnum):
    """Orders for listing instances; each pages by keyset on its columns plus the id.

    ``duration`` is ``completed_at - created_at``; unfinished instances have none and
    sort as the shortest.
    """

    CREATED = "created"
    UPDATED = "updated"
    ID = "id"
    NAME = "name"
    STATUS = "status"
    DURATION = "duration"


@dataclass(frozen=True)
class InstanceQuery:
    """Filters for listing instances; ``None`` means "any".

    ``sort`` and ``descending`` order the pages (newest created first by default);
    a continuation token only continues the order it was made for.
    """

    statuses: Collection[WorkflowStatus] | None = None
    name: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    completed_from: datetime | None = None
    completed_to: datetime | None = None
    parent_instance_id: str | None = None
    instance_id_prefix: str | None = None
    page_size: int = 100
    continuation_token: str | None = None
    sort: InstanceSort = InstanceSort.CREATED
    descending: bool = True


@dataclass(frozen=True)
class InstancePage:
    """One page of instances, newest first; pass ``continuation_token`` for the next."""

    instances: list[InstanceRecord] = field(default_factory=list)
    continuation_token: str | None = None
