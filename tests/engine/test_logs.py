"""What the engine logs when something goes wrong: one line with the instance id and
the error's message; the stack only at DEBUG."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

import wayline
from support.wait import wait_until

from ._support import WAIT, settings, wait_for_history, wait_for_status
from .conftest import Runtimes


def _lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("wayline") and r.levelno == level
    ]


def test_a_failed_workflow_and_its_failed_retried_activity_are_logged(
    runtime: wayline.WorkflowRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="wayline.engine")

    @runtime.activity
    def flaky(ctx: wayline.WorkflowActivityContext) -> None:
        raise ValueError("the card was declined")

    @runtime.workflow
    def checkout(ctx: wayline.WorkflowContext) -> Any:
        policy = wayline.RetryPolicy(
            first_retry_interval=timedelta(milliseconds=10), max_number_of_attempts=2
        )
        yield ctx.call_activity(flaky, retry_policy=policy)

    with runtime:
        client = runtime.client()
        client.start_workflow(checkout, instance_id="order-7")
        wait_for_status(client, "order-7", "FAILED")

    warnings = _lines(caplog, logging.WARNING)
    failed_activity = (
        "activity 'flaky' of workflow instance 'order-7' failed: ValueError: the card was declined"
    )
    assert warnings.count(failed_activity) == 2
    retries = [
        w
        for w in warnings
        if w.startswith("workflow instance 'order-7' retries its failed activity at ")
    ]
    assert len(retries) == 1
    (failed,) = [
        w for w in warnings if w.startswith("workflow instance 'order-7' (checkout) failed")
    ]
    assert "TaskFailedError" in failed and "the card was declined" in failed
    assert all("\n" not in w for w in warnings)  # one line each
    stacks = _lines(caplog, logging.DEBUG)
    assert any("Traceback" in s and "raise ValueError" in s for s in stacks)
    records = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert {getattr(r, "instance_id", None) for r in records} == {"order-7"}


def test_no_stack_is_logged_above_debug(
    runtime: wayline.WorkflowRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    @runtime.workflow
    def broken(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.create_timer(timedelta(0))
        raise RuntimeError("no such customer")

    with runtime:
        client = runtime.client()
        client.start_workflow(broken, instance_id="b-1")
        wait_for_status(client, "b-1", "FAILED")

    (line,) = _lines(caplog, logging.WARNING)
    assert line == "workflow instance 'b-1' (broken) failed: RuntimeError: no such customer"
    assert not _lines(caplog, logging.DEBUG)


def test_a_result_that_arrives_after_terminate_is_logged_as_discarded(
    runtime: wayline.WorkflowRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wayline.engine")
    release = threading.Event()

    @runtime.activity
    def slow(ctx: wayline.WorkflowActivityContext) -> str:
        release.wait(WAIT)
        return "late"

    @runtime.workflow
    def waits(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.call_activity(slow))

    with runtime:
        client = runtime.client()
        client.start_workflow(waits, instance_id="t-1")
        wait_for_history(client, "t-1", "TaskScheduled")
        client.terminate_workflow("t-1")
        wait_for_status(client, "t-1", "TERMINATED")
        release.set()
        wait_until(
            lambda: any(
                "'slow' of workflow instance 't-1' was discarded" in m
                for m in _lines(caplog, logging.INFO)
            ),
            what="the discarded result to be logged",
        )


def _info(caplog: pytest.LogCaptureFixture, instance_id: str) -> list[str]:
    """The INFO lines about one instance, in order."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.INFO and getattr(r, "instance_id", None) == instance_id
    ]


def test_the_lifecycle_of_instances_is_logged_at_info(
    runtime: wayline.WorkflowRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wayline")

    @runtime.workflow(name="done")
    def done(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.create_timer(timedelta(0))
        return "ok"

    @runtime.workflow(name="again")
    def again(ctx: wayline.WorkflowContext, round: int) -> Any:
        yield ctx.create_timer(timedelta(0))
        if round == 0:
            ctx.continue_as_new(1)
        return round

    @runtime.workflow(name="waits")
    def waits(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("never")

    with runtime:
        client = runtime.client()
        client.start_workflow("done", instance_id="c-1")
        client.start_workflow("again", input=0, instance_id="n-1")
        client.start_workflow("waits", instance_id="t-1")
        wait_for_status(client, "c-1", "COMPLETED")
        wait_for_status(client, "n-1", "COMPLETED")
        wait_for_status(client, "t-1", "RUNNING")
        client.terminate_workflow("t-1")
        wait_for_status(client, "t-1", "TERMINATED")
        assert client.purge_workflow("t-1") == 1

    assert _info(caplog, "c-1") == [
        "workflow instance 'c-1' (done) started",
        "workflow instance 'c-1' (done) completed",
    ]
    assert _info(caplog, "n-1") == [
        "workflow instance 'n-1' (again) started",
        "workflow instance 'n-1' (again) continued as new",
        "workflow instance 'n-1' (again) started",
        "workflow instance 'n-1' (again) completed",
    ]
    assert _info(caplog, "t-1") == [
        "workflow instance 't-1' (waits) started",
        "workflow instance 't-1' (waits) terminated",
        "workflow instance 't-1' (waits) purged",
    ]
    about = [r for r in caplog.records if getattr(r, "instance_id", None) is not None]
    names = {"c-1": "done", "n-1": "again", "t-1": "waits"}
    assert all(r.workflow_name == names[r.instance_id] for r in about)  # type: ignore[attr-defined]
    statuses = [getattr(r, "status", None) for r in about if r.instance_id == "t-1"]  # type: ignore[attr-defined]
    assert statuses == ["RUNNING", "TERMINATED", None]
    (purged,) = [r for r in about if r.getMessage().endswith("purged")]
    assert purged.name == "wayline.client" and purged.count == 1  # type: ignore[attr-defined]


def test_no_lifecycle_line_is_made_above_info(
    runtime: wayline.WorkflowRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="wayline")

    @runtime.workflow(name="done")
    def done(ctx: wayline.WorkflowContext) -> Any:
        return "ok"
        yield

    with runtime:
        client = runtime.client()
        client.start_workflow("done", instance_id="quiet")
        wait_for_status(client, "quiet", "COMPLETED")
        client.purge_workflow("quiet")

    assert not [r for r in caplog.records if r.name.startswith("wayline")]


def test_activity_records_carry_the_workflow_and_activity_names(
    runtime: wayline.WorkflowRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    @runtime.activity(name="charge")
    def charge(ctx: wayline.WorkflowActivityContext, amount: int) -> None:
        raise ValueError(f"declined {amount}")

    @runtime.workflow(name="checkout")
    def checkout(ctx: wayline.WorkflowContext) -> Any:
        policy = wayline.RetryPolicy(
            first_retry_interval=timedelta(milliseconds=10), max_number_of_attempts=2
        )
        yield ctx.call_activity(charge, input=5, retry_policy=policy)

    with runtime:
        client = runtime.client()
        client.start_workflow("checkout", instance_id="order-9")
        wait_for_status(client, "order-9", "FAILED")

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4  # two failed attempts, one retry, the failed workflow
    for record in warnings:
        assert (record.instance_id, record.workflow_name) == ("order-9", "checkout")  # type: ignore[attr-defined]
    activity = [r for r in warnings if r.getMessage().startswith("activity ")]
    assert len(activity) == 2
    for record in activity:
        assert record.activity_name == "charge"  # type: ignore[attr-defined]
        assert record.error_type == "ValueError"  # type: ignore[attr-defined]
    (failed,) = [r for r in warnings if getattr(r, "status", None) == "FAILED"]
    assert failed.error_type == "TaskFailedError"  # type: ignore[attr-defined]


def test_a_node_logs_its_start_and_stop_with_its_configuration(
    runtimes: Runtimes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wayline.engine")
    policy = wayline.RetentionPolicy(completed=timedelta(hours=2))
    runtime = runtimes.new(
        settings=settings(node_id="node-a", retention=policy), max_concurrent_activities=7
    )
    with runtime:
        pass

    lines = [
        r
        for r in caplog.records
        if r.levelno == logging.INFO and r.getMessage().startswith("node ")
    ]
    assert len(lines) == 2
    start, stop = (r.getMessage() for r in lines)
    assert start.startswith("node node-a of app 'wayline' started: 0 workflows, 0 activities;")
    for part in ("up to 64 turns and 7 activities at once", "turn lease 30 s", "completed 7200 s"):
        assert part in start, start
    password = urlsplit(runtimes.url).password
    if password:  # PostgreSQL: the store's URL, its password masked
        masked = runtimes.url.replace(f":{password}@", ":***@")
        assert masked != runtimes.url and f"store {masked};" in start
    else:
        assert f"store {runtimes.url};" in start
    assert stop.startswith("node node-a stopped after ")
    assert stop.endswith("; 0 activity tasks handed back for the next start")
    assert {(r.node_id, r.app_id) for r in lines} == {("node-a", "wayline")}  # type: ignore[attr-defined]


def test_instances_deleted_by_retention_are_counted_in_the_log(
    runtimes: Runtimes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wayline.engine")
    clock = wayline.ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    policy = wayline.RetentionPolicy(any_terminal=timedelta(minutes=1))
    runtime = runtimes.new(clock=clock, settings=settings(retention=policy))

    @runtime.workflow(name="done")
    def done(ctx: wayline.WorkflowContext) -> Any:
        return "ok"
        yield

    with runtime:
        client = runtime.client()
        for n in range(3):
            client.start_workflow("done", instance_id=f"r-{n}")
        for n in range(3):
            wait_for_status(client, f"r-{n}", "COMPLETED")
        clock.advance(timedelta(minutes=2))
        wait_until(
            lambda: all(client.get_workflow_state(f"r-{n}") is None for n in range(3)),
            what="the instances to be deleted",
        )

        def deletions() -> list[logging.LogRecord]:
            return [r for r in caplog.records if "whose retention ran out" in r.getMessage()]

        # one sweep, or several (each logs its own count)
        wait_until(
            lambda: sum(r.count for r in deletions()) == 3,  # type: ignore[attr-defined]
            what="the deletions to be logged",
        )
    deleted = deletions()
    assert all(r.getMessage().startswith(f"deleted {r.count} ") for r in deleted)  # type: ignore[attr-defined]
