"""``AsyncWorkflowClient``: the asyncio twin of ``WorkflowClient``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Collection
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from wayline.client.arguments import dapr_timeout
from wayline.client.state import BulkResult, WorkflowPage, WorkflowState
from wayline.client.sync import DEFAULT_MAX_PAYLOAD_BYTES, WorkflowClient
from wayline.core.events import HistoryEvent, WorkflowStatus
from wayline.engine.clock import Clock
from wayline.store import Store

P = ParamSpec("P")
R = TypeVar("R")


class AsyncWorkflowClient:
    """The asyncio twin of :class:`WorkflowClient`: same methods, awaitable.

    Store calls run in a worker thread, so the event loop never blocks on I/O.
    ``iter_workflows`` is an async iterator (``async for state in
    client.iter_workflows(...)``) that reads one page at a time.
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

    async def _call(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(fn, *args, **kwargs)

    @property
    def store(self) -> Store:
        """The store of the underlying :class:`WorkflowClient`."""
        return self._sync.store

    async def close(self) -> None:
        """Close the store if this client opened it."""
        await self._call(self._sync.close)

    async def __aenter__(self) -> AsyncWorkflowClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def check_store(self) -> None:
        """Raise ``StoreUnavailableError`` unless the store can be written right now."""
        await self._call(self._sync.check_store)

    # ----- the seven Dapr verbs -------------------------------------------------------------

    async def start_workflow(
        self,
        workflow: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        start_at: datetime | None = None,
        trace_parent: str | None = None,
        trace_state: str | None = None,
    ) -> str:
        """Start a workflow by function or registered name; returns the instance id."""
        return await self._call(
            self._sync.start_workflow,
            workflow,
            input=input,
            instance_id=instance_id,
            start_at=start_at,
            trace_parent=trace_parent,
            trace_state=trace_state,
        )

    async def get_workflow(self, instance_id: str) -> WorkflowState:
        """The instance's current state; raises ``InstanceNotFoundError`` if unknown."""
        return await self._call(self._sync.get_workflow, instance_id)

    async def terminate_workflow(
        self, instance_id: str, *, output: Any = None, recursive: bool = True
    ) -> None:
        """Stop an instance (and, by default, its child workflows) as TERMINATED."""
        await self._call(
            self._sync.terminate_workflow, instance_id, output=output, recursive=recursive
        )

    async def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        """Deliver an external event; dropped if the instance has already finished."""
        await self._call(self._sync.raise_event, instance_id, event_name, data)

    async def pause_workflow(self, instance_id: str) -> None:
        """Suspend an instance: it makes no progress and holds events until resumed."""
        await self._call(self._sync.pause_workflow, instance_id)

    async def resume_workflow(self, instance_id: str) -> None:
        """Resume a paused instance; held events are then processed in order."""
        await self._call(self._sync.resume_workflow, instance_id)

    async def rerun_workflow_from_event(
        self,
        source_instance_id: str,
        event_id: int,
        *,
        new_instance_id: str | None = None,
        input: Any = None,
        overwrite_input: bool = False,
        new_child_workflow_instance_id: str | None = None,
    ) -> str:
        """Run a finished instance again, as a new instance, from one of its steps."""
        return await self._call(
            self._sync.rerun_workflow_from_event,
            source_instance_id,
            event_id,
            new_instance_id=new_instance_id,
            input=input,
            overwrite_input=overwrite_input,
            new_child_workflow_instance_id=new_child_workflow_instance_id,
        )

    async def purge_workflow(
        self, instance_id: str, recursive: bool = True, *, force: bool = False
    ) -> int:
        """Delete a finished instance's state and history (and its children's)."""
        return await self._call(
            self._sync.purge_workflow, instance_id, recursive=recursive, force=force
        )

    # ----- waiting --------------------------------------------------------------------------

    async def wait_for_workflow_start(
        self,
        instance_id: str,
        *,
        timeout: float | None = None,
        fetch_payloads: bool = False,
        timeout_in_seconds: float | None = None,
    ) -> WorkflowState:
        """Wait until the instance has left PENDING; ``TimeoutError`` after ``timeout`` s."""
        limit = dapr_timeout(timeout, timeout_in_seconds)
        return await self._call(self._sync.wait_for_workflow_start, instance_id, timeout=limit)

    async def wait_for_workflow_completion(
        self,
        instance_id: str,
        *,
        timeout: float | None = None,
        fetch_payloads: bool = True,
        timeout_in_seconds: float | None = None,
    ) -> WorkflowState:
        """Wait until COMPLETED, FAILED or TERMINATED; ``TimeoutError`` after ``timeout`` s."""
        limit = dapr_timeout(timeout, timeout_in_seconds)
        return await self._call(self._sync.wait_for_workflow_completion, instance_id, timeout=limit)

    # ----- beyond Dapr: list and history ------------------------------------------------------

    async def list_workflows(
        self,
        *,
        status: str | WorkflowStatus | Collection[str | WorkflowStatus] | None = None,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        completed_after: datetime | None = None,
        completed_before: datetime | None = None,
        parent_instance_id: str | None = None,
        instance_id_prefix: str | None = None,
        page_size: int = 100,
        continuation_token: str | None = None,
        sort: str = "created",
        descending: bool = True,
    ) -> WorkflowPage:
        """One page of instances, filtered by any of the arguments (newest first)."""
        return await self._call(
            self._sync.list_workflows,
            status=status,
            name=name,
            created_after=created_after,
            created_before=created_before,
            completed_after=completed_after,
            completed_before=completed_before,
            parent_instance_id=parent_instance_id,
            instance_id_prefix=instance_id_prefix,
            page_size=page_size,
            continuation_token=continuation_token,
            sort=sort,
            descending=descending,
        )

    async def iter_workflows(
        self,
        *,
        status: str | WorkflowStatus | Collection[str | WorkflowStatus] | None = None,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        completed_after: datetime | None = None,
        completed_before: datetime | None = None,
        parent_instance_id: str | None = None,
        instance_id_prefix: str | None = None,
        page_size: int = 100,
        sort: str = "created",
        descending: bool = True,
    ) -> AsyncIterator[WorkflowState]:
        """Every instance matching the filters, across all pages: an async iterator."""
        token = None
        while True:
            page = await self.list_workflows(
                status=status,
                name=name,
                created_after=created_after,
                created_before=created_before,
                completed_after=completed_after,
                completed_before=completed_before,
                parent_instance_id=parent_instance_id,
                instance_id_prefix=instance_id_prefix,
                page_size=page_size,
                continuation_token=token,
                sort=sort,
                descending=descending,
            )
            for state in page:
                yield state
            token = page.continuation_token
            if token is None:
                return

    async def count_workflows(
        self,
        *,
        status: str | WorkflowStatus | Collection[str | WorkflowStatus] | None = None,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        completed_after: datetime | None = None,
        completed_before: datetime | None = None,
        parent_instance_id: str | None = None,
        instance_id_prefix: str | None = None,
    ) -> int:
        """How many instances match the filters (those of :meth:`list_workflows`)."""
        return await self._call(
            self._sync.count_workflows,
            status=status,
            name=name,
            created_after=created_after,
            created_before=created_before,
            completed_after=completed_after,
            completed_before=completed_before,
            parent_instance_id=parent_instance_id,
            instance_id_prefix=instance_id_prefix,
        )

    async def count_workflows_by_status(
        self,
        *,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        completed_after: datetime | None = None,
        completed_before: datetime | None = None,
        parent_instance_id: str | None = None,
        instance_id_prefix: str | None = None,
    ) -> dict[WorkflowStatus, int]:
        """How many instances match the filters for each status, in one query."""
        return await self._call(
            self._sync.count_workflows_by_status,
            name=name,
            created_after=created_after,
            created_before=created_before,
            completed_after=completed_after,
            completed_before=completed_before,
            parent_instance_id=parent_instance_id,
            instance_id_prefix=instance_id_prefix,
        )

    async def workflow_durations(self, name: str, *, limit: int = 1000) -> list[float]:
        """Seconds from creation to completion of recent COMPLETED instances of ``name``."""
        return await self._call(self._sync.workflow_durations, name, limit=limit)

    async def workflow_names(self, *, limit: int = 1000) -> list[str]:
        """Workflow names that have instances or that a live node registers, sorted."""
        return await self._call(self._sync.workflow_names, limit=limit)

    async def bulk(
        self,
        operation: str,
        *,
        instance_ids: Collection[str] | None = None,
        recursive: bool = True,
        force: bool = False,
        progress: Callable[[int], None] | None = None,
        status: str | WorkflowStatus | Collection[str | WorkflowStatus] | None = None,
        name: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        completed_after: datetime | None = None,
        completed_before: datetime | None = None,
        parent_instance_id: str | None = None,
        instance_id_prefix: str | None = None,
    ) -> BulkResult:
        """Apply ``terminate``, ``pause``, ``resume`` or ``purge`` to many instances
        (``progress`` is called in the worker thread)."""
        return await self._call(
            self._sync.bulk,
            operation,
            instance_ids=instance_ids,
            recursive=recursive,
            force=force,
            progress=progress,
            status=status,
            name=name,
            created_after=created_after,
            created_before=created_before,
            completed_after=completed_after,
            completed_before=completed_before,
            parent_instance_id=parent_instance_id,
            instance_id_prefix=instance_id_prefix,
        )

    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        """The instance's history events, oldest first, with their payloads."""
        return await self._call(self._sync.get_history, instance_id)

    # ----- dapr-ext-workflow's DaprWorkflowClient names --------------------------------------

    async def schedule_new_workflow(
        self,
        workflow: Callable[..., Any] | str,
        *,
        input: Any = None,
        instance_id: str | None = None,
        start_at: datetime | None = None,
        reuse_id_policy: Any = None,
    ) -> str:
        """``DaprWorkflowClient.schedule_new_workflow`` (aio): same as :meth:`start_workflow`."""
        return await self._call(
            self._sync.schedule_new_workflow,
            workflow,
            input=input,
            instance_id=instance_id,
            start_at=start_at,
            reuse_id_policy=reuse_id_policy,
        )

    async def get_workflow_state(
        self, instance_id: str, *, fetch_payloads: bool = True
    ) -> WorkflowState | None:
        """``DaprWorkflowClient.get_workflow_state`` (aio): the state, or None if unknown."""
        return await self._call(
            self._sync.get_workflow_state, instance_id, fetch_payloads=fetch_payloads
        )

    async def raise_workflow_event(
        self, instance_id: str, event_name: str, *, data: Any = None
    ) -> None:
        """``DaprWorkflowClient.raise_workflow_event`` (aio)."""
        await self._call(self._sync.raise_workflow_event, instance_id, event_name, data=data)
