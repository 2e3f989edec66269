"""History propagation in embedded workflows, with dapr-ext-workflow 1.18's query API."""

from __future__ import annotations

from typing import Any

import pytest

import wayline

from ._support import completed


def test_a_child_and_an_activity_read_the_history_their_callers_propagate(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.activity(name="validate")
    def validate(ctx: wayline.WorkflowActivityContext, merchant: str) -> dict[str, Any]:
        assert ctx.get_propagated_history() is None  # called without propagation
        return {"merchant": merchant}

    @runtime.activity(name="audit")
    def audit(ctx: wayline.WorkflowActivityContext) -> Any:
        history = ctx.get_propagated_history()
        assert history is not None
        check = history.get_last_workflow_by_name("order").get_last_activity_by_name("validate")
        with pytest.raises(wayline.PropagationNotFoundError):
            history.get_last_workflow_by_name("nope")
        return {
            "scope": history.scope.value,
            "workflows": [[w.name, w.instance_id, w.app_id] for w in history.get_workflows()],
            "validate": [check.completed, check.input, check.output],
        }

    @runtime.workflow(name="payment")
    def payment(ctx: wayline.WorkflowContext) -> Any:
        history = ctx.get_propagated_history()
        assert history is not None
        received = [w.name for w in history.get_workflows()]
        audited = yield ctx.call_activity(audit, propagation=wayline.PropagationScope.LINEAGE)
        return {"received": received, "scope": history.scope.value, "audit": audited}

    @runtime.workflow(name="order")
    def order(ctx: wayline.WorkflowContext, merchant: str) -> Any:
        yield ctx.call_activity(validate, input=merchant)
        return (
            yield ctx.call_child_workflow(
                payment, instance_id="pay", propagation=wayline.PropagationScope.OWN_HISTORY
            )
        )

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(order, input="m-1", instance_id="ord")
        output = completed(client, iid).output
    assert output == {
        "received": ["order"],
        "scope": "OWN_HISTORY",
        "audit": {
            "scope": "LINEAGE",
            "workflows": [["order", "ord", "wayline"], ["payment", "pay", "wayline"]],
            "validate": [True, '"m-1"', '{"merchant": "m-1"}'],
        },
    }


def test_an_unknown_scope_is_a_clear_error(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow(name="bad")
    def bad(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.call_activity("x", propagation="EVERYTHING")

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(bad)
        state = client.wait_for_workflow_completion(iid, timeout=10)
    assert state.runtime_status == "FAILED"
    assert state.failure_details is not None
    assert "OWN_HISTORY or LINEAGE" in state.failure_details.message
