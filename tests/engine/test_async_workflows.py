"""``async def`` workflows on a real runtime and store: activities (plain and
``async def``), durable sleeps, timeouts, external events, child workflows; every
turn also replayed from the stored history (``always_replay`` is on in these tests)."""

from __future__ import annotations

import asyncio
from typing import Any

import wayline

from ._support import wait_for_status


def test_an_async_workflow_runs_end_to_end(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.activity
    def double(ctx: wayline.WorkflowActivityContext, x: int) -> int:
        return x * 2

    @runtime.activity
    async def greet(ctx: wayline.WorkflowActivityContext, name: str) -> str:
        await asyncio.sleep(0)
        return f"hello {name}"

    @runtime.workflow
    async def child(ctx: wayline.DaprWorkflowContext, x: int) -> int:
        return await ctx.call_activity(double, input=x) + 1

    @runtime.workflow
    async def parent(ctx: wayline.DaprWorkflowContext, x: int) -> Any:
        a = await ctx.call_activity(double, input=x)
        b, greeting = await asyncio.gather(
            ctx.call_child_workflow(child, input=a), ctx.call_activity(greet, input="ada")
        )
        await asyncio.sleep(0.05)
        try:
            approval = await asyncio.wait_for(ctx.wait_for_external_event("approve"), 30)
        except TimeoutError:
            approval = None
        return {"a": a, "b": b, "greeting": greeting, "approval": approval}

    with runtime:
        client = runtime.client()
        client.start_workflow(parent, input=5, instance_id="async-1")
        wait_for_status(client, "async-1", "RUNNING")
        client.raise_event("async-1", "approve", "yes")
        state = wait_for_status(client, "async-1", "COMPLETED")
    assert state.output == {"a": 10, "b": 21, "greeting": "hello ada", "approval": "yes"}


def test_io_in_an_async_workflow_fails_it_with_the_call_named(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    async def leaky(ctx: wayline.DaprWorkflowContext) -> Any:
        return await asyncio.to_thread(len, "abc")

    with runtime:
        client = runtime.client()
        client.start_workflow(leaky, instance_id="leaky-1")
        state = wait_for_status(client, "leaky-1", "FAILED")
    assert state.failure_details is not None
    assert "loop.run_in_executor()" in state.failure_details.message
