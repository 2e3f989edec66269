"""One app of a multi-app dapr-ext-workflow 1.18.3 deployment against ``wayline serve``.

``billing`` registers ``charge`` and the ``settle`` workflow and serves until killed.
``checkout`` registers ``checkout``, which calls billing's activity and child workflow,
an activity billing lacks and an app that is not running, then starts it and prints
one JSON line: its output.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from typing import Any

import dapr.ext.workflow as wf

runtime = wf.WorkflowRuntime()
role = sys.argv[1]

if role == "billing":

    @runtime.activity(name="charge")
    def charge(ctx: wf.WorkflowActivityContext, amount: int) -> str:
        return f"billing charged {amount}"

    @runtime.workflow(name="settle")
    def settle(ctx: wf.DaprWorkflowContext, amount: int) -> Any:
        charged = yield ctx.call_activity("charge", input=amount)
        return f"settled after {charged}"

    runtime.start()
    print(json.dumps("ready"), flush=True)
    while True:
        time.sleep(1)

retry = wf.RetryPolicy(first_retry_interval=timedelta(milliseconds=50), max_number_of_attempts=2)


@runtime.workflow(name="checkout")
def checkout(ctx: wf.DaprWorkflowContext, amount: int) -> Any:
    charged = yield ctx.call_activity("charge", input=amount, app_id="billing")
    settled = yield ctx.call_child_workflow(
        "settle", input=amount, instance_id=f"{ctx.instance_id}-settle", app_id="billing"
    )
    errors = []
    for app_id, name in (("billing", "refund"), ("ghost", "charge")):
        try:
            yield ctx.call_activity(name, app_id=app_id, retry_policy=retry)
        except wf.TaskFailedError as exc:
            errors.append(str(exc))
    return {"charged": charged, "settled": settled, "errors": errors}


runtime.start()
try:
    client = wf.DaprWorkflowClient()
    iid = client.schedule_new_workflow(checkout, input=7, instance_id="multi-checkout")
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
    print(json.dumps(json.loads(state.serialized_output)), flush=True)
finally:
    runtime.shutdown()
