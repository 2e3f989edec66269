"""The client package's public surface: its exports, ``WorkflowPage`` as a sequence
of states, and ``AsyncWorkflowClient`` as the exact twin of ``WorkflowClient``."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

import wayline
import wayline.client
from wayline.client import AsyncWorkflowClient, BulkResult, WorkflowClient, WorkflowPage

from ._support import WAIT, wait_for_status


def _public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }


def _register(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.activity
    def double(ctx: wayline.WorkflowActivityContext, n: int) -> int:
        return 2 * n

    @runtime.workflow
    def doubler(ctx: wayline.WorkflowContext, n: int) -> Any:
        doubled = yield ctx.call_activity(double, input=n)
        extra = yield ctx.wait_for_external_event("extra")
        return doubled + extra


def test_every_name_of_the_client_package_is_exported_and_importable() -> None:
    for name in wayline.client.__all__:
        assert getattr(wayline.client, name) is not None, name
    assert wayline.BulkResult is BulkResult
    assert wayline.HistoryEvent is wayline.client.HistoryEvent
    assert {"BulkResult", "HistoryEvent"} <= set(wayline.__all__)
    from wayline import BulkResult as top_level

    assert top_level is BulkResult


def test_a_page_iterates_its_workflows_and_has_their_length(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _register(runtime)
    client = runtime.client()
    ids = [client.start_workflow("doubler", input=n, instance_id=f"p-{n}") for n in range(3)]
    page = client.list_workflows(page_size=2, sort="id", descending=False)
    assert len(page) == 2 and page.continuation_token is not None
    assert [s.instance_id for s in page] == [s.instance_id for s in page.workflows] == ids[:2]
    rest = client.list_workflows(
        page_size=2, sort="id", descending=False, continuation_token=page.continuation_token
    )
    assert list(rest) == rest.workflows and len(rest) == 1
    assert len(WorkflowPage()) == 0 and list(WorkflowPage()) == []


def test_the_async_client_has_the_sync_clients_methods_and_signatures() -> None:
    sync_methods = _public_methods(WorkflowClient)
    async_methods = _public_methods(AsyncWorkflowClient)
    assert set(async_methods) == set(sync_methods)
    for name, method in async_methods.items():
        params = inspect.signature(method).parameters.values()
        sync_params = inspect.signature(sync_methods[name]).parameters.values()
        assert all(p.kind is not p.VAR_KEYWORD for p in params), name
        assert all(p.kind is not p.VAR_KEYWORD for p in sync_params), name
        assert [(p.name, p.kind, p.default) for p in params] == [
            (p.name, p.kind, p.default) for p in sync_params
        ], name
        assert method.__doc__, f"AsyncWorkflowClient.{name} has no docstring"
        wants_coroutine = name != "iter_workflows"
        assert inspect.iscoroutinefunction(method) is wants_coroutine, name
    assert inspect.isasyncgenfunction(AsyncWorkflowClient.iter_workflows)


class _Recording:
    """The client, noting which of its attributes the test used."""

    def __init__(self, client: AsyncWorkflowClient) -> None:
        self.client = client
        self.used: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        self.used.add(name)
        return getattr(self.client, name)


def test_every_async_client_method_works_against_a_runtime(
    runtime: wayline.WorkflowRuntime, db_url: str
) -> None:
    _register(runtime)

    async def scenario(client: Any) -> None:
        await client.check_store()
        iid = await client.start_workflow("doubler", input=5, instance_id="a-1")
        await client.wait_for_workflow_start(iid, timeout=WAIT)
        await client.pause_workflow(iid)
        await asyncio.to_thread(wait_for_status, runtime.client(), iid, "SUSPENDED")
        await client.resume_workflow(iid)
        await client.raise_event(iid, "extra", 1)
        done = await client.wait_for_workflow_completion(iid, timeout=WAIT)
        assert done.output == 11
        assert (await client.get_workflow(iid)).runtime_status == "COMPLETED"
        assert (await client.get_workflow_state(iid)).output == 11
        assert (await client.get_workflow_state("nobody")) is None

        other = await client.schedule_new_workflow("doubler", input=1, instance_id="a-2")
        await client.wait_for_workflow_start(other, timeout=WAIT)
        await client.raise_workflow_event(other, "extra", data=2)
        assert (await client.wait_for_workflow_completion(other, timeout=WAIT)).output == 4

        history = await client.get_history(iid)
        scheduled = next(e for e in history if type(e).__name__ == "TaskScheduled")
        rerun = await client.rerun_workflow_from_event(
            iid, scheduled.event_id, new_instance_id="a-3"
        )
        await client.wait_for_workflow_start(rerun, timeout=WAIT)
        await client.terminate_workflow(rerun, output="stop")
        stopped = await client.wait_for_workflow_completion(rerun, timeout=WAIT)
        assert stopped.runtime_status == "TERMINATED"

        page = await client.list_workflows(instance_id_prefix="a-", sort="id", descending=False)
        assert [s.instance_id for s in page] == ["a-1", "a-2", "a-3"]
        streamed = [s.instance_id async for s in client.iter_workflows(page_size=1, sort="id")]
        assert streamed == ["a-3", "a-2", "a-1"]
        assert await client.count_workflows(status="COMPLETED") == 2
        by_status = await client.count_workflows_by_status(instance_id_prefix="a-")
        assert by_status == {"COMPLETED": 2, "TERMINATED": 1}
        assert len(await client.workflow_durations("doubler")) == 2
        assert "doubler" in await client.workflow_names()
        kinds = [type(e).__name__ for e in await client.get_history(iid)]
        assert "ExecutionSuspended" in kinds and "ExecutionResumed" in kinds

        assert await client.purge_workflow(rerun) == 1
        seen: list[int] = []
        purged = await client.bulk("purge", status="COMPLETED", progress=seen.append)
        assert purged == BulkResult(operation="purge", affected=2)
        assert seen == [1, 2]
        assert await client.count_workflows() == 0
        await client.close()

    with runtime:
        recording = _Recording(AsyncWorkflowClient(store=db_url))
        asyncio.run(scenario(recording))
    assert recording.used >= set(_public_methods(AsyncWorkflowClient))


def test_async_client_store_property_and_context_manager(db_url: str) -> None:
    async def scenario() -> None:
        async with AsyncWorkflowClient(store=db_url) as client:
            assert client.store is client._sync.store
            assert await client.count_workflows() == 0
            with pytest.raises(ValueError, match="page_size"):
                [s async for s in client.iter_workflows(page_size=0)]

    asyncio.run(scenario())
