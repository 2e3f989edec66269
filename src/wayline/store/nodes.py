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


def announce(cur: Cursor, command: AnnounceNode) -> list[NodeInfo]:
    """Record (or renew) a node; returns every live node, itself included."""
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
    cur.execute(
        "SELECT node_id, app_id, workflows, activities, remote_workers FROM nodes "
        "WHERE expires_at > ?",
        (to_micros(command.now),),
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
