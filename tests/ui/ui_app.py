"""The app the dashboard tests serve: ``wayline serve --app tests/ui/ui_app.py``.

Workflows with every kind of step the timeline draws (activities, a retried failing
activity, a timer, a child workflow, an event wait), one that waits for an event
forever, one that fails, and one of many steps. Not a test module.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import wayline


def step(ctx: wayline.WorkflowActivityContext, n: int) -> int:
    return n + 1


def explode(ctx: wayline.WorkflowActivityContext, message: str) -> None:
    raise ValueError(message)


def child_work(ctx: wayline.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    value = yield ctx.call_activity("step", input=n)
    return value


def tour(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    """Activity, retried failure, timer, child, event wait: every bar of the timeline."""
    ctx.set_custom_status({"stage": "steps"})
    a = yield ctx.call_activity("step", input=1)
    policy = wayline.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=50), max_number_of_attempts=2
    )
    try:  # noqa: SIM105 (a yield inside; explicit is clearer)
        yield ctx.call_activity("explode", input="boom <b>bold</b>", retry_policy=policy)
    except wayline.TaskFailedError:
        pass
    yield ctx.create_timer(timedelta(milliseconds=200))
    child = yield ctx.call_child_workflow("child_work", input=a)
    ctx.set_custom_status({"stage": "approval"})
    approved = yield ctx.wait_for_external_event("approval", timeout=timedelta(minutes=10))
    return {"child": child, "approved": approved}


def waiter(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    """Waits up to an hour for "go" and returns its data."""
    ctx.set_custom_status("waiting")
    got = yield ctx.wait_for_external_event("go", timeout=timedelta(hours=1))
    return {"input": data, "got": got}


def quick(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    return data
    yield


def broken(ctx: wayline.DaprWorkflowContext, message: str):  # type: ignore[no-untyped-def]
    yield ctx.call_activity("explode", input=message)


def many_steps(ctx: wayline.DaprWorkflowContext, count: int):  # type: ignore[no-untyped-def]
    n = 0
    for _ in range(count):
        n = yield ctx.call_activity("step", input=n)
    return n


def generations(ctx: wayline.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    """Continue as new until n reaches 3."""
    yield ctx.call_activity("step", input=n)
    if n < 3:
        ctx.continue_as_new(n + 1)
        return None
    return n


ACTIVITIES = {"step": step, "explode": explode}
WORKFLOWS = {
    "child_work": child_work,
    "tour": tour,
    "waiter": waiter,
    "quick": quick,
    "broken": broken,
    "many_steps": many_steps,
    "generations": generations,
}


def register(runtime: wayline.WorkflowRuntime) -> wayline.WorkflowRuntime:
    """Register every workflow and activity of this app on ``runtime``."""
    for name, activity in ACTIVITIES.items():
        runtime.activity(name=name)(activity)
    for name, workflow in WORKFLOWS.items():
        runtime.workflow(name=name)(workflow)
    return runtime


wfr = register(wayline.WorkflowRuntime())
