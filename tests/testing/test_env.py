"""``wayline.testing``: workflows tested as an app's developer would, with a month of
timers skipped, activities replaced by name, the clock moved step by step, and a
workflow that does not replay caught."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import wayline
from wayline.testing import (
    AsyncWorkflowTestEnvironment,
    WorkflowStuckError,
    WorkflowTestEnvironment,
    WorkflowTurnError,
)

app = wayline.WorkflowRuntime()


@app.activity
def charge(ctx: wayline.WorkflowActivityContext, amount: int) -> str:
    raise RuntimeError("the real payment provider must not be called from a test")


@app.workflow
def subscription(ctx: wayline.WorkflowContext, months: int) -> Any:
    receipts = []
    for _ in range(months):
        receipts.append((yield ctx.call_activity(charge, input=10)))
        yield ctx.create_timer(timedelta(days=30))
    return receipts


@app.workflow
def reminders(ctx: wayline.WorkflowContext) -> Any:
    ctx.set_custom_status("waiting")
    yield ctx.create_timer(timedelta(hours=1))
    ctx.set_custom_status("reminded once")
    yield ctx.create_timer(timedelta(hours=1))
    ctx.set_custom_status("reminded twice")
    return "done"


@app.workflow
def approval(ctx: wayline.WorkflowContext) -> Any:
    try:
        return (yield ctx.wait_for_external_event("approve", timeout=timedelta(days=7)))
    except TimeoutError:
        return "expired"


@app.workflow
def forever(ctx: wayline.WorkflowContext) -> Any:
    return (yield ctx.wait_for_external_event("never"))


def fake_charge(ctx: wayline.WorkflowActivityContext, amount: int) -> str:
    return f"receipt-{amount}"


def test_a_year_of_monthly_timers_completes_at_once_with_a_fake_activity() -> None:
    with WorkflowTestEnvironment(app, activities={"charge": fake_charge}) as env:
        start = env.now
        iid = env.client.start_workflow(subscription, input=12)
        state = env.wait_for_completion(iid)
        assert state.output == ["receipt-10"] * 12
        assert env.now - start == timedelta(days=360)
    assert app.registry.activities["charge"] is charge  # the app itself is untouched


def test_sleep_moves_the_clock_and_fires_what_comes_due_on_the_way() -> None:
    with WorkflowTestEnvironment(app) as env:
        iid = env.client.start_workflow(reminders)
        env.run_until_idle()
        assert env.client.get_workflow(iid).custom_status == "waiting"
        env.sleep(timedelta(minutes=90))
        assert env.client.get_workflow(iid).custom_status == "reminded once"
        env.sleep(timedelta(minutes=30))
        state = env.client.get_workflow(iid)
        assert (state.runtime_status, state.output) == ("COMPLETED", "done")


def test_an_event_timeout_is_skipped_to_but_an_event_raised_in_time_wins() -> None:
    with WorkflowTestEnvironment(app) as env:
        expired = env.client.start_workflow(approval)
        assert env.wait_for_completion(expired).output == "expired"
        approved = env.client.start_workflow(approval)
        env.run_until_idle()
        env.client.raise_event(approved, "approve", "yes")
        assert env.wait_for_completion(approved).output == "yes"


def test_waiting_for_an_event_nobody_raises_is_reported_not_hung() -> None:
    with WorkflowTestEnvironment(app) as env:
        iid = env.client.start_workflow(forever)
        with pytest.raises(WorkflowStuckError, match="waits for an external event"):
            env.wait_for_completion(iid)
        assert env.status(iid) == "RUNNING"


def test_a_workflow_that_does_not_replay_fails_the_test() -> None:
    shaky = wayline.WorkflowRuntime()

    @shaky.workflow
    def coin(ctx: wayline.WorkflowContext) -> Any:
        # Not deterministic: decides differently when replayed.
        name = "heads" if random.random() < 0.5 else "tails"
        yield ctx.call_activity(name)
        yield ctx.call_activity("second")

    def noop(ctx: Any, _: Any = None) -> None:
        return None

    with WorkflowTestEnvironment(
        shaky, activities={"heads": noop, "tails": noop, "second": noop}
    ) as env:
        random.seed(1)
        with pytest.raises(WorkflowTurnError, match=r"replay of .* disagrees"):
            for _ in range(20):
                env.wait_for_completion(env.client.start_workflow(coin))


def test_the_pytest_fixture(workflow_env: Callable[..., WorkflowTestEnvironment]) -> None:
    env = workflow_env(app, activities={"charge": fake_charge})
    iid = env.client.start_workflow(subscription, input=2)
    assert env.wait_for_completion(iid).output == ["receipt-10", "receipt-10"]


def test_the_async_environment_with_an_async_workflow() -> None:
    shop = wayline.WorkflowRuntime()

    @shop.activity
    async def pack(ctx: wayline.WorkflowActivityContext, item: str) -> str:
        return f"packed {item}"

    @shop.workflow
    async def deliver(ctx: wayline.WorkflowContext, item: str) -> Any:
        packed = await ctx.call_activity(pack, input=item)
        await asyncio.sleep(timedelta(days=2).total_seconds())  # a durable timer
        return packed

    async def scenario() -> None:
        async with AsyncWorkflowTestEnvironment(shop) as env:
            start = env.now
            iid = await env.client.start_workflow(deliver, input="book")
            state = await env.wait_for_completion(iid)
            assert state.output == "packed book"
            assert env.now - start == timedelta(days=2)

    asyncio.run(scenario())
