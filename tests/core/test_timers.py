"""Durable timers: relative and absolute, time zones, and the workflow clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from wayline.core.actions import CreateTimer, ScheduleTask
from wayline.core.context import EPOCH, WorkflowContext, as_utc
from wayline.core.events import TimerOrigin
from wayline.core.executor import WorkflowExecutor
from wayline.core.task import when_any

from ._harness import T0, Scenario, at, completed, fired, output, started, workflow_started


def sleeper(fire_at: datetime | timedelta) -> Any:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.create_timer(fire_at)
        return ctx.current_utc_datetime.isoformat()

    return wf


def test_timedelta_timer_fires_relative_to_the_turn_clock() -> None:
    run = Scenario(sleeper(timedelta(hours=1)))
    assert run.start(now=at(30)).actions == (
        CreateTimer(id=1, fire_at=at(30 + 3600), origin=TimerOrigin.CREATE_TIMER),
    )
    fire_at = at(30 + 3600)
    assert output(run.turn(fired(1, fire_at), now=fire_at)) == fire_at.isoformat()


def test_aware_datetime_timer_is_kept_as_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    moment = datetime(2025, 1, 2, 14, 0, tzinfo=plus_two)
    (timer,) = Scenario(sleeper(moment)).start().actions
    assert isinstance(timer, CreateTimer)
    assert timer.fire_at == datetime(2025, 1, 2, 12, 0, tzinfo=UTC)
    assert timer.fire_at.tzinfo == UTC


def test_naive_datetime_timer_is_treated_as_utc() -> None:
    (timer,) = Scenario(sleeper(datetime(2025, 1, 2, 12, 0))).start().actions
    assert isinstance(timer, CreateTimer)
    assert timer.fire_at == datetime(2025, 1, 2, 12, 0, tzinfo=UTC)
    assert timer.fire_at.tzinfo == UTC


def test_as_utc() -> None:
    assert as_utc(datetime(2025, 1, 1)) == datetime(2025, 1, 1, tzinfo=UTC)
    plus_one = timezone(timedelta(hours=1))
    converted = as_utc(datetime(2025, 1, 1, 1, tzinfo=plus_one))
    assert converted == datetime(2025, 1, 1, tzinfo=UTC)
    assert converted.tzinfo == UTC


def test_timer_in_the_past_is_still_a_durable_step() -> None:
    run = Scenario(sleeper(T0 - timedelta(days=1)))
    (timer,) = run.start(now=at(0)).actions
    assert isinstance(timer, CreateTimer)
    assert output(run.turn(fired(1, timer.fire_at), now=at(1))) == at(1).isoformat()


def test_timer_races_an_activity() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        work = ctx.call_activity("slow")
        deadline = ctx.create_timer(timedelta(seconds=10))
        winner = yield when_any([work, deadline])
        return "work" if winner is work else "timeout"

    run = Scenario(wf)
    assert run.start().actions == (
        ScheduleTask(id=1, name="slow"),
        CreateTimer(id=2, fire_at=at(10)),
    )
    assert output(run.turn(fired(2, at(10)), now=at(10))) == "timeout"

    other = Scenario(wf)
    other.start()
    assert output(other.turn(completed(1, "done"), now=at(5))) == "work"


def test_duplicate_or_unknown_timer_fired_is_ignored() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.create_timer(timedelta(seconds=1))
        yield ctx.create_timer(timedelta(seconds=1))
        return "done"

    run = Scenario(wf)
    run.start(now=at(0))
    assert run.turn(fired(1, at(1)), now=at(1)).actions == (CreateTimer(id=2, fire_at=at(2)),)
    assert run.turn(fired(1, at(1)), fired(42, at(1)), now=at(1.5)).actions == ()
    assert output(run.turn(fired(2, at(2)), now=at(2))) == "done"


def test_clock_follows_each_turn_and_starts_at_the_epoch() -> None:
    seen: list[datetime] = []

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        seen.append(ctx.current_utc_datetime)
        yield ctx.create_timer(timedelta(minutes=5))
        seen.append(ctx.current_utc_datetime)

    executor = WorkflowExecutor("wf-1", wf)
    assert executor.context.current_utc_datetime == EPOCH
    executor.execute([], [workflow_started(at(0)), started()])
    executor.execute([], [workflow_started(at(400)), fired(1, at(300))])
    assert seen == [at(0), at(400)]
