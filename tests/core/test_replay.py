"""Replay: deterministic helpers, the replaying flag and non-determinism detection."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from wayline.core.actions import ScheduleTask
from wayline.core.context import WorkflowContext
from wayline.core.events import EventSent, HistoryEvent, WorkflowStatus
from wayline.core.executor import TurnResult, WorkflowExecutor, failure_from_exception
from wayline.core.task import NonDeterminismError, NonRetryableError, TaskFailedError

from ._harness import (
    T0,
    Scenario,
    at,
    child_created,
    completed,
    completion,
    failure,
    failure_of,
    fired,
    output,
    raised,
    scheduled,
    started,
    timer_created,
    workflow_started,
)

# ----- new_uuid ------------------------------------------------------------------------


def uuids(ctx: WorkflowContext, _: Any) -> Any:
    first = [ctx.new_uuid(), ctx.new_uuid()]
    yield ctx.call_activity("use", input=first)
    second = ctx.new_uuid()
    return [*first, second]


def test_new_uuid_is_the_same_on_the_cached_path_and_on_replay() -> None:
    run = Scenario(uuids)
    (action,) = run.start().actions
    assert isinstance(action, ScheduleTask)
    sent = action.input
    values = output(run.turn(completed(1)))  # the Scenario checks the replay agrees
    assert sent is not None
    assert values[:2] == uuid_list(sent)
    assert len(set(values)) == 3
    assert all(uuid.UUID(v).version == 5 for v in values)


def test_new_uuid_depends_on_the_instance_and_the_turn_clock() -> None:
    def first_uuids(instance_id: str, now_seconds: float) -> list[str]:
        result = WorkflowExecutor(instance_id, uuids).execute(
            [], [workflow_started(at(now_seconds)), started(instance_id=instance_id)]
        )
        action = result.actions[0]
        assert isinstance(action, ScheduleTask)
        assert action.input is not None
        return uuid_list(action.input)

    assert first_uuids("a", 0) == first_uuids("a", 0)
    assert first_uuids("a", 0) != first_uuids("b", 0)
    assert first_uuids("a", 0) != first_uuids("a", 1)


def uuid_list(encoded: str) -> list[str]:
    value = json.loads(encoded)
    assert isinstance(value, list)
    return value


# ----- is_replaying ----------------------------------------------------------------------


def test_is_replaying_is_true_only_while_past_events_run_the_code() -> None:
    seen: list[tuple[str, bool]] = []

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        seen.append(("start", ctx.is_replaying))
        yield ctx.create_timer(timedelta(seconds=1))
        seen.append(("after timer", ctx.is_replaying))
        yield ctx.wait_for_external_event("go")
        seen.append(("after event", ctx.is_replaying))
        return "done"

    history: list[HistoryEvent] = [
        workflow_started(at(0)),
        started(),
        timer_created(1, at(1)),
        workflow_started(at(1)),
        fired(1, at(1)),
    ]
    cached = WorkflowExecutor("wf-1", wf)
    cached.execute([], history[:2])
    cached.execute([], history[3:])
    assert seen == [("start", False), ("after timer", False)]

    seen.clear()
    replayed = WorkflowExecutor("wf-1", wf)
    result = replayed.execute(history, [workflow_started(at(2)), raised("go")])
    assert output(result) == "done"
    assert seen == [("start", True), ("after timer", True), ("after event", False)]
    assert replayed.context.is_replaying is False


# ----- non-determinism -------------------------------------------------------------------


def two_steps(first: str, second: str) -> Any:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        a = yield ctx.call_activity(first)
        b = yield ctx.call_activity(second)
        return [a, b]

    return wf


def recorded_history() -> list[HistoryEvent]:
    """The history of ``two_steps("charge", "ship")`` after both steps were scheduled."""
    run = Scenario(two_steps("charge", "ship"))
    run.start(now=at(0))
    run.turn(completed(1, "charged"), now=at(1))
    return run.history


def replay(workflow: Any, history: list[HistoryEvent], *new: HistoryEvent) -> TurnResult:
    return WorkflowExecutor("wf-1", workflow).execute(history, [workflow_started(at(2)), *new])


def non_determinism(result: TurnResult) -> str:
    details = failure_of(result)
    assert details.error_type == "NonDeterminismError"
    return details.message


def test_unchanged_code_replays_cleanly() -> None:
    result = replay(two_steps("charge", "ship"), recorded_history(), completed(2, "shipped"))
    assert output(result) == ["charged", "shipped"]


def test_renamed_activity_is_a_non_determinism_error() -> None:
    result = replay(two_steps("charge", "deliver"), recorded_history(), completed(2))
    message = non_determinism(result)
    assert message.startswith(
        "step #2: the history has TaskScheduled 'ship', but the workflow code now does "
        "ScheduleTask 'deliver'"
    )
    assert "start a new instance" in message


def test_reordered_calls_are_a_non_determinism_error() -> None:
    message = non_determinism(replay(two_steps("ship", "charge"), recorded_history()))
    assert message.startswith(
        "step #1: the history has TaskScheduled 'charge', but the workflow code now does "
        "ScheduleTask 'ship'"
    )


def test_step_of_another_kind_is_a_non_determinism_error() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.create_timer(timedelta(seconds=1))

    message = non_determinism(replay(wf, recorded_history()))
    assert message.startswith(
        "step #1: the history has TaskScheduled 'charge', but the workflow code now does "
        "CreateTimer;"
    )


def test_timer_replaced_by_an_activity_is_a_non_determinism_error() -> None:
    history = [workflow_started(at(0)), started(), timer_created(1, at(5))]
    message = non_determinism(replay(two_steps("a", "b"), history))
    assert message.startswith(
        "step #1: the history has TimerCreated, but the workflow code now does ScheduleTask 'a'"
    )


def test_renamed_child_workflow_is_a_non_determinism_error() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_child_workflow("new_child")

    history = [workflow_started(at(0)), started(), child_created(1, "old_child", "wf-1:0001")]
    message = non_determinism(replay(wf, history))
    assert message.startswith(
        "step #1: the history has ChildWorkflowCreated 'old_child', but the workflow code now "
        "does CreateChildWorkflow 'new_child'"
    )


def test_missing_action_is_a_non_determinism_error() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.wait_for_external_event("never")

    message = non_determinism(replay(wf, recorded_history()))
    assert message.startswith(
        "step #1: the history has TaskScheduled 'charge', but the workflow code did not "
        "schedule anything with that sequence number"
    )


def test_recorded_event_sent_is_not_produced_by_the_code() -> None:
    history = [
        workflow_started(at(0)),
        started(),
        EventSent(timestamp=T0, event_id=1, instance_id="other", name="ping"),
    ]
    message = non_determinism(replay(two_steps("a", "b"), history))
    assert message.startswith("step #1: the history has EventSent 'ping', but the workflow code")


def test_code_that_now_finishes_early_is_a_non_determinism_error() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_activity("charge")
        return "done early"

    result = replay(wf, recorded_history(), completed(2))
    assert non_determinism(result).startswith(
        "step #2: the history has TaskScheduled 'ship', but the workflow code now finishes "
        "before it"
    )
    assert completion(result).status == WorkflowStatus.FAILED


def test_extra_steps_after_the_recorded_ones_are_new_actions() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        a = yield ctx.call_activity("charge")
        b, c = yield from _pair(ctx)
        return [a, b, c]

    def _pair(ctx: WorkflowContext) -> Any:
        b = ctx.call_activity("ship")
        c = ctx.call_activity("notify")
        return [(yield b), (yield c)]

    result = replay(wf, recorded_history())
    assert result.actions == (ScheduleTask(id=3, name="notify"),)


def test_non_determinism_failure_takes_the_next_sequence_number() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_activity("other")
        return "x"

    history = recorded_history()
    result = replay(wf, history, completed(1))
    assert completion(result).status == WorkflowStatus.FAILED
    assert completion(result).id == 2


def test_failed_replay_leaves_a_complete_executor_and_one_action() -> None:
    history = recorded_history()
    executor = WorkflowExecutor("wf-1", two_steps("x", "y"))
    result = executor.execute(history, [])
    assert executor.is_complete
    assert len(result.actions) == 1
    assert executor.context.is_replaying is False


def test_new_events_are_never_matched_as_recorded_steps() -> None:
    executor = WorkflowExecutor("wf-1", two_steps("a", "b"))
    executor.execute([], [workflow_started(at(0)), started()])
    # A recorded-step event among the new events means the caller mixed up the paths.
    result = executor.execute([], [workflow_started(at(1)), scheduled(1, "a")])
    assert non_determinism(result).startswith("step #1: the history has TaskScheduled 'a'")


def test_user_raised_non_determinism_error_fails_alike_on_both_paths() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.create_timer(timedelta(seconds=1))
        raise NonDeterminismError("versioning check failed")

    run = Scenario(wf)
    run.start(now=at(0))
    details = failure_of(run.turn(fired(1, at(1)), now=at(1)))  # the Scenario compares paths
    assert details.message == "versioning check failed"


# ----- failure details -------------------------------------------------------------------


def test_failure_from_a_task_failed_error_keeps_the_inner_stack_trace() -> None:
    inner = failure("inner", "ValueError", stack_trace="inner trace", non_retriable=True)
    details = failure_from_exception(TaskFailedError("outer", inner))
    assert details.message == "outer"
    assert details.error_type == "TaskFailedError"
    assert details.stack_trace == "inner trace"
    assert details.non_retriable is False


def test_failure_from_non_retryable_errors() -> None:
    class PaymentDeclined(NonRetryableError):
        pass

    class NonRetryableErrorLookalike(Exception):
        """Stands in for dapr-ext-workflow's class of the same name."""

    NonRetryableErrorLookalike.__name__ = "NonRetryableError"

    assert failure_from_exception(NonRetryableError("no")).non_retriable is True
    assert failure_from_exception(PaymentDeclined("declined")).non_retriable is True
    assert failure_from_exception(NonRetryableErrorLookalike("x")).non_retriable is True
    assert failure_from_exception(ValueError("x")).non_retriable is False


def test_failure_from_an_exception_that_was_never_raised() -> None:
    details = failure_from_exception(ValueError("fresh"))
    assert details.stack_trace == "ValueError: fresh\n"
