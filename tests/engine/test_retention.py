"""Retention (Dapr 1.17 stateRetentionPolicy): finished instances deleted when due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import wayline
from support.wait import wait_until
from wayline.engine.retention import parse_duration

from ._support import settings, wait_for_status
from .conftest import Runtimes


def _workflows(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow(name="ok")
    def ok(ctx: wayline.WorkflowContext) -> str:
        return "done"

    @runtime.workflow(name="broken")
    def broken(ctx: wayline.WorkflowContext) -> None:
        raise RuntimeError("boom")

    @runtime.workflow(name="waits")
    def waits(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("never")


def test_finished_instances_are_deleted_when_their_status_retention_runs_out(
    runtimes: Runtimes,
) -> None:
    clock = wayline.ManualClock(datetime(2030, 1, 1, tzinfo=UTC))
    before = runtimes.new(clock=clock)  # no policy: what it finishes is kept
    _workflows(before)
    with before:
        client = before.client()
        kept = client.start_workflow("ok", instance_id="before-policy")
        wait_for_status(client, kept, "COMPLETED")

    policy = wayline.RetentionPolicy(
        any_terminal=timedelta(hours=1), completed=timedelta(minutes=10)
    )
    runtime = runtimes.new(clock=clock, settings=settings(retention=policy))
    _workflows(runtime)
    with runtime:
        client = runtime.client()
        done = client.start_workflow("ok", instance_id="done")
        failed = client.start_workflow("broken", instance_id="failed")
        stopped = client.start_workflow("waits", instance_id="stopped")
        running = client.start_workflow("waits", instance_id="running")
        wait_for_status(client, done, "COMPLETED")
        wait_for_status(client, failed, "FAILED")
        wait_for_status(client, running, "RUNNING")
        wait_for_status(client, stopped, "RUNNING")
        client.terminate_workflow(stopped)
        wait_for_status(client, stopped, "TERMINATED")

        def gone(iid: str) -> bool:
            return client.get_workflow_state(iid) is None

        clock.advance(timedelta(minutes=11))  # COMPLETED's own 10 minutes beat the hour
        wait_until(lambda: gone(done), what="the completed instance to be deleted")
        assert not gone(failed) and not gone(stopped)
        clock.advance(timedelta(hours=1))  # any other terminal status: one hour
        wait_until(lambda: gone(failed) and gone(stopped), what="the others to be deleted")
        assert not gone(running)  # never a live instance
        assert not gone(kept)  # not retroactive


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("1h30m", 5400), ("168h", 604800), ("7d", 604800), ("250ms", 0.25), ("0", 0)],
)
def test_durations_are_written_as_in_dapr_configuration(text: str, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "-1h", "1h-5m", "nan"])
def test_a_bad_duration_is_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
