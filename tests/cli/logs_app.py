"""An app for the log tests: ``wayline serve --app tests/cli/logs_app.py``.

A workflow whose activity always fails (retried once, then the workflow fails) and
one that waits to be terminated. Not a test module (no ``test_`` prefix).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import wayline

wfr = wayline.WorkflowRuntime()


@wfr.activity(name="logs_charge")
def charge(ctx: wayline.WorkflowActivityContext, card: str) -> None:
    raise ValueError(f"card {card} was declined")


@wfr.workflow(name="logs_checkout")
def checkout(ctx: wayline.DaprWorkflowContext, card: str):  # type: ignore[no-untyped-def]
    policy = wayline.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=10), max_number_of_attempts=2
    )
    yield ctx.call_activity(charge, input=card, retry_policy=policy)


@wfr.workflow(name="logs_waits")
def waits(ctx: wayline.DaprWorkflowContext, data: Any):  # type: ignore[no-untyped-def]
    yield ctx.wait_for_external_event("never")
