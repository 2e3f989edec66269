"""Activities: scheduling, results, failures caught and uncaught."""

from __future__ import annotations

from typing import Any

from wayline.core.actions import ScheduleTask
from wayline.core.context import WorkflowContext
from wayline.core.events import WorkflowStatus
from wayline.core.task import TaskFailedError

from ._harness import Scenario, completed, completion, failed, failure_of, output


def hello(ctx: Any, name: str) -> str:  # an activity, only its name matters here
    return f"Hello {name}!"


def test_first_turn_schedules_the_activity_with_its_encoded_input() -> None:
    def wf(ctx: WorkflowContext, name: str) -> Any:
        return (yield ctx.call_activity(hello, input=name))

    result = Scenario(wf).start("Tokyo")

    assert result.actions == (ScheduleTask(id=1, name="hello", input='"Tokyo"'),)
    assert result.completion is None
    assert result.custom_status is None


def test_activity_chain_passes_results_along() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        first = yield ctx.call_activity("double", input=1)
        second = yield ctx.call_activity("double", input=first)
        third = yield ctx.call_activity("double", input=second)
        return [first, second, third]

    run = Scenario(wf)
    assert run.start().actions == (ScheduleTask(id=1, name="double", input="1"),)
    assert run.turn(completed(1, 2)).actions == (ScheduleTask(id=2, name="double", input="2"),)
    assert run.turn(completed(2, 4)).actions == (ScheduleTask(id=3, name="double", input="4"),)
    assert output(run.turn(completed(3, 8))) == [2, 4, 8]
    assert completion(run.replay_all()).id == 4


def test_fan_out_schedules_every_activity_in_one_turn() -> None:
    def wf(ctx: WorkflowContext, items: list[int]) -> Any:
        tasks = [ctx.call_activity("square", input=i) for i in items]
        results = []
        for task in tasks:
            results.append((yield task))
        return sum(results)

    run = Scenario(wf)
    assert run.start([1, 2, 3]).actions == (
        ScheduleTask(id=1, name="square", input="1"),
        ScheduleTask(id=2, name="square", input="2"),
        ScheduleTask(id=3, name="square", input="3"),
    )
    # Completions arrive out of order; the workflow still reads them in its own order.
    assert run.turn(completed(3, 9), completed(1, 1)).actions == ()
    assert output(run.turn(completed(2, 4))) == 14


def test_activity_name_comes_from_the_registered_alternate_name() -> None:
    def act(ctx: Any, value: Any) -> Any:
        return value

    act._dapr_alternate_name = "renamed"  # type: ignore[attr-defined]

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_activity(act, input={"a": [1, None]}, app_id="other-app")

    result = Scenario(wf).start()
    assert result.actions == (
        ScheduleTask(id=1, name="renamed", input='{"a": [1, null]}', app_id="other-app"),
    )


def test_activity_without_input_and_without_result() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        value = yield ctx.call_activity("noop")
        return {"value": value}

    run = Scenario(wf)
    assert run.start().actions == (ScheduleTask(id=1, name="noop", input=None),)
    assert output(run.turn(completed(1))) == {"value": None}


def test_activity_result_that_is_not_json_arrives_as_text() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        return (yield ctx.call_activity("raw"))

    run = Scenario(wf)
    run.start()
    assert output(run.turn(completed(1, raw="plain text"))) == "plain text"


def test_activity_failure_is_catchable_in_the_workflow() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        try:
            yield ctx.call_activity("flaky")
        except TaskFailedError as exc:
            fallback = yield ctx.call_activity("fallback", input=exc.details.message)
            return {"error": str(exc), "type": exc.details.error_type, "fallback": fallback}
        return "unreachable"

    run = Scenario(wf)
    run.start()
    assert run.turn(failed(1, "disk full")).actions == (
        ScheduleTask(id=2, name="fallback", input='"disk full"'),
    )
    assert output(run.turn(completed(2, "ok"))) == {
        "error": "activity task #1 failed: disk full",
        "type": "ValueError",
        "fallback": "ok",
    }


def test_uncaught_activity_failure_fails_the_workflow_with_details() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_activity("flaky")
        yield ctx.call_activity("never")

    run = Scenario(wf)
    run.start()
    result = run.turn(failed(1, "disk full"))
    action = completion(result)
    assert action.id == 2
    assert action.status == WorkflowStatus.FAILED
    details = failure_of(result)
    assert details.message == "activity task #1 failed: disk full"
    assert details.error_type == "TaskFailedError"
    # The activity's own stack trace is what the user needs to see.
    assert details.stack_trace == "Traceback: activity"
    assert details.non_retriable is False


def test_completion_for_an_unknown_or_finished_task_is_ignored() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        first = yield ctx.call_activity("a")
        second = yield ctx.call_activity("b")
        return [first, second]

    run = Scenario(wf)
    run.start()
    assert run.turn(completed(1, "A")).actions == (ScheduleTask(id=2, name="b"),)
    # A duplicate delivery of task 1, a failure for it and an id that never existed.
    assert run.turn(completed(1, "again"), failed(1), completed(99, "x")).actions == ()
    assert output(run.turn(completed(2, "B"))) == ["A", "B"]


def test_context_records_an_action_without_a_task() -> None:
    ctx = WorkflowContext("wf-1")
    action = ScheduleTask(id=1, name="fire-and-forget")
    ctx._record(action, None)
    assert ctx._pending_actions == {1: action}
    assert ctx._pending_tasks == {}
