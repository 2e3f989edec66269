"""A dapr-ext-workflow 1.18.3 app using history propagation against ``wayline serve``.

``order`` runs ``validate``, then a ``payment`` child with OWN_HISTORY; the child calls
``audit`` with LINEAGE (so the activity sees the order's chunk and the child's), and
``order`` calls ``plain`` with no propagation. Prints one JSON line of what each saw.
"""

from __future__ import annotations

import json
from typing import Any

import dapr.ext.workflow as wf

runtime = wf.WorkflowRuntime()
seen: dict[str, Any] = {}


def _view(history: Any) -> Any:
    if history is None:
        return None
    return {
        "scope": history.scope.name,
        "app_ids": history.get_app_ids(),
        "workflows": [[w.name, w.instance_id] for w in history.get_workflows()],
    }


@runtime.activity(name="validate")
def validate(ctx: wf.WorkflowActivityContext, merchant: str) -> dict[str, Any]:
    return {"merchant": merchant, "valid": True}


@runtime.activity(name="audit")
def audit(ctx: wf.WorkflowActivityContext, _: Any) -> Any:
    history = ctx.get_propagated_history()
    view = _view(history)
    if history is not None:
        order = history.get_last_workflow_by_name("order")
        check = order.get_last_activity_by_name("validate")
        view["validate"] = [check.completed, check.output]
    return view


@runtime.activity(name="plain")
def plain(ctx: wf.WorkflowActivityContext, _: Any) -> Any:
    return _view(ctx.get_propagated_history())


@runtime.workflow(name="payment")
def payment(ctx: wf.DaprWorkflowContext, _: Any) -> Any:
    received = _view(ctx.get_propagated_history())
    audited = yield ctx.call_activity(audit, propagation=wf.PropagationScope.LINEAGE)
    return {"received": received, "audit": audited}


@runtime.workflow(name="order")
def order(ctx: wf.DaprWorkflowContext, merchant: str) -> Any:
    yield ctx.call_activity(validate, input=merchant)
    child = yield ctx.call_child_workflow(
        payment, instance_id=f"{ctx.instance_id}-pay", propagation=wf.PropagationScope.OWN_HISTORY
    )
    unpropagated = yield ctx.call_activity(plain)
    return {"child": child, "plain": unpropagated}


runtime.start()
try:
    client = wf.DaprWorkflowClient()
    iid = client.schedule_new_workflow(order, input="m-42", instance_id="prop-order")
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
    print(json.dumps(json.loads(state.serialized_output)), flush=True)
finally:
    runtime.shutdown()
