"""How a SQL store finds runnable work at a cost that does not grow with history.

``instances.ready_at`` is the earliest time an instance has an inbox message it
may consume in its current status, NULL when it has none (finished, idle, waiting
for an event or a far timer, or suspended with only held events). Every write that
changes an inbox or a status keeps it up to date, and the partial index
``instances_ready`` holds only the non-NULL rows: claims and wake-up times are
ranges of that index, so a million finished or waiting instances cost nothing.
``tasks.visible_at`` does the same for activity tasks: when a task may be claimed
(at once when queued; when its lease expires when leased).

Each query is built here, once, so the query-plan tests check the very SQL the
store runs.
"""

from __future__ import annotations

from wayline.core.events import WorkflowStatus
from wayline.store.rows import placeholders

# Which inbox messages can start a turn, by the instance's status: while PENDING only
# its start (or a terminate), while SUSPENDED only the pause itself (recorded by a
# turn), resume or terminate, while STALLED only terminate; everything else waits.
# RUNNING takes every kind; a finished instance takes none.
WAKING_KINDS: dict[str, tuple[str, ...]] = {
    WorkflowStatus.PENDING.value: ("ExecutionStarted", "ExecutionTerminated"),
    WorkflowStatus.SUSPENDED.value: (
        "ExecutionSuspended",
        "ExecutionResumed",
        "ExecutionTerminated",
    ),
    WorkflowStatus.STALLED.value: ("ExecutionTerminated",),
}
_LIVE_STATUSES = (WorkflowStatus.RUNNING.value, *WAKING_KINDS)

#: Inbox messages queued for a later time: a timer's firing, a scheduled start. Every
#: other kind is due when it is committed.
DELAYED_KINDS = ("TimerFired", "ExecutionStarted")


def statuses_woken_by(kind: str) -> tuple[str, ...]:
    """The statuses in which an inbox message of ``kind`` makes an instance runnable."""
    return tuple(
        status
        for status in _LIVE_STATUSES
        if status not in WAKING_KINDS or kind in WAKING_KINDS[status]
    )


#: Make an instance (its row locked, its status one the new message wakes) runnable
#: from the message's time, unless it is runnable earlier already (params:
#: visible_at, instance_id, visible_at).
MARK_READY_SQL = (
    "UPDATE instances SET ready_at = ? WHERE instance_id = ? AND (ready_at IS NULL OR ready_at > ?)"
)


def ready_at_sql(instance_id: str, status: WorkflowStatus) -> tuple[str, tuple[str, ...]]:
    """An SQL expression and its parameters: when an instance in ``status`` is next
    runnable, from its inbox (an index range of ``inbox_instance``)."""
    if status.is_terminal:
        return "NULL", ()
    kinds = WAKING_KINDS.get(status.value, ())
    where = f" AND kind IN ({placeholders(len(kinds))})" if kinds else ""
    sql = f"(SELECT MIN(visible_at) FROM inbox WHERE instance_id = ?{where})"
    return sql, (instance_id, *kinds)


def claim_turns_sql(name_count: int | None, lock_clause: str = "", index_hint: str = "") -> str:
    """Runnable, unleased instances of one app, earliest first (params: now, now, app,
    *names, limit).

    ``index_hint`` pins the ready index where the dialect can (SQLite's ``INDEXED
    BY``): with a name filter, a planner without statistics may otherwise walk every
    instance of that name through the name index.
    """
    names = "" if name_count is None else f" AND name IN ({placeholders(name_count)})"
    # lease_owner is read with the row the lease check reads anyway: a non-NULL one is
    # an expired lease that this claim takes over (a release or commit clears it).
    return (
        f"SELECT instance_id, lease_owner FROM instances{index_hint} WHERE ready_at <= ? "
        f"AND (lease_expires_at IS NULL OR lease_expires_at <= ?) AND app_id = ?{names} "
        f"ORDER BY ready_at LIMIT ?{lock_clause}"
    )


def claim_terminations_sql(lock_clause: str = "") -> str:
    """Runnable, unleased instances with a terminate queued, of any workflow name and
    app: termination needs no workflow code, so any node applies it, even to an
    instance whose workflow (or app) nobody runs (params: now, now, limit). The partial index
    ``inbox_terminations`` holds only queued terminates."""
    return (
        "SELECT instance_id, lease_owner FROM instances WHERE instance_id IN "
        "(SELECT instance_id FROM inbox WHERE kind = 'ExecutionTerminated') "
        "AND ready_at <= ? AND (lease_expires_at IS NULL OR lease_expires_at <= ?) "
        f"ORDER BY ready_at LIMIT ?{lock_clause}"
    )


def claim_tasks_sql(name_count: int | None, lock_clause: str = "") -> str:
    """Claimable tasks of one app, earliest first (params: now, app, *names, limit),
    with the owner of the expired lease each one had, if any."""
    names = "" if name_count is None else f" AND name IN ({placeholders(name_count)})"
    return (
        f"SELECT id, lease_owner FROM tasks WHERE visible_at <= ? AND app_id = ?{names} "
        f"ORDER BY visible_at, id LIMIT ?{lock_clause}"
    )


#: The next timer or scheduled start (params: now). Not MIN(...) WHERE: SQLite would
#: walk the whole range of waiting instances instead of stopping at the first.
NEXT_READY_SQL = "SELECT ready_at FROM instances WHERE ready_at > ? ORDER BY ready_at LIMIT 1"
#: Among instances runnable now, the earliest that is not leased (due at once) or whose
#: lease expires first (its node may have died mid-turn) (params: now, now).
NEXT_RUNNABLE_SQL = (
    "SELECT MIN(CASE WHEN lease_expires_at > ? THEN lease_expires_at ELSE ready_at END) "
    "FROM instances WHERE ready_at <= ?"
)
#: The earliest queued task's time or leased task's lease expiry.
NEXT_TASK_SQL = "SELECT MIN(visible_at) FROM tasks"

# What waits, for metrics (``Store.backlog``): each an index range of what is runnable
# now, so, like the claims, they cost nothing for finished or waiting instances.
#: Runnable turns and the earliest ready time among them (params: now, now).
BACKLOG_TURNS_SQL = (
    "SELECT COUNT(*), MIN(ready_at) FROM instances{hint} WHERE ready_at <= ? "
    "AND (lease_expires_at IS NULL OR lease_expires_at <= ?)"
)
#: Claimable tasks and the earliest visible time among them (params: now).
BACKLOG_TASKS_SQL = "SELECT COUNT(*), MIN(visible_at) FROM tasks WHERE visible_at <= ?"
#: Timers due and not consumed yet (params: now); the partial index ``inbox_timers``.
DUE_TIMERS_SQL = "SELECT COUNT(*) FROM inbox WHERE kind = 'TimerFired' AND visible_at <= ?"


def backlog_turns_sql(index_hint: str = "") -> str:
    return BACKLOG_TURNS_SQL.format(hint=index_hint)
