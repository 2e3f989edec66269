"""Code written for ``dapr-ext-workflow`` runs with only the import changed.

Everything below the import uses the Dapr SDK's names and signatures as its
examples do (``examples/workflow/*.py`` in dapr/python-sdk); the database is the
default ``sqlite:///wayline.db`` in the working directory.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import wayline as wf  # was: import dapr.ext.workflow as wf
from support.wait import wait_until

from .conftest import Runtimes


def _build_app() -> tuple[wf.WorkflowRuntime, dict[str, Any]]:
    """The app module a Dapr user would have, wrapped in a function for the test."""
    seen: dict[str, Any] = {"retries": 0, "notified": []}

    retry_policy = wf.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=10),
        max_number_of_attempts=3,
        backoff_coefficient=2,
        max_retry_interval=timedelta(seconds=10),
        retry_timeout=timedelta(seconds=100),
    )

    wfr = wf.WorkflowRuntime()

    @wfr.workflow(name="order_processing")
    def order_processing_workflow(ctx: wf.DaprWorkflowContext, order: dict[str, Any]) -> Any:
        if not ctx.is_replaying:
            seen.setdefault("instance", ctx.instance_id)
        in_stock = yield ctx.call_activity(check_inventory, input=order)
        if not in_stock:
            return {"status": "out of stock"}
        if order["price"] > 1000:
            ctx.set_custom_status("waiting for approval")
            approval = ctx.wait_for_external_event("approval_event")
            timeout = ctx.create_timer(timedelta(seconds=30))
            winner = yield wf.when_any([approval, timeout])
            if winner == timeout:
                return {"status": "approval timed out"}
            if not approval.get_result()["approved"]:
                return {"status": "rejected"}
        receipt = yield ctx.call_activity(process_payment, input=order, retry_policy=retry_policy)
        totals = yield wf.when_all(
            [ctx.call_activity(update_inventory, input=item) for item in order["items"]]
        )
        yield ctx.call_child_workflow(notify_workflow, input=f"order paid: {receipt}")
        return {"status": "completed", "receipt": receipt, "remaining": totals}

    @wfr.workflow(name="notify")
    def notify_workflow(ctx: wf.DaprWorkflowContext, message: str) -> Any:
        yield ctx.call_activity(notify, input=message)

    @wfr.activity(name="check_inventory")
    def check_inventory(ctx: wf.WorkflowActivityContext, order: dict[str, Any]) -> bool:
        return bool(order["items"])

    @wfr.activity(name="process_payment")
    def process_payment(ctx: wf.WorkflowActivityContext, order: dict[str, Any]) -> str:
        if seen["retries"] < 1:
            seen["retries"] += 1
            raise ConnectionError("payment gateway busy")
        return f"receipt-{ctx.workflow_id}-{ctx.task_id}"

    @wfr.activity(name="update_inventory")
    def update_inventory(ctx: wf.WorkflowActivityContext, item: str) -> int:
        return len(item)

    def notify(ctx: wf.WorkflowActivityContext, message: str) -> None:
        seen["notified"].append(message)

    wfr.register_activity(notify)
    return wfr, seen


def test_dapr_style_app_runs_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    wfr, seen = _build_app()
    wfr.start()
    try:
        wf_client = wf.DaprWorkflowClient()
        instance_id = wf_client.schedule_new_workflow(
            workflow="order_processing",
            input={"items": ["lamp", "desk"], "price": 1500},
            instance_id="order-1500",
        )
        wf_client.wait_for_workflow_start(instance_id, timeout_in_seconds=10)

        def waiting_for_approval() -> bool:
            state = wf_client.get_workflow_state(instance_id=instance_id)
            return state is not None and state.serialized_custom_status == "waiting for approval"

        wait_until(waiting_for_approval, what="the approval wait")
        wf_client.pause_workflow(instance_id=instance_id)
        metadata = wf_client.get_workflow_state(instance_id=instance_id)
        assert metadata is not None
        wf_client.resume_workflow(instance_id=instance_id)
        wf_client.raise_workflow_event(
            instance_id=instance_id, event_name="approval_event", data={"approved": True}
        )
        state = wf_client.wait_for_workflow_completion(instance_id, timeout_in_seconds=30)
        assert state is not None
        assert state.runtime_status.name == "COMPLETED"
        assert state.serialized_output is not None
        assert state.to_json()["runtime_status"] == "COMPLETED"

        # a cheap order skips the approval
        cheap = wf_client.schedule_new_workflow(
            workflow=wfr.registry.workflows["order_processing"],
            input={"items": ["pen"], "price": 2},
        )
        cheap_state = wf_client.wait_for_workflow_completion(cheap, timeout_in_seconds=30)
        assert cheap_state is not None

        wf_client.purge_workflow(instance_id=instance_id)
        assert wf_client.get_workflow_state(instance_id=instance_id) is None
    finally:
        wfr.shutdown()

    assert (tmp_path / "wayline.db").exists()
    output = state.output
    assert output["status"] == "completed"
    assert output["remaining"] == [4, 4]
    assert output["receipt"].startswith("receipt-order-1500-")
    assert seen["retries"] == 1
    assert seen["notified"][0] == f"order paid: {output['receipt']}"
    assert cheap_state.output["status"] == "completed"


def test_dapr_registration_spellings(runtimes: Runtimes) -> None:
    wfr = runtimes.new()

    @wf.alternate_name("Greeter")
    def greet(ctx: wf.WorkflowActivityContext, name: str) -> str:
        return f"hi {name}"

    def hello(ctx: wf.DaprWorkflowContext, name: str) -> Any:
        return (yield ctx.call_activity(greet, input=name))

    wfr.register_activity(greet)
    wfr.register_workflow(hello, name="HelloWorkflow")
    with pytest.raises(ValueError, match="already registered"):
        wfr.register_workflow(hello, name="HelloWorkflow")
    assert set(wfr.registry.activities) == {"Greeter"}

    with wfr:
        client = wfr.client()
        iid = client.schedule_new_workflow(hello, input="Ada")  # resolved by its registered name
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
    assert state is not None
    assert state.name == "HelloWorkflow"
    assert state.output == "hi Ada"
