"""The threads that run plain-function activities.

A ``ThreadPoolExecutor`` round trip from an event loop (``run_in_executor``) costs
about three times as much as a bare queue and one wake-up of the loop, and on a
step's hot path that difference is most of a step. These threads take work from
one queue and hand results back through the engine's ``Handoff``.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from wayline.engine.handoff import Handoff

T = TypeVar("T")

_Job = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


class WorkerThreads:
    """At most ``size`` daemon threads, started as work needs them."""

    def __init__(self, size: int, handoff: Handoff, *, name: str = "wayline-activity") -> None:
        self._size = size
        self._handoff = handoff
        self._name = name
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0  # threads waiting for a job
        self._waiting = 0  # jobs no thread has taken yet
        self._closed = False

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run ``fn(*args)`` on a worker thread; the future is settled on the loop."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._waiting += 1
            start = (
                self._waiting > self._idle and len(self._threads) < self._size and not self._closed
            )
            if start:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
        self._queue.put((fn, args, future))
        if start:
            thread.start()
        return future

    def close(self) -> None:
        """Stop taking work; work not started yet is cancelled (running work is left
        to finish on its own: a thread cannot be interrupted)."""
        with self._lock:
            self._closed = True
            threads = len(self._threads)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._handoff.call_soon(_cancel, job[2])
        for _ in range(threads):
            self._queue.put(None)

    def _work(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
            job = self._queue.get()
            with self._lock:
                self._idle -= 1
                self._waiting -= 1
            if job is None:
                return
            fn, args, future = job
            try:
                result = fn(*args)
            except BaseException as exc:  # delivered to the awaiting task, as asyncio does
                self._handoff.call_soon(_fail, future, exc)
            else:
                self._handoff.call_soon(_succeed, future, result)


def _succeed(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _cancel(future: asyncio.Future[Any]) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):
        future.cancel()
