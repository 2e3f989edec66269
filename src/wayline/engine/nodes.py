"""This node's entry in the store's node table, and its view of the others.

A node announces what it can run when it starts and every third of ``NODE_TTL``;
the answer, every live node, tells it whether anybody can run an activity it
cannot, and which apps are running (see ``store.nodes``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from wayline.core.events import FailureDetails
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

    def refusal(self, kind: str, name: str, app_id: str) -> FailureDetails | None:
        """Why a call of an ``kind`` ("activity" or "workflow") named ``name``, sent to
        app ``app_id``, cannot run, or None when some live node may run it.

        In this node's own app only activities are checked (a child workflow nobody
        registers waits, as a started one does). Another app that no live node runs
        is a failure a retry policy retries (it may be starting); a name no node of a
        running app registers, where no remote worker may connect, is final.
        """
        me = self._describe()
        own = app_id == me.app_id
        if own and kind == "workflow":
            return None
        nodes = [
            node for node in self._live if node.app_id == app_id and node.node_id != me.node_id
        ]
        if own:
            nodes.append(me)
        elif not nodes:
            return FailureDetails(
                message=f"app {app_id!r} is not running: no node of it shares this store "
                f"(start one with `wayline serve --app-id {app_id}` or a runtime with "
                f"app_id={app_id!r})",
                error_type="AppNotFoundError",
            )
        if any(node.remote_workers or name in _names(node, kind) for node in nodes):
            return None
        where = "any node of this store" if own else f"app {app_id!r}"
        return FailureDetails(
            message=f"{kind} {name!r} is not registered by {where}: register it with "
            f"runtime.register_{kind} (or @runtime.{kind})",
            error_type=f"{kind.title()}NotRegisteredError",
            non_retriable=True,
        )


def _names(node: NodeInfo, kind: str) -> frozenset[str]:
    return node.activities if kind == "activity" else node.workflows
