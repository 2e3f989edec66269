"""Runs in the dapr-ext-workflow==1.18.3 venv: drives ``wayline serve`` with the real
``DaprWorkflowClient`` over gRPC (DAPR_GRPC_ENDPOINT) and prints what it saw as JSON.

Usage: python dapr_ext_workflow_client.py PREFIX
"""

from __future__ import annotations

import json
import sys
import time

import grpc
from dapr.ext.workflow import DaprWorkflowClient
from sdk_states import state_json

prefix = sys.argv[1]
client = DaprWorkflowClient()
seen: dict[str, object] = {}


def wait_for(condition, what, timeout=30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


# 1. activity, custom status, pause, an event raised while paused, resume, completion.
wf1 = client.schedule_new_workflow("greet_wf", input={"name": "ada"}, instance_id=f"{prefix}-greet")
seen["scheduled_id"] = wf1
seen["started"] = state_json(client.wait_for_workflow_start(wf1, timeout_in_seconds=30))
seen["waiting"] = state_json(
    wait_for(
        lambda: (s := client.get_workflow_state(wf1)) and s.serialized_custom_status and s,
        "the custom status",
    )
)
client.pause_workflow(wf1)
# read at once, as Dapr's own examples do: the pause is visible when the call returns
seen["paused"] = state_json(client.get_workflow_state(wf1))
client.raise_workflow_event(wf1, "approve", data={"ok": True})
seen["paused_after_event"] = state_json(client.get_workflow_state(wf1))
client.resume_workflow(wf1)
seen["resumed"] = state_json(client.get_workflow_state(wf1))
seen["completed"] = state_json(client.wait_for_workflow_completion(wf1, timeout_in_seconds=30))
seen["no_payloads"] = state_json(client.get_workflow_state(wf1, fetch_payloads=False))

# 2. duplicate start of an active id.
waiting = client.schedule_new_workflow("wait_wf", instance_id=f"{prefix}-wait")
try:
    client.schedule_new_workflow("wait_wf", instance_id=waiting)
    seen["duplicate"] = "accepted"
except grpc.RpcError as exc:
    seen["duplicate"] = exc.code().name

# 3. a wait that times out: TimeoutError from the DEADLINE_EXCEEDED status.
started = time.monotonic()
try:
    client.wait_for_workflow_completion(waiting, timeout_in_seconds=1)
    seen["wait_timeout"] = "returned"
except TimeoutError:
    seen["wait_timeout"] = "TimeoutError"
seen["wait_timeout_seconds"] = round(time.monotonic() - started, 2)

# 4. terminate with output; recursive terminate of a parent and its child.
client.terminate_workflow(waiting, output="stopped")
seen["terminated"] = state_json(client.wait_for_workflow_completion(waiting, timeout_in_seconds=30))
parent = client.schedule_new_workflow(
    "parent_wf", input=f"{prefix}-child", instance_id=f"{prefix}-parent"
)
wait_for(lambda: client.get_workflow_state(f"{prefix}-child"), "the child workflow")
client.terminate_workflow(parent)
seen["parent_terminated"] = state_json(
    client.wait_for_workflow_completion(parent, timeout_in_seconds=30)
)
seen["child_terminated"] = state_json(
    client.wait_for_workflow_completion(f"{prefix}-child", timeout_in_seconds=30)
)

# 5. a failing activity surfaces as FAILED with failure details.
failing = client.schedule_new_workflow("fail_wf", input="kaboom", instance_id=f"{prefix}-fail")
seen["failed"] = state_json(client.wait_for_workflow_completion(failing, timeout_in_seconds=30))

# 6. purge: the instance is gone afterwards; unknown ids read as None.
client.purge_workflow(wf1)
seen["purged"] = state_json(client.get_workflow_state(wf1))
seen["unknown"] = state_json(client.get_workflow_state(f"{prefix}-no-such-instance"))
try:
    client.purge_workflow(f"{prefix}-wait-never")
    seen["purge_unknown"] = "ok"
except grpc.RpcError as exc:
    seen["purge_unknown"] = exc.code().name
client.close()
print(json.dumps(seen))
