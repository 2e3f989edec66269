"""Retry policies: the timer, the re-scheduled step, backoff and the limits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from wayline.core.actions import CreateChildWorkflow, CreateTimer, ScheduleTask
from wayline.core.context import WorkflowContext
from wayline.core.events import TaskFailed, TimerOrigin
from wayline.core.executor import failure_from_exception
from wayline.core.retry import RetryPolicy
from wayline.core.task import NonRetryableError, TaskFailedError

from ._harness import (
    Scenario,
    at,
    child_completed,
    child_failed,
    completed,
    failed,
    failure_of,
    fired,
    output,
)


def retrying(policy: RetryPolicy) -> Any:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        return (yield ctx.call_activity("flaky", input="x", retry_policy=policy))

    return wf


def fail_and_retry(run: Scenario, task_id: int, now_seconds: float) -> CreateTimer:
    """Fail ``task_id`` at ``now_seconds``; return the retry timer the workflow asks for."""
    result = run.turn(failed(task_id, f"attempt {task_id}"), now=at(now_seconds))
    (timer,) = result.actions
    assert isinstance(timer, CreateTimer)
    assert timer.origin == TimerOrigin.ACTIVITY_RETRY
    return timer


def test_failed_activity_is_retried_after_a_timer_with_a_new_task_id() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=5), max_number_of_attempts=3)
    run = Scenario(retrying(policy))
    assert run.start().actions == (ScheduleTask(id=1, name="flaky", input='"x"'),)

    result = run.turn(failed(1), now=at(10))
    assert result.actions == (
        CreateTimer(id=2, fire_at=at(15), origin=TimerOrigin.ACTIVITY_RETRY, origin_name=None),
    )
    assert run.turn(fired(2, at(15)), now=at(15)).actions == (
        ScheduleTask(id=3, name="flaky", input='"x"'),
    )
    assert output(run.turn(completed(3, "finally"), now=at(16))) == "finally"


def test_backoff_multiplies_the_delay_per_attempt() -> None:
    policy = RetryPolicy(
        first_retry_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        max_number_of_attempts=4,
    )
    run = Scenario(retrying(policy))
    run.start()
    delays = []
    task_id = 1
    now = 100.0
    for _ in range(3):
        timer = fail_and_retry(run, task_id, now)
        delays.append(timer.fire_at - at(now))
        now = (timer.fire_at - at(0)).total_seconds()
        (retry,) = run.turn(fired(timer.id, timer.fire_at), now=timer.fire_at).actions
        assert isinstance(retry, ScheduleTask)
        assert retry.id == timer.id + 1
        task_id = retry.id
    assert delays == [timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=4)]

    # The fourth attempt was the last one: its failure reaches the workflow.
    details = failure_of(run.turn(failed(task_id, "attempt 4"), now=at(now)))
    assert details.message == f"activity task #{task_id} failed: attempt 4"


def test_max_retry_interval_caps_each_delay() -> None:
    policy = RetryPolicy(
        first_retry_interval=timedelta(seconds=10),
        backoff_coefficient=3.0,
        max_retry_interval=timedelta(seconds=25),
        max_number_of_attempts=5,
    )
    run = Scenario(retrying(policy))
    run.start()
    delays = []
    task_id = 1
    for _ in range(3):
        timer = fail_and_retry(run, task_id, 0)
        delays.append(timer.fire_at - at(0))
        (retry,) = run.turn(fired(timer.id, timer.fire_at), now=timer.fire_at).actions
        task_id = retry.id
    assert delays == [timedelta(seconds=10), timedelta(seconds=25), timedelta(seconds=25)]


def test_retry_timeout_stops_retrying_once_the_summed_delays_reach_it() -> None:
    policy = RetryPolicy(
        first_retry_interval=timedelta(seconds=10),
        backoff_coefficient=2.0,
        max_number_of_attempts=10,
        retry_timeout=timedelta(seconds=25),
    )
    run = Scenario(retrying(policy))
    run.start()
    timer = fail_and_retry(run, 1, 0)  # 10 s after the first attempt: inside the timeout
    (retry,) = run.turn(fired(timer.id, timer.fire_at), now=timer.fire_at).actions
    # The next attempt would start 10 + 20 = 30 s after the first one: past 25 s.
    details = failure_of(run.turn(failed(retry.id, "still down"), now=at(11)))
    assert details.message == "activity task #3 failed: still down"


def test_exhausted_retries_raise_a_catchable_task_failed_error() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=2)

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        try:
            yield ctx.call_activity("flaky", retry_policy=policy)
        except TaskFailedError as exc:
            return f"gave up: {exc.details.message}"
        return "ok"

    run = Scenario(wf)
    run.start()
    timer = fail_and_retry(run, 1, 0)
    run.turn(fired(timer.id, timer.fire_at), now=timer.fire_at)
    assert output(run.turn(failed(3, "second"))) == "gave up: second"


def test_single_attempt_policy_never_retries() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=1)
    run = Scenario(retrying(policy))
    run.start()
    assert failure_of(run.turn(failed(1, "once"))).message == "activity task #1 failed: once"


def test_non_retriable_failure_is_not_retried() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=5)
    run = Scenario(retrying(policy))
    run.start()
    details = failure_of(run.turn(failed(1, "bad input", non_retriable=True)))
    assert details.message == "activity task #1 failed: bad input"


def test_retried_step_keeps_its_place_among_concurrent_steps() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=2), max_number_of_attempts=2)

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        first = ctx.call_activity("a", retry_policy=policy)
        second = ctx.call_activity("b")
        return [(yield first), (yield second)]

    run = Scenario(wf)
    run.start()
    # Task 2 completes in the same turn that task 1 fails: a timer, nothing else.
    result = run.turn(failed(1), completed(2, "B"), now=at(0))
    assert result.actions == (CreateTimer(id=3, fire_at=at(2), origin=TimerOrigin.ACTIVITY_RETRY),)
    assert run.turn(fired(3, at(2)), now=at(2)).actions == (ScheduleTask(id=4, name="a"),)
    assert output(run.turn(completed(4, "A"))) == ["A", "B"]


def test_duplicate_retry_timer_does_not_schedule_twice() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=2), max_number_of_attempts=3)
    run = Scenario(retrying(policy))
    run.start()
    timer = fail_and_retry(run, 1, 0)
    assert len(run.turn(fired(timer.id, timer.fire_at)).actions) == 1
    assert run.turn(fired(timer.id, timer.fire_at)).actions == ()


def test_activity_raising_non_retryable_error_is_not_retried() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=5)

    class CardDeclined(NonRetryableError):
        pass

    try:
        raise CardDeclined("card declined")
    except CardDeclined as exc:  # as the engine records an activity's exception
        event = TaskFailed(
            timestamp=at(0), task_scheduled_id=1, failure=failure_from_exception(exc)
        )
    assert event.failure.non_retriable

    run = Scenario(retrying(policy))
    run.start()
    details = failure_of(run.turn(event))
    assert details.message == "activity task #1 failed: card declined"


# ----- child workflows -------------------------------------------------------------------


def test_failed_child_workflow_is_retried_with_a_child_workflow_retry_timer() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=30), max_number_of_attempts=3)

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        return (yield ctx.call_child_workflow("child", input=7, retry_policy=policy))

    run = Scenario(wf)
    assert run.start().actions == (
        CreateChildWorkflow(id=1, instance_id="wf-1:0001", name="child", input="7"),
    )
    assert run.turn(child_failed(1), now=at(60)).actions == (
        CreateTimer(id=2, fire_at=at(90), origin=TimerOrigin.CHILD_WORKFLOW_RETRY),
    )
    # The retry is a new step, so the default child id follows its new sequence number.
    assert run.turn(fired(2, at(90)), now=at(90)).actions == (
        CreateChildWorkflow(id=3, instance_id="wf-1:0003", name="child", input="7"),
    )
    assert output(run.turn(child_completed(3, "child output"))) == "child output"


def test_retried_child_with_explicit_id_keeps_that_id() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=2)

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        return (yield ctx.call_child_workflow("child", instance_id="kid", retry_policy=policy))

    run = Scenario(wf)
    run.start()
    (timer,) = run.turn(child_failed(1), now=at(0)).actions
    assert run.turn(fired(timer.id, at(1)), now=at(1)).actions == (
        CreateChildWorkflow(id=3, instance_id="kid", name="child"),
    )
    details = failure_of(run.turn(child_failed(3, "again")))
    assert details.message == "child workflow #3 failed: again"


def test_non_retriable_child_failure_is_not_retried() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=1), max_number_of_attempts=5)

    def wf(ctx: WorkflowContext, _: Any) -> Any:
        return (yield ctx.call_child_workflow("child", retry_policy=policy))

    run = Scenario(wf)
    run.start()
    details = failure_of(run.turn(child_failed(1, "fatal", non_retriable=True)))
    assert details.message == "child workflow #1 failed: fatal"


# ----- the policy object -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"first_retry_interval": timedelta(seconds=-1)}, "first_retry_interval must be >= 0"),
        ({"max_number_of_attempts": 0}, "max_number_of_attempts must be >= 1"),
        ({"backoff_coefficient": 0.5}, "backoff_coefficient must be >= 1"),
        ({"max_retry_interval": timedelta(seconds=-1)}, "max_retry_interval must be >= 0"),
        ({"retry_timeout": timedelta(microseconds=-1)}, "retry_timeout must be >= 0"),
    ],
)
def test_policy_rejects_invalid_values(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {
        "first_retry_interval": timedelta(seconds=1),
        "max_number_of_attempts": 3,
        **kwargs,
    }
    with pytest.raises(ValueError, match=f"^{message}$"):
        RetryPolicy(**arguments)


def test_policy_accepts_the_boundary_values() -> None:
    policy = RetryPolicy(
        first_retry_interval=timedelta(0),
        max_number_of_attempts=1,
        backoff_coefficient=1,
        max_retry_interval=timedelta(0),
        retry_timeout=timedelta(0),
    )
    assert policy.first_retry_interval == timedelta(0)
    assert policy.max_number_of_attempts == 1
    assert policy.backoff_coefficient == 1
    assert policy.max_retry_interval == timedelta(0)
    assert policy.retry_timeout == timedelta(0)


def test_policy_defaults_and_repr() -> None:
    policy = RetryPolicy(first_retry_interval=timedelta(seconds=2), max_number_of_attempts=3)
    assert policy.backoff_coefficient == 1.0
    assert policy.max_retry_interval is None
    assert policy.retry_timeout is None
    assert repr(policy) == (
        "RetryPolicy(first_retry_interval=datetime.timedelta(seconds=2), "
        "max_number_of_attempts=3, backoff_coefficient=1.0, max_retry_interval=None, "
        "retry_timeout=None)"
    )


def test_next_delay_sequence() -> None:
    policy = RetryPolicy(
        first_retry_interval=timedelta(seconds=1),
        backoff_coefficient=None,  # Dapr allows None: no backoff
        max_number_of_attempts=3,
    )
    assert [policy.next_delay(n) for n in (1, 2, 3, 4)] == [
        timedelta(seconds=1),
        timedelta(seconds=1),
        None,
        None,
    ]


def test_next_delay_with_retry_timeout_counts_only_the_delays() -> None:
    policy = RetryPolicy(
        first_retry_interval=timedelta(seconds=5),
        max_number_of_attempts=10,
        retry_timeout=timedelta(seconds=15),
    )
    assert policy.next_delay(1) == timedelta(seconds=5)
    assert policy.next_delay(2) == timedelta(seconds=5)
    assert policy.next_delay(3) is None  # 5 + 5 + 5 reaches the 15 s timeout
