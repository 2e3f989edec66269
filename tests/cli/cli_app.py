"""A small app for the CLI tests: ``wayline serve --app tests/cli/cli_app.py``.

A workflow whose history holds every kind of step the history table names: an
activity that completes, a durable timer, a child workflow, and an activity that
fails (which fails the workflow). Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import wayline

wfr = wayline.WorkflowRuntime()


@wfr.activity(name="cli_charge")
def charge(ctx: wayline.WorkflowActivityContext, amount: int) -> str:
    if amount < 0:
        raise ValueError(f"cannot charge {amount}")
    return f"receipt-{amount}"


@wfr.workflow(name="cli_child")
def child(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    return data
    yield  # a generator, as workflows are


@wfr.workflow(name="cli_steps")
def steps(ctx: wayline.DaprWorkflowContext, amount: int):  # type: ignore[no-untyped-def]
    """Charge 1, wait a moment, run a child, then charge ``amount`` (fails when < 0)."""
    yield ctx.call_activity(charge, input=1)
    yield ctx.create_timer(timedelta(milliseconds=10))
    yield ctx.call_child_workflow(child, input="hi", instance_id=f"{ctx.instance_id}-child")
    return (yield ctx.call_activity(charge, input=amount))
