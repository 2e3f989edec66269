"""A dapr-ext-workflow 1.18.3 app whose code changes between runs, as a deployment does.

    python versioning_app.py PREFIX PHASE

- ``start``: registers version ``v1`` of ``shipping`` (latest) and a ``patched`` workflow
  that calls ``is_patched("p1")``; starts one instance of each; both wait for ``go``.
- ``changed``: registers only ``v2`` of ``shipping``, and ``patched`` without the patch;
  raises ``go`` to both and reports their states (Dapr stalls them).
- ``fixed``: registers ``v1`` and ``v2`` and the patched code again; the stalled
  instances go on by themselves; reports their outputs.

Prints one JSON line of what it saw.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import dapr.ext.workflow as wf
from sdk_states import state_json

PREFIX, PHASE = sys.argv[1], sys.argv[2]
SHIPPING, PATCHED = f"{PREFIX}-shipping", f"{PREFIX}-patched"
runtime = wf.WorkflowRuntime()


def v1(ctx: wf.DaprWorkflowContext) -> Any:
    yield ctx.wait_for_external_event("go")
    return "v1"


def v2(ctx: wf.DaprWorkflowContext) -> Any:
    yield ctx.wait_for_external_event("go")
    return "v2"


def with_patch(ctx: wf.DaprWorkflowContext) -> Any:
    patched = ctx.is_patched("p1")
    yield ctx.wait_for_external_event("go")
    return f"patched={patched}"


def without_patch(ctx: wf.DaprWorkflowContext) -> Any:
    yield ctx.wait_for_external_event("go")
    return "no patch"


if PHASE in ("start", "fixed"):
    runtime.register_versioned_workflow(v1, name="shipping", version_name="v1", is_latest=True)
    runtime.register_workflow(with_patch, name="patched")
if PHASE in ("changed", "fixed"):
    runtime.register_versioned_workflow(
        v2, name="shipping", version_name="v2", is_latest=PHASE == "changed"
    )
if PHASE == "changed":
    runtime.register_workflow(without_patch, name="patched")


def wait_for(client: wf.DaprWorkflowClient, iid: str, status: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        state = client.get_workflow_state(iid)
        if state is not None and state.runtime_status.name == status:
            return state
        if time.monotonic() > deadline:
            raise TimeoutError(f"{iid} stayed {state and state.runtime_status}")
        time.sleep(0.05)


runtime.start()
try:
    client = wf.DaprWorkflowClient()
    seen: dict[str, Any] = {}
    if PHASE == "start":
        client.schedule_new_workflow("shipping", instance_id=SHIPPING)
        client.schedule_new_workflow("patched", instance_id=PATCHED)
        for iid in (SHIPPING, PATCHED):
            seen[iid] = state_json(wait_for(client, iid, "RUNNING"))
        time.sleep(0.5)  # the first turns have run: the version and the patch are recorded
    elif PHASE == "changed":
        for iid in (SHIPPING, PATCHED):
            client.raise_workflow_event(iid, "go")
        for iid in (SHIPPING, PATCHED):
            seen[iid] = state_json(wait_for(client, iid, "STALLED"))
    else:
        for iid in (SHIPPING, PATCHED):
            seen[iid] = state_json(client.wait_for_workflow_completion(iid, timeout_in_seconds=30))
    print(json.dumps(seen), flush=True)
finally:
    runtime.shutdown()
