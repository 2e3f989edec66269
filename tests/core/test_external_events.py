"""External events: FIFO per name, case-insensitive names, buffering, timeouts."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

from wayline.core.actions import CreateTimer, ScheduleTask
from wayline.core.context import ExternalEventTask, WorkflowContext
from wayline.core.events import TimerOrigin
from wayline.core.task import when_all, when_any

from ._harness import Scenario, at, completed, failure_of, fired, output, raised


def collect(*names: str) -> Any:
    """A workflow that waits for the named events one after the other."""

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        values = []
        for name in names:
            values.append((yield ctx.wait_for_external_event(name)))
        return values

    return wf


def test_event_completes_the_wait_with_its_data() -> None:
    run = Scenario(collect("approval"))
    assert run.start().actions == ()  # an indefinite wait records no timer
    assert output(run.turn(raised("approval", {"ok": True}))) == [{"ok": True}]


def test_events_of_one_name_are_delivered_in_arrival_order() -> None:
    run = Scenario(collect("item", "item", "item"))
    run.start()
    assert run.turn(raised("item", 1)).actions == ()
    assert output(run.turn(raised("item", 2), raised("item", 3))) == [1, 2, 3]


def test_event_names_ignore_case() -> None:
    run = Scenario(collect("Approval", "approval"))
    run.start()
    assert output(run.turn(raised("APPROVAL", "first"), raised("aPPROVAL", "second"))) == [
        "first",
        "second",
    ]


def test_events_raised_before_the_wait_are_buffered_per_name() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_activity("prepare")
        a1 = yield ctx.wait_for_external_event("a")
        b = yield ctx.wait_for_external_event("B")
        a2 = yield ctx.wait_for_external_event("A")
        return [a1, b, a2]

    run = Scenario(wf)
    run.start()
    # Both names arrive (interleaved) while the workflow still waits for the activity.
    assert run.turn(raised("a", "a1"), raised("b", "b1"), raised("A", "a2")).actions == ()
    assert output(run.turn(completed(1))) == ["a1", "b1", "a2"]


def test_buffered_event_leaves_no_timer_even_with_a_timeout() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.create_timer(timedelta(seconds=1))
        return (yield ctx.wait_for_external_event("go", timeout=timedelta(hours=1)))

    run = Scenario(wf)
    run.start(now=at(0))
    assert run.turn(raised("go", "early"), now=at(0.5)).actions == ()
    assert output(run.turn(fired(1, at(1)), now=at(1))) == "early"


def test_event_data_that_is_not_json_arrives_as_text() -> None:
    run = Scenario(collect("e", "e"))
    run.start()
    assert output(run.turn(raised("e", raw="not json"), raised("e"))) == ["not json", None]


def test_timeout_records_an_external_event_timer() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        answer = yield ctx.wait_for_external_event("approval", timeout=timedelta(minutes=10))
        return (yield ctx.call_activity("act", input=answer))

    run = Scenario(wf)
    assert run.start(now=at(0)).actions == (
        CreateTimer(
            id=1, fire_at=at(600), origin=TimerOrigin.EXTERNAL_EVENT, origin_name="approval"
        ),
    )
    assert run.turn(raised("approval", "yes"), now=at(10)).actions == (
        ScheduleTask(id=2, name="act", input='"yes"'),
    )
    # The timer still fires later; the wait is already done, so nothing happens.
    assert run.turn(fired(1, at(600)), now=at(600)).actions == ()
    assert output(run.turn(completed(2, "done"), now=at(601))) == "done"


def test_timeout_raises_timeout_error_in_the_workflow() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        try:
            yield ctx.wait_for_external_event("approval", timeout=timedelta(minutes=10))
        except TimeoutError as exc:
            return f"escalate: {exc}"
        return "approved"

    run = Scenario(wf)
    run.start(now=at(0))
    assert output(run.turn(fired(1, at(600)), now=at(600))) == (
        "escalate: timed out waiting for external event 'approval'"
    )


def test_uncaught_timeout_fails_the_workflow() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.wait_for_external_event("approval", timeout=at(60))

    run = Scenario(wf)
    (timer,) = run.start(now=at(0)).actions
    assert isinstance(timer, CreateTimer)
    assert timer.fire_at == at(60)  # an absolute timeout is the deadline itself
    details = failure_of(run.turn(fired(1, at(60)), now=at(60)))
    assert details.error_type == "TimeoutError"
    assert details.message == "timed out waiting for external event 'approval'"
    assert details.stack_trace is not None
    assert "TimeoutError" in details.stack_trace


def test_zero_timeout_fails_at_once_without_a_timer() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        try:
            yield ctx.wait_for_external_event("poll", timeout=timedelta(0))
        except TimeoutError as exc:
            return str(exc)
        return "got it"

    assert output(Scenario(wf).start()) == "wait for external event 'poll' timed out immediately"


def test_zero_timeout_still_takes_a_buffered_event() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.create_timer(timedelta(seconds=1))
        return (yield ctx.wait_for_external_event("poll", timeout=timedelta(0)))

    run = Scenario(wf)
    run.start(now=at(0))
    assert output(run.turn(raised("POLL", 5), fired(1, at(1)), now=at(1))) == 5


def test_negative_timeout_waits_forever() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        return (yield ctx.wait_for_external_event("e", timeout=timedelta(seconds=-1)))

    run = Scenario(wf)
    assert run.start().actions == ()
    assert output(run.turn(raised("e", 1))) == 1


def test_event_arriving_after_the_timeout_is_buffered_for_the_next_wait() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        with contextlib.suppress(TimeoutError):
            yield ctx.wait_for_external_event("reply", timeout=timedelta(seconds=5))
        yield ctx.call_activity("remind")
        return (yield ctx.wait_for_external_event("reply"))

    run = Scenario(wf)
    run.start(now=at(0))
    # The timer fires first, then the late event arrives in the same turn.
    result = run.turn(fired(1, at(5)), raised("reply", "late"), now=at(5))
    assert result.actions == (ScheduleTask(id=2, name="remind"),)
    assert output(run.turn(completed(2), now=at(6))) == "late"


def test_timeout_of_one_waiter_leaves_the_others_of_that_name() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        impatient = ctx.wait_for_external_event("e", timeout=timedelta(seconds=5))
        patient = ctx.wait_for_external_event("e")
        winner = yield when_any([impatient, patient])
        assert winner is impatient
        assert isinstance(impatient.get_exception(), TimeoutError)
        return (yield patient)

    run = Scenario(wf)
    assert run.start(now=at(0)).actions == (
        CreateTimer(id=1, fire_at=at(5), origin=TimerOrigin.EXTERNAL_EVENT, origin_name="e"),
    )
    assert run.turn(fired(1, at(5)), now=at(5)).actions == ()
    assert output(run.turn(raised("E", "for the patient one"), now=at(6))) == (
        "for the patient one"
    )


def test_concurrent_waiters_of_one_name_are_served_in_order() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        first = ctx.wait_for_external_event("vote")
        second = ctx.wait_for_external_event("VOTE")
        other = ctx.wait_for_external_event("other")
        return (yield when_all([first, second, other]))

    run = Scenario(wf)
    run.start()
    assert run.turn(raised("vote", 1)).actions == ()
    assert output(run.turn(raised("other", "x"), raised("Vote", 2))) == [1, 2, "x"]


def test_expiring_a_wait_that_already_left_the_queue_only_fails_the_task() -> None:
    ctx = WorkflowContext("wf-1")
    task = ExternalEventTask("ghost")
    ctx._expire_event_wait(task)
    assert task.is_failed
    assert isinstance(task.get_exception(), TimeoutError)
