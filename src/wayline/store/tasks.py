"""Activity task rows: queued by a commit (or leased to its node at once), claimed,
kept leased while they run, given back, completed (see ``SqlStore``)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from wayline.store.commands import ClaimTasks, ExtendTaskLeases, ReleaseTasks
from wayline.store.readiness import claim_tasks_sql
from wayline.store.rows import Cursor, StatementResult, from_micros, placeholders, to_micros
from wayline.store.types import ClaimedTask, NewTask, TurnCommit

_COLUMNS = (
    "id, instance_id, execution_id, task_id, name, input, attempt, task_execution_id, "
    "propagation, app_id, source_app_id, trace_context, created_at"
)

Statement = Callable[[Cursor, str, Sequence[Any]], StatementResult]


def insert(
    statement: Statement, cur: Cursor, commit: TurnCommit, execution_id: str, now_us: int
) -> list[Callable[[], ClaimedTask]]:
    """Queue the turn's tasks; those marked ``leased`` go to the committing node
    (returned as how to read each, its key known once the statement is sent)."""
    lease = commit.task_lease
    leased: list[Callable[[], ClaimedTask]] = []
    for task in commit.tasks:
        owned = task.leased and lease is not None
        until_us = to_micros(lease.until) if owned and lease is not None else None
        inserted = statement(
            cur,
            "INSERT INTO tasks (instance_id, execution_id, task_id, name, input, "
            "task_execution_id, created_at, attempt, lease_owner, lease_expires_at, "
            "visible_at, propagation, app_id, source_app_id, trace_context) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                commit.instance_id,
                execution_id,
                task.task_id,
                task.name,
                task.input,
                task.task_execution_id,
                now_us,
                1 if owned else 0,
                lease.owner if owned and lease is not None else None,
                until_us,
                until_us if until_us is not None else now_us,
                task.propagation,
                task.app_id,
                task.source_app_id,
                task.trace_context,
            ),
        )
        if owned:
            leased.append(functools.partial(_leased, inserted, commit, execution_id, task))
    return leased


def _leased(
    inserted: StatementResult, commit: TurnCommit, execution_id: str, task: NewTask
) -> ClaimedTask:
    return ClaimedTask(
        key=inserted.fetchone()[0],
        instance_id=commit.instance_id,
        execution_id=execution_id,
        task_id=task.task_id,
        name=task.name,
        input=task.input,
        attempt=1,
        task_execution_id=task.task_execution_id,
        propagation=task.propagation,
        app_id=task.app_id,
        source_app_id=task.source_app_id,
        trace_context=task.trace_context,
        scheduled_at=commit.now,
    )


def claim(cur: Cursor, command: ClaimTasks, lock_clause: str = "") -> list[ClaimedTask]:
    """Lease up to ``command.limit`` claimable tasks (a range of their visibility)."""
    now_us = to_micros(command.now)
    names = command.activity_names
    if names is not None and not names:
        return []
    cur.execute(
        claim_tasks_sql(None if names is None else len(names), lock_clause),
        (now_us, command.app_id, *(names or ()), command.limit),
    )
    previous = dict(cur.fetchall())  # id -> the owner of its expired lease, if any
    keys = list(previous)
    if not keys:
        return []
    marks = placeholders(len(keys))
    until_us = to_micros(command.now + command.lease)
    cur.execute(
        "UPDATE tasks SET lease_owner = ?, lease_expires_at = ?, visible_at = ?, "
        f"attempt = attempt + 1 WHERE id IN ({marks})",
        (command.owner, until_us, until_us, *keys),
    )
    cur.execute(f"SELECT {_COLUMNS} FROM tasks WHERE id IN ({marks}) ORDER BY id", keys)
    return [_claimed(row, previous[row[0]]) for row in cur.fetchall()]


def _claimed(row: Sequence[Any], taken_over_from: str | None) -> ClaimedTask:
    """A claimed task from a ``_COLUMNS`` row."""
    key, instance_id, execution_id, task_id, name, input_, attempt, *rest = row
    task_execution_id, propagation, app_id, source_app_id, trace_context, created_at = rest
    return ClaimedTask(
        key=key,
        instance_id=instance_id,
        execution_id=execution_id,
        task_id=task_id,
        name=name,
        input=input_,
        attempt=attempt,
        task_execution_id=task_execution_id,
        propagation=propagation,
        app_id=app_id,
        source_app_id=source_app_id,
        trace_context=trace_context,
        scheduled_at=from_micros(created_at),
        taken_over_from=taken_over_from,
    )


def extend_leases(cur: Cursor, command: ExtendTaskLeases) -> None:
    until_us = to_micros(command.until)
    cur.execute(
        "UPDATE tasks SET lease_expires_at = ?, visible_at = ? WHERE lease_owner = ? "
        f"AND id IN ({placeholders(len(command.keys))})",
        (until_us, until_us, command.owner, *command.keys),
    )


def release(cur: Cursor, command: ReleaseTasks) -> None:
    cur.execute(
        "UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL, "
        "visible_at = created_at, attempt = attempt - 1 WHERE lease_owner = ? "
        f"AND id IN ({placeholders(len(command.keys))})",
        (command.owner, *command.keys),
    )
