"""``async def`` workflows: the same replay kernel as generator workflows, on a
deterministic loop of their own (``core.asyncloop``). Every scenario runs turn by
turn on a cached executor and is replayed from its history each turn (``Scenario``)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from wayline.core.actions import CreateTimer, ScheduleTask
from wayline.core.context import WorkflowContext
from wayline.core.events import WorkflowStatus
from wayline.core.task import TaskFailedError, when_all, when_any

from ._harness import (
    Scenario,
    at,
    child_completed,
    completed,
    completion,
    failed,
    failure_of,
    fired,
    output,
    raised,
    scheduled,
    started,
    workflow_started,
)


def _names(result: Any) -> list[str]:
    return [a.name for a in result.actions if isinstance(a, ScheduleTask)]


def test_await_activities_gather_and_sleep() -> None:
    async def wf(ctx: WorkflowContext, x: int) -> int:
        a = await ctx.call_activity("double", input=x)
        b, c = await asyncio.gather(
            ctx.call_activity("double", input=a), ctx.call_activity("triple", input=1)
        )
        await asyncio.sleep(60)
        return a + b + c

    run = Scenario(wf)
    assert _names(run.start(3)) == ["double"]
    assert _names(run.turn(completed(1, 6))) == ["double", "triple"]
    # Completion order differs from scheduling order; gather keeps argument order.
    (timer,) = run.turn(completed(3, 3), completed(2, 12), now=at(120)).actions
    assert timer == CreateTimer(id=4, fire_at=at(180), origin=timer.origin)
    assert output(run.turn(fired(4, at(180)), now=at(180))) == 6 + 12 + 3


def test_when_all_and_when_any_are_awaitable() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        both = await when_all([ctx.call_activity("a"), ctx.call_activity("b")])
        first = await when_any([ctx.wait_for_external_event("go"), ctx.create_timer(at(3600))])
        return [both, await first]

    run = Scenario(wf)
    run.start()
    assert _names(run.turn(completed(2, "B"), completed(1, "A"))) == []
    assert output(run.turn(raised("go", 7))) == [["A", "B"], 7]


def test_wait_for_returns_the_activity_when_it_finishes_first() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        return await asyncio.wait_for(ctx.call_activity("quick"), timeout=3600)

    run = Scenario(wf)
    actions = run.start().actions
    assert [type(a).__name__ for a in actions] == ["ScheduleTask", "CreateTimer"]
    assert output(run.turn(completed(1, "done"))) == "done"


def test_wait_for_times_out_on_a_durable_timer() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        try:
            return await asyncio.wait_for(ctx.wait_for_external_event("approval"), timeout=60)
        except TimeoutError:
            return "timed out"

    run = Scenario(wf)
    (timer,) = run.start().actions
    assert isinstance(timer, CreateTimer) and timer.fire_at == at(60)
    assert output(run.turn(fired(1, at(60)), now=at(60))) == "timed out"


def test_asyncio_timeout_is_durable_and_an_event_before_it_wins() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        async with asyncio.timeout(120):
            value = await ctx.wait_for_external_event("go")
        return value

    run = Scenario(wf)
    (timer,) = run.start().actions
    assert isinstance(timer, CreateTimer) and timer.fire_at == at(120)
    assert output(run.turn(raised("go", "in time"))) == "in time"


def test_activity_failure_is_raised_at_the_await() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        try:
            await ctx.call_activity("charge")
        except TaskFailedError as error:
            return f"caught: {error.details.message}"
        return "not reached"

    run = Scenario(wf)
    run.start()
    assert output(run.turn(failed(1, "card declined"))) == "caught: card declined"


def test_an_unhandled_failure_fails_the_workflow() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        await ctx.call_activity("charge")

    run = Scenario(wf)
    run.start()
    details = failure_of(run.turn(failed(1, "card declined")))
    assert details.error_type == "TaskFailedError"
    assert "card declined" in details.message


def test_cancellation_order_is_the_recorded_order() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        slow = asyncio.ensure_future(ctx.call_activity("slow"))
        fast = await ctx.call_activity("fast")
        slow.cancel()
        try:
            await slow
        except asyncio.CancelledError:
            return f"{fast}, slow cancelled"
        return "not reached"

    run = Scenario(wf)
    names = _names(run.start())
    assert sorted(names) == ["fast", "slow"]
    fast_id = names.index("fast") + 1
    assert output(run.turn(completed(fast_id, "F"))) == "F, slow cancelled"


def test_child_workflows_external_events_and_custom_status() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        ctx.set_custom_status("waiting")
        child = await ctx.call_child_workflow("child", input=1)
        event = await ctx.wait_for_external_event("Done")
        ctx.set_custom_status("finished")
        return [child, event]

    run = Scenario(wf)
    first = run.start()
    assert first.custom_status == "waiting"
    run.turn(child_completed(1, "c"))
    last = run.turn(raised("done", "e"))
    assert output(last) == ["c", "e"]
    assert last.custom_status == "finished"


def test_an_asyncio_event_inside_the_workflow_is_deterministic() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        ready = asyncio.Event()
        seen: list[str] = []

        async def waiter() -> None:
            await ready.wait()
            seen.append("woken")

        task = asyncio.ensure_future(waiter())
        seen.append(await ctx.call_activity("a"))
        ready.set()
        await task
        return seen

    run = Scenario(wf)
    run.start()
    assert output(run.turn(completed(1, "A"))) == ["A", "woken"]


def test_continue_as_new_from_an_async_workflow() -> None:
    async def wf(ctx: WorkflowContext, n: int) -> Any:
        await ctx.call_activity("step", input=n)
        ctx.continue_as_new(n + 1)

    run = Scenario(wf)
    run.start(1)
    action = completion(run.turn(completed(1)))
    assert action.status == WorkflowStatus.CONTINUED_AS_NEW
    assert action.result == "2"


def test_the_workflow_clock_is_the_loop_clock() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        loop = asyncio.get_running_loop()
        before = loop.time()
        await asyncio.sleep(30)
        return [before, loop.time(), ctx.current_utc_datetime.timestamp()]

    run = Scenario(wf)
    run.start(now=at(0))
    before, after, clock = output(run.turn(fired(1, at(30)), now=at(30)))
    assert (before, after, clock) == (at(0).timestamp(), at(30).timestamp(), at(30).timestamp())


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("to_thread", "loop.run_in_executor()"),
        ("executor", "loop.run_in_executor()"),
        ("dns", "loop.getaddrinfo()"),
        ("connect", "loop.create_connection()"),
        ("subprocess", "loop.subprocess_exec()"),
        ("threadsafe", "loop.call_soon_threadsafe()"),
    ],
)
def test_real_io_and_threads_fail_the_workflow_naming_the_call(body: str, named: str) -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        loop = asyncio.get_running_loop()
        if body == "to_thread":
            await asyncio.to_thread(print, "hi")
        elif body == "executor":
            await loop.run_in_executor(None, print, "hi")
        elif body == "dns":
            await loop.getaddrinfo("example.com", 80)
        elif body == "connect":
            await asyncio.open_connection("example.com", 80)
        elif body == "subprocess":
            await asyncio.create_subprocess_exec("true")
        else:
            loop.call_soon_threadsafe(print)
        return "not reached"

    details = failure_of(Scenario(wf).start())
    assert details.error_type == "NonDeterministicAwaitError"
    assert f"workflow code called {named}" in details.message
    assert "ctx.call_activity" in details.message


def test_awaiting_a_future_of_another_loop_fails_the_workflow() -> None:
    other = asyncio.new_event_loop()
    try:

        async def wf(ctx: WorkflowContext, _: Any) -> Any:
            return await other.create_future()

        details = failure_of(Scenario(wf).start())
        assert details.error_type == "RuntimeError"
        assert "different loop" in details.message
    finally:
        other.close()


def test_tasks_left_running_when_the_workflow_returns_are_an_error() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        forgotten = asyncio.ensure_future(ctx.call_activity("forgotten"))
        del forgotten
        return "done"

    details = failure_of(Scenario(wf).start())
    assert details.error_type == "RuntimeError"
    assert "returned while 1 task(s) it started were still running" in details.message


def test_a_changed_async_workflow_is_a_nondeterminism_failure() -> None:
    async def renamed(ctx: WorkflowContext, _: Any) -> Any:
        return await ctx.call_activity("new_name")

    history = [workflow_started(), started(), scheduled(1, "old_name")]
    run = Scenario(renamed)
    run.history.extend(history)
    details = failure_of(run.replay_all())
    assert details.error_type == "NonDeterminismError"
    assert "'old_name'" in details.message and "'new_name'" in details.message


def test_awaiting_a_workflow_task_outside_a_workflow_is_refused() -> None:
    ctx = WorkflowContext("x")

    async def outside() -> Any:
        return await ctx.create_timer(timedelta(seconds=1))

    with pytest.raises(RuntimeError, match="only be awaited inside an async def workflow"):
        asyncio.run(outside())


def test_generator_and_async_workflows_record_identical_histories() -> None:
    def as_generator(ctx: WorkflowContext, x: int) -> Any:
        a = yield ctx.call_activity("double", input=x)
        yield ctx.create_timer(timedelta(minutes=5))
        b = yield when_all([ctx.call_activity("double", input=a), ctx.call_activity("one")])
        return [a, b]

    async def as_coroutine(ctx: WorkflowContext, x: int) -> Any:
        a = await ctx.call_activity("double", input=x)
        await ctx.create_timer(timedelta(minutes=5))
        b = await when_all([ctx.call_activity("double", input=a), ctx.call_activity("one")])
        return [a, b]

    runs = [Scenario(as_generator), Scenario(as_coroutine)]
    for run in runs:
        run.start(2)
        run.turn(completed(1, 4), now=at(60))
        run.turn(fired(2, at(360)), now=at(360))
        run.turn(completed(4, 1), completed(3, 8), now=at(400))
    assert runs[0].history == runs[1].history
    assert output(runs[1].replay_all()) == [4, [8, 1]]
