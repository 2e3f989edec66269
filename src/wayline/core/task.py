"""Tasks: what workflow code yields, and the combinators over them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator, Sequence
from typing import Any, Generic, TypeVar

from wayline.core.events import FailureDetails

T = TypeVar("T")


class TaskFailedError(Exception):
    """An activity or child workflow failed; raised inside the workflow at the ``yield``.

    ``details`` holds the original error's type, message and stack trace.
    """

    def __init__(self, message: str, details: FailureDetails) -> None:
        super().__init__(message)
        self._details = details

    @property
    def details(self) -> FailureDetails:
        return self._details


class NonDeterminismError(Exception):
    """The workflow code no longer produces the steps recorded in its history.

    ``step`` is the history's sequence number where they part, ``recorded`` what the
    history has there and ``current`` what the code does now (None: nothing).
    """

    def __init__(
        self,
        message: str,
        *,
        step: int | None = None,
        recorded: str | None = None,
        current: str | None = None,
    ) -> None:
        super().__init__(message)
        self.step = step
        self.recorded = recorded
        self.current = current


class NonRetryableError(Exception):
    """Raise from an activity to fail it without consuming further retry attempts."""


class Task(Generic[T]):
    """A durable step a workflow can ``yield``: completes once, with a value or an error."""

    def __init__(self) -> None:
        self._complete = False
        self._result: Any = None
        self._exception: BaseException | None = None
        self._listeners: list[Callable[[Task[Any]], None]] = []

    @property
    def is_complete(self) -> bool:
        return self._complete

    @property
    def is_failed(self) -> bool:
        return self._complete and self._exception is not None

    def get_result(self) -> T:
        """The task's value; raises the task's error if it failed."""
        if not self._complete:
            raise RuntimeError("the task has not completed yet")
        if self._exception is not None:
            raise self._exception
        return self._result  # type: ignore[no-any-return]

    def get_exception(self) -> BaseException | None:
        return self._exception

    def __await__(self) -> Generator[Any, None, T]:
        """``await task`` in an ``async def`` workflow (``yield task`` in a generator one)."""
        loop = asyncio.events._get_running_loop()
        if not getattr(loop, "is_workflow_loop", False):
            raise RuntimeError(
                "workflow tasks (ctx.call_activity, ctx.create_timer, ...) can only be "
                "awaited inside an async def workflow that the engine runs"
            )
        assert loop is not None
        waiter: asyncio.Future[Any] = loop.create_future()
        self._on_done(lambda task: _settle_future(task, waiter))
        result: T = yield from waiter
        return result

    def _on_done(self, listener: Callable[[Task[Any]], None]) -> None:
        if self._complete:
            listener(self)
        else:
            self._listeners.append(listener)

    def _settle(self, result: Any, exception: BaseException | None) -> None:
        if self._complete:
            return
        self._complete = True
        self._result = result
        self._exception = exception
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener(self)


def _settle_future(task: Task[Any], waiter: asyncio.Future[Any]) -> None:
    if waiter.cancelled():  # the awaiting coroutine was cancelled meanwhile
        return
    exception = task.get_exception()
    if exception is not None:
        waiter.set_exception(exception)
    else:
        waiter.set_result(task._result)


class CompletableTask(Task[T]):
    """A task completed by a history event (activity, timer, child, external event).

    ``result_type``: the type its result is decoded into (``core.typed``), if any.
    """

    result_type: Any = None

    def complete(self, result: Any) -> None:
        self._settle(result, None)

    def fail(self, exception: BaseException) -> None:
        self._settle(None, exception)


class WhenAllTask(Task[list[Any]]):
    """Completes with every child's result in order, or fails with the first failure."""

    def __init__(self, tasks: Sequence[Task[Any]]) -> None:
        super().__init__()
        self._tasks = list(tasks)
        self._remaining = len(self._tasks)
        if not self._tasks:
            self._settle([], None)
        for task in self._tasks:
            task._on_done(self._child_done)

    def _child_done(self, task: Task[Any]) -> None:
        if task.is_failed:
            self._settle(None, task.get_exception())
            return
        self._remaining -= 1
        if self._remaining == 0:
            self._settle([t._result for t in self._tasks], None)


class WhenAnyTask(Task[Task[Any]]):
    """Completes with the first child task to finish (succeeded or failed)."""

    def __init__(self, tasks: Sequence[Task[Any]]) -> None:
        super().__init__()
        if not tasks:
            raise ValueError("when_any needs at least one task")
        for task in tasks:
            task._on_done(self._child_done)

    def _child_done(self, task: Task[Any]) -> None:
        self._settle(task, None)


def when_all(tasks: Sequence[Task[Any]]) -> WhenAllTask:
    """A task that completes when all ``tasks`` complete (``[]`` completes at once)."""
    return WhenAllTask(tasks)


def when_any(tasks: Sequence[Task[Any]]) -> WhenAnyTask:
    """A task that completes with whichever of ``tasks`` completes first."""
    return WhenAnyTask(tasks)
