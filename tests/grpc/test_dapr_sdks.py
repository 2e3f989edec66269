"""The real Dapr Python SDKs, in their own pinned venvs, against ``wayline serve``.

(a) ``DaprWorkflowClient`` from dapr-ext-workflow==1.18.3 + dapr==1.18.3 (the
durabletask ``TaskHubSidecarService``); (b) ``DaprClient.*_workflow`` from
dapr==1.17.5 (the ``dapr.proto.runtime.v1.Dapr`` ``*Beta1`` RPCs). Whatever the SDK
sees must agree with Wayline's own HTTP API.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from grpc_support import Server


def _http_state(server: Server, instance_id: str) -> dict[str, Any]:
    response = server.instance(instance_id)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _same_moment(sdk_iso: str, http_rfc3339: str) -> bool:
    sdk = datetime.fromisoformat(sdk_iso)
    http = datetime.fromisoformat(http_rfc3339.replace("Z", "+00:00"))
    if sdk.tzinfo is None:  # durabletask's ToDatetime() is naive UTC
        http = http.replace(tzinfo=None)
    return abs((sdk - http).total_seconds()) < 0.001


def _agrees(server: Server, seen: dict[str, Any]) -> None:
    http = _http_state(server, seen["instance_id"])
    assert http["runtimeStatus"] == seen["runtime_status"]
    assert http["workflowName"] == seen["name"]
    assert http.get("input") == seen["serialized_input"]
    assert http.get("output") == seen["serialized_output"]
    assert http.get("customStatus") == seen["serialized_custom_status"]
    assert _same_moment(seen["created_at"], http["createdAt"])
    assert _same_moment(seen["last_updated_at"], http["lastUpdatedAt"])
    if seen["failure"] is None:
        assert "failure" not in http
    else:
        assert http["failure"]["errorType"] == seen["failure"]["error_type"]
        assert http["failure"]["message"] == seen["failure"]["message"]


def test_dapr_workflow_client_1_18_3(server: Server, dapr_ext_python: Path) -> None:
    seen = server.run_sdk(dapr_ext_python, "dapr_ext_workflow_client.py", "ext")

    assert seen["scheduled_id"] == "ext-greet"
    assert seen["started"]["runtime_status"] == "RUNNING"
    assert seen["started"]["serialized_input"] is None  # fetch_payloads=False by default
    assert seen["waiting"]["serialized_input"] == '{"name": "ada"}'  # stored verbatim
    assert seen["waiting"]["serialized_custom_status"] == "waiting-for-approval"
    assert seen["paused"]["runtime_status"] == "SUSPENDED"
    assert seen["paused_after_event"]["runtime_status"] == "SUSPENDED"
    completed = seen["completed"]
    assert completed["runtime_status"] == "COMPLETED"
    assert json.loads(completed["serialized_output"]) == {
        "greeting": "Hello, ada!",
        "approval": {"ok": True},
    }
    assert seen["no_payloads"]["runtime_status"] == "COMPLETED"
    assert seen["no_payloads"]["serialized_input"] is None
    assert seen["no_payloads"]["serialized_output"] is None

    assert seen["duplicate"] == "ALREADY_EXISTS"
    assert seen["wait_timeout"] == "TimeoutError"
    assert 0.9 <= seen["wait_timeout_seconds"] < 10

    assert seen["terminated"]["runtime_status"] == "TERMINATED"
    assert seen["terminated"]["serialized_output"] == '"stopped"'
    assert seen["parent_terminated"]["runtime_status"] == "TERMINATED"
    assert seen["child_terminated"]["runtime_status"] == "TERMINATED"

    failed = seen["failed"]
    assert failed["runtime_status"] == "FAILED"
    assert failed["failure"] is not None
    assert "kaboom" in failed["failure"]["message"]
    assert failed["failure"]["error_type"] == "TaskFailedError"  # as durabletask reports it

    assert seen["purged"] is None
    assert seen["unknown"] is None
    assert seen["purge_unknown"] == "NOT_FOUND"
    assert server.instance("ext-greet").status_code == 404

    for key in ("terminated", "parent_terminated", "child_terminated", "failed"):
        _agrees(server, seen[key])


def test_dapr_client_1_17_workflow_methods(server: Server, dapr_117_python: Path) -> None:
    seen = server.run_sdk(dapr_117_python, "dapr_client_117.py", "legacy")

    assert seen["instance_id"] == "legacy-greet"
    running = seen["running"]
    assert running["workflow_name"] == "greet_wf"
    assert running["runtime_status"] == "Running"
    assert running["properties"]["dapr.workflow.input"] == '{"name": "bob"}'
    assert seen["paused"]["runtime_status"] == "Suspended"
    completed = seen["completed"]
    assert completed["runtime_status"] == "Completed"
    assert json.loads(completed["properties"]["dapr.workflow.output"]) == {
        "greeting": "Hello, bob!",
        "approval": {"ok": 1},
    }
    assert completed["properties"]["dapr.workflow.custom_status"] == "waiting-for-approval"
    assert "ERR_PURGE_WORKFLOW" in seen["purge_running"]
    assert seen["terminated"]["runtime_status"] == "Terminated"
    assert seen["after_purge"] == "no such instance exists"

    http = _http_state(server, "legacy-wait")
    assert http["runtimeStatus"] == "TERMINATED"
    assert http["workflowName"] == seen["terminated"]["workflow_name"] == "wait_wf"
    assert _same_moment(seen["terminated"]["created_at"], http["createdAt"])
    # The Dapr HTTP API shows the same document as the gRPC GetWorkflowBeta1.
    dapr_http = server_get_dapr(server, "legacy-wait")
    assert dapr_http["runtimeStatus"] == "TERMINATED"
    assert dapr_http.get("properties", {}) == seen["terminated"]["properties"]


def server_get_dapr(server: Server, instance_id: str) -> dict[str, Any]:
    import httpx

    response = httpx.get(
        f"{server.http_url}/v1.0/workflows/dapr/{instance_id}",
        headers=server.http_headers(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
