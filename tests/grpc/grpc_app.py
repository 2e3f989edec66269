"""The app the gRPC tests serve: ``wayline serve --app tests/grpc/grpc_app.py``.

The Dapr SDK clients in the tests start these workflows by name over gRPC. Not a
test module (no ``test_`` prefix).
"""

from __future__ import annotations

from typing import Any

import wayline

wfr = wayline.WorkflowRuntime()


@wfr.activity(name="greet")
def greet(ctx: wayline.WorkflowActivityContext, name: str) -> str:
    return f"Hello, {name}!"


@wfr.activity(name="explode")
def explode(ctx: wayline.WorkflowActivityContext, message: str) -> None:
    raise ValueError(message)


@wfr.workflow(name="greet_wf")
def greet_wf(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    """Greet, then wait for "approve" (custom status says so), return both."""
    greeting = yield ctx.call_activity(greet, input=data["name"])
    ctx.set_custom_status("waiting-for-approval")
    approval = yield ctx.wait_for_external_event("approve")
    return {"greeting": greeting, "approval": approval}


@wfr.workflow(name="wait_wf")
def wait_wf(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    """Wait for the event "never" (tests terminate or purge around it)."""
    got = yield ctx.wait_for_external_event("never")
    return got


@wfr.workflow(name="parent_wf")
def parent_wf(ctx: wayline.DaprWorkflowContext, child_id: str):  # type: ignore[no-untyped-def]
    """Run ``wait_wf`` as a child with the given id."""
    result = yield ctx.call_child_workflow(wait_wf, input=None, instance_id=child_id)
    return result


@wfr.workflow(name="fail_wf")
def fail_wf(ctx: wayline.DaprWorkflowContext, message: str):  # type: ignore[no-untyped-def]
    """Fail through an activity that raises ValueError(message)."""
    yield ctx.call_activity(explode, input=message)


@wfr.workflow(name="echo_wf")
def echo_wf(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    """Complete at once with the input."""
    return data
    yield
