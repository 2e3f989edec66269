"""The nodes sharing a store, and what each can run.

Every engine announces itself (its app, the workflows and activities it registers,
whether remote workers may connect to it) when it starts and again well within
``NODE_TTL``, and retires on a clean stop; a node that dies drops out when its
announcement expires. This is how a node tells that nobody can run an activity.
"""

from __future__ import annotations

import json

from wayline.store.commands import AnnounceNode, RetireNode
from wayline.store.rows import Cursor, to_micros
from wayline.store.types import NodeInfo

_UPSERT = (
    "INSERT INTO nodes (node_id, app_id, workflows, activities, remote_workers, expires_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET app_id = excluded.app_id, "
    "workflows = excluded.workflows, activities = excluded.activities, "
    "remote_workers = excluded.remote_workers, expires_at = excluded.expires_at"
)


def announce(cur: Cursor, command: AnnounceNode, lock_clause: str = "") -> list[NodeInfo]:
    """Record (or renew) a node, forget the nodes whose announcement ran out (every
    process start is a new node: they would pile up); returns every live node,
    itself included. Nodes doing this at once skip each other's rows."""
    node = command.node
    cur.execute(
        _UPSERT,
        (
            node.node_id,
            node.app_id,
            json.dumps(sorted(node.workflows)),
            json.dumps(sorted(node.activities)),
            1 if node.remote_workers else 0,
            to_micros(command.until),
        ),
    )
    now_us = to_micros(command.now)
    cur.execute(
        "DELETE FROM nodes WHERE node_id IN "
        f"(SELECT node_id FROM nodes WHERE expires_at <= ?{lock_clause})",
        (now_us,),
    )
    cur.execute(
        "SELECT node_id, app_id, workflows, activities, remote_workers FROM nodes "
        "WHERE expires_at > ?",
        (now_us,),
    )
    return [
        NodeInfo(
            node_id=row[0],
            app_id=row[1],
            workflows=frozenset(json.loads(row[2])),
            activities=frozenset(json.loads(row[3])),
            remote_workers=bool(row[4]),
        )
        for row in cur.fetchall()
    ]


def retire(cur: Cursor, command: RetireNode) -> None:
    cur.execute("DELETE FROM nodes WHERE node_id = ?", (command.node_id,))
