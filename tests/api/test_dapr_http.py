"""``wayline serve`` over real HTTP: Dapr's workflow API on every prefix, errors, guards."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.http_api import wait_status
from support.server import ORDER_APP, REPO, Server
from support.wait import wait_until

PREFIXES = ("v1.0-alpha1", "v1.0-beta1", "v1.0")
ORDER = b'{"item_name": "Paperclips", "total_cost": 9999, "quantity": 1}'


@contextmanager
def serving(tmp: Path, *extra: str) -> Iterator[Server]:
    """A server with only the order-processing example; it must exit cleanly."""
    server = Server(tmp / "serve.db", apps=[ORDER_APP], extra_args=extra).start()
    try:
        yield server
    finally:
        assert server.stop() == 0, server.output()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """This module's server (the folder's ``http`` fixture is a client of it)."""
    with serving(tmp_path_factory.mktemp("serve")) as running:
        yield running


def _status(http: httpx.Client, prefix: str, iid: str, wanted: str) -> dict[str, Any]:
    return wait_status(http, iid, wanted, timeout=15, prefix=prefix)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_manage_workflows_how_to_on_every_prefix(http: httpx.Client, prefix: str) -> None:
    base = f"/{prefix}/workflows/dapr"
    start = http.post(f"{base}/order_processing_workflow/start?instanceID=12345678", content=ORDER)
    assert start.status_code == 202 and start.json() == {"instanceID": "12345678"}
    body = _status(http, prefix, "12345678", "RUNNING")
    assert body["properties"]["dapr.workflow.input"] == ORDER.decode()  # verbatim
    assert body["createdAt"].endswith("Z") and body["workflowName"] == "order_processing_workflow"
    assert http.post(f"{base}/12345678/pause").status_code == 202
    assert http.get(f"{base}/12345678").json()["runtimeStatus"] == "SUSPENDED"  # at once
    assert http.post(f"{base}/12345678/resume").status_code == 202
    assert http.get(f"{base}/12345678").json()["runtimeStatus"] == "RUNNING"
    assert http.post(f"{base}/12345678/terminate").status_code == 202
    _status(http, prefix, "12345678", "TERMINATED")
    assert http.post(f"{base}/12345678/purge").status_code == 202
    gone = http.get(f"{base}/12345678")
    assert gone.status_code == 404
    assert gone.json() == {
        "errorCode": "ERR_INSTANCE_ID_NOT_FOUND",
        "message": "unable to find workflow with the provided instance ID: 12345678",
    }


def test_approval_flow_completes_with_output(http: httpx.Client) -> None:
    base = "/v1.0/workflows/anycomponent"
    iid = http.post(f"{base}/order_processing_workflow/start", content=ORDER).json()["instanceID"]
    assert len(iid) == 36 and iid.count("-") == 4

    def waits_for_approval() -> bool:
        properties = http.get(f"{base}/{iid}").json().get("properties", {})
        return bool(properties.get("dapr.workflow.custom_status") == "waiting-for-approval")

    wait_until(waits_for_approval, 15, f"{iid} to wait for approval")
    assert (
        http.post(
            f"{base}/{iid}/raiseEvent/approval_event", content=b'{"approved": true}'
        ).status_code
        == 202
    )
    body = _status(http, "v1.0", iid, "COMPLETED")
    assert body["properties"]["dapr.workflow.output"] == '{"processed": true}'


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        (
            "POST",
            "order_processing_workflow/start?instanceID=bad.id",
            400,
            "ERR_INSTANCE_ID_INVALID",
        ),
        (
            "POST",
            f"order_processing_workflow/start?instanceID={'x' * 65}",
            400,
            "ERR_INSTANCE_ID_TOO_LONG",
        ),
        ("POST", "/start", 400, "ERR_WORKFLOW_NAME_MISSING"),
        ("GET", "", 400, "ERR_INSTANCE_ID_PROVIDED_MISSING"),
        ("POST", "/pause", 400, "ERR_INSTANCE_ID_PROVIDED_MISSING"),
        ("POST", "someid/raiseEvent/", 400, "ERR_WORKFLOW_EVENT_NAME_MISSING"),
        ("GET", "nosuch", 404, "ERR_INSTANCE_ID_NOT_FOUND"),
        ("POST", "nosuch/terminate", 404, "ERR_INSTANCE_ID_NOT_FOUND"),
        ("POST", "nosuch/purge", 404, "ERR_INSTANCE_ID_NOT_FOUND"),
    ],
)
def test_errors_have_dapr_codes_and_change_nothing(
    http: httpx.Client, method: str, path: str, status: int, code: str
) -> None:
    before = http.get("/wayline/v1/instances/count").json()["count"]
    response = http.request(method, f"/v1.0/workflows/dapr/{path}", content=ORDER)
    assert (response.status_code, response.json()["errorCode"]) == (status, code)
    assert http.get("/wayline/v1/instances/count").json()["count"] == before


def test_duplicate_active_start_purge_of_running_and_pause_of_finished_are_500(
    http: httpx.Client,
) -> None:
    base = "/v1.0/workflows/dapr"
    url = f"{base}/order_processing_workflow/start?instanceID=dup-1"
    assert http.post(url, content=ORDER).status_code == 202
    again = http.post(url, content=b'{"other": 1}')
    assert (again.status_code, again.json()["errorCode"]) == (500, "ERR_START_WORKFLOW")
    purge = http.post(f"{base}/dup-1/purge")
    assert (purge.status_code, purge.json()["errorCode"]) == (500, "ERR_PURGE_WORKFLOW")
    body = http.get(f"{base}/dup-1").json()
    assert body["properties"]["dapr.workflow.input"] == ORDER.decode()
    bad = http.post(f"{base}/dup-1/terminate", content=b"{not json")
    assert (bad.status_code, bad.json()["errorCode"]) == (400, "ERR_MALFORMED_REQUEST")
    assert http.get(f"{base}/dup-1").json()["runtimeStatus"] != "TERMINATED"
    assert http.post(f"{base}/dup-1/terminate").status_code == 202
    _status(http, "v1.0", "dup-1", "TERMINATED")
    pause = http.post(f"{base}/dup-1/pause")  # a finished instance cannot be paused
    assert (pause.status_code, pause.json()["errorCode"]) == (500, "ERR_PAUSE_WORKFLOW")


def test_wayline_api_lists_counts_and_shows_history(http: httpx.Client) -> None:
    base = "/v1.0/workflows/dapr/order_processing_workflow/start"
    for n in range(7):
        small = b'{"item_name": "Paperclips", "total_cost": 1, "quantity": 1}'
        assert http.post(f"{base}?instanceID=list-{n}", content=small).status_code == 202
    seen: list[str] = []
    token = None
    while True:
        params = {"name": "order_processing_workflow", "pageSize": 3}
        if token:
            params["continuationToken"] = token
        page = http.get("/wayline/v1/instances", params=params).json()
        seen += [i["instanceID"] for i in page["instances"]]
        token = page.get("continuationToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) and {f"list-{n}" for n in range(7)} <= set(seen)
    _status(http, "v1.0", "list-0", "COMPLETED")
    events = http.get("/wayline/v1/instances/list-0/history").json()["events"]
    assert events[1]["kind"] == "ExecutionStarted" and events[-1]["kind"] == "ExecutionCompleted"
    assert http.post("/wayline/v1/instances/bulk/purge", json={}).status_code == 400
    assert http.get("/wayline/v1/openapi.json").json()["openapi"].startswith("3.1")


def test_api_token_and_body_limit(tmp_path: Path) -> None:
    env_token = ("--api-token", "s3cret", "--max-body-bytes", "1024")
    with serving(tmp_path, *env_token) as server, server.client() as http:
        assert http.get("/v1.0/healthz").status_code == 204  # health stays open
        url = "/v1.0/workflows/dapr/order_processing_workflow/start?instanceID=tok"
        assert http.post(url, content=ORDER).status_code == 401
        wrong = http.post(url, content=ORDER, headers={"dapr-api-token": "nope"})
        assert wrong.status_code == 401
        ok = {"dapr-api-token": "s3cret"}
        assert http.get("/wayline/v1/instances/count", headers=ok).json()["count"] == 0
        big = http.post(url, content=b"x" * 2048, headers=ok)
        assert (big.status_code, big.json()["errorCode"]) == (413, "ERR_REQUEST_TOO_LARGE")
        assert http.get("/wayline/v1/instances/count", headers=ok).json()["count"] == 0
        assert http.post(url, content=ORDER, headers=ok).status_code == 202


def test_cli_lists_and_reports_errors(http: httpx.Client) -> None:
    env = {**os.environ, "WAYLINE_URL": str(http.base_url)}
    listed = subprocess.run(
        [sys.executable, "-m", "wayline", "list", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0 and '"instances"' in listed.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "wayline", "get", "nosuch"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip().startswith("error: ERR_INSTANCE_ID_NOT_FOUND")


def test_openapi_document_survives_a_schema_fuzzer(http: httpx.Client) -> None:
    """schemathesis against /wayline/v1/openapi.json: no 5xx, responses match the schema,
    bad input rejected. (Positive acceptance is left out: a made-up continuation token
    is schema-valid text but rightly a 400, since tokens are opaque.)"""
    st = Path(sys.executable).with_name("st")
    checks = (
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance,negative_data_rejection"
    )
    result = subprocess.run(
        [
            str(st),
            "run",
            f"{http.base_url}/wayline/v1/openapi.json",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "-c",
            checks,
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_serve_deletes_finished_instances_per_its_retention_flags(tmp_path: Path) -> None:
    retention = ("--retention-any-terminal", "1s", "--retention-completed", "1h")
    with serving(tmp_path, *retention) as server, server.client() as client:
        base = "/v1.0/workflows/dapr"
        client.post(f"{base}/order_processing_workflow/start?instanceID=kept", content=ORDER)
        client.post(f"{base}/order_processing_workflow/start?instanceID=dropped", content=ORDER)
        _status(client, "v1.0", "dropped", "RUNNING")
        assert client.post(f"{base}/dropped/terminate").status_code == 202
        _status(client, "v1.0", "dropped", "TERMINATED")
        # TERMINATED: any-terminal's 1 s; the server reaps due instances every few seconds
        wait_until(
            lambda: client.get(f"{base}/dropped").status_code == 404,
            20,
            "the terminated instance to be deleted",
        )
        assert client.get(f"{base}/kept").status_code == 200


def test_serve_refuses_a_bad_retention_duration(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wayline", "serve", "--retention-failed", "a while"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --retention-failed (or WAYLINE_RETENTION_FAILED): 'a while' is not a duration: "
        "write e.g. 30s, 15m, 24h, 7d or 1h30m"
    ]


def _readme_walkthrough() -> list[str]:
    """The curl commands of the README's server section, continuation lines joined."""
    readme = (REPO / "README.md").read_text()
    block = readme.split("# An order over $5,000", 1)[1].split("```", 1)[0]
    commands: list[str] = []
    pending = ""
    for line in block.splitlines():
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            if pending.startswith("curl"):
                commands.append(pending.strip())
            pending = ""
    return commands


def test_the_readme_curl_walkthrough_works_as_written(http: httpx.Client) -> None:
    """Each command answers the status its comment shows, and the instance reaches
    the state the comment names (a person reads the output before the next one)."""
    commands = _readme_walkthrough()
    assert len(commands) == 10
    statuses = ("RUNNING", "SUSPENDED", "COMPLETED", "TERMINATED")
    for command in commands:
        shown = command.split("#", 1)[1].strip()
        url = re.search(r"(/v1\.0/\S+?)[\"' ]", command)
        assert url is not None, command
        iid = re.search(r"/dapr/(\d+)|instanceID=(\d+)", command)
        assert iid is not None, command
        run = command.replace("http://localhost:3500", str(http.base_url).rstrip("/"))
        out = subprocess.run(
            ["bash", "-c", run.split(" #", 1)[0]], capture_output=True, text=True, timeout=30
        ).stdout
        code = out.split()[1]
        assert code == shown[:3], f"{command}\n{out}"
        status = next((s for s in statuses if s in shown), None)
        if status is not None:
            _status(http, "v1.0", iid.group(1) or iid.group(2), status)
        if "instanceID" in shown:
            assert out.rstrip().endswith(shown.split(" ", 1)[1]), out
