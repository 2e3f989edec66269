"""Workflow functions of every shape, how they end, custom status and termination."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from wayline.core.actions import CompleteWorkflow, CreateTimer, ScheduleTask
from wayline.core.context import WorkflowContext
from wayline.core.events import (
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionStalled,
    ExecutionSuspended,
    WorkflowStatus,
)
from wayline.core.executor import TurnResult, WorkflowExecutor
from wayline.core.task import NonDeterminismError

from ._harness import (
    T0,
    Scenario,
    at,
    completed,
    completion,
    failure_of,
    fired,
    output,
    raised,
    started,
    terminated,
    workflow_started,
)


def test_plain_function_completes_in_the_first_turn() -> None:
    def wf(ctx: WorkflowContext, value: int) -> int:
        return value + 1

    result = Scenario(wf).start(41)
    assert result.actions == (CompleteWorkflow(id=1, status=WorkflowStatus.COMPLETED, result="42"),)


def test_plain_function_returning_none_has_no_output() -> None:
    def wf(ctx: WorkflowContext, value: Any) -> None:
        return None

    assert completion(Scenario(wf).start()).result is None


def test_workflow_without_an_input_parameter() -> None:
    def wf(ctx: WorkflowContext) -> Any:
        yield ctx.call_activity("ping")
        return ctx.instance_id

    run = Scenario(wf, instance_id="no-input")
    assert run.start("ignored").actions == (ScheduleTask(id=1, name="ping"),)
    assert output(run.turn(completed(1))) == "no-input"


def test_generator_without_yield_points_completes_at_once() -> None:
    def wf(ctx: WorkflowContext, value: Any) -> Any:
        if False:
            yield
        return {"echo": value}

    assert output(Scenario(wf).start([1, "a"])) == {"echo": [1, "a"]}


def test_raw_text_input_arrives_as_text() -> None:
    def wf(ctx: WorkflowContext, value: Any) -> Any:
        return value

    assert output(Scenario(wf).start(raw="not json")) == "not json"


@dataclass
class Receipt:
    order: str
    total: float


def test_dataclass_output_is_serialized() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Receipt:
        return Receipt("o-1", 9.5)

    assert output(Scenario(wf).start()) == {"order": "o-1", "total": 9.5}


def test_exception_before_the_first_yield_fails_the_workflow() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        raise KeyError("missing")

    details = failure_of(Scenario(wf).start())
    assert details.error_type == "KeyError"
    assert details.message == "'missing'"
    assert details.stack_trace is not None
    assert "KeyError: 'missing'" in details.stack_trace
    assert details.non_retriable is False


def test_an_async_generator_workflow_fails_with_a_clear_error() -> None:
    async def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield 1

    details = failure_of(Scenario(wf).start())
    assert details.error_type == "TypeError"
    assert "async generator" in details.message


def test_exception_in_a_generator_fails_the_workflow() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_activity("a")
        raise RuntimeError

    run = Scenario(wf)
    run.start()
    details = failure_of(run.turn(completed(1)))
    assert details.error_type == "RuntimeError"
    assert details.message == "RuntimeError"  # an empty message falls back to the type


def test_yielding_something_that_is_not_a_task_fails_the_workflow() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield timedelta(seconds=1)

    details = failure_of(Scenario(wf).start())
    assert details.error_type == "TypeError"
    assert details.message.startswith("workflow yielded timedelta; yield tasks from ctx")


def test_non_deterministic_error_raised_by_the_code_fails_the_workflow() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_activity("a")
        raise NonDeterminismError("raised by hand")

    run = Scenario(wf)
    run.start()
    details = failure_of(run.turn(completed(1)))
    assert details.error_type == "NonDeterminismError"
    assert details.message == "raised by hand"


def test_output_that_cannot_be_serialized_fails_the_workflow() -> None:
    def plain(ctx: WorkflowContext, _: Any) -> Any:
        return object()

    def generator(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_activity("a")
        return {"when": object()}

    details = failure_of(Scenario(plain).start())
    assert details.error_type == "SerializationError"
    assert "cannot serialize a object as JSON" in details.message

    run = Scenario(generator)
    run.start()
    details = failure_of(run.turn(completed(1)))
    assert details.error_type == "SerializationError"
    assert "cannot serialize a dict as JSON" in details.message


def test_input_that_cannot_be_serialized_fails_the_workflow() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_activity("a", input={1, object()} | {lambda: 1})

    details = failure_of(Scenario(wf).start())
    assert details.error_type == "SerializationError"


# ----- custom status ---------------------------------------------------------------------


def test_custom_status_string_is_stored_as_is_and_others_as_json() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        ctx.set_custom_status("starting")
        yield ctx.call_activity("a")
        ctx.set_custom_status({"step": 2, "ok": True})
        yield ctx.call_activity("b")
        ctx.set_custom_status(3)
        yield ctx.call_activity("c")
        ctx.set_custom_status(None)
        return "done"

    run = Scenario(wf)
    assert run.start().custom_status == "starting"
    assert run.turn(completed(1)).custom_status == '{"step": 2, "ok": true}'
    assert run.turn(completed(2)).custom_status == "3"
    final = run.turn(completed(3))
    assert output(final) == "done"
    assert final.custom_status is None


def test_custom_status_survives_a_failure() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        ctx.set_custom_status("about to fail")
        raise ValueError("x")

    result = Scenario(wf).start()
    assert failure_of(result).message == "x"
    assert result.custom_status == "about to fail"


# ----- termination and lifecycle events --------------------------------------------------


def test_terminate_ends_the_workflow_with_its_output() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.wait_for_external_event("never")

    run = Scenario(wf)
    run.start()
    result = run.turn(terminated("stopped by operator"), raised("never", 1))
    assert result.actions == (
        CompleteWorkflow(id=1, status=WorkflowStatus.TERMINATED, result='"stopped by operator"'),
    )


def test_terminate_without_output() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.create_timer(timedelta(days=1))

    run = Scenario(wf)
    run.start()
    action = completion(run.turn(terminated()))
    assert action == CompleteWorkflow(id=2, status=WorkflowStatus.TERMINATED)


def test_suspend_resume_and_stalled_events_do_not_run_code() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.create_timer(timedelta(seconds=5))
        return "woke"

    run = Scenario(wf)
    run.start(now=at(0))
    assert run.turn(ExecutionSuspended(timestamp=T0, input="maintenance")).actions == ()
    assert run.turn(ExecutionStalled(timestamp=T0, reason="r", description="d")).actions == ()
    assert run.turn(ExecutionResumed(timestamp=T0)).actions == ()
    assert output(run.turn(fired(1, at(5)), now=at(5))) == "woke"


def test_events_after_the_end_change_nothing() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.create_timer(timedelta(seconds=1))
        return "first"

    executor = WorkflowExecutor("wf-1", wf)
    executor.execute([], [workflow_started(at(0)), started()])
    end = executor.execute(
        [],
        [
            workflow_started(at(1)),
            fired(1, at(1)),
            completed(7, "x"),
            terminated("too late"),
            ExecutionCompleted(timestamp=T0, status=WorkflowStatus.COMPLETED, result='"x"'),
        ],
    )
    assert executor.is_complete
    assert output(end) == "first"


def test_second_execution_started_event_is_ignored() -> None:
    calls = []

    def wf(ctx: WorkflowContext, value: Any) -> Any:
        calls.append(value)
        yield ctx.create_timer(timedelta(seconds=1))
        return value

    executor = WorkflowExecutor("wf-1", wf)
    first = executor.execute([], [workflow_started(at(0)), started(1)])
    again = executor.execute([], [workflow_started(at(0.5)), started(2)])
    assert first.actions == (CreateTimer(id=1, fire_at=at(1)),)
    assert again.actions == ()
    assert calls == [1]
    assert output(executor.execute([], [workflow_started(at(1)), fired(1, at(1))])) == 1


def test_wrap_context_hands_the_workflow_a_wrapper() -> None:
    class Wrapped:
        def __init__(self, inner: WorkflowContext) -> None:
            self.inner = inner

        def greet(self) -> Any:
            return self.inner.call_activity("greet", input="hi")

    def wf(ctx: Wrapped, _: Any) -> Any:
        return (yield ctx.greet())

    run = Scenario(wf, wrap_context=Wrapped)
    assert run.start().actions == (ScheduleTask(id=1, name="greet", input='"hi"'),)
    assert output(run.turn(completed(1, "hello"))) == "hello"
    assert isinstance(run.executor.context, WorkflowContext)


def test_turn_result_completion() -> None:
    action = CompleteWorkflow(id=3, status=WorkflowStatus.COMPLETED)
    assert TurnResult(actions=(), custom_status=None).completion is None
    timer = CreateTimer(id=1, fire_at=T0)
    assert TurnResult(actions=(timer, action), custom_status=None).completion is action
