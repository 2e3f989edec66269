"""The observer hooks: what the engine and the client report, in order, to the
metrics and tracing adapters; an observer that raises never fails a step."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest

import wayline
from wayline.core.events import ExecutionStarted, TaskCompleted, TaskFailed
from wayline.engine.observer import Observer
from wayline.errors import InstanceNotFoundError
from wayline.store.types import ClaimedTask, CommitOutcome, InstanceRecord, TaskResult, TurnCommit

from ._support import wait_for_status
from .conftest import Runtimes


class Recorder(Observer):
    def __init__(self) -> None:
        self.seen: list[tuple[Any, ...]] = []

    def operation(
        self, operation: str, instance_id: str | None, *, ok: bool, seconds: float
    ) -> None:
        assert seconds >= 0
        self.seen.append(("operation", operation, instance_id, ok))

    def turn_committed(
        self,
        instance: InstanceRecord,
        commit: TurnCommit,
        outcome: CommitOutcome,
        *,
        seconds: float,
        commit_seconds: float,
    ) -> None:
        assert 0 <= commit_seconds <= seconds
        first = any(isinstance(e, ExecutionStarted) for e in commit.history)
        self.seen.append(("turn", instance.instance_id, first, outcome.status.value))

    def activity_started(self, task: ClaimedTask) -> None:
        self.seen.append(("activity_started", task.name))

    def activity_finished(self, task: ClaimedTask, result: TaskResult, *, seconds: float) -> None:
        assert seconds >= 0
        kind = "completed" if isinstance(result, TaskCompleted) else "failed"
        assert isinstance(result, TaskCompleted | TaskFailed)
        self.seen.append(("activity_finished", task.name, kind))


class Broken(Observer):
    def turn_committed(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the observer is broken")

    def operation(self, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the observer is broken")


def _flow(runtime: wayline.WorkflowRuntime) -> None:
    calls = {"n": 0}

    @runtime.activity
    def flaky(ctx: wayline.WorkflowActivityContext) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("not yet")
        return "ok"

    @runtime.workflow
    def flow(ctx: wayline.WorkflowContext) -> Any:
        policy = wayline.RetryPolicy(
            first_retry_interval=timedelta(milliseconds=10), max_number_of_attempts=3
        )
        return (yield ctx.call_activity(flaky, retry_policy=policy))


def test_engine_and_client_report_each_step(runtimes: Runtimes) -> None:
    recorder = Recorder()
    runtime = runtimes.new(observer=recorder)
    _flow(runtime)
    with runtime:
        client = runtime.client()
        client.start_workflow("flow", instance_id="o-1")
        wait_for_status(client, "o-1", "COMPLETED")
        with pytest.raises(InstanceNotFoundError):
            client.raise_event("nobody", "go")
        client.purge_workflow("o-1")
    seen = recorder.seen
    assert seen[0] == ("operation", "create_workflow", "o-1", True)
    assert ("operation", "add_event", "nobody", False) in seen
    assert seen[-1] == ("operation", "purge_workflow", "o-1", True)
    activities = [s for s in seen if s[0].startswith("activity")]
    assert activities == [
        ("activity_started", "flaky"),
        ("activity_finished", "flaky", "failed"),
        ("activity_started", "flaky"),
        ("activity_finished", "flaky", "completed"),
    ]
    turns = [s for s in seen if s[0] == "turn"]
    assert turns[0] == ("turn", "o-1", True, "RUNNING")
    assert turns[-1] == ("turn", "o-1", False, "COMPLETED")
    assert not any(first for _, _, first, _ in turns[1:])


def test_an_observer_that_raises_is_logged_and_the_workflow_still_completes(
    runtimes: Runtimes, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = runtimes.new(observer=Broken())
    _flow(runtime)
    with runtime:
        client = runtime.client()
        client.start_workflow("flow", instance_id="o-2")  # the client's hook raises too
        wait_for_status(client, "o-2", "COMPLETED")
    broken = [r for r in caplog.records if "observer Broken failed" in r.getMessage()]
    assert broken and all(r.levelno == logging.ERROR for r in broken)
    caplog.clear()  # those errors are the point of this test
