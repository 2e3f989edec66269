"""Small builders for the store contract tests: explicit times, one-line turns."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from wayline.core.events import (
    EventRaised,
    ExecutionStarted,
    HistoryEvent,
    ParentInfo,
    WorkflowStarted,
    WorkflowStatus,
)
from wayline.store import Store
from wayline.store.types import ClaimedTask, ClaimedTurn, NewInstance, NewTask, TurnCommit

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def at(seconds: float) -> datetime:
    """``T0`` plus some seconds: every time a test uses is explicit."""
    return T0 + timedelta(seconds=seconds)


def create(
    store: Store,
    instance_id: str,
    *,
    name: str = "wf",
    now: datetime = T0,
    input: str | None = None,
    execution_id: str | None = None,
    parent: ParentInfo | None = None,
    start_at: datetime | None = None,
) -> NewInstance:
    new = NewInstance(
        instance_id=instance_id,
        name=name,
        execution_id=execution_id or f"{instance_id}-exec-1",
        input=input,
        parent=parent,
        start_at=start_at,
    )
    store.create_instance(new, now=now)
    return new


def claim(
    store: Store,
    *,
    now: datetime = T0,
    names: Collection[str] | None = None,
    limit: int = 1000,
    owner: str = "node-a",
    lease: timedelta = LEASE,
) -> list[ClaimedTurn]:
    return store.claim_turns(owner=owner, workflow_names=names, now=now, lease=lease, limit=limit)


def claimed_ids(turns: Iterable[ClaimedTurn]) -> set[str]:
    return {turn.instance.instance_id for turn in turns}


def claim_one(
    store: Store,
    instance_id: str,
    *,
    now: datetime = T0,
    owner: str = "node-a",
    lease: timedelta = LEASE,
) -> ClaimedTurn:
    """Claim one instance (it must be runnable); other claimed instances are released."""
    found: ClaimedTurn | None = None
    for turn in claim(store, now=now, owner=owner, lease=lease):
        if turn.instance.instance_id == instance_id:
            found = turn
        else:
            store.release_turn(turn.instance.instance_id, turn.lease_token)
    assert found is not None, f"{instance_id!r} was not claimable at {now}"
    return found


def events(turn: ClaimedTurn) -> list[HistoryEvent]:
    return [message.event for message in turn.messages]


def kinds(turn: ClaimedTurn) -> list[str]:
    return [type(message.event).__name__ for message in turn.messages]


def commit(
    store: Store,
    turn: ClaimedTurn,
    *,
    now: datetime = T0,
    status: WorkflowStatus = WorkflowStatus.RUNNING,
    history: tuple[HistoryEvent, ...] | None = None,
    consumed: tuple[int, ...] | None = None,
    **fields: Any,
) -> TurnCommit:
    """Commit a turn that consumes every claimed message and records it in history."""
    if history is None:
        history = (WorkflowStarted(timestamp=now), *events(turn))
    built = TurnCommit(
        instance_id=turn.instance.instance_id,
        lease_token=turn.lease_token,
        now=now,
        status=status,
        history=history,
        consumed=tuple(m.id for m in turn.messages) if consumed is None else consumed,
        **fields,
    )
    store.commit_turn(built)
    return built


def run(
    store: Store,
    instance_id: str,
    *,
    now: datetime = T0,
    status: WorkflowStatus = WorkflowStatus.RUNNING,
    **fields: Any,
) -> TurnCommit:
    """Claim an instance and commit one turn for it."""
    turn = claim_one(store, instance_id, now=now)
    return commit(store, turn, now=now, status=status, **fields)


def start(store: Store, instance_id: str, *, now: datetime = T0, **create_args: Any) -> None:
    """Create an instance and run its first turn: it is RUNNING with an empty inbox."""
    create(store, instance_id, now=now, **create_args)
    run(store, instance_id, now=now)


def finish(
    store: Store,
    instance_id: str,
    *,
    now: datetime = T0,
    status: WorkflowStatus = WorkflowStatus.COMPLETED,
    **fields: Any,
) -> None:
    """Drive a RUNNING instance (empty inbox) to a terminal status."""
    poke(store, instance_id, now=now)
    run(store, instance_id, now=now, status=status, **fields)


def poke(store: Store, instance_id: str, *, now: datetime = T0, name: str = "poke") -> None:
    """Make an instance runnable by appending an event to its inbox."""
    store.append_message(instance_id, EventRaised(timestamp=now, name=name), now=now)


def started_event(turn: ClaimedTurn) -> ExecutionStarted:
    found = [e for e in events(turn) if isinstance(e, ExecutionStarted)]
    assert len(found) == 1, kinds(turn)
    return found[0]


def claim_tasks(
    store: Store,
    *,
    now: datetime = T0,
    names: Collection[str] | None = None,
    limit: int = 1000,
    owner: str = "worker-a",
    lease: timedelta = LEASE,
) -> list[ClaimedTask]:
    return store.claim_tasks(owner=owner, activity_names=names, now=now, lease=lease, limit=limit)


def task(task_id: int, name: str = "act", input: str | None = None) -> NewTask:
    return NewTask(task_id=task_id, name=name, input=input)
