"""The test environment (see the package docstring)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

from wayline.client import AsyncWorkflowClient, WorkflowClient, WorkflowState
from wayline.core.events import WorkflowStatus
from wayline.core.registry import Registry
from wayline.engine.clock import ManualClock
from wayline.engine.observer import Observer
from wayline.engine.settings import EngineSettings
from wayline.runtime import WorkflowRuntime

#: Where the virtual clock starts unless told otherwise: a fixed moment, so test
#: output (timestamps, timer times) is the same on every run.
DEFAULT_START = datetime(2030, 1, 1, tzinfo=UTC)


class WorkflowStuckError(AssertionError):
    """The instance waits for something no timer will bring (an external event, a
    worker), so waiting for it would never end."""


class WorkflowTurnError(AssertionError):
    """A turn of an instance failed inside the engine (a replay that disagrees with the
    cached run under ``always_replay``, or a bug): the test fails with it."""


class _TurnFailures(Observer):
    def __init__(self) -> None:
        self.failures: list[tuple[str, BaseException]] = []

    def turn_failed(self, instance_id: str, workflow_name: str, error: BaseException) -> None:
        self.failures.append((instance_id, error))

    def check(self) -> None:
        if self.failures:
            instance_id, error = self.failures[0]
            raise WorkflowTurnError(
                f"a turn of workflow instance {instance_id!r} failed: "
                f"{type(error).__name__}: {error}"
            ) from error


class WorkflowTestEnvironment:
    """A runtime with the workflows and activities of ``app`` on a fresh store and a
    virtual clock (see the package docstring). Use it as a context manager.

    Args:
        app: the ``WorkflowRuntime`` (or ``Registry``) whose registrations to run; it
            is not changed and need not be started.
        activities: activity replacements by name, for this environment only
            (``{"charge": fake_charge}``); names the app lacks are added.
        store: a store URL to use instead of a fresh SQLite file.
        start: the virtual clock's first moment.
        time_skipping: jump the clock to the next timer while ``wait_for_completion``
            waits and nothing else can happen (``sleep`` always moves it).
        always_replay: replay every turn from the stored history and fail the test
            (the instance's turn logs an error) if it disagrees with the cached run.
        settings: further engine settings.
    """

    def __init__(
        self,
        app: WorkflowRuntime | Registry,
        *,
        activities: Mapping[str, Callable[..., Any]] | None = None,
        store: str | None = None,
        start: datetime = DEFAULT_START,
        time_skipping: bool = True,
        always_replay: bool = True,
        settings: EngineSettings | None = None,
    ) -> None:
        source = app.registry if isinstance(app, WorkflowRuntime) else app
        self._folder = None if store is not None else Path(tempfile.mkdtemp(prefix="wayline-"))
        url = store or f"sqlite:///{self._folder}/wayline.db?synchronous=normal"
        self.clock = ManualClock(start)
        self.time_skipping = time_skipping
        base = settings or EngineSettings()
        self._turn_failures = _TurnFailures()
        self.runtime = WorkflowRuntime(
            store=url,
            clock=self.clock,
            settings=dataclasses.replace(base, always_replay=always_replay),
            observer=self._turn_failures,
        )
        # A copy: replacing an activity here never touches the app's own registry.
        self.runtime.registry = Registry(
            workflows=dict(source.workflows), activities=dict(source.activities)
        )
        for name, fn in (activities or {}).items():
            self.replace_activity(name, fn)
        self._client: WorkflowClient | None = None

    # ----- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        self.runtime.start()
        self._client = self.runtime.client()
        return self

    def close(self) -> None:
        self.runtime.shutdown()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- what tests use ------------------------------------------------------------------

    @property
    def client(self) -> WorkflowClient:
        """A client of this environment's store that wakes its engine at once."""
        if self._client is None:
            raise RuntimeError("start the test environment first (use it in a with block)")
        return self._client

    @property
    def now(self) -> datetime:
        """The virtual time."""
        return self.clock.now()

    def replace_activity(self, name: str, fn: Callable[..., Any]) -> None:
        """Run ``fn`` for activity ``name`` from now on (``fn(ctx, input)``, plain or async)."""
        self.runtime.registry.activities[name] = fn

    def run_until_idle(self) -> datetime | None:
        """Run what can run at the current virtual time, until nothing can; return when
        work next comes due (None: nothing scheduled). Time does not move.
        ``WorkflowTurnError`` if a turn failed in the engine meanwhile."""
        return self.runtime.wait_idle(check=self._turn_failures.check)

    def sleep(self, duration: timedelta | float) -> datetime:
        """Move the clock ``duration`` ahead, running everything that comes due on the
        way in order (timers fire at their own times, not all at the end)."""
        delta = duration if isinstance(duration, timedelta) else timedelta(seconds=duration)
        target = self.now + delta
        while (due := self.run_until_idle()) is not None and due <= target:
            self.clock.advance_to(due)
        self.clock.advance_to(target)
        self.run_until_idle()
        return self.now

    def wait_for_completion(
        self, instance_id: str, *, within: timedelta = timedelta(days=3650)
    ) -> WorkflowState:
        """Run until the instance finishes (COMPLETED, FAILED or TERMINATED) and return
        its state. With time skipping, the clock jumps to each next timer while nothing
        else can happen, up to ``within`` of virtual time. ``WorkflowStuckError`` when
        it waits for something no timer brings (an external event nobody raises)."""
        deadline = self.now + within
        while True:
            due = self.run_until_idle()
            state = self.client.get_workflow(instance_id)
            if state.runtime_status.is_terminal:
                return state
            if due is None or not self.time_skipping or due > deadline:
                waiting = (
                    "an external event or a worker"
                    if due is None
                    else f"a timer at {due.isoformat()}"
                )
                raise WorkflowStuckError(
                    f"workflow instance {instance_id!r} is {state.runtime_status.value} and "
                    f"waits for {waiting}"
                    + ("" if self.time_skipping else " (time skipping is off: env.sleep)")
                )
            self.clock.advance_to(due)

    def status(self, instance_id: str) -> WorkflowStatus:
        return self.client.get_workflow(instance_id).runtime_status


class AsyncWorkflowTestEnvironment:
    """The asyncio form of :class:`WorkflowTestEnvironment` (same arguments): ``async
    with``, awaitable ``run_until_idle``, ``sleep``, ``wait_for_completion``, and an
    ``AsyncWorkflowClient``."""

    def __init__(self, app: WorkflowRuntime | Registry, **options: Any) -> None:
        self.sync = WorkflowTestEnvironment(app, **options)
        self._client: AsyncWorkflowClient | None = None

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.sync.start)
        self._client = AsyncWorkflowClient(sync_client=self.sync.client)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.sync.close)

    @property
    def client(self) -> AsyncWorkflowClient:
        if self._client is None:
            raise RuntimeError("start the test environment first (async with)")
        return self._client

    @property
    def now(self) -> datetime:
        return self.sync.now

    def replace_activity(self, name: str, fn: Callable[..., Any]) -> None:
        self.sync.replace_activity(name, fn)

    async def run_until_idle(self) -> datetime | None:
        return await asyncio.to_thread(self.sync.run_until_idle)

    async def sleep(self, duration: timedelta | float) -> datetime:
        return await asyncio.to_thread(self.sync.sleep, duration)

    async def wait_for_completion(
        self, instance_id: str, *, within: timedelta = timedelta(days=3650)
    ) -> WorkflowState:
        return await asyncio.to_thread(self.sync.wait_for_completion, instance_id, within=within)
