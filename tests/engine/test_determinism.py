"""Replay: restarts rebuild workflows from history; changed code fails with NonDeterminismError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import wayline

from ._support import WAIT, completed, wait_for_history
from .conftest import Runtimes


def _order_workflow(runtime: wayline.WorkflowRuntime, activity_name: str) -> list[str]:
    """Registers ``order`` calling an activity registered as ``activity_name``."""
    calls: list[str] = []

    def reserve(ctx: wayline.WorkflowActivityContext, item: str) -> str:
        calls.append(item)
        return f"reserved {item}"

    runtime.register_activity(reserve, name=activity_name)

    @runtime.workflow(name="order")
    def order(ctx: wayline.WorkflowContext, item: str) -> Any:
        reservation = yield ctx.call_activity(activity_name, input=item)
        approved = yield ctx.wait_for_external_event("approval")
        if approved:
            yield ctx.call_activity(activity_name, input=f"{item} (final)")
        return {"reservation": reservation, "approved": approved}

    return calls


def test_restart_with_the_same_code_replays_and_continues(runtimes: Runtimes) -> None:
    first = runtimes.new()
    first_calls = _order_workflow(first, "reserve_stock")
    with first:
        client = first.client()
        iid = client.start_workflow("order", input="lamp", instance_id="order-lamp")
        wait_for_history(client, iid, "TaskCompleted")

    second = runtimes.new()
    second_calls = _order_workflow(second, "reserve_stock")
    with second:
        client = second.client()
        client.raise_event(iid, "approval", True)
        state = completed(client, iid)

    assert state.output == {"reservation": "reserved lamp", "approved": True}
    assert first_calls == ["lamp"]  # the first step is not re-run by the replay
    assert second_calls == ["lamp (final)"]


def test_changed_code_fails_with_non_determinism_error_naming_both_sides(
    runtimes: Runtimes,
) -> None:
    first = runtimes.new()
    _order_workflow(first, "reserve_stock")
    with first:
        client = first.client()
        iid = client.start_workflow("order", input="desk")
        wait_for_history(client, iid, "TaskCompleted")
        # the workflow now waits for the approval event

    second = runtimes.new()
    calls = _order_workflow(second, "hold_stock")  # the activity was renamed meanwhile
    with second:
        client = second.client()
        client.raise_event(iid, "approval", True)
        state = client.wait_for_workflow_completion(iid, timeout=WAIT)

    assert state.runtime_status == "FAILED"
    details = state.failure_details
    assert details is not None
    assert details.error_type == "NonDeterminismError"
    assert "step #1" in details.message
    assert "'reserve_stock'" in details.message  # what the history has
    assert "'hold_stock'" in details.message  # what the code does now
    assert calls == []  # nothing of the changed code ran as a new step


def test_reordered_steps_fail_with_non_determinism_error(runtimes: Runtimes) -> None:
    def work(ctx: wayline.WorkflowActivityContext) -> str:
        return "worked"

    def steps_v1(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.call_activity(work)
        yield ctx.wait_for_external_event("go")
        return "done"

    def steps_v2(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.create_timer(ctx.current_utc_datetime)  # a new first step
        yield ctx.call_activity(work)
        yield ctx.wait_for_external_event("go")
        return "done"

    first = runtimes.new()
    first.register_activity(work)
    first.register_workflow(steps_v1, name="steps")
    with first:
        client = first.client()
        iid = client.start_workflow("steps")
        wait_for_history(client, iid, "TaskCompleted")

    second = runtimes.new()
    second.register_activity(work)
    second.register_workflow(steps_v2, name="steps")
    with second:
        client = second.client()
        client.raise_event(iid, "go")
        state = client.wait_for_workflow_completion(iid, timeout=WAIT)

    assert state.runtime_status == "FAILED"
    assert state.failure_details is not None
    assert state.failure_details.error_type == "NonDeterminismError"
    assert "step #1" in state.failure_details.message
    assert "TaskScheduled 'work'" in state.failure_details.message
    assert "CreateTimer" in state.failure_details.message


def test_always_replay_catches_code_that_is_not_deterministic(
    runtime: wayline.WorkflowRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    """The safety net every other test relies on: a cached turn is checked against replay."""

    @runtime.workflow
    def uses_wall_clock(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("go")
        # wrong on purpose: real time instead of ctx.current_utc_datetime
        yield ctx.create_timer(datetime.now(UTC) + timedelta(milliseconds=5))
        return "done"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(uses_wall_clock)
        wait_for_history(client, iid, "WorkflowStarted")
        client.raise_event(iid, "go")
        # after the disagreement the turn is retried from the history alone and goes on
        completed(client, iid)

    messages = [r.getMessage() for r in caplog.records if r.name == "wayline.engine"]
    assert any("failed; it will be retried" in m for m in messages), messages
    assert any(
        "disagrees with its cached executor" in str(r.exc_info[1])
        for r in caplog.records
        if r.exc_info
    )
    caplog.clear()  # the errors were the point of this test
