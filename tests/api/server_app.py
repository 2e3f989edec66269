"""A small app for the HTTP API tests: ``wayline serve --app tests/api/server_app.py``.

Workflows that wait for events, fail, and run children, so every endpoint has
something to act on. Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

from typing import Any

import wayline

wfr = wayline.WorkflowRuntime()


@wfr.workflow(name="wait_for_go")
def wait_for_go(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    """Wait for the event "go" and return its data."""
    ctx.set_custom_status("waiting")
    got = yield ctx.wait_for_external_event("go")
    return {"input": data, "got": got}


@wfr.workflow(name="echo")
def echo(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    """Complete at once with the input."""
    return data
    yield  # a generator, as workflows are


@wfr.activity(name="explode")
def explode(ctx: wayline.WorkflowActivityContext, message: str) -> None:
    raise ValueError(message)


@wfr.workflow(name="fail")
def fail(ctx: wayline.DaprWorkflowContext, message: str):  # type: ignore[no-untyped-def]
    """Fail with ValueError(message) raised in the workflow itself."""
    raise ValueError(message or "boom")
    yield


@wfr.workflow(name="parent")
def parent(ctx: wayline.DaprWorkflowContext, child_id: str):  # type: ignore[no-untyped-def]
    """Run ``wait_for_go`` as a child with the given instance id and return its result."""
    result = yield ctx.call_child_workflow(wait_for_go, input="child", instance_id=child_id)
    return result


@wfr.activity(name="not_a_number")
def not_a_number(ctx: wayline.WorkflowActivityContext, kind: str) -> float:
    """float("nan") or float("inf"): values JSON cannot carry."""
    return float(kind)


@wfr.workflow(name="returns")
def returns(ctx: wayline.DaprWorkflowContext, kind: str):  # type: ignore[no-untyped-def]
    """Return float(kind) from the workflow itself ("nan", "inf")."""
    return float(kind)
    yield


@wfr.workflow(name="activity_returns")
def activity_returns(ctx: wayline.DaprWorkflowContext, kind: str):  # type: ignore[no-untyped-def]
    """Return what the activity not_a_number returns for kind."""
    value = yield ctx.call_activity(not_a_number, input=kind)
    return value


@wfr.workflow(name="describe")
def describe(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    """The input's Python type and its size as text, to show what arrived."""
    return {"type": type(data).__name__, "length": len(str(data))}
    yield
