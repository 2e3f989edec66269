"""Statuses and the management verbs: start, pause/resume, terminate, purge, ids."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import wayline
from support.wait import wait_until
from wayline.errors import (
    InstanceAlreadyExistsError,
    InstanceNotFoundError,
    InstanceNotTerminalError,
    InvalidInstanceIdError,
    InvalidStateError,
    PayloadTooLargeError,
    SerializationError,
    WorkflowNameMissingError,
)

from ._support import WAIT, completed, events_of, settings, wait_for_history, wait_for_status
from .conftest import Runtimes

START = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)


def _waiter(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def waiter(ctx: wayline.WorkflowContext, value: Any = None) -> Any:
        got = yield ctx.wait_for_external_event("go")
        return {"input": value, "event": got}


def test_pending_until_start_at_then_running_then_completed(runtimes: Runtimes) -> None:
    clock = wayline.ManualClock(START)
    runtime = runtimes.new(clock=clock)
    _waiter(runtime)

    with runtime:
        client = runtime.client()
        iid = client.start_workflow("waiter", input=1, start_at=START + timedelta(hours=2))
        state = client.get_workflow(iid)
        assert state.runtime_status == "PENDING"
        assert state.scheduled_start_at == START + timedelta(hours=2)
        assert state.created_at == START
        assert runtime.wait_idle() == START + timedelta(hours=2)  # its start, still ahead
        assert client.get_workflow(iid).runtime_status == "PENDING"
        assert client.get_history(iid) == []

        clock.advance(timedelta(hours=2))
        assert client.wait_for_workflow_start(iid, timeout=WAIT).runtime_status == "RUNNING"
        client.raise_event(iid, "go", 2)
        state = completed(client, iid)

    assert state.output == {"input": 1, "event": 2}
    assert state.completed_at == START + timedelta(hours=2)
    assert state.last_updated_at == START + timedelta(hours=2)


def test_pending_instance_can_be_terminated_before_it_starts(runtimes: Runtimes) -> None:
    clock = wayline.ManualClock(START)
    runtime = runtimes.new(clock=clock)
    _waiter(runtime)

    with runtime:
        client = runtime.client()
        iid = client.start_workflow("waiter", start_at=START + timedelta(days=7))
        client.terminate_workflow(iid, output="never mind")
        state = client.wait_for_workflow_completion(iid, timeout=WAIT)
        assert state.runtime_status == "TERMINATED"
        assert state.output == "never mind"
        clock.advance(timedelta(days=8))
        assert client.get_workflow(iid).runtime_status == "TERMINATED"


def test_pause_and_resume_move_between_running_and_suspended(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _waiter(runtime)
    with runtime:
        client = runtime.client()
        iid = client.start_workflow("waiter")
        wait_for_status(client, iid, "RUNNING")

        # the status changes before the call returns, as Dapr's own examples assert
        client.pause_workflow(iid)
        assert client.get_workflow(iid).runtime_status == "SUSPENDED"
        client.pause_workflow(iid)  # pausing twice is harmless
        client.resume_workflow(iid)
        assert client.get_workflow(iid).runtime_status == "RUNNING"
        client.resume_workflow(iid)  # resuming a running instance is harmless
        assert client.get_workflow(iid).runtime_status == "RUNNING"

        client.raise_event(iid, "go", "after resume")
        state = completed(client, iid)
        history = [type(e).__name__ for e in client.get_history(iid)]

        with pytest.raises(InvalidStateError):
            client.pause_workflow(iid)
        with pytest.raises(InvalidStateError):
            client.resume_workflow(iid)
        assert client.get_workflow(iid).runtime_status == "COMPLETED"

    assert state.output == {"input": None, "event": "after resume"}
    assert history.count("ExecutionSuspended") == 1
    assert history.count("ExecutionResumed") == 1


def test_suspended_instance_makes_no_progress_with_finished_activities(
    runtime: wayline.WorkflowRuntime,
) -> None:
    release = threading.Event()

    @runtime.activity
    def slow(ctx: wayline.WorkflowActivityContext) -> str:
        release.wait(WAIT)
        return "result"

    @runtime.workflow
    def stepwise(ctx: wayline.WorkflowContext) -> Any:
        first = yield ctx.call_activity(slow)
        return first

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(stepwise)
        wait_for_history(client, iid, "TaskScheduled")
        client.pause_workflow(iid)
        wait_for_status(client, iid, "SUSPENDED")
        release.set()  # the activity finishes while the workflow is paused
        runtime.wait_idle()  # everything that can happen now has happened
        assert client.get_workflow(iid).runtime_status == "SUSPENDED"
        assert events_of(client, iid, "TaskCompleted") == []
        client.resume_workflow(iid)
        assert completed(client, iid).output == "result"


def test_a_pause_accepted_while_a_turn_runs_holds_from_then_on(
    runtime: wayline.WorkflowRuntime, db_url: str
) -> None:
    in_turn, release = threading.Event(), threading.Event()

    @runtime.workflow
    def gated(ctx: wayline.WorkflowContext) -> Any:
        first = yield ctx.wait_for_external_event("first")
        if not ctx.is_replaying:
            in_turn.set()
            release.wait(WAIT)
        second = yield ctx.wait_for_external_event("second")
        return [first, second]

    # A client with its own connection: the gate holds the engine's thread.
    with runtime, wayline.WorkflowClient(db_url) as outside:
        client = runtime.client()
        iid = client.start_workflow(gated)
        wait_for_status(client, iid, "RUNNING")
        client.raise_event(iid, "first", 1)
        assert in_turn.wait(WAIT)
        outside.pause_workflow(iid)
        outside.raise_event(iid, "second", 2)
        assert outside.get_workflow(iid).runtime_status == "SUSPENDED"
        release.set()  # the turn that ran meanwhile commits: the pause stands
        wait_for_history(client, iid, "ExecutionSuspended")
        runtime.wait_idle()  # everything that can happen now has happened
        assert client.get_workflow(iid).runtime_status == "SUSPENDED"
        client.resume_workflow(iid)
        assert completed(client, iid).output == [1, 2]
        kinds = [type(e).__name__ for e in client.get_history(iid)]
    second_event = kinds.index("EventRaised", kinds.index("EventRaised") + 1)
    assert kinds.index("ExecutionSuspended") < kinds.index("ExecutionResumed") < second_event


def test_terminate_records_the_output_and_is_a_no_op_once_finished(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _waiter(runtime)
    with runtime:
        client = runtime.client()
        iid = client.start_workflow("waiter")
        wait_for_status(client, iid, "RUNNING")
        client.terminate_workflow(iid, output={"cancelled_by": "ops"})
        state = client.wait_for_workflow_completion(iid, timeout=WAIT)
        assert state.runtime_status == "TERMINATED"
        assert state.serialized_output == '{"cancelled_by": "ops"}'
        assert state.completed_at is not None
        history = client.get_history(iid)
        assert [type(e).__name__ for e in history][-2:] == [
            "ExecutionTerminated",
            "ExecutionCompleted",
        ]

        client.terminate_workflow(iid, output="again")
        client.raise_event(iid, "go", 1)
        assert client.get_workflow(iid).output == {"cancelled_by": "ops"}
        assert client.get_history(iid) == history


def test_terminate_a_suspended_instance(runtime: wayline.WorkflowRuntime) -> None:
    _waiter(runtime)
    with runtime:
        client = runtime.client()
        iid = client.start_workflow("waiter")
        wait_for_status(client, iid, "RUNNING")
        client.pause_workflow(iid)
        wait_for_status(client, iid, "SUSPENDED")
        client.terminate_workflow(iid)
        state = client.wait_for_workflow_completion(iid, timeout=WAIT)
    assert state.runtime_status == "TERMINATED"
    assert state.serialized_output is None


def test_purge_only_finished_instances_then_they_are_unknown(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _waiter(runtime)
    with runtime:
        client = runtime.client()
        iid = client.start_workflow("waiter", input="keep me")
        wait_for_status(client, iid, "RUNNING")
        before = client.get_workflow(iid)
        history = client.get_history(iid)

        with pytest.raises(InstanceNotTerminalError) as refused:
            client.purge_workflow(iid)
        assert "RUNNING" in str(refused.value)
        assert client.get_workflow(iid) == before
        assert client.get_history(iid) == history

        client.pause_workflow(iid)
        wait_for_status(client, iid, "SUSPENDED")
        with pytest.raises(InstanceNotTerminalError):
            client.purge_workflow(iid)
        client.resume_workflow(iid)

        client.raise_event(iid, "go")
        completed(client, iid)
        assert client.purge_workflow(iid) == 1

        with pytest.raises(InstanceNotFoundError) as missing:
            client.get_workflow(iid)
        assert missing.value.error_code == "ERR_INSTANCE_ID_NOT_FOUND"
        assert client.get_workflow_state(iid) is None
        for call in (
            lambda: client.get_history(iid),
            lambda: client.purge_workflow(iid),
            lambda: client.terminate_workflow(iid),
            lambda: client.raise_event(iid, "go"),
            lambda: client.pause_workflow(iid),
            lambda: client.resume_workflow(iid),
            lambda: client.wait_for_workflow_completion(iid, timeout=1),
        ):
            with pytest.raises(InstanceNotFoundError):
                call()
        assert client.list_workflows().workflows == []


def test_failed_and_terminated_instances_can_be_purged(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def broken(ctx: wayline.WorkflowContext) -> Any:
        raise RuntimeError("broken")

    _waiter(runtime)
    with runtime:
        client = runtime.client()
        failed = client.start_workflow(broken)
        assert client.wait_for_workflow_completion(failed, timeout=WAIT).runtime_status == "FAILED"
        terminated = client.start_workflow("waiter")
        client.terminate_workflow(terminated)
        client.wait_for_workflow_completion(terminated, timeout=WAIT)
        assert client.purge_workflow(failed) == 1
        assert client.purge_workflow(terminated) == 1
        assert client.list_workflows().workflows == []


def test_instance_ids_are_validated_like_dapr_and_nothing_is_created(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _waiter(runtime)
    client = runtime.client()
    cases = {
        "": "ERR_INSTANCE_ID_PROVIDED_MISSING",
        "has space": "ERR_INSTANCE_ID_INVALID",
        "dot.ted": "ERR_INSTANCE_ID_INVALID",
        "colon:id": "ERR_INSTANCE_ID_INVALID",
        "slash/id": "ERR_INSTANCE_ID_INVALID",
        "x" * 65: "ERR_INSTANCE_ID_TOO_LONG",
        "é" * 33: "ERR_INSTANCE_ID_TOO_LONG",  # 66 bytes in UTF-8
    }
    for bad, code in cases.items():
        with pytest.raises(InvalidInstanceIdError) as caught:
            client.start_workflow("waiter", instance_id=bad)
        assert caught.value.error_code == code, bad
        assert isinstance(caught.value, ValueError)
    assert client.list_workflows().workflows == []

    for good in ("x" * 64, "Order_123-abc", "é" * 32, "注文123"):
        assert client.start_workflow("waiter", instance_id=good) == good
    assert client.count_workflows() == 4

    # other operations only require a non-empty id
    for call in (
        lambda: client.get_workflow(""),
        lambda: client.get_history(""),
        lambda: client.raise_event("", "go"),
        lambda: client.pause_workflow(""),
        lambda: client.resume_workflow(""),
        lambda: client.terminate_workflow(""),
        lambda: client.purge_workflow(""),
    ):
        with pytest.raises(InvalidInstanceIdError) as empty:
            call()
        assert empty.value.error_code == "ERR_INSTANCE_ID_PROVIDED_MISSING"
    assert client.count_workflows() == 4


def test_generated_ids_are_uuid4_with_dashes(runtime: wayline.WorkflowRuntime) -> None:
    _waiter(runtime)
    client = runtime.client()
    ids = {client.start_workflow("waiter") for _ in range(5)}
    assert len(ids) == 5
    for iid in ids:
        assert str(uuid.UUID(iid)) == iid
        assert uuid.UUID(iid).version == 4


def test_duplicate_active_id_is_refused_and_finished_id_is_reusable(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _waiter(runtime)
    with runtime:
        client = runtime.client()
        client.start_workflow("waiter", input="first", instance_id="order-1")
        wait_for_status(client, "order-1", "RUNNING")
        before = client.get_workflow("order-1")

        with pytest.raises(InstanceAlreadyExistsError) as dup:
            client.start_workflow("waiter", input="second", instance_id="order-1")
        assert dup.value.error_code == "ERR_START_WORKFLOW"
        assert client.get_workflow("order-1") == before

        client.raise_event("order-1", "go", "one")
        assert completed(client, "order-1").output == {"input": "first", "event": "one"}

        client.start_workflow("waiter", input="second", instance_id="order-1")
        client.raise_event("order-1", "go", "two")
        state = completed(client, "order-1")
        started = events_of(client, "order-1", "ExecutionStarted")

    assert state.output == {"input": "second", "event": "two"}
    assert [e.input for e in started] == ['"second"']  # the old history is gone


def test_bad_start_requests_change_nothing(runtime: wayline.WorkflowRuntime) -> None:
    _waiter(runtime)
    client = runtime.client()
    with pytest.raises(WorkflowNameMissingError) as no_name:
        client.start_workflow("")
    assert no_name.value.error_code == "ERR_WORKFLOW_NAME_MISSING"
    with pytest.raises(SerializationError):
        client.start_workflow("waiter", input={"not json": object()})
    with pytest.raises(PayloadTooLargeError) as too_large:
        client.start_workflow("waiter", input="x" * (4 * 1024 * 1024 + 1))
    assert "4194304" in str(too_large.value)
    assert client.list_workflows().workflows == []
    assert client.count_workflows() == 0


def test_oversized_event_and_terminate_payloads_change_nothing(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _waiter(runtime)
    big = "y" * (4 * 1024 * 1024)
    with runtime:
        client = runtime.client()
        iid = client.start_workflow("waiter")
        wait_for_status(client, iid, "RUNNING")
        history = client.get_history(iid)
        with pytest.raises(PayloadTooLargeError):
            client.raise_event(iid, "go", big)
        with pytest.raises(PayloadTooLargeError):
            client.terminate_workflow(iid, output=big)
        assert client.get_history(iid) == history
        assert client.get_workflow(iid).runtime_status == "RUNNING"
        client.raise_event(iid, "go", "small")
        assert completed(client, iid).output == {"input": None, "event": "small"}


def test_oversized_workflow_output_fails_the_workflow(runtimes: Runtimes) -> None:
    runtime = runtimes.new(settings=settings(max_payload_bytes=100))

    @runtime.workflow
    def verbose(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.create_timer(timedelta(0))
        return "z" * 200

    with runtime:
        client = runtime.client()
        state = client.wait_for_workflow_completion(client.start_workflow(verbose), timeout=WAIT)
    assert state.runtime_status == "FAILED"
    assert state.failure_details is not None
    assert state.failure_details.error_type == "SerializationError"
    assert state.serialized_output is None


def test_wait_for_completion_times_out_with_a_clear_error(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _waiter(runtime)
    with runtime:
        client = runtime.client()
        iid = client.start_workflow("waiter")
        with pytest.raises(TimeoutError, match=iid):
            client.wait_for_workflow_completion(iid, timeout=0.2)


def test_plain_function_workflows_and_unserializable_outputs(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def plain(ctx: wayline.WorkflowContext, n: int) -> Any:
        return {"doubled": n * 2, "id": ctx.instance_id}

    @runtime.workflow
    def returns_object(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.create_timer(timedelta(0))
        return object()

    with runtime:
        client = runtime.client()
        state = completed(client, client.start_workflow(plain, input=4, instance_id="plain-1"))
        assert state.output == {"doubled": 8, "id": "plain-1"}

        bad = client.wait_for_workflow_completion(
            client.start_workflow(returns_object), timeout=WAIT
        )
    assert bad.runtime_status == "FAILED"
    assert bad.failure_details is not None
    assert bad.failure_details.error_type == "SerializationError"


def test_terminate_discards_running_activities_and_pending_timers(
    runtimes: Runtimes,
) -> None:
    clock = wayline.ManualClock(START)
    runtime = runtimes.new(clock=clock)
    release = threading.Event()
    finished: list[str] = []

    @runtime.activity
    def long_job(ctx: wayline.WorkflowActivityContext) -> str:
        release.wait(WAIT)
        finished.append(ctx.workflow_id)
        return "late result"

    @runtime.workflow
    def busy(ctx: wayline.WorkflowContext) -> Any:
        job = ctx.call_activity(long_job)
        timer = ctx.create_timer(timedelta(hours=1))
        yield wayline.when_all([job, timer])
        return "finished"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(busy)
        wait_for_history(client, iid, "TimerCreated")
        client.terminate_workflow(iid, output="stopped")
        state = client.wait_for_workflow_completion(iid, timeout=WAIT)
        history = client.get_history(iid)

        release.set()
        wait_until(lambda: finished, what="the activity to finish")
        clock.advance(timedelta(hours=2))
        assert client.get_history(iid) == history  # the late result and timer changed nothing
        assert client.get_workflow(iid).output == "stopped"
    assert state.runtime_status == "TERMINATED"


def test_terminate_and_force_purge_work_without_the_workflows_code(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _waiter(runtime)
    with runtime:
        client = runtime.client()
        typo = client.start_workflow("waitre", instance_id="typo")  # nobody registers it
        assert client.get_workflow(typo).runtime_status == "PENDING"
        client.terminate_workflow(typo, output="misspelled")
        state = client.wait_for_workflow_completion(typo, timeout=WAIT)
        assert (state.runtime_status, state.output) == ("TERMINATED", "misspelled")

        stuck = client.start_workflow("waitre", instance_id="stuck")
        with pytest.raises(InstanceNotTerminalError):
            client.purge_workflow(stuck)  # not finished: refused, nothing deleted
        assert client.get_workflow(stuck).runtime_status == "PENDING"
        running = client.start_workflow("waiter", instance_id="running")
        wait_for_status(client, running, "RUNNING")
        assert client.purge_workflow(stuck, force=True) == 1
        assert client.purge_workflow(running, force=True) == 1
        for iid in (stuck, running):
            assert client.get_workflow_state(iid) is None
