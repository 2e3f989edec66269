"""This node's entry in the store's node table, and its view of the others.

A node announces what it can run when it starts and every third of ``NODE_TTL``;
the answer, every live node, tells it whether anybody can run an activity it
cannot (see ``store.nodes``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from wayline.engine.clock import Clock
from wayline.store.commands import AnnounceNode, RetireNode, WriteCommand
from wayline.store.types import NodeInfo

#: How long an announcement holds: a node that died drops out after this.
NODE_TTL = timedelta(seconds=60)


class NodeDirectory:
    def __init__(self, describe: Callable[[], NodeInfo], clock: Clock) -> None:
        self._describe = describe
        self._clock = clock
        self._live: list[NodeInfo] = []

    async def announce(self, write: Callable[[WriteCommand], Awaitable[Any]]) -> None:
        now = self._clock.now()
        self._live = await write(AnnounceNode(self._describe(), now, now + NODE_TTL))

    async def retire(self, write: Callable[[WriteCommand], Awaitable[Any]]) -> None:
        await write(RetireNode(self._describe().node_id))

    def someone_runs_activity(self, name: str) -> bool:
        """Whether a live node registers activity ``name`` or may have a worker for it."""
        return any(name in node.activities or node.remote_workers for node in self._live)
