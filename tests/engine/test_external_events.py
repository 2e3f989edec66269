"""External events: FIFO per name, buffering, case-insensitive names, timeouts, pause."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import wayline
from wayline.errors import EventNameMissingError, InstanceNotFoundError, SerializationError

from ._support import WAIT, completed, events_of, wait_for_history, wait_for_status
from .conftest import Runtimes


def test_events_raised_before_the_wait_are_buffered_and_delivered_fifo(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def collector(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("go")
        items = []
        for _ in range(3):
            items.append((yield ctx.wait_for_external_event("item")))
        return items

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(collector)
        # raised right after start: the instance may still be PENDING
        for n in (1, 2, 3):
            client.raise_event(iid, "item", {"n": n})
        wait_for_history(client, iid, "EventRaised", 3)
        client.raise_event(iid, "go")
        state = completed(client, iid)

    assert state.output == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_fifo_is_per_name(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def two_queues(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("start")
        b1 = yield ctx.wait_for_external_event("b")
        a1 = yield ctx.wait_for_external_event("a")
        a2 = yield ctx.wait_for_external_event("a")
        b2 = yield ctx.wait_for_external_event("b")
        return [a1, a2, b1, b2]

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(two_queues)
        for name, value in (("a", "a1"), ("b", "b1"), ("a", "a2"), ("b", "b2")):
            client.raise_event(iid, name, value)
        client.raise_event(iid, "start")
        state = completed(client, iid)

    assert state.output == ["a1", "a2", "b1", "b2"]


def test_event_names_match_case_insensitively(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def approval(ctx: wayline.WorkflowContext) -> Any:
        first = yield ctx.wait_for_external_event("Approval")
        second = yield ctx.wait_for_external_event("APPROVAL")
        return [first, second]

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(approval)
        wait_for_status(client, iid, "RUNNING")
        client.raise_event(iid, "approval", True)
        client.raise_event(iid, "aPPROVAL", False)
        state = completed(client, iid)
        raised = [e.name for e in events_of(client, iid, "EventRaised")]

    assert state.output == [True, False]
    assert raised == ["approval", "aPPROVAL"]  # stored as raised


def test_wait_with_timeout_raises_timeout_error_in_the_workflow(runtimes: Runtimes) -> None:
    clock = wayline.ManualClock()
    runtime = runtimes.new(clock=clock)

    @runtime.workflow
    def deadline(ctx: wayline.WorkflowContext) -> Any:
        try:
            answer = yield ctx.wait_for_external_event("answer", timeout=timedelta(days=1))
        except TimeoutError:
            return "timed out"
        return answer

    with runtime:
        client = runtime.client()
        answered = client.start_workflow(deadline)
        silent = client.start_workflow(deadline)
        wait_for_history(client, answered, "TimerCreated")
        timer = wait_for_history(client, silent, "TimerCreated")[0]
        assert timer.origin == "external_event"
        assert timer.fire_at - timer.timestamp == timedelta(days=1)

        client.raise_event(answered, "answer", 42)
        assert completed(client, answered).output == 42

        clock.advance(timedelta(hours=23))
        runtime.wait_idle()  # everything due by now has happened
        assert client.get_workflow(silent).runtime_status == "RUNNING"
        clock.advance(timedelta(hours=1))
        assert completed(client, silent).output == "timed out"
        # an event arriving after the timeout changes nothing
        client.raise_event(silent, "answer", 43)
        assert client.get_workflow(silent).output == "timed out"


def test_uncaught_event_timeout_fails_the_workflow(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def impatient(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.wait_for_external_event("never", timeout=timedelta(milliseconds=20)))

    with runtime:
        client = runtime.client()
        state = client.wait_for_workflow_completion(client.start_workflow(impatient), timeout=WAIT)

    assert state.runtime_status == "FAILED"
    assert state.failure_details is not None
    assert state.failure_details.error_type == "TimeoutError"
    assert "never" in state.failure_details.message


def test_when_any_of_event_and_timer_the_dapr_way(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def race(ctx: wayline.WorkflowContext, wait_ms: int) -> Any:
        event = ctx.wait_for_external_event("approve")
        timeout = ctx.create_timer(timedelta(milliseconds=wait_ms))
        winner = yield wayline.when_any([event, timeout])
        if winner == timeout:
            return "timeout"
        return {"approved": event.get_result()}

    with runtime:
        client = runtime.client()
        timed_out = client.start_workflow(race, input=20)
        approved = client.start_workflow(race, input=60_000)
        wait_for_history(client, approved, "TimerCreated")
        client.raise_event(approved, "approve", "yes")
        assert completed(client, approved).output == {"approved": "yes"}
        assert completed(client, timed_out).output == "timeout"


def test_event_raised_while_paused_is_held_until_resume(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def gated(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.wait_for_external_event("open"))

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(gated)
        wait_for_status(client, iid, "RUNNING")
        client.pause_workflow(iid)
        wait_for_status(client, iid, "SUSPENDED")

        client.raise_event(iid, "open", "sesame")
        runtime.wait_idle()  # everything that can happen now has happened
        assert client.get_workflow(iid).runtime_status == "SUSPENDED"
        assert events_of(client, iid, "EventRaised") == []

        client.resume_workflow(iid)
        state = completed(client, iid)
        history = [type(e).__name__ for e in client.get_history(iid)]

    assert state.output == "sesame"
    assert history.index("ExecutionResumed") < history.index("EventRaised")


def test_event_to_a_finished_instance_is_dropped(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def quick(ctx: wayline.WorkflowContext) -> Any:
        return "done"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(quick)
        completed(client, iid)
        before = client.get_history(iid)
        client.raise_event(iid, "late", 1)
        assert client.get_history(iid) == before
        assert client.get_workflow(iid).runtime_status == "COMPLETED"


def test_bad_event_requests_raise_and_change_nothing(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def waiting(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.wait_for_external_event("x"))

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(waiting)
        wait_for_status(client, iid, "RUNNING")
        before = client.get_history(iid)
        with pytest.raises(EventNameMissingError) as missing:
            client.raise_event(iid, "", 1)
        assert missing.value.error_code == "ERR_WORKFLOW_EVENT_NAME_MISSING"
        with pytest.raises(InstanceNotFoundError):
            client.raise_event("no-such-instance", "x", 1)
        with pytest.raises(SerializationError):
            client.raise_event(iid, "x", object())
        assert client.get_history(iid) == before
        client.raise_event(iid, "x", "fine")
        assert completed(client, iid).output == "fine"
