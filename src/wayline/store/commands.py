"""Write commands: every change to a store, as data.

A store applies each command in a write transaction, and commands that are ready
at once share one transaction and one fsync (group commit, see ``writer``).
``Store.submit`` queues a command without blocking and returns a future; the
named ``Store`` methods (``commit_turn``, ``claim_tasks``, ...) are the blocking
forms of the same commands.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from wayline.core.events import HistoryEvent
from wayline.core.ids import DEFAULT_APP_ID
from wayline.store.types import ClaimedTask, NewInstance, NodeInfo, TaskResult, TurnCommit


@dataclass(frozen=True)
class CreateInstance:
    """-> None. Raises ``InstanceAlreadyExistsError`` while the id is active."""

    new: NewInstance
    now: datetime


@dataclass(frozen=True)
class AppendMessage:
    """-> ``AppendResult``."""

    instance_id: str
    event: HistoryEvent
    now: datetime


@dataclass(frozen=True)
class ClaimTurns:
    """-> ``list[ClaimedTurn]``; ``workflow_names=None`` claims any name."""

    owner: str
    workflow_names: Collection[str] | None
    now: datetime
    lease: timedelta
    limit: int
    #: Only work of this app (multi-app workflows).
    app_id: str = DEFAULT_APP_ID


@dataclass(frozen=True)
class ReleaseTurn:
    """-> None."""

    instance_id: str
    lease_token: int


@dataclass(frozen=True)
class ExtendTurnLease:
    """-> bool (False: the lease is no longer held with this token)."""

    instance_id: str
    lease_token: int
    until: datetime


@dataclass(frozen=True)
class ClaimTasks:
    """-> ``list[ClaimedTask]``; ``activity_names=None`` claims any name."""

    owner: str
    activity_names: Collection[str] | None
    now: datetime
    lease: timedelta
    limit: int
    #: Only work of this app (multi-app workflows).
    app_id: str = DEFAULT_APP_ID


@dataclass(frozen=True)
class ExtendTaskLeases:
    """-> None."""

    keys: Collection[int]
    owner: str
    until: datetime


@dataclass(frozen=True)
class ReleaseTasks:
    """-> None."""

    keys: Collection[int]
    owner: str


@dataclass(frozen=True)
class CompleteTask:
    """-> bool (False: already completed, or its execution is gone)."""

    task: ClaimedTask
    result: TaskResult
    now: datetime


@dataclass(frozen=True)
class PurgeInstance:
    """-> int (instances deleted)."""

    instance_id: str
    recursive: bool = True
    #: Also delete instances that have not finished (their running work is dropped).
    force: bool = False


@dataclass(frozen=True)
class AnnounceNode:
    """-> ``list[NodeInfo]`` (every live node). Record ``node`` as alive until ``until``."""

    node: NodeInfo
    now: datetime
    until: datetime


@dataclass(frozen=True)
class RetireNode:
    """-> None."""

    node_id: str


@dataclass(frozen=True)
class StartRerun:
    """-> None. Create ``instance`` (``InstanceAlreadyExistsError`` while that id is
    active) already RUNNING with the history, tasks, timers and children of
    ``commit``: the copy a rerun makes of its source (see ``engine.rerun``)."""

    instance: NewInstance
    commit: TurnCommit


@dataclass(frozen=True)
class PurgeExpired:
    """-> int (instances deleted): finished instances whose retention ran out by
    ``now``, at most ``limit`` of them (the caller repeats while it gets that many)."""

    now: datetime
    limit: int = 500


@dataclass(frozen=True)
class Unstall:
    """-> int (instances that may run again). Stalled instances of these workflow
    names (None: any) of this app become RUNNING, for code that may now match their history."""

    workflow_names: Collection[str] | None = None
    app_id: str = DEFAULT_APP_ID


@dataclass(frozen=True)
class ProbeWrite:
    """-> None. Writes (and commits) without changing anything: readiness checks that
    the store can still be written."""


#: ``TurnCommit`` (-> ``CommitOutcome``) is a command too.
WriteCommand = (
    CreateInstance
    | AppendMessage
    | ClaimTurns
    | ReleaseTurn
    | ExtendTurnLease
    | ClaimTasks
    | ExtendTaskLeases
    | ReleaseTasks
    | CompleteTask
    | PurgeInstance
    | PurgeExpired
    | AnnounceNode
    | RetireNode
    | StartRerun
    | Unstall
    | TurnCommit
    | ProbeWrite
)


def lock_key(command: WriteCommand) -> str | None:
    """The instance whose row ``command`` locks first, or None for a command that
    locks no one instance first (claims, node records, sweeps)."""
    match command:
        case CreateInstance(new=new) | StartRerun(instance=new):
            return new.instance_id
        case CompleteTask(task=task):
            return task.instance_id
        case (
            AppendMessage(instance_id=key)
            | ReleaseTurn(instance_id=key)
            | ExtendTurnLease(instance_id=key)
            | PurgeInstance(instance_id=key)
            | TurnCommit(instance_id=key)
        ):
            return key
        case _:
            return None
