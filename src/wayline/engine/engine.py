"""The runtime: claims work from the store, runs turns and activities, commits results.

One asyncio loop drives everything. Workflow turns run on the loop (they are
fast, deterministic and do no I/O); store calls run on a dedicated thread so the
loop never blocks on the database; plain-function activities run in a bounded
thread pool and ``async def`` activities on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import os
import socket
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from wayline.core import serde
from wayline.core.actions import CompleteWorkflow
from wayline.core.activity import WorkflowActivityContext
from wayline.core.events import HistoryEvent, TaskCompleted, TaskFailed, WorkflowStatus
from wayline.core.executor import TurnResult, WorkflowExecutor, failure_from_exception
from wayline.core.registry import Registry, call_with_input
from wayline.engine.cache import CachedExecutor, ExecutorCache
from wayline.engine.clock import Clock, SystemClock
from wayline.engine.remote import WorkerHub, WorkerLostError
from wayline.engine.turns import (
    TurnInput,
    plan_commit,
    plan_noop,
    plan_termination,
    select_messages,
)
from wayline.errors import LeaseLostError, SerializationError
from wayline.store.base import ChangeSource, Store
from wayline.store.types import ClaimedTask, ClaimedTurn, TaskResult, TurnCommit

log = logging.getLogger("wayline.engine")

T = TypeVar("T")


@dataclass(frozen=True)
class EngineSettings:
    """Tunables of one engine process.

    Args:
        max_concurrent_turns: workflow turns claimed and in flight at once.
        max_concurrent_activities: activities running at once (also the thread pool size).
        turn_lease: how long a claimed turn stays ours before another node may take it.
        activity_lease: how long a claimed activity stays ours; renewed while it runs.
        poll_interval: the longest the engine sleeps without checking the store
            (other processes may have written to it).
        cache_size: live executors kept to skip replay (0 disables the cache).
        verify_replay: also replay every turn from the stored history and fail
            loudly if the cached executor disagrees (for tests; costs a history read).
        max_payload_bytes: largest serialized activity result or workflow output.
        node_id: this process's name in leases; random when omitted.
    """

    max_concurrent_turns: int = 64
    max_concurrent_activities: int = 32
    turn_lease: timedelta = timedelta(seconds=30)
    activity_lease: timedelta = timedelta(seconds=60)
    poll_interval: timedelta = timedelta(milliseconds=250)
    cache_size: int = 10_000
    verify_replay: bool = False
    max_payload_bytes: int = 4 * 1024 * 1024
    node_id: str | None = None


def _default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Engine:
    """Executes the workflows and activities of a ``Registry`` against a ``Store``.

    With a ``WorkerHub``, work whose name the registry lacks goes to the remote
    workers connected to it (Dapr SDK apps), and is claimed only while one is.
    """

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        wrap_context: Callable[[Any], Any] | None = None,
        on_commit: Callable[[str], None] | None = None,
        remote: WorkerHub | None = None,
    ) -> None:
        self.store = store
        self.remote = remote
        self.registry = registry
        self.settings = settings or EngineSettings()
        self.clock: Clock = clock or SystemClock()
        self.node_id = self.settings.node_id or _default_node_id()
        self._wrap_context = wrap_context
        self._on_commit = on_commit
        self._cache = ExecutorCache(self.settings.cache_size)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turn_wakeup: asyncio.Event | None = None
        self._task_wakeup: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._store_pool = ThreadPoolExecutor(1, thread_name_prefix="wayline-store")
        self._activity_pool = ThreadPoolExecutor(
            self.settings.max_concurrent_activities, thread_name_prefix="wayline-activity"
        )
        self._running_tasks: dict[int, asyncio.Task[None]] = {}
        self._running_turns: set[asyncio.Task[None]] = set()

    # ----- lifecycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Run until :meth:`stop`; in-flight work is committed or left for recovery."""
        self._loop = asyncio.get_running_loop()
        self._turn_wakeup = asyncio.Event()
        self._task_wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        subscribe = getattr(self.clock, "subscribe", None)
        if subscribe is not None:
            subscribe(self.notify)
        # Stores shared by processes (PostgreSQL) push "new work" wake-ups; the poll
        # interval is then only the fallback (expired leases, a lost listener).
        if isinstance(self.store, ChangeSource):
            self.store.watch_changes(self.notify)
        if self.remote is not None:
            self.remote.subscribe(self.notify)
        loops = [
            asyncio.create_task(self._turn_loop(), name="wayline-turns"),
            asyncio.create_task(self._task_loop(), name="wayline-activities"),
            asyncio.create_task(self._lease_keeper(), name="wayline-leases"),
        ]
        try:
            await self._stopping.wait()
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            await self._drain()
            unsubscribe = getattr(self.clock, "unsubscribe", None)
            if unsubscribe is not None:
                unsubscribe(self.notify)
            if isinstance(self.store, ChangeSource):
                self.store.unwatch_changes(self.notify)
            if self.remote is not None:
                self.remote.unsubscribe(self.notify)

    async def _drain(self) -> None:
        # Turns are short: let them commit. Activities may run for long: give their
        # leases back so a restart picks them up at once instead of after expiry.
        if self._running_turns:
            await asyncio.gather(*self._running_turns, return_exceptions=True)
        if self._running_tasks:
            keys = list(self._running_tasks)
            for task in self._running_tasks.values():
                task.cancel()
            await asyncio.gather(*self._running_tasks.values(), return_exceptions=True)
            with contextlib.suppress(Exception):
                self.store.release_tasks(keys, owner=self.node_id)
        self._activity_pool.shutdown(wait=False, cancel_futures=True)
        self._store_pool.shutdown(wait=True)

    def stop(self) -> None:
        """Ask :meth:`run` to finish (thread-safe)."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    def notify(self) -> None:
        """Tell the engine the store may have new work (thread-safe, cheap)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        if self._turn_wakeup is not None and self._task_wakeup is not None:
            self._turn_wakeup.set()
            self._task_wakeup.set()

    def _claimable(self, local: dict[str, Any]) -> list[str] | None:
        """Names to claim work for: the local ones, or any name (None) while a remote
        worker is connected to run what is not local."""
        if self.remote is not None and self.remote.has_workers:
            return None
        return list(local)

    async def _store_call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._store_pool, lambda: fn(*args, **kwargs))

    async def _sleep_until_work(self, wakeup: asyncio.Event, due: datetime | None) -> None:
        timeout = self.settings.poll_interval.total_seconds()
        if due is not None:
            timeout = min(timeout, max(0.0, (due - self.clock.now()).total_seconds()))
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives
        # together with the wake-up, and the loop would then outlive stop().
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await wakeup.wait()
        wakeup.clear()

    # ----- workflow turns -----------------------------------------------------------------

    async def _turn_loop(self) -> None:
        assert self._turn_wakeup is not None
        limit = self.settings.max_concurrent_turns
        while True:
            free = limit - len(self._running_turns)
            claimed: list[ClaimedTurn] = []
            names = self._claimable(self.registry.workflows)
            if free > 0 and names != []:
                try:
                    claimed = await self._store_call(
                        self.store.claim_turns,
                        owner=self.node_id,
                        workflow_names=names,
                        now=self.clock.now(),
                        lease=self.settings.turn_lease,
                        limit=free,
                    )
                except Exception:
                    log.exception("claiming workflow turns failed; retrying")
            for item in claimed:
                task = asyncio.create_task(self._run_turn(item))
                self._running_turns.add(task)
                task.add_done_callback(self._running_turns.discard)
            if claimed and len(claimed) == free:
                await asyncio.sleep(0)  # more may be waiting: claim again at once
                continue
            due = None
            if not claimed:
                with contextlib.suppress(Exception):
                    due = await self._store_call(self.store.next_wakeup, now=self.clock.now())
            await self._sleep_until_work(self._turn_wakeup, due)

    async def _run_turn(self, claimed: ClaimedTurn) -> None:
        instance = claimed.instance
        try:
            commit = await self._plan_turn(claimed)
            if commit is None:
                await self._store_call(
                    self.store.release_turn, instance.instance_id, claimed.lease_token
                )
                return
            await self._store_call(self.store.commit_turn, commit)
        except LeaseLostError as exc:
            self._cache.evict(instance.instance_id)
            log.warning("%s", exc)
            return
        except WorkerLostError as exc:
            # Back to the store: claimed again, and sent again, once a worker is here.
            log.info("turn of %r goes back to the queue: %s", instance.instance_id, exc)
            with contextlib.suppress(Exception):
                await self._store_call(
                    self.store.release_turn, instance.instance_id, claimed.lease_token
                )
            return
        except Exception:
            self._cache.evict(instance.instance_id)
            log.exception(
                "turn of workflow instance %r failed; it will be retried", instance.instance_id
            )
            with contextlib.suppress(Exception):
                await self._store_call(
                    self.store.release_turn, instance.instance_id, claimed.lease_token
                )
            return
        # A new timer may be due before the loop's next poll: wake it to re-read the
        # earliest due time instead of firing up to a poll interval late.
        if (
            commit.tasks
            or commit.timers
            or commit.children
            or commit.messages
            or commit.continue_as_new
        ):
            self._wake_all()
        elif self._turn_wakeup is not None:
            # Events that arrived during the turn could not be claimed then (the lease
            # was ours); claim them now rather than at the next poll.
            self._turn_wakeup.set()
        if self._on_commit is not None:
            self._on_commit(instance.instance_id)

    async def _plan_turn(self, claimed: ClaimedTurn) -> TurnCommit | None:
        instance = claimed.instance
        now = self.clock.now()
        turn = select_messages(claimed, now)
        if turn.terminate is not None:
            self._cache.evict(instance.instance_id)
            children = (
                await self._store_call(self.store.active_children, instance.instance_id)
                if turn.terminate.recurse
                else []
            )
            return plan_termination(claimed, turn, now, children)
        if not turn.has_work:
            if not turn.consumed:
                return None
            commit = plan_noop(claimed, turn, now)
            self._refresh_cache_version(claimed)
            return commit
        result = await self._execute(claimed, turn)
        commit = plan_commit(claimed, turn, result, now)
        return self._check_payload_sizes(claimed, turn, result, commit, now)

    def _refresh_cache_version(self, claimed: ClaimedTurn) -> None:
        instance = claimed.instance
        executor = self._cache.get(instance.instance_id, instance.execution_id, instance.version)
        if executor is not None:
            self._cache.put(
                instance.instance_id,
                CachedExecutor(executor, instance.execution_id, instance.version + 1),
            )

    async def _execute(self, claimed: ClaimedTurn, turn: TurnInput) -> TurnResult:
        instance = claimed.instance
        if instance.name not in self.registry.workflows:
            return await self._execute_remotely(claimed, turn)
        executor = self._cache.get(instance.instance_id, instance.execution_id, instance.version)
        history: list[HistoryEvent] | None = None
        if executor is None:
            history = await self._store_call(self.store.get_history, instance.instance_id)
            executor = self._new_executor(instance.instance_id, instance.name)
            result = executor.execute(history, turn.new_events)
        else:
            result = executor.execute([], turn.new_events)
            if self.settings.verify_replay:
                history = await self._store_call(self.store.get_history, instance.instance_id)
                replayed = self._new_executor(instance.instance_id, instance.name).execute(
                    history, turn.new_events
                )
                if _comparable(replayed) != _comparable(result):
                    raise AssertionError(
                        f"replay of {instance.instance_id!r} disagrees with its cached "
                        f"executor: {replayed.actions} != {result.actions}"
                    )
        if executor.is_complete:
            self._cache.evict(instance.instance_id)
        else:
            self._cache.put(
                instance.instance_id,
                CachedExecutor(executor, instance.execution_id, instance.version + 1),
            )
        return result

    async def _execute_remotely(self, claimed: ClaimedTurn, turn: TurnInput) -> TurnResult:
        """Run a turn on a remote worker, keeping the lease while it works on it."""
        assert self.remote is not None, "claimed a workflow nobody here can run"
        instance = claimed.instance
        history = await self._store_call(self.store.get_history, instance.instance_id)
        keeper = asyncio.create_task(self._keep_turn_lease(claimed))
        try:
            return await self.remote.run_turn(
                instance.instance_id, instance.execution_id, history, turn.new_events
            )
        finally:
            keeper.cancel()

    async def _keep_turn_lease(self, claimed: ClaimedTurn) -> None:
        lease = self.settings.turn_lease
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            with contextlib.suppress(Exception):  # a failed renewal is retried; fencing holds
                await self._store_call(
                    self.store.extend_turn_lease,
                    claimed.instance.instance_id,
                    claimed.lease_token,
                    until=self.clock.now() + lease,
                )

    def _new_executor(self, instance_id: str, name: str) -> WorkflowExecutor:
        return WorkflowExecutor(instance_id, self.registry.workflows[name], self._wrap_context)

    def _check_payload_sizes(
        self,
        claimed: ClaimedTurn,
        turn: TurnInput,
        result: TurnResult,
        commit: TurnCommit,
        now: datetime,
    ) -> TurnCommit:
        """Fail the workflow (instead of storing it) when its output is over the limit."""
        limit = self.settings.max_payload_bytes
        output = commit.output or ""
        if len(output.encode()) <= limit:
            return commit
        self._cache.evict(claimed.instance.instance_id)
        failed = failure_from_exception(
            SerializationError(
                f"the workflow output is {len(output.encode())} bytes, over the "
                f"{limit}-byte payload limit; return a reference (a key or URL) instead"
            )
        )
        completion = result.completion
        assert completion is not None
        replaced = TurnResult(
            actions=(
                CompleteWorkflow(id=completion.id, status=WorkflowStatus.FAILED, failure=failed),
            ),
            custom_status=result.custom_status,
        )
        return plan_commit(claimed, turn, replaced, now)

    # ----- activities ---------------------------------------------------------------------

    async def _task_loop(self) -> None:
        assert self._task_wakeup is not None
        limit = self.settings.max_concurrent_activities
        while True:
            free = limit - len(self._running_tasks)
            claimed: list[ClaimedTask] = []
            names = self._claimable(self.registry.activities)
            if free > 0 and names != []:
                try:
                    claimed = await self._store_call(
                        self.store.claim_tasks,
                        owner=self.node_id,
                        activity_names=names,
                        now=self.clock.now(),
                        lease=self.settings.activity_lease,
                        limit=free,
                    )
                except Exception:
                    log.exception("claiming activity tasks failed; retrying")
            for item in claimed:
                if item.key in self._running_tasks:
                    continue  # our own lease lapsed (a clock jump): it is still running here
                self._running_tasks[item.key] = asyncio.create_task(self._run_task(item))
            if claimed and len(claimed) == free:
                await asyncio.sleep(0)
                continue
            await self._sleep_until_work(self._task_wakeup, None)

    async def _run_task(self, task: ClaimedTask) -> None:
        try:
            try:
                if task.name in self.registry.activities:
                    result = await self._invoke_activity(task)
                else:
                    assert self.remote is not None, "claimed an activity nobody here can run"
                    result = self._checked_remote_result(task, await self.remote.run_activity(task))
            except WorkerLostError as exc:
                log.info("activity %r goes back to the queue: %s", task.name, exc)
                with contextlib.suppress(Exception):
                    await self._store_call(self.store.release_tasks, [task.key], owner=self.node_id)
                return
            try:
                applied = await self._store_call(
                    self.store.complete_task, task, result, now=self.clock.now()
                )
            except Exception:
                log.exception(
                    "recording the result of activity %r failed; it will re-run", task.name
                )
                return
            if applied:
                self._wake_all()
        finally:
            self._running_tasks.pop(task.key, None)
            if self._task_wakeup is not None:
                self._task_wakeup.set()

    def _checked_remote_result(self, task: ClaimedTask, result: TaskResult) -> TaskResult:
        """A remote activity's result with its task execution id, or a failure if it is
        over the payload limit."""
        result = dataclasses.replace(result, task_execution_id=task.task_execution_id)
        if isinstance(result, TaskCompleted):
            try:
                self._check_activity_result(task, result.result)
            except SerializationError as exc:
                return TaskFailed(
                    timestamp=self.clock.now(),
                    task_scheduled_id=task.task_id,
                    task_execution_id=task.task_execution_id,
                    failure=failure_from_exception(exc),
                )
        return result

    def _check_activity_result(self, task: ClaimedTask, encoded: str | None) -> None:
        size = len(encoded.encode()) if encoded else 0
        limit = self.settings.max_payload_bytes
        if size > limit:
            raise SerializationError(
                f"activity {task.name!r} returned {size} bytes, over the {limit}-byte "
                "payload limit; return a reference (a key or URL) instead"
            )

    async def _invoke_activity(self, task: ClaimedTask) -> TaskResult:
        fn = self.registry.activities[task.name]
        ctx = WorkflowActivityContext(task.instance_id, task.task_id, task.attempt)
        try:
            value = serde.loads_lenient(task.input)
            if inspect.iscoroutinefunction(fn):
                outcome = await call_with_input(fn, ctx, value)
            else:
                loop = asyncio.get_running_loop()
                outcome = await loop.run_in_executor(
                    self._activity_pool, call_with_input, fn, ctx, value
                )
            encoded = serde.dumps(outcome)
            self._check_activity_result(task, encoded)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return TaskFailed(
                timestamp=self.clock.now(),
                task_scheduled_id=task.task_id,
                task_execution_id=task.task_execution_id,
                failure=failure_from_exception(exc),
            )
        return TaskCompleted(
            timestamp=self.clock.now(),
            task_scheduled_id=task.task_id,
            task_execution_id=task.task_execution_id,
            result=encoded,
        )

    async def _lease_keeper(self) -> None:
        """Renew the leases of running activities well before they expire."""
        interval = self.settings.activity_lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            keys = list(self._running_tasks)
            if keys:
                try:
                    await self._store_call(
                        self.store.extend_task_leases,
                        keys,
                        owner=self.node_id,
                        until=self.clock.now() + self.settings.activity_lease,
                    )
                except Exception:
                    log.exception("renewing activity leases failed")


def _comparable(result: TurnResult) -> tuple[Any, ...]:
    return (result.actions, result.custom_status)
