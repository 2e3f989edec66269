"""Durability across runtimes: shared databases, restarts, cold caches, suspension."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import wayline
from support.wait import wait_until

from ._support import WAIT, completed, events_of, settings, wait_for_history, wait_for_status
from .conftest import Runtimes


def _chain(runtime: wayline.WorkflowRuntime, counts: Counter[tuple[str, int]]) -> None:
    lock = threading.Lock()

    @runtime.activity
    def step(ctx: wayline.WorkflowActivityContext, n: int) -> int:
        with lock:
            counts[(ctx.workflow_id, ctx.task_id)] += 1
        return n + 1

    @runtime.workflow
    def chain(ctx: wayline.WorkflowContext, n: int) -> Any:
        for _ in range(4):
            n = yield ctx.call_activity(step, input=n)
        fanned = yield wayline.when_all([ctx.call_activity(step, input=i) for i in range(4)])
        yield ctx.create_timer(timedelta(milliseconds=1))
        return n + sum(fanned)


def test_each_runtime_runs_only_the_code_it_registered(runtimes: Runtimes) -> None:
    """A workflow started on A but registered only on B is run by B, and an activity
    registered only on A is run by A, on whichever runtime the workflow lives."""
    ran: list[tuple[str, str]] = []
    a, b = runtimes.new(), runtimes.new()

    @a.activity(name="greet")
    def greet(ctx: wayline.WorkflowActivityContext, name: str) -> str:
        ran.append(("a", "greet"))
        return f"hello {name}"

    @b.workflow(name="only_on_b")
    def only_on_b(ctx: wayline.WorkflowContext, name: str) -> Any:
        ran.append(("b", "only_on_b"))
        return (yield ctx.call_activity("greet", input=name))

    with a, b:
        iid = a.client().start_workflow("only_on_b", input="ada")
        state = a.client().wait_for_workflow_completion(iid, timeout=WAIT)
    assert state.runtime_status == "COMPLETED" and state.output == "hello ada"
    assert {who for who, what in ran if what == "only_on_b"} == {"b"}
    assert ran.count(("a", "greet")) == 1


def test_two_runtimes_on_one_database_complete_every_instance_once(
    runtimes: Runtimes,
) -> None:
    counts: Counter[tuple[str, int]] = Counter()
    first, second = runtimes.new(), runtimes.new()
    _chain(first, counts)
    _chain(second, counts)
    with first, second:
        clients = [first.client(), second.client()]
        ids = [clients[i % 2].start_workflow("chain", input=i) for i in range(24)]
        for i, iid in enumerate(ids):
            state = clients[(i + 1) % 2].wait_for_workflow_completion(iid, timeout=WAIT)
            assert state.runtime_status == "COMPLETED", state
            assert state.output == i + 4 + (0 + 1 + 2 + 3 + 4)
    assert len(counts) == 24 * 8
    assert set(counts.values()) == {1}  # no crash, so no activity ran twice


@pytest.mark.parametrize("cache_size", [0, 1])
def test_small_or_no_cache_replays_every_turn_from_history(
    runtimes: Runtimes, cache_size: int
) -> None:
    counts: Counter[tuple[str, int]] = Counter()
    runtime = runtimes.new(settings=settings(cache_size=cache_size))
    _chain(runtime, counts)
    with runtime:
        client = runtime.client()
        ids = [client.start_workflow("chain", input=i) for i in range(6)]
        outputs = [completed(client, iid).output for iid in ids]
    assert outputs == [i + 14 for i in range(6)]
    assert set(counts.values()) == {1}


def test_activity_running_at_shutdown_runs_again_after_restart(runtimes: Runtimes) -> None:
    release = threading.Event()
    runs: list[str] = []

    def register(runtime: wayline.WorkflowRuntime, *, block: bool) -> None:
        @runtime.activity
        def slow(ctx: wayline.WorkflowActivityContext) -> str:
            runs.append(ctx.workflow_id)
            if block:
                release.wait(WAIT)
            return "done"

        @runtime.workflow
        def waits_on_slow(ctx: wayline.WorkflowContext) -> Any:
            return (yield ctx.call_activity(slow))

    first = runtimes.new()
    register(first, block=True)
    try:
        with first:  # shutting down must not wait for the blocked activity
            iid = first.client().start_workflow("waits_on_slow")
            wait_until(lambda: runs, what="the activity to start")

        second = runtimes.new()
        register(second, block=False)
        with second:
            state = completed(second.client(), iid)
    finally:
        release.set()
    assert state.output == "done"
    assert runs == [iid, iid]  # at-least-once: the interrupted run is repeated


def test_timer_firing_while_suspended_is_held_until_resume(runtimes: Runtimes) -> None:
    clock = wayline.ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    runtime = runtimes.new(clock=clock)

    @runtime.workflow
    def alarm(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.create_timer(timedelta(hours=8))
        return "ring"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(alarm)
        wait_for_history(client, iid, "TimerCreated")
        client.pause_workflow(iid)
        wait_for_status(client, iid, "SUSPENDED")
        clock.advance(timedelta(hours=9))
        runtime.wait_idle()  # everything that can happen now has happened
        assert events_of(client, iid, "TimerFired") == []
        assert client.get_workflow(iid).runtime_status == "SUSPENDED"
        client.resume_workflow(iid)
        assert completed(client, iid).output == "ring"
        assert len(events_of(client, iid, "TimerFired")) == 1


def test_child_that_continues_as_new_reports_its_final_result(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def countdown(ctx: wayline.WorkflowContext, n: int) -> Any:
        yield ctx.create_timer(timedelta(0))
        if n > 0:
            ctx.continue_as_new(n - 1)
            return None
        return "liftoff"

    @runtime.workflow
    def launcher(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.call_child_workflow(countdown, input=3, instance_id="countdown"))

    with runtime:
        client = runtime.client()
        assert completed(client, client.start_workflow(launcher)).output == "liftoff"
        assert client.get_workflow("countdown").input == 0


def test_large_fan_out_of_async_activities(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.activity
    async def square(ctx: wayline.WorkflowActivityContext, n: int) -> int:
        return n * n

    @runtime.workflow
    def fan(ctx: wayline.WorkflowContext, size: int) -> Any:
        results = yield wayline.when_all([ctx.call_activity(square, input=i) for i in range(size)])
        return sum(results)

    with runtime:
        client = runtime.client()
        state = completed(client, client.start_workflow(fan, input=300))
    assert state.output == sum(i * i for i in range(300))
