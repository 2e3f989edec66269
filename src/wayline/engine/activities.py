"""Running one activity task: local code (a thread or the loop) or a remote worker.

Every outcome becomes a ``TaskCompleted`` or ``TaskFailed`` event carrying the
task's execution id; a result over the payload limit becomes a failure, so an
oversized value never reaches the store.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from wayline.core import serde
from wayline.core.activity import WorkflowActivityContext
from wayline.core.events import TaskCompleted, TaskFailed
from wayline.core.executor import failure_from_exception
from wayline.core.propagation import Propagated
from wayline.core.registry import call_with_input
from wayline.errors import SerializationError
from wayline.store.types import ClaimedTask, TaskResult


class ActivityRunner:
    """Invokes registered activity functions and checks every result's size."""

    def __init__(
        self,
        activities: dict[str, Callable[..., object]],
        run_in_pool: Callable[..., Awaitable[Any]],
        *,
        max_payload_bytes: int,
        now: Callable[[], datetime],
    ) -> None:
        """``run_in_pool(fn, *args)`` runs a plain function on a worker thread."""
        self._activities = activities
        self._run_in_pool = run_in_pool
        self._max_payload_bytes = max_payload_bytes
        self._now = now

    async def run_local(
        self, task: ClaimedTask, propagated: Propagated | None = None
    ) -> TaskResult:
        """Run a registered activity: ``async def`` on the loop, plain ones in the pool."""
        fn = self._activities[task.name]
        ctx = WorkflowActivityContext(task.instance_id, task.task_id, task.attempt, propagated)
        try:
            value = serde.loads_lenient(task.input)
            if inspect.iscoroutinefunction(fn):
                outcome = await call_with_input(fn, ctx, value)
            else:
                outcome = await self._run_in_pool(call_with_input, fn, ctx, value)
            encoded = serde.dumps(outcome)
            self._check_size(task, encoded)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return self._failed(task, exc)
        return TaskCompleted(
            timestamp=self._now(),
            task_scheduled_id=task.task_id,
            task_execution_id=task.task_execution_id,
            result=encoded,
            router=task.router,
        )

    def check_remote(self, task: ClaimedTask, result: TaskResult) -> TaskResult:
        """A remote worker's result with the task's execution id and route, or a failure
        if it is over the payload limit."""
        result = dataclasses.replace(
            result, task_execution_id=task.task_execution_id, router=task.router
        )
        if isinstance(result, TaskCompleted):
            try:
                self._check_size(task, result.result)
            except SerializationError as exc:
                return self._failed(task, exc)
        return result

    def _failed(self, task: ClaimedTask, exc: Exception) -> TaskFailed:
        return TaskFailed(
            timestamp=self._now(),
            task_scheduled_id=task.task_id,
            task_execution_id=task.task_execution_id,
            failure=failure_from_exception(exc),
            router=task.router,
        )

    def _check_size(self, task: ClaimedTask, encoded: str | None) -> None:
        size = len(encoded.encode()) if encoded else 0
        if size > self._max_payload_bytes:
            raise SerializationError(
                f"activity {task.name!r} returned {size} bytes, over the "
                f"{self._max_payload_bytes}-byte payload limit; return a reference (a key "
                "or URL) instead"
            )
