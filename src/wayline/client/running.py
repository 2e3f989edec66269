"""The workflow runtimes running in this process, and how a client finds one.

A ``WorkflowRuntime`` registers its store, clock, change callback and commit feed
when it starts, so that a client made without a store (``DaprWorkflowClient()``,
as Dapr code does) reaches that runtime and wakes its engine at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from wayline.engine.clock import Clock
from wayline.engine.feed import CommitFeed
from wayline.engine.observer import Observer
from wayline.store import Store


@dataclass(frozen=True)
class RunningRuntime:
    """What a running runtime lends a client made without a store."""

    store: Store
    clock: Clock | None
    on_change: Callable[[], None]
    feed: CommitFeed
    app_id: str
    observer: Observer | None = None


# The workflow runtimes running in this process, so that a client made without a
# store (``DaprWorkflowClient()``, as Dapr code does) reaches the runtime's store
# instead of silently opening the default one, where nothing would ever run.
_running_runtimes: dict[int, RunningRuntime] = {}
_running_lock = threading.Lock()


def register_running_runtime(
    key: int,
    store: Store,
    clock: Clock | None,
    on_change: Callable[[], None],
    feed: CommitFeed,
    app_id: str,
    observer: Observer | None = None,
) -> None:
    """Called by ``WorkflowRuntime`` when it starts (``unregister_...`` when it stops)."""
    with _running_lock:
        _running_runtimes[key] = RunningRuntime(store, clock, on_change, feed, app_id, observer)


def unregister_running_runtime(key: int) -> None:
    with _running_lock:
        _running_runtimes.pop(key, None)


def the_running_runtime(app_id: str | None) -> RunningRuntime | None:
    with _running_lock:
        running = [r for r in _running_runtimes.values() if app_id in (None, r.app_id)]
    # Stores of one database (several runtimes on one file) are the same to a client.
    databases = {
        getattr(r.store, "url", None) or getattr(r.store, "path", id(r.store)) for r in running
    }
    if len(databases) > 1:
        raise ValueError(
            f"{len(running)} workflow runtimes on different stores run in this process: "
            "pass store=... (or use runtime.client()) to say which one this client manages"
        )
    if len({r.app_id for r in running}) > 1:
        raise ValueError(
            f"workflow runtimes of {len({r.app_id for r in running})} apps run in this "
            "process: pass app_id=... (or use runtime.client()) to say which app this "
            "client starts workflows in"
        )
    return running[0] if running else None
