"""Durable timers: short real ones, long ones on a ManualClock, and across restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import wayline

from ._support import WAIT, completed, events_of, settings, wait_for_history
from .conftest import Runtimes

START = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def test_short_timer_fires_and_moves_the_workflow_clock(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def napping(ctx: wayline.WorkflowContext) -> Any:
        before = ctx.current_utc_datetime
        yield ctx.create_timer(timedelta(milliseconds=50))
        after = ctx.current_utc_datetime
        return (after - before).total_seconds()

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(napping)
        state = completed(client, iid)
        fired = events_of(client, iid, "TimerFired")

    assert state.output >= 0.05
    assert len(fired) == 1


def test_short_timers_fire_when_due_not_at_the_next_poll(runtimes: Runtimes) -> None:
    """The engine sleeps until the earliest timer, even one created a moment ago."""
    runtime = runtimes.new(settings=settings(poll_interval=timedelta(minutes=1)))

    @runtime.workflow
    def ticking(ctx: wayline.WorkflowContext) -> Any:
        for _ in range(5):
            yield ctx.create_timer(timedelta(milliseconds=20))
        return "ticked"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(ticking)
        # Polling every minute would need five; the bound leaves a loaded machine room.
        state = client.wait_for_workflow_completion(iid, timeout=60)
    assert state.output == "ticked"


def test_timer_of_a_month_fires_only_when_the_clock_gets_there(runtimes: Runtimes) -> None:
    clock = wayline.ManualClock(START)
    runtime = runtimes.new(clock=clock)

    @runtime.workflow
    def monthly(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.create_timer(timedelta(days=30))
        # absolute deadlines work too
        yield ctx.create_timer(ctx.current_utc_datetime + timedelta(days=61))
        return ctx.current_utc_datetime.isoformat()

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(monthly)
        created = wait_for_history(client, iid, "TimerCreated")[0]
        assert created.fire_at == START + timedelta(days=30)

        clock.advance(timedelta(days=29, hours=23))
        assert runtime.wait_idle() == START + timedelta(days=30)  # the timer, still ahead
        assert events_of(client, iid, "TimerFired") == []
        assert client.get_workflow(iid).runtime_status == "RUNNING"

        clock.advance(timedelta(hours=1))
        second = wait_for_history(client, iid, "TimerCreated", 2)[1]
        assert second.fire_at == START + timedelta(days=91)

        clock.advance(timedelta(days=61))
        state = completed(client, iid)
        fired = events_of(client, iid, "TimerFired")

    assert state.output == (START + timedelta(days=91)).isoformat()
    assert [f.fire_at for f in fired] == [START + timedelta(days=30), START + timedelta(days=91)]


def test_timer_in_the_past_fires_at_once(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def late(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.create_timer(datetime(2000, 1, 1, tzinfo=UTC))
        yield ctx.create_timer(timedelta(0))
        return "done"

    with runtime:
        client = runtime.client()
        assert completed(client, client.start_workflow(late)).output == "done"


def test_timer_survives_a_restart_and_fires_once(runtimes: Runtimes) -> None:
    clock = wayline.ManualClock(START)
    after_timer: list[str] = []

    def register(runtime: wayline.WorkflowRuntime) -> None:
        @runtime.activity
        def wake_up(ctx: wayline.WorkflowActivityContext, note: str) -> str:
            after_timer.append(note)
            return note.upper()

        @runtime.workflow
        def sleeper(ctx: wayline.WorkflowContext, note: str) -> Any:
            yield ctx.create_timer(timedelta(days=2))
            return (yield ctx.call_activity(wake_up, input=note))

    first = runtimes.new(clock=clock)
    register(first)
    with first:
        client = first.client()
        iid = client.start_workflow("sleeper", input="good morning", instance_id="sleeper-1")
        wait_for_history(client, iid, "TimerCreated")

    # The process is gone; time passes; a new process opens the same database.
    clock.advance(timedelta(days=3))
    second = runtimes.new(clock=clock)
    register(second)
    with second:
        client = second.client()
        state = completed(client, iid)
        fired = events_of(client, iid, "TimerFired")
        history_kinds = [type(e).__name__ for e in client.get_history(iid)]

    assert state.output == "GOOD MORNING"
    assert after_timer == ["good morning"]
    assert len(fired) == 1
    assert history_kinds.count("ExecutionStarted") == 1
    assert history_kinds.count("TaskScheduled") == 1


def test_timer_due_while_running_fires_once_after_restart_with_fresh_cache(
    runtimes: Runtimes, db_url: str
) -> None:
    """A second runtime picks the timer up on a cold cache: replay rebuilds the workflow."""
    clock = wayline.ManualClock(START)
    first = runtimes.new(clock=clock)

    @first.workflow(name="ticker")
    def ticker_v1(ctx: wayline.WorkflowContext) -> Any:
        ticks = []
        for _ in range(3):
            yield ctx.create_timer(timedelta(hours=1))
            ticks.append(ctx.current_utc_datetime.isoformat())
        return ticks

    with first:
        client = first.client()
        iid = client.start_workflow("ticker")
        wait_for_history(client, iid, "TimerCreated")
        clock.advance(timedelta(hours=1))
        wait_for_history(client, iid, "TimerCreated", 2)

    second = runtimes.new(clock=clock)
    second.register_workflow(ticker_v1, name="ticker")
    with second:
        clock.advance(timedelta(hours=1))
        client = second.client()
        wait_for_history(client, iid, "TimerCreated", 3)
        clock.advance(timedelta(hours=1))
        state = client.wait_for_workflow_completion(iid, timeout=WAIT)

    assert state.runtime_status == "COMPLETED"
    assert state.output == [(START + timedelta(hours=h)).isoformat() for h in (1, 2, 3)]
