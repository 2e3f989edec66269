"""The server's views of an instance, for comparing with what an SDK client saw:
Wayline's HTTP API, the Dapr HTTP API, the ``wayline`` CLI and the history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from typing import Any

import httpx
from grpc_support import GrpcServer


def wayline_state(server: GrpcServer, instance_id: str) -> dict[str, Any]:
    response = server.instance(instance_id)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def dapr_http(server: GrpcServer, instance_id: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1.0/workflows/dapr/{instance_id}",
        headers=server.http_headers(),
        timeout=10,
    )


def dapr_state(server: GrpcServer, instance_id: str) -> dict[str, Any]:
    response = dapr_http(server, instance_id)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def cli_state(server: GrpcServer, instance_id: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "WAYLINE_"))}
    command = ["get", instance_id, "--output", "json", "--url", server.url]
    if server.api_token:
        command += ["--api-token", server.api_token]
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


def history(server: GrpcServer, instance_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{server.url}/wayline/v1/instances/{instance_id}/history",
        headers=server.http_headers(),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["kind"] for event in events]


def of_kind(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["kind"] == kind]


def same_moment(sdk_iso: str, http_rfc3339: str) -> bool:
    sdk = datetime.fromisoformat(sdk_iso)
    http = datetime.fromisoformat(http_rfc3339.replace("Z", "+00:00"))
    if sdk.tzinfo is None:  # durabletask's ToDatetime() is naive UTC
        http = http.replace(tzinfo=None)
    return abs((sdk - http).total_seconds()) < 0.001


def agrees(server: GrpcServer, seen: dict[str, Any]) -> None:
    """The SDK's view of an instance equals Wayline's API, the CLI and the Dapr HTTP API."""
    iid = seen["instance_id"]
    ours, cli, dapr = wayline_state(server, iid), cli_state(server, iid), dapr_state(server, iid)
    for view in (ours, cli):
        assert view["instanceID"] == iid
        assert view["runtimeStatus"] == seen["runtime_status"], view
        assert view["workflowName"] == seen["name"]
        assert view.get("input") == seen["serialized_input"]
        assert view.get("output") == seen["serialized_output"]
        assert view.get("customStatus") == seen["serialized_custom_status"]
        assert same_moment(seen["created_at"], view["createdAt"])
        if seen["failure"] is None:
            assert "failure" not in view
        else:
            assert view["failure"]["errorType"] == seen["failure"]["error_type"]
            assert view["failure"]["message"] == seen["failure"]["message"]
    assert dapr["runtimeStatus"] == seen["runtime_status"]
    assert dapr["workflowName"] == seen["name"]
    props = dapr.get("properties", {})
    assert props.get("dapr.workflow.input") == seen["serialized_input"]
    assert props.get("dapr.workflow.custom_status") == seen["serialized_custom_status"]
    if seen["failure"] is None:
        assert props.get("dapr.workflow.output") == seen["serialized_output"]
    else:
        assert props["dapr.workflow.failure.error_type"] == seen["failure"]["error_type"]
        assert props["dapr.workflow.failure.error_message"] == seen["failure"]["message"]
