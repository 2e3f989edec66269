"""``WorkflowRuntime``: register workflows and activities, run them embedded.

Mirrors ``dapr.ext.workflow.WorkflowRuntime``, so Dapr workflow code ports by
changing the import. ``with runtime:`` starts the engine on a background thread
and stops it cleanly on exit.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, overload

from wayline.client import (
    AsyncWorkflowClient,
    WorkflowClient,
    register_running_runtime,
    unregister_running_runtime,
)
from wayline.core.registry import Registry
from wayline.engine.clock import Clock
from wayline.engine.engine import Engine
from wayline.engine.feed import CommitFeed
from wayline.engine.observer import Observer
from wayline.engine.settings import EngineSettings
from wayline.store import Store, open_store

log = logging.getLogger("wayline.runtime")

F = TypeVar("F", bound=Callable[..., Any])


class WorkflowRuntime:
    """Hosts workflows and activities and executes them against a store.

    Args:
        store: a store URL (``sqlite:///wayline.db`` by default,
            ``postgresql://...``), a path, or a ``Store``. Opened on first use.
        settings: engine tunables (concurrency, leases, cache); see ``EngineSettings``.
        clock: time source; tests pass a ``ManualClock`` to move time.
        max_concurrent_activities: a shortcut into ``settings``.
        max_concurrent_turns: a shortcut into ``settings``.
        app_id: the app this runtime is a node of (multi-app workflows: runtimes of
            other apps on the same store run the activities and child workflows
            called with their ``app_id``); a shortcut into ``settings``.
        observer: hears what the engine and this runtime's clients do (the metrics
            and tracing adapters of ``wayline.observability`` are observers).
        host: accepted (positionally too, as ``WorkflowRuntime("localhost", "50001")``)
            for source compatibility with ``dapr-ext-workflow``, and ignored: no sidecar.
        port: the same.
        **dapr_compat: ``logger_options``, ``interceptors`` and the other arguments of
            ``dapr-ext-workflow``'s runtime: accepted and ignored.
    """

    def __init__(
        self,
        host: str | None = None,
        port: str | int | None = None,
        *,
        store: str | Path | Store | None = None,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        max_concurrent_activities: int | None = None,
        max_concurrent_turns: int | None = None,
        app_id: str | None = None,
        observer: Observer | None = None,
        **dapr_compat: Any,
    ) -> None:
        del host, port, dapr_compat
        self._store_spec = store
        self._store: Store | None = None
        base = settings or EngineSettings()
        overrides: dict[str, Any] = {}
        if max_concurrent_activities is not None:
            overrides["max_concurrent_activities"] = max_concurrent_activities
        if max_concurrent_turns is not None:
            overrides["max_concurrent_turns"] = max_concurrent_turns
        if app_id is not None:
            overrides["app_id"] = app_id
        self._settings = EngineSettings(**{**base.__dict__, **overrides})
        self._clock = clock
        self.observer = observer
        self.registry = Registry()
        self._feed = CommitFeed()
        self._engine: Engine | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()

    # ----- registration (dapr-ext-workflow names) ------------------------------------------

    def register_workflow(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        """Register a workflow generator function under ``name`` (default: its name)."""
        self.registry.add_workflow(fn, name)

    def register_versioned_workflow(
        self,
        fn: Callable[..., Any],
        *,
        name: str,
        version_name: str | None = None,
        is_latest: bool,
    ) -> None:
        """Register ``fn`` as version ``version_name`` (default: its function name) of
        workflow ``name``. New instances run the version registered ``is_latest``; an
        instance keeps the version it started with, and stalls (STALLED) where that
        version is not registered, until code that has it runs it."""
        self.registry.add_versioned_workflow(
            fn, name=name, version_name=version_name, is_latest=is_latest
        )

    def versioned_workflow(
        self,
        __fn: F | None = None,
        *,
        name: str,
        version_name: str | None = None,
        is_latest: bool,
    ) -> Any:
        """Decorator form of :meth:`register_versioned_workflow`."""

        def register(fn: F) -> F:
            self.register_versioned_workflow(
                fn, name=name, version_name=version_name, is_latest=is_latest
            )
            return fn

        return register(__fn) if __fn is not None else register

    def register_activity(self, fn: Callable[..., Any], *, name: str | None = None) -> None:
        """Register an activity (a plain or ``async def`` function)."""
        self.registry.add_activity(fn, name)

    @overload
    def workflow(self, __fn: F) -> F: ...

    @overload
    def workflow(self, __fn: None = None, *, name: str | None = None) -> Callable[[F], F]: ...

    def workflow(self, __fn: F | None = None, *, name: str | None = None) -> Any:
        """Decorator form of :meth:`register_workflow`, bare or with ``name=``."""

        def register(fn: F) -> F:
            self.register_workflow(fn, name=name)
            return fn

        return register(__fn) if __fn is not None else register

    @overload
    def activity(self, __fn: F) -> F: ...

    @overload
    def activity(self, __fn: None = None, *, name: str | None = None) -> Callable[[F], F]: ...

    def activity(self, __fn: F | None = None, *, name: str | None = None) -> Any:
        """Decorator form of :meth:`register_activity`, bare or with ``name=``."""

        def register(fn: F) -> F:
            self.register_activity(fn, name=name)
            return fn

        return register(__fn) if __fn is not None else register

    # ----- store and clients ----------------------------------------------------------------

    def configure(self, *, store: str | Path | Store | None = None) -> None:
        """Point the runtime at another store before it is first used (the server does)."""
        with self._lock:
            if self._store is not None:
                raise RuntimeError("the runtime's store is already open; configure it earlier")
            if store is not None:
                self._store_spec = store

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                self._store = open_store(self._store_spec)
            return self._store

    def client(self) -> WorkflowClient:
        """A client on this runtime's store that wakes its engine immediately."""
        return WorkflowClient(
            self.store,
            clock=self._clock,
            app_id=self._settings.app_id,
            _on_change=self._notify,
            _feed=self._feed,
            _observer=self.observer,
        )

    def async_client(self) -> AsyncWorkflowClient:
        """The asyncio twin of :meth:`client`."""
        return AsyncWorkflowClient(sync_client=self.client())

    def _notify(self) -> None:
        engine = self._engine
        if engine is not None:
            engine.notify_turns()

    # ----- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start executing on a background thread; returns once the engine runs."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("the workflow runtime is already started")
        store = self.store
        self._engine = Engine(
            store,
            self.registry,
            settings=self._settings,
            clock=self._clock,
            on_commit=self._feed.publish,
            observer=self.observer,
        )
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="wayline-engine", daemon=True)
        self._thread.start()
        self._ready.wait()
        register_running_runtime(
            id(self),
            store,
            self._clock,
            self._notify,
            self._feed,
            self._settings.app_id,
            self.observer,
        )

    def _run(self) -> None:
        assert self._engine is not None
        engine = self._engine

        async def main() -> None:
            task = asyncio.create_task(engine.run())
            started = asyncio.create_task(engine.started.wait())
            await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            self._ready.set()
            await task

        try:
            asyncio.run(main())
        except Exception:
            log.exception("the workflow engine stopped with an error")
        finally:
            self._ready.set()

    def wait_idle(
        self, timeout: float = 30.0, *, check: Callable[[], None] | None = None
    ) -> datetime | None:
        """Block until the engine is idle: nothing runs and nothing it can run is due at
        the clock's time. Returns when work next comes due (None: nothing scheduled).
        ``timeout`` (seconds of real time) bounds the wait: ``TimeoutError`` then.
        See ``Engine.idle``; with a ``ManualClock`` it is a test's deterministic step.
        ``check`` is called while waiting (every 50 ms) and may raise to stop the wait."""
        if self._engine is None:
            raise RuntimeError("the workflow runtime is not started")
        future = self._engine.idle_threadsafe()
        waited = 0.0
        try:
            while True:
                if check is not None:
                    check()
                try:
                    return future.result(min(0.05, max(timeout - waited, 0.0)))
                except TimeoutError:
                    waited += 0.05
                    if waited >= timeout:
                        raise TimeoutError(
                            f"the engine was still busy after {timeout} s (work due that no "
                            "node here can run, or an activity that does not return?)"
                        ) from None
        finally:
            future.cancel()

    def wait_for_worker_ready(self, timeout: float = 30.0) -> bool:
        """True once the engine is running (``dapr-ext-workflow`` compatibility)."""
        return self._ready.wait(timeout) and self._thread is not None

    def shutdown(self, timeout: float | None = 30.0) -> None:
        """Stop the engine: in-flight turns commit, running activities are released."""
        unregister_running_runtime(id(self))
        engine, thread = self._engine, self._thread
        if engine is not None and thread is not None:
            engine.stop()
            thread.join(timeout)
        self._engine = None
        self._thread = None
        with self._lock:
            if self._store is not None and isinstance(self._store_spec, str | Path | None):
                self._store.close()
                self._store = None

    def __enter__(self) -> WorkflowRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    @property
    def settings(self) -> EngineSettings:
        return self._settings
