"""What the engine logs when something goes wrong: one line with the instance id and
the error's message; the stack only at DEBUG."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

import pytest

import wayline
from support.wait import wait_until

from ._support import WAIT, wait_for_history, wait_for_status


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
