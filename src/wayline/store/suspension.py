"""Pause, resume and unstall: status changes requested from outside a turn.

A pause or resume of a running instance sets its status in the request's own
transaction, so a read right after the call sees SUSPENDED (or RUNNING), as
Dapr's clients expect. The signal is also queued: the instance's next turn
records it in the history and holds (or releases) events and timers from that
point, exactly as before. Signals that would change nothing are not queued, so the
queued ones alternate, and a turn can tell whether the execution was suspended
before its messages from the first one (see ``engine.turns.select_messages``).

A PENDING instance has not started: its status stays PENDING and the signal waits
for the start, which applies it. Resuming a STALLED instance lets it run again
(pausing one changes nothing: it makes no progress anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wayline.core.events import WorkflowStatus
from wayline.store.commands import Unstall
from wayline.store.rows import Cursor, placeholders, to_micros

SUSPEND = "ExecutionSuspended"
RESUME = "ExecutionResumed"
SIGNAL_KINDS = frozenset({SUSPEND, RESUME})

#: The last queued signal of an instance (params: instance_id).
LAST_SIGNAL_SQL = (
    "SELECT kind FROM inbox WHERE instance_id = ? "
    f"AND kind IN ('{SUSPEND}', '{RESUME}') ORDER BY id DESC LIMIT 1"
)


@dataclass(frozen=True)
class SignalEffect:
    queue: bool
    #: The status to set now (None: unchanged).
    status: WorkflowStatus | None = None
    unstall: bool = False


def signal_effect(kind: str, status: str, last_queued_signal: str | None) -> SignalEffect:
    """What accepting a pause (``SUSPEND``) or resume (``RESUME``) does to a live instance.

    ``last_queued_signal`` matters only while PENDING (else the status says it).
    """
    if status == WorkflowStatus.STALLED.value:
        return SignalEffect(queue=False, unstall=kind == RESUME)
    if status == WorkflowStatus.PENDING.value:
        suspended = last_queued_signal == SUSPEND
    else:
        suspended = status == WorkflowStatus.SUSPENDED.value
    if suspended == (kind == SUSPEND):
        return SignalEffect(queue=False)  # already paused (or running): nothing to do
    if status == WorkflowStatus.PENDING.value:
        return SignalEffect(queue=True)
    new = WorkflowStatus.SUSPENDED if kind == SUSPEND else WorkflowStatus.RUNNING
    return SignalEffect(queue=True, status=new)


def accept(cur: Cursor, instance_id: str, kind: str, status: str, now: datetime) -> str | None:
    """Apply at once what a pause or resume of a live instance (its row locked, in
    ``status``) changes; returns the status to queue the signal under, or None when
    nothing is queued."""
    last_signal = None
    if status == WorkflowStatus.PENDING.value:
        cur.execute(LAST_SIGNAL_SQL, (instance_id,))
        row = cur.fetchone()
        last_signal = row[0] if row else None
    effect = signal_effect(kind, status, last_signal)
    if effect.unstall:
        cur.execute(unstall_sql(None, one_instance=True), (*UNSTALL_PARAMS, instance_id))
    if not effect.queue:
        return None
    if effect.status is not None:
        status = effect.status.value
        cur.execute(
            "UPDATE instances SET status = ?, last_updated_at = ? WHERE instance_id = ?",
            (status, to_micros(now), instance_id),
        )
    return status


def unstall(cur: Cursor, command: Unstall) -> int:
    """Let the stalled instances ``command`` names run again; returns how many."""
    names = command.workflow_names
    if names is not None and not names:
        return 0
    cur.execute(
        unstall_sql(None if names is None else len(names)),
        (*UNSTALL_PARAMS, command.app_id, *(names or ())),
    )
    return int(cur.rowcount)


def unstall_sql(name_count: int | None, *, one_instance: bool = False) -> str:
    """Make stalled instances RUNNING and runnable again (params: the instance id, or
    the app and the workflow names; without names: every stalled instance of the app).
    The turn that stalled consumed nothing, so its messages are still queued."""
    where = "status = ?"
    if one_instance:
        where += " AND instance_id = ?"
    else:
        where += " AND app_id = ?"
        if name_count is not None:
            where += f" AND name IN ({placeholders(name_count)})"
    return (
        "UPDATE instances SET status = ?, ready_at = (SELECT MIN(m.visible_at) FROM inbox m "
        f"WHERE m.instance_id = instances.instance_id) WHERE {where}"
    )


UNSTALL_PARAMS = (WorkflowStatus.RUNNING.value, WorkflowStatus.STALLED.value)
