"""Rerun from an event (Dapr 1.16): a finished instance runs again from one step."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

import wayline
from wayline.errors import InstanceAlreadyExistsError, InstanceNotFoundError, InvalidRerunError

from ._support import completed, events_of, wait_for_status


def _pipeline(runtime: wayline.WorkflowRuntime, calls: Counter[str]) -> None:
    @runtime.activity(name="fetch")
    def fetch(ctx: wayline.WorkflowActivityContext, n: int) -> int:
        calls["fetch"] += 1
        return n * 10

    @runtime.activity(name="charge")
    def charge(ctx: wayline.WorkflowActivityContext, amount: int) -> str:
        calls["charge"] += 1
        if amount > 100:
            raise ValueError(f"card declined for {amount}")
        return f"charged {amount}"

    @runtime.workflow(name="order")
    def order(ctx: wayline.WorkflowContext, n: int) -> Any:
        amount = yield ctx.call_activity("fetch", input=n)
        receipt = yield ctx.call_activity("charge", input=amount)
        yield ctx.create_timer(timedelta(0))
        return receipt


def _scheduled(client: wayline.WorkflowClient, iid: str, name: str) -> Any:
    [event] = [e for e in events_of(client, iid, "TaskScheduled") if e.name == name]
    return event


def test_rerun_from_a_failed_activity_with_a_new_input_keeps_the_steps_before_it(
    runtime: wayline.WorkflowRuntime,
) -> None:
    calls: Counter[str] = Counter()
    _pipeline(runtime, calls)
    with runtime:
        client = runtime.client()
        source = client.start_workflow("order", input=20, instance_id="source")
        failed = client.wait_for_workflow_completion(source, timeout=10)
        assert failed.runtime_status == "FAILED"
        charge = _scheduled(client, source, "charge")

        new = client.rerun_workflow_from_event(
            source, charge.event_id, new_instance_id="rerun", input=50, overwrite_input=True
        )
        assert new == "rerun"
        assert completed(client, new).output == "charged 50"
        assert calls == Counter(fetch=1, charge=2)  # fetch kept its recorded result
        rerun_charge = _scheduled(client, new, "charge")
        assert (rerun_charge.input, rerun_charge.rerun_parent_instance_id) == ("50", "source")
        assert _scheduled(client, new, "fetch").rerun_parent_instance_id is None
        assert client.get_workflow(new).input == 20
        assert client.get_workflow(source).runtime_status == "FAILED"  # untouched

        # without an input the step runs again with its recorded one; the id is new
        again = client.rerun_workflow_from_event(source, charge.event_id)
        assert again not in {source, new}
        state = client.wait_for_workflow_completion(again, timeout=10)
        assert state.runtime_status == "FAILED" and "declined for 200" in str(state.failure_details)


def test_rerun_from_a_child_workflow_creates_it_again_under_the_id_given(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow(name="child")
    def child(ctx: wayline.WorkflowContext, n: int) -> int:
        return n + 1

    @runtime.workflow(name="parent")
    def parent(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.call_child_workflow("child", input=1))

    with runtime:
        client = runtime.client()
        source = client.start_workflow("parent", instance_id="p")
        assert completed(client, source).output == 2
        [created] = events_of(client, source, "ChildWorkflowCreated")
        with pytest.raises(InvalidRerunError, match="only an activity's input"):
            client.rerun_workflow_from_event(source, created.event_id, overwrite_input=True)
        new = client.rerun_workflow_from_event(
            source, created.event_id, new_instance_id="p2", new_child_workflow_instance_id="c2"
        )
        assert completed(client, new).output == 2
        [recreated] = events_of(client, new, "ChildWorkflowCreated")
        assert (recreated.instance_id, recreated.rerun_parent_instance_id) == ("c2", "p")
        assert client.get_workflow("c2").parent_instance_id == "p2"


def test_a_rerun_that_does_not_fit_is_refused_and_changes_nothing(
    runtime: wayline.WorkflowRuntime,
) -> None:
    calls: Counter[str] = Counter()
    _pipeline(runtime, calls)

    @runtime.workflow(name="waits")
    def waits(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("go")

    with runtime:
        client = runtime.client()
        source = client.start_workflow("order", input=1, instance_id="src")
        completed(client, source)
        running = client.start_workflow("waits", instance_id="live")
        wait_for_status(client, running, "RUNNING")
        [timer] = events_of(client, source, "TimerCreated")
        fetch = _scheduled(client, source, "fetch")
        cases: list[tuple[tuple[str, int], dict[str, Any], type[Exception], str]] = [
            (("live", 1), {}, InvalidRerunError, "only a COMPLETED, FAILED or TERMINATED"),
            (("src", 99), {}, InvalidRerunError, "has no event 99"),
            (("src", timer.event_id), {}, InvalidRerunError, "TimerCreated"),
            (("src", fetch.event_id), {"new_instance_id": "src"}, InvalidRerunError, "new"),
            (
                ("src", fetch.event_id),
                {"new_instance_id": "live"},
                InstanceAlreadyExistsError,
                "live",
            ),
            (("nobody", 1), {}, InstanceNotFoundError, "nobody"),
            (("src", fetch.event_id), {"new_instance_id": "bad id"}, ValueError, "bad id"),
        ]
        before = client.count_workflows()
        for args, kwargs, error, text in cases:
            with pytest.raises(error, match=text):
                client.rerun_workflow_from_event(*args, **kwargs)
        assert client.count_workflows() == before
