"""Commit notifications for waiters in the engine's process.

The engine publishes the instance id and new status of every turn it commits; a
client waiting for an instance to start or finish sleeps until a status it cares
about is published for that instance (then reads the instance once), instead of
re-reading it on every commit of every instance. Commits made by other processes
are not published here: waiters still poll the store, at their own pace.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from wayline.core.events import WorkflowStatus


class Watch:
    """One waiter's view of one instance: set whenever a commit of it is published."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.status: WorkflowStatus | None = None

    def _publish(self, status: WorkflowStatus) -> None:
        self.status = status
        self._event.set()

    def wait(self, done: Callable[[WorkflowStatus], bool], timeout: float) -> bool:
        """Sleep until a published status satisfies ``done`` (True) or ``timeout``
        seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._event.wait(remaining):
                return False
            self._event.clear()
            if self.status is not None and done(self.status):
                return True


class CommitFeed:
    """Instance ids and statuses of committed turns, for the waiters that watch them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watches: dict[str, list[Watch]] = {}

    def publish(self, instance_id: str, status: WorkflowStatus) -> None:
        """Called by the engine after each commit (from its loop thread)."""
        watches = self._watches.get(instance_id)
        if watches:
            with self._lock:
                for watch in list(self._watches.get(instance_id, ())):
                    watch._publish(status)

    @contextmanager
    def watch(self, instance_id: str) -> Iterator[Watch]:
        """Watch one instance's commits while the block runs."""
        watch = Watch()
        with self._lock:
            self._watches.setdefault(instance_id, []).append(watch)
        try:
            yield watch
        finally:
            with self._lock:
                watches = self._watches[instance_id]
                watches.remove(watch)
                if not watches:
                    del self._watches[instance_id]
