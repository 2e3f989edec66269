"""The engine's writes: queued as they are made, applied once per loop iteration.

Every turn, claim and result the loop produces in one iteration goes to the store
as one group commit (one transaction, one fsync). On a store whose writes are
local (SQLite) the group is applied right there on the loop: a thread hand-off
per step cost more than the step's own work, and an fsync is short. On a store
across a network (PostgreSQL) writer threads apply the groups, a few at once (one
group's round trips and commit need not hold up the next), and hand the results
back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from wayline.engine.handoff import Handoff, settle
from wayline.errors import StoreError
from wayline.store.base import Store
from wayline.store.commands import WriteCommand

#: Group commits in flight at once on a server store (each on its own connection).
WRITER_THREADS = 4


class WriteBatcher:
    """Queues the engine's write commands and flushes them in group commits."""

    def __init__(self, store: Store, loop: asyncio.AbstractEventLoop, handoff: Handoff) -> None:
        self._store = store
        self._loop = loop
        self._handoff = handoff
        self._inline = store.local_writes
        self._queued: list[tuple[Future[Any], asyncio.Future[Any]]] = []
        self._flush_scheduled = False
        self._thread = (
            None if self._inline else ThreadPoolExecutor(WRITER_THREADS, "wayline-writer")
        )

    def write(self, command: WriteCommand) -> tuple[Future[Any], asyncio.Future[Any]]:
        """Queue a command; returns the store's future and one to await on the loop.

        The command is applied even if the awaiting task is cancelled meanwhile: a
        caller that must undo it (a claim) keeps the store's future.
        """
        future = self._store.enqueue(command)
        waiter: asyncio.Future[Any] = self._loop.create_future()
        self._queued.append((future, waiter))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return future, waiter

    @property
    def pending(self) -> bool:
        """Whether commands are queued and not yet flushed."""
        return bool(self._queued)

    def _flush(self) -> None:
        self._flush_scheduled = False
        queued, self._queued = self._queued, []
        if not queued:
            return
        if self._thread is None:
            self._store.flush()  # every queued command is settled when this returns
            for future, waiter in queued:
                settle(waiter, future)
            return
        try:
            self._thread.submit(self._store.flush)
        except RuntimeError as exc:  # closed: fail the writers instead of leaving them waiting
            for _, waiter in queued:
                if not waiter.done():
                    waiter.set_exception(StoreError(f"the engine's writer is closed ({exc})"))
            return
        for future, waiter in queued:
            future.add_done_callback(self._settler(waiter))

    def _settler(self, waiter: asyncio.Future[Any]) -> Callable[[Future[Any]], None]:
        return lambda done: self._handoff.call_soon(settle, waiter, done)

    def close(self) -> None:
        """Apply what is still queued, then stop the writer thread."""
        self._flush()
        if self._thread is not None:
            self._thread.shutdown(wait=True)
