"""The ``Store`` protocol: every backend implements it and passes one contract suite."""

from __future__ import annotations

from collections.abc import Callable, Collection
from concurrent.futures import Future
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from wayline.core.events import HistoryEvent, WorkflowStatus
from wayline.core.ids import DEFAULT_APP_ID
from wayline.store.commands import WriteCommand
from wayline.store.types import (
    AppendResult,
    Backlog,
    ClaimedTask,
    ClaimedTurn,
    CommitOutcome,
    InstancePage,
    InstanceQuery,
    InstanceRecord,
    NewInstance,
    TaskResult,
    TurnCommit,
)


class Store(Protocol):
    """Durable state of every instance: rows and transactions, no workflow code.

    Times are passed in (``now``), never read from a clock, so tests control them.
    Methods are synchronous and thread-safe. Every write is a command
    (``wayline.store.commands``): the named methods apply one and wait, ``submit``
    queues one without blocking (the engine's way), and a backend may apply commands
    that are ready together in one transaction (group commit).
    """

    #: Whether applying writes on the caller's thread is cheap enough to do on an event
    #: loop (a local file) rather than over a network.
    local_writes: bool

    def execute(self, command: WriteCommand) -> Any:
        """Apply a write command (with whatever else is queued) and return its result."""

    def submit(self, command: WriteCommand) -> Future[Any]:
        """Queue a write command for a writer thread; the future holds its result once
        it is durable."""

    def enqueue(self, command: WriteCommand) -> Future[Any]:
        """Queue a write command for the next :meth:`flush` (anyone's)."""

    def flush(self) -> None:
        """Apply every queued write command on this thread, in group commits."""

    @property
    def write_transactions(self) -> int:
        """How many write transactions this store object has committed (a statistic)."""

    @property
    def write_conflicts(self) -> int:
        """How many times a write transaction of this store object met a transient
        conflict with another writer (a deadlock or serialization failure) and was
        applied again (a statistic)."""

    def create_instance(self, new: NewInstance, *, now: datetime) -> None:
        """Create an instance (PENDING) with ``ExecutionStarted`` in its inbox.

        Replaces a terminal instance of the same id; raises
        ``InstanceAlreadyExistsError`` if one is still active.
        """

    def get_instance(self, instance_id: str) -> InstanceRecord | None: ...

    def get_history(self, instance_id: str) -> list[HistoryEvent]: ...

    def append_message(
        self, instance_id: str, event: HistoryEvent, *, now: datetime
    ) -> AppendResult:
        """Queue an event for an instance's next turn (dropped if it has finished)."""

    def claim_turns(
        self,
        *,
        owner: str,
        workflow_names: Collection[str] | None,
        now: datetime,
        lease: timedelta,
        limit: int,
        app_id: str = DEFAULT_APP_ID,
    ) -> list[ClaimedTurn]:
        """Lease up to ``limit`` runnable instances of app ``app_id`` whose workflow
        name is in the set.

        Runnable: an unleased (or lease-expired) instance with a visible inbox
        message it may consume in its status (while SUSPENDED only resume or
        terminate; while PENDING only its start or terminate). The cost does not
        grow with the number of finished or waiting instances.
        """

    def commit_turn(self, commit: TurnCommit) -> CommitOutcome:
        """Apply a turn atomically and release its lease.

        Raises ``LeaseLostError`` if the lease token no longer matches (another
        node took the instance over), or, for an unclaimed turn, its subclass
        ``InstanceChangedError`` if the instance is no longer as the turn expected;
        then nothing is written. Tasks marked ``leased`` come back leased to
        ``commit.task_lease.owner``.
        """

    def release_turn(self, instance_id: str, lease_token: int) -> None:
        """Give a lease back without changes (the turn could not run here)."""

    def extend_turn_lease(self, instance_id: str, lease_token: int, *, until: datetime) -> bool:
        """Keep a turn's lease alive (a remote worker is still running it).

        Returns False if the lease is no longer held with this token (it ended or
        another node took the instance over).
        """

    def claim_tasks(
        self,
        *,
        owner: str,
        activity_names: Collection[str] | None,
        now: datetime,
        lease: timedelta,
        limit: int,
        app_id: str = DEFAULT_APP_ID,
    ) -> list[ClaimedTask]:
        """Lease up to ``limit`` queued (or lease-expired) activity tasks of app ``app_id``."""

    def extend_task_leases(self, keys: Collection[int], *, owner: str, until: datetime) -> None:
        """Keep the leases of long-running tasks alive."""

    def release_tasks(self, keys: Collection[int], *, owner: str) -> None:
        """Give task leases back unfinished (graceful shutdown)."""

    def complete_task(self, task: ClaimedTask, result: TaskResult, *, now: datetime) -> bool:
        """Record a task's result in its instance's inbox, once.

        Returns False (and changes nothing) if the task was already completed or
        its execution is gone; at-least-once execution stays exactly-once in effect.
        """

    def next_wakeup(self, *, now: datetime) -> datetime | None:
        """When a claim of turns may next find work: at or before ``now`` if an
        instance is runnable now, else the next timer, scheduled start or expiry of a
        runnable instance's lease; None if nothing is pending."""

    def next_task_visible(self) -> datetime | None:
        """When a claim of tasks may next find work: the earliest queued task's time
        (in the past: claimable now) or the earliest lease expiry; None if no tasks."""

    def backlog(self, *, now: datetime) -> Backlog:
        """What waits at ``now``: runnable turns and tasks, due timers, and since when
        the oldest of each has waited (metrics). Index ranges of what is runnable, so
        it costs nothing for finished or waiting instances."""

    def active_children(self, instance_id: str) -> list[InstanceRecord]:
        """Children of an instance that have not finished."""

    def list_instances(self, query: InstanceQuery) -> InstancePage: ...

    def count_instances(self, query: InstanceQuery) -> int: ...

    def count_by_status(self, query: InstanceQuery) -> dict[WorkflowStatus, int]:
        """How many instances match ``query`` for each status, in one query."""

    def recent_durations(self, name: str, *, limit: int) -> list[int]:
        """Creation-to-completion times (microseconds) of the ``limit`` most recently
        created COMPLETED instances of workflow ``name``."""

    def workflow_names(self, *, now: datetime, limit: int = 1000) -> list[str]:
        """Workflow names with stored instances or registered by a live node, sorted."""

    def purge_instance(
        self, instance_id: str, *, recursive: bool = True, force: bool = False
    ) -> int:
        """Delete a terminal instance (and its terminal descendants); returns the count.

        Raises ``InstanceNotFoundError`` or ``InstanceNotTerminalError``; on error
        nothing is deleted. ``force`` deletes unfinished instances too.
        """

    def change_marker(self) -> int:
        """A number that changes whenever another connection commits (cheap to poll)."""

    def check_writable(self) -> None:
        """Commit a write that changes nothing; raises ``StoreUnavailableError`` if the
        store cannot be written now (readiness)."""

    def close(self) -> None: ...


@runtime_checkable
class ChangeSource(Protocol):
    """Optionally implemented by a store that can push wake-ups (PostgreSQL's NOTIFY).

    An engine on such a store sleeps until a callback says another process added
    work, instead of relying on its poll interval alone.
    """

    def watch_changes(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (from any thread) whenever new runnable work may exist."""

    def unwatch_changes(self, callback: Callable[[], None]) -> None: ...
