"""Two ``wayline serve`` nodes on one PostgreSQL database, each hosting part of an app.

What an operator sees: a workflow started through node A's Dapr HTTP API whose
code is registered only on node B is run by B; its activity, registered only on
A, runs on A; every management call works from either node on the shared state.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.server import Server, stop_all
from support.wait import wait_until

pytestmark = [pytest.mark.cluster]

APPS = Path(__file__).with_name("apps")
WORKFLOW = "/v1.0/workflows/dapr"


@pytest.fixture
def nodes(pg_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    tuning = ["--turn-lease", "2", "--activity-lease", "4", "--poll-interval", "1"]
    a = Server(
        tmp_path / "a.db",
        store=pg_url,
        apps=[APPS / "activities_node.py"],
        extra_args=["--node-id", "node-a", *tuning],
    )
    b = Server(
        tmp_path / "b.db",
        store=pg_url,
        apps=[APPS / "workflows_node.py"],
        extra_args=["--node-id", "node-b", *tuning],
    )
    try:
        yield a.start(), b.start()
    finally:
        stop_all([a, b])


def _status(http: httpx.Client, iid: str) -> dict[str, object]:
    response = http.get(f"{WORKFLOW}/{iid}")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_work_goes_to_the_node_that_registered_it(nodes: tuple[Server, Server]) -> None:
    a, b = nodes
    with a.client() as on_a, b.client() as on_b:
        started = on_a.post(f"{WORKFLOW}/relay/start?instanceID=r1", json="hi")
        assert started.status_code == 202, started.text

        def custom_status_on_a() -> object:
            props = _status(on_a, "r1").get("properties", {})
            assert isinstance(props, dict)
            return props.get("dapr.workflow.custom_status")

        assert wait_until(custom_status_on_a, timeout=20, what="B to run the first turn")
        assert _status(on_b, "r1")["runtimeStatus"] == "RUNNING"

        # Pause on B, raise on A while paused (held), resume on A: nothing is lost.
        assert on_b.post(f"{WORKFLOW}/r1/pause").status_code == 202
        wait_until(lambda: _status(on_a, "r1")["runtimeStatus"] == "SUSPENDED", timeout=20)
        assert on_a.post(f"{WORKFLOW}/r1/raiseEvent/go", json="now").status_code == 202
        assert on_a.post(f"{WORKFLOW}/r1/resume").status_code == 202

        done = wait_until(
            lambda: (s := _status(on_b, "r1"))["runtimeStatus"] == "COMPLETED" and s,
            timeout=20,
            what="the workflow to complete",
        )
        props = done["properties"]
        assert isinstance(props, dict)
        assert props["dapr.workflow.output"] == (
            '{"shouted": "HI NOW! (ran on activities_node)", "by": "workflows_node"}'
        )

        # Purge from the other node than the one that started it.
        assert on_b.post(f"{WORKFLOW}/r1/purge").status_code == 202
        assert on_a.get(f"{WORKFLOW}/r1").status_code == 404  # gone everywhere


def test_terminate_from_either_node(nodes: tuple[Server, Server]) -> None:
    a, b = nodes
    with a.client() as on_a, b.client() as on_b:
        assert on_b.post(f"{WORKFLOW}/relay/start?instanceID=t1", json="x").status_code == 202
        wait_until(lambda: _status(on_a, "t1")["runtimeStatus"] == "RUNNING", timeout=20)
        assert on_a.post(f"{WORKFLOW}/t1/terminate").status_code == 202
        wait_until(lambda: _status(on_b, "t1")["runtimeStatus"] == "TERMINATED", timeout=20)
