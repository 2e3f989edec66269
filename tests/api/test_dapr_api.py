"""The Dapr Workflow HTTP API over real HTTP against a running ``wayline serve``.

Spec: ``shared/spec/dapr-workflow-api.md`` §1. Every error case also checks that
the request changed nothing on the server.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest

from support.http_api import dapr_get, settled_snapshot, wait_custom_status, wait_status

PREFIXES = ["v1.0-alpha1", "v1.0-beta1", "v1.0"]
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
BIG_ORDER = {"item_name": "Paperclips", "total_cost": 9999.0, "quantity": 1}


def assert_accepted(response: httpx.Response) -> None:
    assert response.status_code == 202, response.text
    assert response.content in (b"", b"{}")


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errorCode", "message"}
    assert body["errorCode"] == code
    assert isinstance(body["message"], str) and body["message"]


def assert_no_empty_fields(body: dict[str, Any]) -> None:
    for key, value in body.items():
        assert value not in ("", None, {}, []), f"{key} is present but empty"
    for key, value in body.get("properties", {}).items():
        assert key.startswith("dapr.workflow.")
        assert isinstance(value, str) and value, f"property {key} is empty"


# ----- the Dapr "Manage workflows" how-to, verbatim, on each prefix ------------------------


@pytest.mark.parametrize("prefix", PREFIXES)
def test_manage_workflows_flow(http: httpx.Client, prefix: str) -> None:
    base = f"/{prefix}/workflows/dapr"
    started = http.post(
        f"{base}/order_processing_workflow/start?instanceID=12345678",
        content=json.dumps(BIG_ORDER),
    )
    assert started.status_code == 202, started.text
    assert started.json() == {"instanceID": "12345678"}

    got = http.get(f"{base}/12345678")
    assert got.status_code == 200
    body = got.json()
    assert body["instanceID"] == "12345678"
    assert body["workflowName"] == "order_processing_workflow"
    assert body["runtimeStatus"] in ("PENDING", "RUNNING")
    wait_custom_status(http, "12345678", "waiting-for-approval")

    assert_accepted(http.post(f"{base}/12345678/pause"))
    wait_status(http, "12345678", "SUSPENDED", prefix=prefix)

    # An event raised while paused is held until the instance resumes.
    assert_accepted(
        http.post(f"{base}/12345678/raiseEvent/approval_event", content=b'{"approved": true}')
    )
    held = settled_snapshot(http)["12345678"]
    assert held["runtimeStatus"] == "SUSPENDED"
    assert held["customStatus"] == "waiting-for-approval"

    assert_accepted(http.post(f"{base}/12345678/resume"))
    done = wait_status(http, "12345678", "COMPLETED")
    assert json.loads(done["properties"]["dapr.workflow.output"]) == {"processed": True}
    assert done["properties"]["dapr.workflow.custom_status"] == "approved"

    # Terminating a finished instance is accepted and changes nothing.
    assert_accepted(http.post(f"{base}/12345678/terminate"))
    assert http.get(f"{base}/12345678").json()["runtimeStatus"] == "COMPLETED"

    assert_accepted(http.post(f"{base}/12345678/purge"))
    assert_error(http.get(f"{base}/12345678"), 404, "ERR_INSTANCE_ID_NOT_FOUND")

    # The id is free again after the purge; terminate a running run this time.
    again = http.post(
        f"{base}/order_processing_workflow/start?instanceID=12345678",
        content=json.dumps(BIG_ORDER),
    )
    assert again.status_code == 202 and again.json() == {"instanceID": "12345678"}
    wait_custom_status(http, "12345678", "waiting-for-approval")
    assert_accepted(http.post(f"{base}/12345678/terminate"))
    assert wait_status(http, "12345678", "TERMINATED")["runtimeStatus"] == "TERMINATED"
    assert_accepted(http.post(f"{base}/12345678/purge"))
    assert_error(http.get(f"{base}/12345678"), 404, "ERR_INSTANCE_ID_NOT_FOUND")


def test_prefixes_share_instances(http: httpx.Client) -> None:
    started = http.post("/v1.0-alpha1/workflows/dapr/echo/start", content=b'"x"')
    iid = started.json()["instanceID"]
    wait_status(http, iid, "COMPLETED")
    bodies = [http.get(f"/{prefix}/workflows/dapr/{iid}").json() for prefix in PREFIXES]
    assert bodies[0] == bodies[1] == bodies[2]


# ----- start, get and the response JSON ------------------------------------------------------


def test_start_without_instance_id_generates_uuid(http: httpx.Client) -> None:
    response = http.post("/v1.0/workflows/dapr/echo/start", content=b"1")
    assert response.status_code == 202
    iid = response.json()["instanceID"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", iid)
    assert uuid.UUID(iid).version == 4
    assert wait_status(http, iid, "COMPLETED")["instanceID"] == iid


def test_raw_body_is_stored_verbatim(http: httpx.Client) -> None:
    raw = '  {"b" : [1, 2.50, "é"],\n "a":{"nested" :true}}  '
    response = http.post(
        "/v1.0/workflows/dapr/wait_for_go/start?instanceID=verbatim-1", content=raw.encode()
    )
    assert response.status_code == 202
    wait_custom_status(http, "verbatim-1", "waiting")
    assert dapr_get(http, "verbatim-1")["properties"]["dapr.workflow.input"] == raw
    event = '{"k" :  "v"}'
    assert_accepted(
        http.post("/v1.0/workflows/dapr/verbatim-1/raiseEvent/go", content=event.encode())
    )
    done = wait_status(http, "verbatim-1", "COMPLETED")
    assert json.loads(done["properties"]["dapr.workflow.output"]) == {
        "input": json.loads(raw),
        "got": {"k": "v"},
    }
    # The workflow's own output is JSON text the server produced, also left as stored.
    assert done["properties"]["dapr.workflow.input"] == raw


def test_empty_fields_are_omitted(http: httpx.Client) -> None:
    # No input, no custom status, and an output of None: no properties at all.
    assert http.post("/v1.0/workflows/dapr/echo/start?instanceID=empty-1").status_code == 202
    body = wait_status(http, "empty-1", "COMPLETED")
    assert_no_empty_fields(body)
    assert "dapr.workflow.input" not in body.get("properties", {})
    assert set(body) <= {
        "instanceID",
        "workflowName",
        "createdAt",
        "lastUpdatedAt",
        "runtimeStatus",
        "properties",
    }
    # A running instance with a custom status but no input.
    http.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=empty-2")
    wait_custom_status(http, "empty-2", "waiting")
    body = dapr_get(http, "empty-2")
    assert_no_empty_fields(body)
    assert body["properties"] == {"dapr.workflow.custom_status": "waiting"}
    http.post("/v1.0/workflows/dapr/empty-2/terminate")
    wait_status(http, "empty-2", "TERMINATED")


def test_timestamps_are_rfc3339_utc(http: httpx.Client) -> None:
    http.post("/v1.0/workflows/dapr/echo/start?instanceID=times-1", content=b'"t"')
    body = wait_status(http, "times-1", "COMPLETED")
    for key in ("createdAt", "lastUpdatedAt"):
        assert RFC3339_Z.match(body[key]), body[key]
    assert body["createdAt"] <= body["lastUpdatedAt"]


def test_failed_workflow_has_failure_properties(http: httpx.Client) -> None:
    http.post("/v1.0/workflows/dapr/fail/start?instanceID=fails-1", content=b'"it broke"')
    body = wait_status(http, "fails-1", "FAILED")
    properties = body["properties"]
    assert properties["dapr.workflow.failure.error_type"] == "ValueError"
    assert properties["dapr.workflow.failure.error_message"] == "it broke"
    assert "ValueError: it broke" in properties["dapr.workflow.failure.stack_trace"]
    assert "dapr.workflow.output" not in properties
    assert properties["dapr.workflow.input"] == '"it broke"'
    assert_no_empty_fields(body)


@pytest.mark.parametrize("component", ["dapr", "anything", "my-wf_component.v2"])
def test_component_segment_accepts_any_value(http: httpx.Client, component: str) -> None:
    base = f"/v1.0/workflows/{component}"
    iid = f"component-{abs(hash(component))}"
    assert http.post(f"{base}/wait_for_go/start?instanceID={iid}").status_code == 202
    wait_custom_status(http, iid, "waiting")
    assert http.get(f"{base}/{iid}").json()["instanceID"] == iid
    assert_accepted(http.post(f"{base}/{iid}/pause"))
    wait_status(http, iid, "SUSPENDED")
    assert_accepted(http.post(f"{base}/{iid}/resume"))
    assert_accepted(http.post(f"{base}/{iid}/raiseEvent/go", content=b"1"))
    wait_status(http, iid, "COMPLETED")
    assert_accepted(http.post(f"{base}/{iid}/purge"))
    assert http.get(f"{base}/{iid}").status_code == 404


@pytest.mark.parametrize("iid", ["a" * 64, "é" * 32, "Ünïcødé_ID-1", "x", "٣٤"])
def test_valid_instance_ids(http: httpx.Client, iid: str) -> None:
    response = http.post("/v1.0/workflows/dapr/echo/start", params={"instanceID": iid})
    assert response.status_code == 202, response.text
    assert response.json() == {"instanceID": iid}
    wait_status(http, iid, "COMPLETED")
    assert_accepted(http.post(f"/v1.0/workflows/dapr/{iid}/purge"))


def test_child_workflows_are_terminated_and_purged_with_the_parent(http: httpx.Client) -> None:
    http.post("/v1.0/workflows/dapr/parent/start?instanceID=tree-p", content=b'"tree-c"')
    wait_custom_status(http, "tree-c", "waiting")
    assert_error(http.post("/v1.0/workflows/dapr/tree-p/purge"), 500, "ERR_PURGE_WORKFLOW")
    assert_accepted(http.post("/v1.0/workflows/dapr/tree-p/terminate"))
    wait_status(http, "tree-p", "TERMINATED")
    wait_status(http, "tree-c", "TERMINATED")
    assert_accepted(http.post("/v1.0/workflows/dapr/tree-p/purge"))
    for iid in ("tree-p", "tree-c"):
        assert_error(http.get(f"/v1.0/workflows/dapr/{iid}"), 404, "ERR_INSTANCE_ID_NOT_FOUND")


def test_terminate_with_json_body_sets_output(http: httpx.Client) -> None:
    http.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=term-out")
    wait_custom_status(http, "term-out", "waiting")
    response = http.post(
        "/v1.0/workflows/dapr/term-out/terminate",
        content=b'{"output": "\\"stopped\\"", "unknownField": 1}',
    )
    assert_accepted(response)
    body = wait_status(http, "term-out", "TERMINATED")
    assert body["properties"].get("dapr.workflow.output") == '"stopped"'


def test_health_endpoints(http: httpx.Client) -> None:
    for path in ("/v1.0/healthz", "/v1.0/healthz/outbound"):
        response = http.get(path)
        assert response.status_code == 204
        assert response.content == b""
