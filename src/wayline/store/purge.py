"""Purging finished instances (and their finished descendants), all or nothing."""

from __future__ import annotations

from collections.abc import Iterator

from wayline.errors import InstanceNotFoundError, InstanceNotTerminalError
from wayline.store.commands import PurgeExpired, PurgeInstance
from wayline.store.rows import (
    INSTANCE_COLUMNS,
    Cursor,
    instance_from_row,
    load_instance,
    to_micros,
)
from wayline.store.types import InstanceRecord


def delete_instance_rows(cur: Cursor, instance_id: str) -> None:
    """Every row of one instance (its current run), whatever its status."""
    for table in ("history", "inbox", "tasks", "instances"):
        cur.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))


def purge(cur: Cursor, command: PurgeInstance) -> int:
    """Delete a finished instance and its finished descendants; raises (deleting
    nothing) if one is missing or not finished, unless forced. Returns how many
    were deleted."""
    record = load_instance(cur, command.instance_id)
    if record is None:
        raise InstanceNotFoundError(command.instance_id)
    doomed = [record]
    if command.recursive:
        doomed.extend(_descendants(cur, command.instance_id))
    for victim in doomed:
        if not victim.status.is_terminal and not command.force:
            raise InstanceNotTerminalError(victim.instance_id, victim.status.value)
    for victim in doomed:
        delete_instance_rows(cur, victim.instance_id)
    return len(doomed)


def purge_expired(cur: Cursor, command: PurgeExpired, lock_clause: str = "") -> int:
    """Delete finished instances whose retention ran out (an index range of stamped
    ones); nodes doing this at once skip each other's rows."""
    cur.execute(
        "SELECT instance_id FROM instances WHERE expires_at <= ? "
        f"ORDER BY expires_at LIMIT ?{lock_clause}",
        (to_micros(command.now), command.limit),
    )
    expired = [row[0] for row in cur.fetchall()]
    for instance_id in expired:
        delete_instance_rows(cur, instance_id)
    return len(expired)


def _descendants(cur: Cursor, instance_id: str) -> Iterator[InstanceRecord]:
    # Reused ids can link instances in a cycle (A's child B later starts a new A as
    # its own child), so each instance is visited once.
    seen = {instance_id}
    frontier = [instance_id]
    while frontier:
        parent = frontier.pop()
        cur.execute(
            f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE parent_instance_id = ?", (parent,)
        )
        for row in cur.fetchall():
            child = instance_from_row(row)
            if child.instance_id in seen:
                continue
            seen.add(child.instance_id)
            frontier.append(child.instance_id)
            yield child
