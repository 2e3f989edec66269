"""The Scenario runner itself: it must catch a cached path that replay disagrees with."""

from __future__ import annotations

from typing import Any

import pytest

from wayline.core.context import WorkflowContext

from ._harness import Scenario, completed, output


def test_scenario_catches_code_that_is_not_deterministic() -> None:
    calls = []

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        calls.append(None)
        # Depends on how often the code ran: differs between the cached path and replay.
        name = "first" if len(calls) == 1 else "later"
        return (yield ctx.call_activity(name))

    run = Scenario(wf)
    with pytest.raises(AssertionError, match="turn 0: replay disagrees with the cached executor"):
        run.start()


def test_scenario_catches_history_that_replays_into_new_actions() -> None:
    calls = []

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        calls.append(None)
        # The first two runs (cached path, replay check) agree; the third does one more step.
        if len(calls) > 2:
            ctx.call_activity("extra")
        return (yield ctx.call_activity("a"))

    with pytest.raises(AssertionError, match="replaying the stored history after turn 0"):
        Scenario(wf).start()


def test_scenario_records_the_history_the_engine_would_store() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        return (yield ctx.call_activity("a"))

    run = Scenario(wf)
    run.start()
    assert output(run.turn(completed(1, "A"))) == "A"
    assert [type(e).__name__ for e in run.history] == [
        "WorkflowStarted",
        "ExecutionStarted",
        "TaskScheduled",
        "WorkflowStarted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    assert output(run.replay_all()) == "A"
