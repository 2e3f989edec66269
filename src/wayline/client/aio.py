"""``AsyncWorkflowClient``: the asyncio twin of ``WorkflowClient``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wayline.client.arguments import dapr_timeout
from wayline.client.state import WorkflowPage, WorkflowState
from wayline.client.sync import DEFAULT_MAX_PAYLOAD_BYTES, WorkflowClient
from wayline.core.events import HistoryEvent
from wayline.engine.clock import Clock
from wayline.store import Store


class AsyncWorkflowClient:
    """The asyncio twin of :class:`WorkflowClient`: same methods, awaitable.

    Store calls run in a worker thread, so the event loop never blocks on I/O.
    """

    def __init__(
        self,
        store: str | Path | Store | None = None,
        *,
        clock: Clock | None = None,
        max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
        sync_client: WorkflowClient | None = None,
        host: str | None = None,
        port: str | int | None = None,
        logger_options: Any = None,
        app_id: str | None = None,
    ) -> None:
        del host, port, logger_options  # dapr.ext.workflow.aio's sidecar address: no sidecar
        self._sync = sync_client or WorkflowClient(
            store, clock=clock, max_payload_bytes=max_payload_bytes, app_id=app_id
        )

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def start_workflow(self, workflow: Callable[..., Any] | str, **kw: Any) -> str:
        return await self._call(self._sync.start_workflow, workflow, **kw)  # type: ignore[no-any-return]

    async def get_workflow(self, instance_id: str) -> WorkflowState:
        return await self._call(self._sync.get_workflow, instance_id)  # type: ignore[no-any-return]

    async def terminate_workflow(self, instance_id: str, **kw: Any) -> None:
        await self._call(self._sync.terminate_workflow, instance_id, **kw)

    async def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        await self._call(self._sync.raise_event, instance_id, event_name, data)

    async def pause_workflow(self, instance_id: str) -> None:
        await self._call(self._sync.pause_workflow, instance_id)

    async def resume_workflow(self, instance_id: str) -> None:
        await self._call(self._sync.resume_workflow, instance_id)

    async def rerun_workflow_from_event(
        self, source_instance_id: str, event_id: int, **options: Any
    ) -> str:
        return await self._call(  # type: ignore[no-any-return]
            self._sync.rerun_workflow_from_event, source_instance_id, event_id, **options
        )

    async def purge_workflow(
        self, instance_id: str, recursive: bool = True, *, force: bool = False
    ) -> int:
        return await self._call(  # type: ignore[no-any-return]
            self._sync.purge_workflow, instance_id, recursive=recursive, force=force
        )

    async def wait_for_workflow_start(
        self,
        instance_id: str,
        *,
        timeout: float | None = None,
        fetch_payloads: bool = False,
        timeout_in_seconds: float | None = None,
    ) -> WorkflowState:
        limit = dapr_timeout(timeout, timeout_in_seconds)
        return await self._call(  # type: ignore[no-any-return]
            self._sync.wait_for_workflow_start, instance_id, timeout=limit
        )

    async def wait_for_workflow_completion(
        self,
        instance_id: str,
        *,
        timeout: float | None = None,
        fetch_payloads: bool = True,
        timeout_in_seconds: float | None = None,
    ) -> WorkflowState:
        limit = dapr_timeout(timeout, timeout_in_seconds)
        return await self._call(  # type: ignore[no-any-return]
            self._sync.wait_for_workflow_completion, instance_id, timeout=limit
        )

    async def list_workflows(self, **filters: Any) -> WorkflowPage:
        return await self._call(self._sync.list_workflows, **filters)  # type: ignore[no-any-return]

    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        return await self._call(self._sync.get_history, instance_id)  # type: ignore[no-any-return]

    async def schedule_new_workflow(self, workflow: Callable[..., Any] | str, **kw: Any) -> str:
        """``DaprWorkflowClient.schedule_new_workflow`` (aio): same as :meth:`start_workflow`."""
        return await self._call(self._sync.schedule_new_workflow, workflow, **kw)  # type: ignore[no-any-return]

    async def get_workflow_state(
        self, instance_id: str, *, fetch_payloads: bool = True
    ) -> WorkflowState | None:
        """``DaprWorkflowClient.get_workflow_state`` (aio): the state, or None if unknown."""
        return await self._call(  # type: ignore[no-any-return]
            self._sync.get_workflow_state, instance_id, fetch_payloads=fetch_payloads
        )

    async def raise_workflow_event(
        self, instance_id: str, event_name: str, *, data: Any = None
    ) -> None:
        """``DaprWorkflowClient.raise_workflow_event`` (aio)."""
        await self._call(self._sync.raise_workflow_event, instance_id, event_name, data=data)

    async def close(self) -> None:
        await self._call(self._sync.close)
