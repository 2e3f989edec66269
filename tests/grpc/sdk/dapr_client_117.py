"""Runs in the dapr==1.17.5 venv: drives ``wayline serve`` with the deprecated
``DaprClient`` workflow methods (the ``*Beta1`` runtime RPCs) and prints JSON.

DaprClient first polls /v1.0/healthz/outbound on DAPR_HTTP_PORT, then talks gRPC
to DAPR_GRPC_ENDPOINT. Usage: python dapr_client_117.py PREFIX
"""

from __future__ import annotations

import json
import sys
import time
import warnings

from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprInternalError

warnings.simplefilter("ignore")  # "This Workflow API (Beta) method is deprecated"
prefix = sys.argv[1]
seen: dict[str, object] = {}
COMPONENT = "dapr"


def state_json(resp):  # type: ignore[no-untyped-def]
    return {
        "instance_id": resp.instance_id,
        "workflow_name": resp.workflow_name,
        "runtime_status": str(resp.runtime_status),
        "created_at": resp.created_at.ToDatetime().isoformat(),  # a Timestamp, naive UTC
        "properties": dict(resp.properties),
    }


def wait_status(client, instance_id, wanted, timeout=30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        resp = client.get_workflow(instance_id, COMPONENT)
        if str(resp.runtime_status) in wanted:
            return resp
        if time.monotonic() > deadline:
            raise TimeoutError(f"{instance_id} is {resp.runtime_status}, wanted {wanted}")
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


with DaprClient() as client:
    started = client.start_workflow(
        COMPONENT, "greet_wf", input={"name": "bob"}, instance_id=f"{prefix}-greet"
    )
    iid = started.instance_id
    seen["instance_id"] = iid
    running = wait_status(client, iid, {"WorkflowRuntimeStatus.RUNNING", "Running"})
    seen["running"] = state_json(running)
    client.pause_workflow(iid, COMPONENT)
    # read at once: the pause is visible when the call returns
    seen["paused"] = state_json(client.get_workflow(iid, COMPONENT))
    client.raise_workflow_event(iid, COMPONENT, "approve", event_data={"ok": 1})
    client.resume_workflow(iid, COMPONENT)
    seen["resumed"] = state_json(client.get_workflow(iid, COMPONENT))
    seen["completed"] = state_json(
        wait_status(client, iid, {"WorkflowRuntimeStatus.COMPLETED", "Completed"})
    )

    waiting = client.start_workflow(COMPONENT, "wait_wf", instance_id=f"{prefix}-wait")
    wait_status(client, waiting.instance_id, {"WorkflowRuntimeStatus.RUNNING", "Running"})
    try:
        client.purge_workflow(waiting.instance_id, COMPONENT)
        seen["purge_running"] = "ok"
    except DaprInternalError as exc:
        seen["purge_running"] = str(exc)
    client.terminate_workflow(waiting.instance_id, COMPONENT)
    seen["terminated"] = state_json(
        wait_status(client, waiting.instance_id, {"WorkflowRuntimeStatus.TERMINATED", "Terminated"})
    )

    client.purge_workflow(iid, COMPONENT)
    try:
        client.get_workflow(iid, COMPONENT)
        seen["after_purge"] = "found"
    except DaprInternalError as exc:
        seen["after_purge"] = str(exc)
print(json.dumps(seen))
