"""Clients on their own connection (as from another process) and the asyncio twin."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest

import wayline
from wayline.errors import InstanceNotFoundError

from ._support import WAIT, wait_for_history, wait_for_status
from .conftest import Runtimes


def _register(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.activity
    def double(ctx: wayline.WorkflowActivityContext, n: int) -> int:
        return 2 * n

    @runtime.workflow
    def doubler(ctx: wayline.WorkflowContext, n: int) -> Any:
        doubled = yield ctx.call_activity(double, input=n)
        extra = yield ctx.wait_for_external_event("extra")
        return doubled + extra


def test_separate_client_drives_a_runtime_through_the_database(
    runtime: wayline.WorkflowRuntime, db_url: str
) -> None:
    _register(runtime)
    with wayline.WorkflowClient(store=db_url) as outside:
        # started while no engine runs: it waits as PENDING
        iid = outside.start_workflow("doubler", input=20, instance_id="remote-1")
        assert outside.get_workflow(iid).runtime_status == "PENDING"

        with runtime:
            assert outside.wait_for_workflow_start(iid, timeout=WAIT).runtime_status == "RUNNING"
            wait_for_history(outside, iid, "TaskCompleted")
            outside.raise_event(iid, "extra", 2)
            state = outside.wait_for_workflow_completion(iid, timeout=WAIT)
            assert state.runtime_status == "COMPLETED"
            assert state.output == 42
            # the runtime's own client sees the same rows
            assert runtime.client().get_workflow(iid) == state

        # usable after the runtime stopped: the client owns its connection
        assert next(e.name for e in outside.get_history(iid) if hasattr(e, "name")) == "doubler"
        assert outside.purge_workflow(iid) == 1
        assert outside.get_workflow_state(iid) is None


def test_dapr_client_alias_works_on_the_same_database(
    runtime: wayline.WorkflowRuntime, db_url: str
) -> None:
    _register(runtime)
    with runtime:
        client = wayline.DaprWorkflowClient(store=db_url)
        try:
            iid = client.schedule_new_workflow("doubler", input=1)
            wait_for_history(client, iid, "TaskCompleted")
            client.raise_workflow_event(iid, "extra", data=40)
            state = client.wait_for_workflow_completion(iid, timeout=WAIT)
            assert state.runtime_status == "COMPLETED"
            assert state.serialized_output == "42"
            fetched = client.get_workflow_state(iid)
            assert fetched is not None
            assert fetched.runtime_status.name == "COMPLETED"
        finally:
            client.close()


def test_async_client_covers_the_management_verbs(
    runtime: wayline.WorkflowRuntime, db_url: str
) -> None:
    _register(runtime)

    async def scenario(client: wayline.AsyncWorkflowClient) -> None:
        iid = await client.start_workflow("doubler", input=5, instance_id="async-1")
        started = await client.wait_for_workflow_start(iid, timeout=WAIT)
        assert started.runtime_status in ("RUNNING", "COMPLETED")
        await client.pause_workflow(iid)
        await asyncio.to_thread(wait_for_status, client_sync, iid, "SUSPENDED")
        await client.raise_event(iid, "extra", 1)
        await client.resume_workflow(iid)
        state = await client.wait_for_workflow_completion(iid, timeout=WAIT)
        assert state.output == 11
        assert (await client.get_workflow(iid)).runtime_status == "COMPLETED"
        page = await client.list_workflows(status="COMPLETED")
        assert [s.instance_id for s in page.workflows] == [iid]
        kinds = [type(e).__name__ for e in await client.get_history(iid)]
        assert "ExecutionSuspended" in kinds and "ExecutionResumed" in kinds

        other = await client.start_workflow("doubler", input=0)
        await client.terminate_workflow(other, output="stop")
        stopped = await client.wait_for_workflow_completion(other, timeout=WAIT)
        assert stopped.runtime_status == "TERMINATED"
        assert await client.purge_workflow(iid) == 1
        assert await client.purge_workflow(other) == 1
        with pytest.raises(InstanceNotFoundError):
            await client.get_workflow(iid)
        await client.close()

    with runtime:
        client_sync = runtime.client()
        asyncio.run(scenario(wayline.AsyncWorkflowClient(store=db_url)))


def test_runtime_async_client_shares_the_runtime(runtime: wayline.WorkflowRuntime) -> None:
    _register(runtime)

    async def scenario(client: wayline.AsyncWorkflowClient) -> Any:
        iid = await client.start_workflow("doubler", input=3)
        await client.wait_for_workflow_start(iid, timeout=WAIT)
        await asyncio.to_thread(wait_for_history, runtime.client(), iid, "TaskCompleted")
        await client.raise_event(iid, "extra", 0)
        return (await client.wait_for_workflow_completion(iid, timeout=WAIT)).output

    with runtime:
        assert asyncio.run(scenario(runtime.async_client())) == 6


def test_runtime_start_and_shutdown_without_context_manager(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _register(runtime)
    runtime.start()
    try:
        assert runtime.wait_for_worker_ready(timeout=WAIT)
        with pytest.raises(RuntimeError, match="already started"):
            runtime.start()
        client = runtime.client()
        iid = client.start_workflow("doubler", input=4)
        wait_for_history(client, iid, "TaskCompleted")
        client.raise_event(iid, "extra", 0)
        assert client.wait_for_workflow_completion(iid, timeout=WAIT).output == 8
    finally:
        runtime.shutdown()
    # a stopped runtime can be started again
    with runtime:
        client = runtime.client()
        assert client.start_workflow("doubler", input=1)


def test_a_client_made_without_a_store_reaches_the_running_runtimes_store(
    runtime: wayline.WorkflowRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``DaprWorkflowClient()`` as Dapr code writes it, in a process whose runtime uses
    another database than the default: never a silently different database."""
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # where the default sqlite:///wayline.db would go

    @runtime.workflow
    def hello(ctx: wayline.WorkflowContext, name: str) -> str:
        return f"hello {name}"

    with runtime:
        client = wayline.DaprWorkflowClient()
        iid = client.schedule_new_workflow(hello, input="dapr")
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        assert state is not None and state.serialized_output == '"hello dapr"'
        client.close()
    assert not (elsewhere / "wayline.db").exists()


def test_a_client_without_a_store_refuses_to_guess_between_two_runtimes(
    runtimes: Runtimes, tmp_path: Path
) -> None:
    one = runtimes.new()
    other = wayline.WorkflowRuntime(store=f"sqlite:///{tmp_path / 'other.db'}")
    with one, other, pytest.raises(ValueError, match="pass store="):
        wayline.WorkflowClient()
    other.shutdown()


def test_the_aio_client_has_dapr_ext_workflow_aio_names(runtime: wayline.WorkflowRuntime) -> None:
    from wayline.aio import DaprWorkflowClient

    @runtime.workflow
    def waits(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.wait_for_external_event("go"))

    async def scenario() -> list[Any]:
        client = DaprWorkflowClient()  # reaches the runtime running in this process
        iid = await client.schedule_new_workflow(waits, instance_id="aio")
        started = await client.wait_for_workflow_start(iid, timeout_in_seconds=10)
        await client.pause_workflow(iid)
        paused = await client.get_workflow_state(iid)
        await client.resume_workflow(iid)
        await client.raise_workflow_event(iid, "go", data={"ok": True})
        done = await client.wait_for_workflow_completion(iid, timeout_in_seconds=10)
        await client.purge_workflow(iid)
        gone = await client.get_workflow_state(iid)
        await client.close()
        assert paused is not None
        return [started.runtime_status, paused.runtime_status, done.output, gone]

    with runtime:
        assert asyncio.run(scenario()) == ["RUNNING", "SUSPENDED", {"ok": True}, None]


def test_times_out_of_range_in_utc_and_foreign_tokens_are_invalid_arguments(db_url: str) -> None:
    """Issue 11, items 6 and 7: OverflowError (a 500 over HTTP) became a typed error."""
    from datetime import datetime, timedelta, timezone

    from wayline.errors import InvalidArgumentError

    far_west = timezone(-timedelta(hours=23, minutes=59))
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=far_west)  # year 10000 in UTC
    early = datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))  # year 0 in UTC
    with wayline.WorkflowClient(store=db_url) as client:
        for keyword in ("created_after", "created_before", "completed_after", "completed_before"):
            for moment in (late, early):
                with pytest.raises(InvalidArgumentError, match=f"{keyword} .* out of range"):
                    client.list_workflows(**{keyword: moment})
        with pytest.raises(InvalidArgumentError, match="created_after"):
            client.count_workflows(created_after=late)
        with pytest.raises(InvalidArgumentError, match="created_before"):
            client.bulk("terminate", created_before=early)
        with pytest.raises(InvalidArgumentError, match="start_at"):
            client.start_workflow("anything", instance_id="never", start_at=late)
        assert client.get_workflow_state("never") is None
        for raw in (b"9" * 30 + b"|x", b"1|a\x00b", b"\xff|x"):
            token = base64.urlsafe_b64encode(raw).decode()
            with pytest.raises(InvalidArgumentError, match="continuation token"):
                client.list_workflows(continuation_token=token)
        assert client.list_workflows(created_after=datetime(1, 1, 1)).workflows == []
