"""An unmodified Dapr SDK app (dapr-ext-workflow==1.18.3 + dapr==1.18.3) runs its own
workflows and activities against ``wayline serve``, as it would against ``daprd``.

The app (``sdk/dapr_app.py``) is a real ``WorkflowRuntime`` on the work-item stream
plus its ``DaprWorkflowClient``, in its own pinned venv. What it sees must agree
with Wayline's HTTP API, the Dapr HTTP API and the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from grpc_support import SDK_DIR, Server, start_server, wait_until

WAIT = 60.0


class Worker:
    """``dapr_app.py worker``: the app's code on a stream, until stopped or killed."""

    def __init__(
        self,
        python: Path,
        server: Server,
        effects: Path,
        *,
        token: bool = True,
        ready_timeout: float = 30,
    ) -> None:
        env = {**server.sdk_env(), "APP_READY_TIMEOUT": str(ready_timeout)}
        if not token:
            env.pop("DAPR_API_TOKEN", None)
        self.log = effects.with_name(f"worker-{len(list(effects.parent.iterdir()))}.log")
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(python), str(SDK_DIR / "dapr_app.py"), "worker", str(effects)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=out,
            )
        assert self.process.stdout is not None
        # The app prints "ready" once its stream is open, or gives up after ready_timeout.
        self.first_line = self.process.stdout.readline().decode().strip()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def workers(dapr_ext_python: Path, tmp_path: Path) -> Iterator[Any]:
    started: list[Worker] = []
    effects = tmp_path / "effects.log"
    effects.touch()

    def start(server: Server, **options: Any) -> Worker:
        worker = Worker(dapr_ext_python, server, effects, **options)
        started.append(worker)
        if options.get("token", True):
            assert worker.first_line == "ready", f"no worker: {worker.log.read_text()}"
        return worker

    start.effects = effects  # type: ignore[attr-defined]
    yield start
    for worker in started:
        worker.stop()


def effect_rows(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines()]


def wayline_state(server: Server, instance_id: str) -> dict[str, Any]:
    response = server.instance(instance_id)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def dapr_http_state(server: Server, instance_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.http_url}/v1.0/workflows/dapr/{instance_id}",
        headers=server.http_headers(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cli_state(server: Server, instance_id: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "WAYLINE_"))}
    if server.api_token:
        env["DAPR_API_TOKEN"] = server.api_token
    command = ["get", instance_id, "--output", "json", "--url", server.http_url]
    result = subprocess.run(
        [sys.executable, "-m", "wayline", *command],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def history_kinds(server: Server, instance_id: str) -> list[str]:
    response = httpx.get(
        f"{server.http_url}/wayline/v1/instances/{instance_id}/history",
        headers=server.http_headers(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return [event["kind"] for event in response.json()["events"]]


def agrees(server: Server, seen: dict[str, Any]) -> None:
    """The SDK's view of an instance equals Wayline's API, the Dapr API and the CLI."""
    iid = seen["instance_id"]
    ours, cli = wayline_state(server, iid), cli_state(server, iid)
    dapr = dapr_http_state(server, iid)
    for view in (ours, cli):
        assert view["runtimeStatus"] == seen["runtime_status"], view
        assert view["workflowName"] == seen["name"]
        assert view.get("input") == seen["serialized_input"]
        assert view.get("output") == seen["serialized_output"]
        assert view.get("customStatus") == seen["serialized_custom_status"]
    assert dapr["runtimeStatus"] == seen["runtime_status"]
    props = dapr.get("properties", {})
    assert props.get("dapr.workflow.output") == seen["serialized_output"]
    assert props.get("dapr.workflow.custom_status") == seen["serialized_custom_status"]
    if seen["failure"] is not None:
        assert ours["failure"]["errorType"] == seen["failure"]["error_type"]
        assert ours["failure"]["message"] == seen["failure"]["message"]


def test_every_scenario_of_an_unmodified_dapr_app(server: Server, dapr_ext_python: Path) -> None:
    seen = server.run_sdk(dapr_ext_python, "dapr_app.py", "scenarios", "app")

    waiting = seen["order_waiting"]
    assert waiting["runtime_status"] == "RUNNING"
    assert waiting["serialized_custom_status"] == "waiting-for-approval"
    assert seen["order_paused"]["runtime_status"] == "SUSPENDED"
    assert seen["order_paused_after_event"]["runtime_status"] == "SUSPENDED"  # held
    order = seen["order"]
    assert order["runtime_status"] == "COMPLETED"
    assert json.loads(order["serialized_output"]) == {
        "greeting": "Hello, ada!",
        "approval": {"ok": True},
    }
    assert order["serialized_custom_status"] == "waiting-for-approval"
    assert seen["order_purged"] is None and server.instance("app-order").status_code == 404

    assert json.loads(seen["parent"]["serialized_output"]) == [9, 16]
    assert seen["parent_second_child"]["serialized_output"] == "16"
    assert wayline_state(server, "app-parent-c2").get("parentInstanceID") == "app-parent"

    assert seen["holder"]["runtime_status"] == "TERMINATED"
    assert seen["held"]["runtime_status"] == "TERMINATED"  # recursive

    counter = seen["counter"]
    assert (counter["serialized_input"], counter["serialized_output"]) == ("3", "3")
    # Continue-as-new started a fresh history for the last generation.
    assert history_kinds(server, "app-counter")[:2] == ["WorkflowStarted", "ExecutionStarted"]
    assert history_kinds(server, "app-counter").count("ExecutionStarted") == 1

    assert json.loads(seen["fan"]["serialized_output"]) == {
        "sum": 0 + 1 + 4 + 9,
        "winner": "event",
        "event": "first!",
    }

    assert seen["retry"]["serialized_output"] == '"ok after 3"'
    assert seen["retry_attempts"] == 3
    retry_kinds = history_kinds(server, "app-retry")
    assert retry_kinds.count("TaskFailed") == 2 and retry_kinds.count("TaskCompleted") == 1

    failed = seen["fail"]
    assert failed["runtime_status"] == "FAILED"
    assert failed["failure"]["error_type"] == "TaskFailedError"
    assert "boom" in failed["failure"]["message"]

    assert seen["local"]["serialized_output"] == '{"x": 1}'  # the server's --app code

    for key in ("parent", "parent_second_child", "holder", "held", "counter", "fan", "retry"):
        agrees(server, seen[key])
    agrees(server, failed)
    agrees(server, seen["local"])


def test_work_is_queued_until_a_worker_connects(server: Server, workers: Any) -> None:
    with httpx.Client(base_url=server.http_url, timeout=10) as http:
        started = http.post("/v1.0/workflows/dapr/app_parent/start?instanceID=q1", json=5)
        assert started.status_code == 202, started.text
        assert dapr_http_state(server, "q1")["runtimeStatus"] == "PENDING"
        workers(server)
        wait_until(
            lambda: wayline_state(server, "q1")["runtimeStatus"] == "COMPLETED", WAIT, "q1 to run"
        )
    assert wayline_state(server, "q1")["output"] == "[25, 36]"


def test_a_worker_killed_mid_activity_is_replaced(server: Server, workers: Any) -> None:
    effects: Path = workers.effects
    first = workers(server)
    with httpx.Client(base_url=server.http_url, timeout=10) as http:
        started = http.post("/v1.0/workflows/dapr/app_slow_flow/start?instanceID=k1", json=2.0)
        assert started.status_code == 202, started.text
    wait_until(
        lambda: [str(first.process.pid), "k1", "start"] in effect_rows(effects),
        WAIT,
        "the first worker to start the activity",
    )
    first.kill()  # mid-activity: its stream drops with the activity unanswered
    second = workers(server)
    wait_until(
        lambda: wayline_state(server, "k1")["runtimeStatus"] == "COMPLETED",
        WAIT,
        "the second worker to finish k1",
    )
    assert wayline_state(server, "k1")["output"] == str(second.process.pid)
    rows = effect_rows(effects)
    assert [str(first.process.pid), "k1", "end"] not in rows
    assert [str(second.process.pid), "k1", "end"] in rows
    kinds = history_kinds(server, "k1")
    assert kinds.count("TaskScheduled") == 1 and kinds.count("TaskCompleted") == 1


@pytest.fixture(scope="module")
def token_server_for_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("grpc-token-workers"), api_token="w0rker")
    yield running
    assert running.stop() == 0, f"unclean exit:\n{running.log.read_text()[-3000:]}"


def test_workers_need_the_api_token(token_server_for_workers: Server, workers: Any) -> None:
    server = token_server_for_workers
    with httpx.Client(base_url=server.http_url, headers=server.http_headers(), timeout=10) as http:
        started = http.post("/v1.0/workflows/dapr/app_parent/start?instanceID=t1", json=1)
        assert started.status_code == 202, started.text
        # Without the token the stream is refused (UNAUTHENTICATED) until the app gives up.
        rejected = workers(server, token=False, ready_timeout=3)
        assert rejected.first_line == "not-ready"
        assert rejected.process.wait(timeout=30) == 3
        assert wayline_state(server, "t1")["runtimeStatus"] == "PENDING"  # nobody ran it
        workers(server)
        wait_until(
            lambda: wayline_state(server, "t1")["runtimeStatus"] == "COMPLETED",
            WAIT,
            "t1 to run on the worker with the token",
        )
    assert wayline_state(server, "t1")["output"] == "[1, 4]"
