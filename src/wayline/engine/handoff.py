"""Results from other threads (the store's writer, the activity pool) onto the loop.

``asyncio.wrap_future`` wakes the loop once per future (a byte through its
self-pipe) and chains futures through several layers of callbacks. On the step's
hot path that overhead was larger than the step's own work, so results are
handed over here instead: whatever finishes while the loop is busy is delivered
together, with one wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class Handoff:
    """Delivers callbacks from any thread to one event loop, in batches."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: list[tuple[Callable[..., None], tuple[Any, ...]]] = []
        self._scheduled = False

    def call_soon(self, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(*args)`` on the loop soon (thread-safe)."""
        with self._lock:
            self._pending.append((callback, args))
            if self._scheduled:
                return
            self._scheduled = True
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._scheduled = False
        for callback, args in pending:
            callback(*args)


def settle(waiter: asyncio.Future[T], done: Future[T]) -> None:
    """Give ``waiter`` the outcome of the finished ``done`` (unless it gave up)."""
    if waiter.done():
        return
    if done.cancelled():
        waiter.cancel()
        return
    error = done.exception()
    if error is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(done.result())
