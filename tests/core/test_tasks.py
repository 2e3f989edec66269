"""when_all, when_any and the Task object itself."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from wayline.core.actions import CreateTimer, ScheduleTask
from wayline.core.context import WorkflowContext
from wayline.core.task import CompletableTask, Task, TaskFailedError, when_all, when_any

from ._harness import (
    Scenario,
    at,
    completed,
    failed,
    failure,
    failure_of,
    fired,
    output,
    raised,
)

# ----- when_all inside workflows ---------------------------------------------------------


def fan_out(ctx: WorkflowContext, count: int) -> Any:
    results = yield when_all([ctx.call_activity("work", input=i) for i in range(count)])
    return results


def test_when_all_returns_results_in_task_order() -> None:
    run = Scenario(fan_out)
    assert len(run.start(3).actions) == 3
    assert run.turn(completed(3, "c"), completed(1, "a")).actions == ()
    assert output(run.turn(completed(2, "b"))) == ["a", "b", "c"]


def test_when_all_of_nothing_completes_at_once() -> None:
    assert output(Scenario(fan_out).start(0)) == []


def test_when_all_fails_with_the_first_failure() -> None:
    run = Scenario(fan_out)
    run.start(3)
    details = failure_of(run.turn(completed(1, "a"), failed(3, "third"), failed(2, "second")))
    assert details.message == "activity task #3 failed: third"


def test_when_all_failure_is_catchable_and_later_results_are_ignored() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        tasks = [ctx.call_activity("a"), ctx.call_activity("b")]
        try:
            yield when_all(tasks)
        except TaskFailedError as exc:
            yield ctx.create_timer(timedelta(seconds=1))
            return [str(exc), tasks[1].is_complete]
        return "ok"

    run = Scenario(wf)
    run.start(now=at(0))
    assert run.turn(failed(1, "a broke"), now=at(0)).actions == (CreateTimer(id=3, fire_at=at(1)),)
    assert run.turn(completed(2, "late")).actions == ()
    result = run.turn(fired(3, at(1)), now=at(1))
    assert output(result) == ["activity task #1 failed: a broke", True]


def test_when_all_of_already_completed_tasks() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.create_timer(timedelta(seconds=1))
        first = ctx.wait_for_external_event("x")
        second = ctx.wait_for_external_event("y")
        return (yield when_all([first, second]))

    run = Scenario(wf)
    run.start(now=at(0))
    assert output(run.turn(raised("y", 2), raised("x", 1), fired(1, at(1)), now=at(1))) == [1, 2]


# ----- when_any inside workflows ---------------------------------------------------------


def test_when_any_returns_the_first_task_to_finish() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        tasks = [ctx.call_activity("a"), ctx.call_activity("b")]
        winner = yield when_any(tasks)
        return [tasks.index(winner), winner.get_result()]

    run = Scenario(wf)
    run.start()
    assert output(run.turn(completed(2, "B"), completed(1, "A"))) == [1, "B"]


def test_when_any_returns_a_failed_task_without_raising() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        task = ctx.call_activity("a")
        timer = ctx.create_timer(timedelta(days=1))
        winner = yield when_any([task, timer])
        assert winner is task
        return [winner.is_failed, str(winner.get_exception())]

    run = Scenario(wf)
    assert run.start(now=at(0)).actions == (
        ScheduleTask(id=1, name="a"),
        CreateTimer(id=2, fire_at=at(86400)),
    )
    assert output(run.turn(failed(1, "x"))) == [True, "activity task #1 failed: x"]


def test_when_any_needs_at_least_one_task() -> None:
    with pytest.raises(ValueError, match="when_any needs at least one task"):
        when_any([])


# ----- Task ------------------------------------------------------------------------------


def test_task_result_before_completion_is_an_error() -> None:
    task: CompletableTask[int] = CompletableTask()
    assert not task.is_complete
    assert not task.is_failed
    assert task.get_exception() is None
    with pytest.raises(RuntimeError, match="has not completed yet"):
        task.get_result()


def test_task_completes_once() -> None:
    task: CompletableTask[int] = CompletableTask()
    task.complete(1)
    task.complete(2)
    task.fail(ValueError("late"))
    assert task.is_complete
    assert not task.is_failed
    assert task.get_result() == 1


def test_failed_task_raises_its_error() -> None:
    task: CompletableTask[int] = CompletableTask()
    error = ValueError("nope")
    task.fail(error)
    assert task.is_failed
    assert task.get_exception() is error
    with pytest.raises(ValueError, match="nope"):
        task.get_result()


def test_combinators_over_already_settled_tasks() -> None:
    done: CompletableTask[int] = CompletableTask()
    done.complete(1)
    broken: CompletableTask[int] = CompletableTask()
    broken.fail(KeyError("k"))
    pending: CompletableTask[int] = CompletableTask()

    assert when_all([done, done]).get_result() == [1, 1]
    assert isinstance(when_all([pending, broken]).get_exception(), KeyError)
    assert when_any([pending, done]).get_result() is done
    assert when_any([broken]).get_result() is broken


def test_combinators_nest() -> None:
    a: CompletableTask[str] = CompletableTask()
    b: CompletableTask[str] = CompletableTask()
    c: CompletableTask[str] = CompletableTask()
    outer: Task[Any] = when_all([when_any([a, b]), c])
    b.complete("b")
    assert not outer.is_complete
    c.complete("c")
    first, last = outer.get_result()
    assert first is b
    assert last == "c"


def test_task_failed_error_keeps_the_details() -> None:
    details = failure("bad", "KeyError")
    error = TaskFailedError("step failed", details)
    assert str(error) == "step failed"
    assert error.details is details
