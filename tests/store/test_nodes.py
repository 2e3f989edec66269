"""The node table: announcements, what every live node sees, and nodes that died."""

from __future__ import annotations

from wayline.store import Store
from wayline.store.commands import AnnounceNode, RetireNode
from wayline.store.types import NodeInfo

from ._support import at


def _node(node_id: str, app_id: str = "wayline") -> NodeInfo:
    return NodeInfo(node_id, app_id, frozenset({"wf"}), frozenset({"act"}), False)


def _announce(store: Store, node: NodeInfo, seconds: float) -> set[str]:
    live = store.execute(AnnounceNode(node, at(seconds), at(seconds + 60)))
    return {info.node_id for info in live}


def test_a_node_sees_itself_and_every_live_node(store: Store) -> None:
    a, b = _node("a"), _node("b", "billing")
    assert _announce(store, a, 0) == {"a"}
    assert _announce(store, b, 10) == {"a", "b"}
    live = store.execute(AnnounceNode(a, at(20), at(80)))
    assert sorted(live, key=lambda n: n.node_id) == [a, b]
    store.execute(RetireNode("b"))
    assert _announce(store, a, 30) == {"a"}


def test_nodes_that_stopped_announcing_are_forgotten(store: Store) -> None:
    """Each process start is a new node: the table must not keep every one that died."""
    for number in range(5):
        _announce(store, _node(f"dead-{number}"), 0)
    assert _announce(store, _node("alive"), 61) == {"alive"}
    with store.read() as cur:
        cur.execute("SELECT node_id FROM nodes")
        assert [row[0] for row in cur.fetchall()] == ["alive"]
