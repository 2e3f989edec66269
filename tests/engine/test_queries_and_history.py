"""list_workflows filters and paging; get_history with payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import wayline

from ._support import WAIT, completed, wait_for_history, wait_for_status
from .conftest import Runtimes

START = datetime(2031, 3, 1, tzinfo=UTC)


def test_list_filters_by_status_name_and_creation_time(runtimes: Runtimes) -> None:
    clock = wayline.ManualClock(START)
    runtime = runtimes.new(clock=clock)

    @runtime.workflow
    def quick(ctx: wayline.WorkflowContext, n: int) -> Any:
        return n

    @runtime.workflow
    def waits(ctx: wayline.WorkflowContext, n: int) -> Any:
        return (yield ctx.wait_for_external_event("go"))

    @runtime.workflow
    def fails(ctx: wayline.WorkflowContext, n: int) -> Any:
        raise ValueError(n)

    with runtime:
        client = runtime.client()
        created: dict[str, datetime] = {}
        for i, name in enumerate(["quick", "waits", "fails", "quick", "waits", "quick"]):
            iid = client.start_workflow(name, input=i, instance_id=f"{name}-{i}")
            created[iid] = clock.now()
            clock.advance(timedelta(hours=1))
        for iid in created:
            if iid.startswith("waits"):
                wait_for_status(client, iid, "RUNNING")
            else:
                client.wait_for_workflow_completion(iid, timeout=WAIT)

        def ids(**filters: Any) -> list[str]:
            return [s.instance_id for s in client.list_workflows(**filters).workflows]

        # newest first
        assert ids() == list(reversed(created))
        assert ids(status="COMPLETED") == ["quick-5", "quick-3", "quick-0"]
        assert ids(status="running") == ["waits-4", "waits-1"]
        assert ids(status=["FAILED", wayline.WorkflowStatus.RUNNING]) == [
            "waits-4",
            "fails-2",
            "waits-1",
        ]
        assert ids(name="waits") == ["waits-4", "waits-1"]
        assert ids(name="quick", status="COMPLETED") == ["quick-5", "quick-3", "quick-0"]
        assert ids(name="nothing-by-that-name") == []
        # created_after is inclusive, created_before exclusive
        assert ids(
            created_after=START + timedelta(hours=1), created_before=START + timedelta(hours=3)
        ) == ["fails-2", "waits-1"]
        assert ids(created_after=START + timedelta(hours=5)) == ["quick-5"]
        assert ids(created_before=START + timedelta(minutes=1)) == ["quick-0"]
        assert client.count_workflows(status="COMPLETED") == 3
        assert client.count_workflows(name="waits", status="RUNNING") == 2

        with pytest.raises(ValueError, match="unknown runtime status"):
            client.list_workflows(status="SLEEPING")
        with pytest.raises(ValueError):
            client.list_workflows(page_size=0)


def test_list_pages_through_many_instances(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def idle(ctx: wayline.WorkflowContext) -> Any:
        return None

    client = runtime.client()  # the runtime is not started: every instance stays PENDING
    made = {client.start_workflow(idle, instance_id=f"inst-{i:03d}") for i in range(57)}

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = client.list_workflows(page_size=10, continuation_token=token)
        pages += 1
        assert len(page.workflows) == (10 if pages < 6 else 7)
        seen.extend(s.instance_id for s in page.workflows)
        token = page.continuation_token
        if token is None:
            break
    assert pages == 6
    assert len(seen) == len(set(seen)) == 57
    assert set(seen) == made
    assert {s.runtime_status for s in client.iter_workflows(page_size=7)} == {"PENDING"}
    assert len(list(client.iter_workflows(page_size=7))) == 57

    exact = client.list_workflows(page_size=57)
    assert len(exact.workflows) == 57
    assert exact.continuation_token is None

    with pytest.raises(ValueError, match="continuation token"):
        client.list_workflows(continuation_token="not-a-token!")


def test_get_history_returns_every_event_with_its_payload(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.activity
    def greet(ctx: wayline.WorkflowActivityContext, name: str) -> str:
        return f"Hello, {name}!"

    @runtime.workflow
    def greeting(ctx: wayline.WorkflowContext, person: dict[str, str]) -> Any:
        text = yield ctx.call_activity(greet, input=person["name"])
        mood = yield ctx.wait_for_external_event("mood")
        yield ctx.create_timer(timedelta(milliseconds=1))
        return {"text": text, "mood": mood}

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(greeting, input={"name": "Ada"}, instance_id="greet-1")
        wait_for_history(client, iid, "TaskCompleted")
        client.raise_event(iid, "mood", ["happy"])
        completed(client, iid)
        history = client.get_history(iid)

    by_kind: dict[str, list[Any]] = {}
    for event in history:
        by_kind.setdefault(type(event).__name__, []).append(event)
    assert type(history[0]).__name__ == "WorkflowStarted"
    assert type(history[1]).__name__ == "ExecutionStarted"
    assert type(history[-1]).__name__ == "ExecutionCompleted"

    started = by_kind["ExecutionStarted"][0]
    assert (started.name, started.instance_id, started.input) == (
        "greeting",
        "greet-1",
        '{"name": "Ada"}',
    )
    scheduled = by_kind["TaskScheduled"][0]
    assert (scheduled.event_id, scheduled.name, scheduled.input) == (1, "greet", '"Ada"')
    done = by_kind["TaskCompleted"][0]
    assert (done.task_scheduled_id, done.result) == (1, '"Hello, Ada!"')
    raised = by_kind["EventRaised"][0]
    assert (raised.name, raised.input) == ("mood", '["happy"]')
    timer = by_kind["TimerCreated"][0]
    fired = by_kind["TimerFired"][0]
    assert fired.timer_id == timer.event_id == 2
    assert fired.fire_at == timer.fire_at
    end = by_kind["ExecutionCompleted"][0]
    assert end.status == "COMPLETED"
    assert end.result == '{"text": "Hello, Ada!", "mood": ["happy"]}'
    assert all(e.timestamp.tzinfo is not None for e in history)
    turns = [e.timestamp for e in by_kind["WorkflowStarted"]]
    assert turns == sorted(turns)
    assert len(turns) == 4  # start, activity result, event, timer
