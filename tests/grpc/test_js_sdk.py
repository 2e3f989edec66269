"""A second-language client: ``@dapr/durabletask-js`` 1.0.0 against ``wayline serve``.

The npm package has its own generated protobuf code (the older microsoft-era proto),
its own replay engine, no completion tokens and no api token
(``shared/spec/durabletask-protocol.md`` §9). ``js/worker_and_client.js`` runs its
``TaskHubGrpcWorker`` (activity → external event → 1 s durable timer) and its
``TaskHubGrpcClient`` over the remote-worker stream; what it reports must agree with
Wayline's own HTTP API and history.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from grpc_support import GrpcServer
from js_support import JS_DIR, node_project
from views import history

SCRIPT = JS_DIR / "worker_and_client.js"
OUTPUT = '{"greeting":"Hello, ada!","approval":{"ok":true}}'  # JS JSON.stringify


@pytest.fixture(scope="session")
def durabletask_js() -> Path:
    return node_project()


def run_js(server: GrpcServer, project: Path, instance_id: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "NODE_"))}
    env["NODE_PATH"] = str(project / "node_modules")
    try:
        result = subprocess.run(
            ["node", str(SCRIPT), server.grpc_target, instance_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,  # the script stops itself after 60 s
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"{SCRIPT.name} hung:\n{exc.stderr!r}\nserver log:\n{server.output()[-3000:]}"
        ) from None
    if result.returncode != 0:
        raise AssertionError(
            f"{SCRIPT.name} failed ({result.returncode}):\n{result.stderr[-4000:]}\n"
            f"server log:\n{server.output()[-3000:]}"
        )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, f"expected one JSON line on stdout, got:\n{result.stdout}"
    seen: dict[str, Any] = json.loads(lines[0])
    return seen


def test_durabletask_js_worker_and_client(server: GrpcServer, durabletask_js: Path) -> None:
    seen = run_js(server, durabletask_js, "js-1")

    assert seen["instance_id"] == "js-1"
    assert seen["started_status"] == "RUNNING"
    assert seen["waiting_status"] == "RUNNING"
    assert seen["runtime_status"] == "COMPLETED"
    assert seen["serialized_input"] == '{"name":"ada"}'
    assert seen["serialized_output"] == OUTPUT
    assert seen["ms_from_event_to_completion"] >= 900  # the 1 s timer came after the event

    # Wayline's own API sees the same instance.
    response = server.instance("js-1")
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["workflowName"] == "js_greet_wf"
    assert state["runtimeStatus"] == seen["runtime_status"]
    assert state["output"] == seen["serialized_output"]
    assert state["input"] == seen["serialized_input"]
    assert state["customStatus"] == "waiting-for-approval"  # stored as the worker sent it

    events = history(server, "js-1")
    kinds = [e["kind"] for e in events]
    assert kinds[:3] == ["WorkflowStarted", "ExecutionStarted", "TaskScheduled"]
    assert kinds[-1] == "ExecutionCompleted"
    by_kind = {e["kind"]: e for e in events}
    for kind in ("TaskScheduled", "TaskCompleted", "EventRaised", "TimerCreated", "TimerFired"):
        assert kinds.count(kind) == 1, kinds
    scheduled, completed = by_kind["TaskScheduled"], by_kind["TaskCompleted"]
    assert (scheduled["name"], scheduled["input"]) == ("js_greet", '"ada"')
    assert completed["task_scheduled_id"] == scheduled["event_id"] == 1
    assert completed["result"] == '"Hello, ada!"'
    assert (by_kind["EventRaised"]["name"], by_kind["EventRaised"]["input"]) == (
        "approve",
        '{"ok":true}',
    )
    created, fired = by_kind["TimerCreated"], by_kind["TimerFired"]
    assert fired["timer_id"] == created["event_id"] and fired["fire_at"] == created["fire_at"]
    delay = datetime.fromisoformat(created["fire_at"]) - datetime.fromisoformat(
        created["timestamp"]
    )
    assert 0.5 < delay.total_seconds() < 5  # createTimer(1): about now + 1 s
    assert kinds.index("EventRaised") < kinds.index("TimerCreated") < kinds.index("TimerFired")
    assert by_kind["ExecutionCompleted"]["status"] == "COMPLETED"
    assert by_kind["ExecutionCompleted"]["result"] == OUTPUT
