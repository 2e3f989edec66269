"""Activities through the public API: sync and async, retries, failure propagation."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

import wayline

from ._support import WAIT, completed, events_of, wait_for_history


def test_sync_and_async_activities_run_and_see_their_context(
    runtime: wayline.WorkflowRuntime,
) -> None:
    seen: list[tuple[str, int, str]] = []

    @runtime.activity
    def add_one(ctx: wayline.WorkflowActivityContext, value: int) -> int:
        seen.append((ctx.workflow_id, ctx.task_id, threading.current_thread().name))
        return value + 1

    @runtime.activity(name="double")
    async def double_it(ctx: wayline.WorkflowActivityContext, value: int) -> int:
        seen.append((ctx.workflow_id, ctx.task_id, threading.current_thread().name))
        return value * 2

    @runtime.workflow
    def arithmetic(ctx: wayline.WorkflowContext, value: int) -> Any:
        a = yield ctx.call_activity(add_one, input=value)
        b = yield ctx.call_activity("double", input=a)
        return {"a": a, "b": b}

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(arithmetic, input=20, instance_id="math-1")
        state = completed(client, iid)

    assert state.output == {"a": 21, "b": 42}
    assert state.serialized_output == '{"a": 21, "b": 42}'
    assert [(wid, task) for wid, task, _ in seen] == [("math-1", 1), ("math-1", 2)]
    # plain functions run in the activity thread pool, async ones on the engine's loop
    assert seen[0][2].startswith("wayline-activity")
    assert seen[1][2] == "wayline-engine"


def test_activity_without_input_parameter_and_none_results(
    runtime: wayline.WorkflowRuntime,
) -> None:
    calls: list[str] = []

    @runtime.activity
    def ping(ctx: wayline.WorkflowActivityContext) -> None:
        calls.append(ctx.workflow_id)

    @runtime.workflow
    def no_input(ctx: wayline.WorkflowContext) -> Any:
        result = yield ctx.call_activity(ping)
        return result

    with runtime:
        client = runtime.client()
        iid = client.start_workflow("no_input")
        state = completed(client, iid)

    assert calls == [iid]
    assert state.serialized_input is None
    assert state.serialized_output is None


def test_activities_of_one_fan_out_run_in_parallel(runtime: wayline.WorkflowRuntime) -> None:
    barrier = threading.Barrier(3, timeout=WAIT)

    @runtime.activity
    def meet(ctx: wayline.WorkflowActivityContext, n: int) -> int:
        barrier.wait()  # only returns once all three run at the same time
        return n * n

    @runtime.workflow
    def fan_out(ctx: wayline.WorkflowContext) -> Any:
        return (yield wayline.when_all([ctx.call_activity(meet, input=n) for n in (1, 2, 3)]))

    with runtime:
        client = runtime.client()
        state = completed(client, client.start_workflow(fan_out))
    assert state.output == [1, 4, 9]


def test_retries_back_off_exponentially_up_to_the_max_interval(
    runtime: wayline.WorkflowRuntime,
) -> None:
    attempts: list[int] = []

    @runtime.activity
    def flaky(ctx: wayline.WorkflowActivityContext) -> str:
        attempts.append(ctx.task_id)
        if len(attempts) < 4:
            raise ConnectionError(f"attempt {len(attempts)} failed")
        return "finally"

    policy = wayline.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=20),
        max_number_of_attempts=5,
        backoff_coefficient=2,
        max_retry_interval=timedelta(milliseconds=50),
    )

    @runtime.workflow
    def retrying(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.call_activity(flaky, retry_policy=policy))

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(retrying)
        state = completed(client, iid)
        timers = events_of(client, iid, "TimerCreated")
        scheduled = events_of(client, iid, "TaskScheduled")
        failures = events_of(client, iid, "TaskFailed")

    assert state.output == "finally"
    assert len(attempts) == 4
    assert [t.origin for t in timers] == ["activity_retry"] * 3
    delays = [t.fire_at - t.timestamp for t in timers]
    assert delays == [timedelta(milliseconds=ms) for ms in (20, 40, 50)]
    assert [s.name for s in scheduled] == ["flaky"] * 4
    assert len({s.event_id for s in scheduled}) == 4
    assert [f.failure.message for f in failures] == [f"attempt {n} failed" for n in (1, 2, 3)]
    assert {f.failure.error_type for f in failures} == {"ConnectionError"}


def test_long_retry_intervals_follow_the_manual_clock(runtimes: Any) -> None:
    clock = wayline.ManualClock()
    runtime: wayline.WorkflowRuntime = runtimes.new(clock=clock)
    calls: list[int] = []

    @runtime.activity
    def always_fails(ctx: wayline.WorkflowActivityContext) -> None:
        calls.append(1)
        raise RuntimeError("still down")

    policy = wayline.RetryPolicy(
        first_retry_interval=timedelta(hours=1),
        max_number_of_attempts=3,
        backoff_coefficient=2,
    )

    @runtime.workflow
    def patient(ctx: wayline.WorkflowContext) -> Any:
        try:
            yield ctx.call_activity(always_fails, retry_policy=policy)
        except wayline.TaskFailedError as exc:
            return {"type": exc.details.error_type, "message": exc.details.message}
        return "unreachable"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(patient)
        first = wait_for_history(client, iid, "TimerCreated")[0]
        assert first.fire_at - first.timestamp == timedelta(hours=1)
        assert len(calls) == 1
        clock.advance(timedelta(hours=1))
        second = wait_for_history(client, iid, "TimerCreated", 2)[1]
        assert second.fire_at - second.timestamp == timedelta(hours=2)
        assert len(calls) == 2
        clock.advance(timedelta(hours=2))
        state = completed(client, iid)

    assert len(calls) == 3
    assert state.output == {"type": "RuntimeError", "message": "still down"}


def test_retry_timeout_bounds_the_attempts(runtime: wayline.WorkflowRuntime) -> None:
    calls: list[int] = []

    @runtime.activity
    def failing(ctx: wayline.WorkflowActivityContext) -> None:
        calls.append(1)
        raise ValueError("nope")

    policy = wayline.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=10),
        max_number_of_attempts=100,
        retry_timeout=timedelta(milliseconds=25),
    )

    @runtime.workflow
    def bounded(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.call_activity(failing, retry_policy=policy)

    with runtime:
        client = runtime.client()
        state = client.wait_for_workflow_completion(client.start_workflow(bounded), timeout=WAIT)

    assert state.runtime_status == "FAILED"
    assert len(calls) == 3  # delays 10 + 10 ms, then 30 ms would pass the 25 ms timeout


def test_exhausted_retries_raise_task_failed_error_catchable_in_the_workflow(
    runtime: wayline.WorkflowRuntime,
) -> None:
    calls: list[int] = []

    @runtime.activity
    def charge(ctx: wayline.WorkflowActivityContext, amount: float) -> str:
        calls.append(1)
        raise ValueError(f"card declined for {amount}")

    @runtime.activity
    def refund(ctx: wayline.WorkflowActivityContext, reason: str) -> str:
        return f"refunded: {reason}"

    policy = wayline.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=5), max_number_of_attempts=3
    )

    @runtime.workflow
    def compensating(ctx: wayline.WorkflowContext, amount: float) -> Any:
        try:
            yield ctx.call_activity(charge, input=amount, retry_policy=policy)
        except wayline.TaskFailedError as exc:
            compensation = yield ctx.call_activity(refund, input=exc.details.message)
            return {"error_type": exc.details.error_type, "compensation": compensation}
        return "charged"

    with runtime:
        client = runtime.client()
        state = completed(client, client.start_workflow(compensating, input=9.5))

    assert len(calls) == 3
    assert state.output == {
        "error_type": "ValueError",
        "compensation": "refunded: card declined for 9.5",
    }


def test_uncaught_activity_failure_fails_the_workflow_with_details(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.activity
    def explode(ctx: wayline.WorkflowActivityContext) -> None:
        raise KeyError("missing-sku")

    @runtime.workflow
    def careless(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.call_activity(explode)
        return "never"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(careless)
        state = client.wait_for_workflow_completion(iid, timeout=WAIT)
        last = client.get_history(iid)[-1]

    assert state.runtime_status == "FAILED"
    details = state.failure_details
    assert details is not None
    assert details.error_type == "TaskFailedError"
    assert "missing-sku" in details.message
    assert state.serialized_output is None
    assert type(last).__name__ == "ExecutionCompleted"
    assert last.status == "FAILED"
    assert last.failure == details
    with pytest.raises(wayline.WorkflowFailedError, match="missing-sku"):
        state.raise_if_failed()


def test_exception_raised_by_workflow_code_fails_it_with_type_and_message(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def validating(ctx: wayline.WorkflowContext, order: dict[str, Any]) -> Any:
        if order["qty"] <= 0:
            raise ValueError(f"quantity must be positive, got {order['qty']}")
        yield ctx.create_timer(timedelta(0))

    with runtime:
        client = runtime.client()
        state = client.wait_for_workflow_completion(
            client.start_workflow(validating, input={"qty": 0}), timeout=WAIT
        )

    assert state.runtime_status == "FAILED"
    assert state.failure_details is not None
    assert state.failure_details.error_type == "ValueError"
    assert state.failure_details.message == "quantity must be positive, got 0"
    assert "ValueError" in (state.failure_details.stack_trace or "")


def test_non_retryable_error_stops_retries(runtime: wayline.WorkflowRuntime) -> None:
    calls: list[int] = []

    @runtime.activity
    def validate(ctx: wayline.WorkflowActivityContext) -> None:
        calls.append(1)
        raise wayline.NonRetryableError("bad request, retrying will not help")

    policy = wayline.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=5), max_number_of_attempts=5
    )

    @runtime.workflow
    def strict(ctx: wayline.WorkflowContext) -> Any:
        try:
            yield ctx.call_activity(validate, retry_policy=policy)
        except wayline.TaskFailedError as exc:
            return exc.details.error_type
        return "ok"

    with runtime:
        client = runtime.client()
        state = completed(client, client.start_workflow(strict))

    assert state.output == "NonRetryableError"
    assert calls == [1]


def test_activity_result_that_cannot_be_serialized_fails_the_task(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.activity
    def opaque(ctx: wayline.WorkflowActivityContext) -> object:
        return object()

    @runtime.workflow
    def careful(ctx: wayline.WorkflowContext) -> Any:
        try:
            yield ctx.call_activity(opaque)
        except wayline.TaskFailedError as exc:
            return exc.details.error_type
        return "ok"

    with runtime:
        client = runtime.client()
        state = completed(client, client.start_workflow(careful))
    assert state.output == "SerializationError"


def test_retry_policy_validates_like_dapr() -> None:
    bad: list[dict[str, Any]] = [
        {"first_retry_interval": timedelta(seconds=-1), "max_number_of_attempts": 1},
        {"first_retry_interval": timedelta(seconds=1), "max_number_of_attempts": 0},
        {
            "first_retry_interval": timedelta(seconds=1),
            "max_number_of_attempts": 1,
            "backoff_coefficient": 0.5,
        },
        {
            "first_retry_interval": timedelta(seconds=1),
            "max_number_of_attempts": 1,
            "max_retry_interval": timedelta(seconds=-1),
        },
        {
            "first_retry_interval": timedelta(seconds=1),
            "max_number_of_attempts": 1,
            "retry_timeout": timedelta(seconds=-1),
        },
    ]
    for kwargs in bad:
        with pytest.raises(ValueError):
            wayline.RetryPolicy(**kwargs)
    policy = wayline.RetryPolicy(
        first_retry_interval=timedelta(seconds=1),
        max_number_of_attempts=3,
        backoff_coefficient=2,
        max_retry_interval=timedelta(seconds=10),
        retry_timeout=timedelta(seconds=100),
    )
    assert policy.first_retry_interval == timedelta(seconds=1)
    assert policy.max_number_of_attempts == 3
    assert policy.backoff_coefficient == 2
    assert policy.max_retry_interval == timedelta(seconds=10)
    assert policy.retry_timeout == timedelta(seconds=100)


def test_an_activity_no_node_registers_fails_its_task_with_a_clear_error(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def caller(ctx: wayline.WorkflowContext) -> Any:
        try:
            yield ctx.call_activity("no_such_activity", input=1)
        except wayline.TaskFailedError as exc:
            return f"caught: {exc.details.error_type}: {exc.details.message}"
        return "ran"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(caller)
        output = completed(client, iid).output
    assert output.startswith("caught: ActivityNotRegisteredError: activity 'no_such_activity'")
