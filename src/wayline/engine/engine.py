"""The runtime: runs workflow turns and activities, and commits what they produce.

One asyncio loop drives everything. Workflow turns run on the loop (they are
fast, deterministic and do no I/O); writes go to the store as commands
(``Store.submit``), which the store applies in group commits off the loop; reads
run in a small thread pool; plain-function activities run in a bounded thread
pool and ``async def`` activities on the loop.

The step's fast path: a turn's new activity tasks are leased to this node in the
turn's own commit, run at once, and their results feed the instance's next turn
directly (from the cached executor, without a claim) which commits with the
results in one transaction. Claims are made only when there may be work to
claim: a client started or signalled an instance, a commit queued work for
others, a timer or an expired lease came due, or another process changed the
store. If anything else touched the instance meanwhile, the store refuses the
unclaimed commit and the results go through the inbox instead, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from wayline.core.actions import CompleteWorkflow
from wayline.core.events import ExecutionStarted, FailureDetails, WorkflowStatus
from wayline.core.executor import TurnResult, WorkflowExecutor, failure_from_exception
from wayline.core.propagation import Propagated
from wayline.core.registry import Registry
from wayline.core.versioning import patch_mismatch, recorded_patches
from wayline.engine import propagation
from wayline.engine.activities import ActivityRunner
from wayline.engine.cache import CachedInstance, InstanceCache
from wayline.engine.clock import Clock, SystemClock
from wayline.engine.handoff import Handoff
from wayline.engine.logs import LogObserver, about
from wayline.engine.nodes import NODE_TTL, NodeDirectory
from wayline.engine.observer import ACTIVITY, TURN, Observer, Observers
from wayline.engine.remote import WorkerHub, WorkerLostError
from wayline.engine.settings import EngineSettings, default_node_id
from wayline.engine.turns import (
    Refusal,
    TaskLeasing,
    TurnInput,
    plan_commit,
    plan_noop,
    plan_stall,
    plan_termination,
    record_after,
    results_turn,
    select_messages,
)
from wayline.engine.wakeups import SWEEP_INTERVAL, Wanted, wait_then_clear
from wayline.engine.workers import WorkerThreads
from wayline.engine.writes import WriteBatcher
from wayline.errors import InstanceChangedError, LeaseLostError, SerializationError
from wayline.store import describe_store
from wayline.store.base import ChangeSource, Store
from wayline.store.commands import (
    ClaimTasks,
    ClaimTurns,
    CompleteTask,
    ExtendTaskLeases,
    ExtendTurnLease,
    PurgeExpired,
    ReleaseTasks,
    ReleaseTurn,
    Unstall,
    WriteCommand,
)
from wayline.store.types import (
    ClaimedTask,
    ClaimedTurn,
    CommitOutcome,
    InstanceRecord,
    NewTask,
    NodeInfo,
    TaskLease,
    TaskResult,
    TurnCommit,
)

log = logging.getLogger("wayline.engine")


T = TypeVar("T")


class Engine:
    """Executes the workflows and activities of a ``Registry`` against a ``Store``.

    With a ``WorkerHub``, work whose name the registry lacks goes to the remote
    workers connected to it (Dapr SDK apps), and is claimed only while one is.
    ``observer`` hears what happens (metrics, traces), besides the engine's logs.
    """

    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        settings: EngineSettings | None = None,
        clock: Clock | None = None,
        wrap_context: Callable[[Any], Any] | None = None,
        on_commit: Callable[[str, WorkflowStatus], None] | None = None,
        remote: WorkerHub | None = None,
        observer: Observer | None = None,
    ) -> None:
        self.store = store
        self.remote = remote
        self.registry = registry
        self.settings = settings or EngineSettings()
        self.clock: Clock = clock or SystemClock()
        self.node_id = self.settings.node_id or default_node_id()
        self._wrap_context = wrap_context
        self._on_commit = on_commit
        self._cache = InstanceCache(self.settings.cache_size)
        self._logs = LogObserver(workflow_name=self._cache.name_of)
        self._observer: Observer = (
            self._logs if observer is None else Observers((self._logs, observer))
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turns_wanted: Wanted | None = None
        self._tasks_wanted: Wanted | None = None
        self._watch_wakeup: asyncio.Event | None = None
        self._stopping: asyncio.Event | None = None
        self._read_pool = ThreadPoolExecutor(2, thread_name_prefix="wayline-read")
        self._activity_threads: WorkerThreads | None = None
        self._handoff: Handoff | None = None
        self._writes: WriteBatcher | None = None
        self._abandoned_claims: list[Future[Any]] = []  # cancelled at shutdown
        self._activities = ActivityRunner(
            registry.activities,
            self._in_worker_thread,
            max_payload_bytes=self.settings.max_payload_bytes,
            now=self.clock.now,
        )
        self._running_tasks: dict[int, asyncio.Task[None]] = {}
        self._reserved_tasks = 0  # leased by commits in flight, not yet running
        self._claimed_turns: set[asyncio.Task[None]] = set()
        self._result_drivers: dict[str, asyncio.Task[None]] = {}
        # Writes not awaited by their caller (results to inboxes, unstalls): drained at stop.
        self._background_writes: set[asyncio.Task[None]] = set()
        # Activity results waiting to be fed to their instance's next turn, by instance.
        self._results: dict[str, list[tuple[ClaimedTask, TaskResult]]] = {}
        # Instances with a turn running here, and what finishes when it ends.
        self._busy: dict[str, asyncio.Future[None]] = {}
        self._draining = False
        self._not_started: list[int] = []  # tasks leased to us while shutting down
        self._announced_remote_only: set[str] = set()
        self._nodes = NodeDirectory(self._describe, self.clock)
        #: Set once this node is announced (other nodes can see what it runs).
        self.started = asyncio.Event()

    @property
    def cache(self) -> InstanceCache:
        """The replay cache (its hit and miss counts are read by metrics)."""
        return self._cache

    # ----- lifecycle ----------------------------------------------------------------------

    async def run(self) -> None:
        """Run until :meth:`stop`; in-flight work is committed or left for recovery."""
        self._loop = asyncio.get_running_loop()
        self._handoff = Handoff(self._loop)
        self._writes = WriteBatcher(self.store, self._loop, self._handoff)
        self._activity_threads = WorkerThreads(
            self.settings.max_concurrent_activities, self._handoff
        )
        self._turns_wanted = Wanted()
        self._tasks_wanted = Wanted()
        self._watch_wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        subscribe = getattr(self.clock, "subscribe", None)
        if subscribe is not None:
            subscribe(self.notify)
        # Stores shared by processes (PostgreSQL) push "new work" wake-ups; the poll
        # interval is then only the fallback (a lost listener).
        if isinstance(self.store, ChangeSource):
            self.store.watch_changes(self.notify)
        if self.remote is not None:
            self.remote.subscribe(self._worker_connected)
        # Code that may match stalled instances' histories runs now.
        self._unstall(None if self.remote is not None else list(self.registry.workflows))
        try:
            await self._nodes.announce(self._write)
        except Exception:
            log.exception("announcing this node failed; retrying")
        self.started.set()
        up_since = time.monotonic()
        self._log_start()
        self._observer.engine_started(self)
        loops = [
            asyncio.create_task(self._announce_loop(), name="wayline-announce"),
            asyncio.create_task(self._turn_loop(), name="wayline-turns"),
            asyncio.create_task(self._task_loop(), name="wayline-activities"),
            asyncio.create_task(self._watch(), name="wayline-watch"),
            asyncio.create_task(self._lease_keeper(), name="wayline-leases"),
        ]
        try:
            await self._stopping.wait()
        finally:
            for task in loops:
                task.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            with contextlib.suppress(Exception):  # before the drain closes the writer
                await self._nodes.retire(self._write)
            handed_back = await self._drain()
            log.info(
                "node %s stopped after %.1f s; %d activity tasks handed back for the next start",
                self.node_id,
                time.monotonic() - up_since,
                handed_back,
                extra={"node_id": self.node_id, "app_id": self.settings.app_id},
            )
            unsubscribe = getattr(self.clock, "unsubscribe", None)
            if unsubscribe is not None:
                unsubscribe(self.notify)
            if isinstance(self.store, ChangeSource):
                self.store.unwatch_changes(self.notify)
            if self.remote is not None:
                self.remote.unsubscribe(self._worker_connected)
            self._observer.engine_stopped(self)

    def _log_start(self) -> None:
        """One line with this node's configuration (the store's password masked)."""
        settings = self.settings
        retention = settings.retention
        kept = {
            field.name: getattr(retention, field.name)
            for field in dataclasses.fields(retention)
            if getattr(retention, field.name) is not None
        }
        log.info(
            "node %s of app %r started: %d workflows, %d activities%s; store %s; up to %d "
            "turns and %d activities at once; turn lease %g s, activity lease %g s, poll "
            "every %g s, replay cache %d instances; retention %s",
            self.node_id,
            settings.app_id,
            len(self.registry.workflows),
            len(self.registry.activities),
            " (the rest to remote workers)" if self.remote is not None else "",
            describe_store(self.store),
            settings.max_concurrent_turns,
            settings.max_concurrent_activities,
            settings.turn_lease.total_seconds(),
            settings.activity_lease.total_seconds(),
            settings.poll_interval.total_seconds(),
            settings.cache_size,
            ", ".join(f"{k.replace('_', ' ')} {v.total_seconds():g} s" for k, v in kept.items())
            or "forever",
            extra={"node_id": self.node_id, "app_id": settings.app_id},
        )

    async def _drain(self) -> int:
        """Finish or give back the work in flight; returns how many activity tasks
        were given back."""
        # Activities may run for long: cancel them and give their leases back so a
        # restart picks them up at once instead of after expiry. Turns are short: let
        # them commit (one that finishes may start another, whose new tasks are not
        # started but given back too).
        self._draining = True
        keys = list(self._running_tasks)
        running_tasks = list(self._running_tasks.values())
        for task in running_tasks:
            task.cancel()
        await asyncio.gather(*running_tasks, return_exceptions=True)
        while busy := [
            *self._claimed_turns,
            *self._result_drivers.values(),
            *self._background_writes,
        ]:
            await asyncio.gather(*busy, return_exceptions=True)
        keys.extend(self._not_started)
        for abandoned in self._abandoned_claims:  # claimed as the loops were cancelled
            with contextlib.suppress(Exception):
                for item in await asyncio.wrap_future(abandoned):
                    if isinstance(item, ClaimedTask):
                        keys.append(item.key)
                    else:
                        await self._write(ReleaseTurn(item.instance.instance_id, item.lease_token))
        if keys:  # a task whose result was committed meanwhile is gone: a no-op for it
            with contextlib.suppress(Exception):
                await self._write(ReleaseTasks(tuple(keys), self.node_id))
        assert self._writes is not None
        self._writes.close()
        assert self._activity_threads is not None
        self._activity_threads.close()
        self._read_pool.shutdown(wait=True)
        return len(keys)

    def stop(self) -> None:
        """Ask :meth:`run` to finish (thread-safe)."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def idle(self) -> datetime | None:
        """Wait until nothing runs here and nothing this node can run is due; return when
        work next comes due (a timer, a scheduled start), or None if nothing is scheduled.

        A test's step API: with a ``ManualClock``, a test moves time, then awaits this
        instead of sleeping and hoping, and knows that nothing more happens until time
        moves again or someone starts or signals an instance. Work due that this node
        cannot run (another app's, a name nobody here registers) keeps it waiting.
        """
        while True:
            if not self._working():
                now = self.clock.now()
                dues = [d for d in await self._next_dues(now) if d is not None]
                if not self._working():
                    if not any(due <= now for due in dues):
                        return min(dues) if dues else None
                    self._want_everything()
            await asyncio.sleep(0.001)  # the loop runs the work; look again

    def idle_threadsafe(self) -> Future[datetime | None]:
        """:meth:`idle` for another thread (the engine must be running)."""
        if self._loop is None:
            raise RuntimeError("the engine is not running")
        return asyncio.run_coroutine_threadsafe(self.idle(), self._loop)

    async def _next_dues(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """When turns and activity tasks next come due (each None: none is queued)."""
        turns_due = await self._read(self.store.next_wakeup, now=now)
        tasks_due = await self._read(self.store.next_task_visible)
        return turns_due, tasks_due

    def _working(self) -> bool:
        """Whether anything is in flight on this node, or about to be claimed (a turn's
        commit, with the tasks it reserves, runs inside a claimed turn or a results
        driver: counted with them)."""
        claiming = _claiming(
            self._turns_wanted, self._claimable(self.registry.workflows)
        ) or _claiming(self._tasks_wanted, self._claimable(self.registry.activities))
        return bool(
            claiming
            or self._claimed_turns
            or self._running_tasks
            or self._result_drivers
            or self._background_writes
            or (self._writes is not None and self._writes.pending)
        )

    def notify(self) -> None:
        """Tell the engine the store may have new work of any kind (thread-safe, cheap)."""
        self._call_soon(self._want_everything)

    def _worker_connected(self) -> None:
        """A remote worker connected (thread-safe): it may run stalled instances."""
        self._call_soon(lambda: self._unstall(None))
        self.notify()

    def _unstall(self, names: list[str] | None) -> None:
        """Let stalled instances of ``names`` (None: any) run again, on this node's code."""

        async def unstall() -> None:
            try:
                if await self._write(Unstall(names, self.settings.app_id)):
                    self._want_turns()
            except Exception:
                log.exception("letting stalled instances run again failed")

        task = asyncio.create_task(unstall())
        self._background_writes.add(task)
        task.add_done_callback(self._background_writes.discard)

    def notify_turns(self) -> None:
        """Tell the engine a client created or signalled an instance (thread-safe)."""
        self._call_soon(self._want_turns)

    def _call_soon(self, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            loop.call_soon_threadsafe(callback)

    def _want_everything(self) -> None:
        self._want_turns()
        self._want_tasks()
        if self._watch_wakeup is not None:
            self._watch_wakeup.set()  # the clock may have moved: re-read what is due

    def _want_turns(self) -> None:
        if self._turns_wanted is not None:
            self._turns_wanted.set()

    def _want_tasks(self) -> None:
        if self._tasks_wanted is not None:
            self._tasks_wanted.set()

    def _claimable(self, local: dict[str, Any]) -> list[str] | None:
        """Names to claim work for: the local ones, or any name (None) while a remote
        worker is connected to run what is not local."""
        if self.remote is not None and self.remote.has_workers:
            return None
        return list(local)

    def _describe(self) -> NodeInfo:
        return NodeInfo(
            node_id=self.node_id,
            app_id=self.settings.app_id,
            workflows=frozenset(self.registry.workflows),
            activities=frozenset(self.registry.activities),
            remote_workers=self.remote is not None,
        )

    async def _announce_loop(self) -> None:
        """Renew this node's announcement well within its lifetime."""
        while True:
            await asyncio.sleep(NODE_TTL.total_seconds() / 3)
            try:
                await self._nodes.announce(self._write)
            except Exception:
                log.exception("announcing this node failed; retrying")

    def _note_unregistered(self, tasks: tuple[NewTask, ...]) -> None:
        """Say once per name when a server queues an activity nothing here can run."""
        if self.remote is None or self.remote.has_workers:
            return
        mine = {task.name for task in tasks if task.app_id == self.settings.app_id}
        for name in mine - set(self.registry.activities):
            if name not in self._announced_remote_only:
                self._announced_remote_only.add(name)
                log.warning(
                    "activity %r is not registered in this server's --app modules and no "
                    "worker is connected: its tasks wait for a worker that registers it",
                    name,
                )

    def _runs_here(self, name: str, local: dict[str, Any]) -> bool:
        return name in local or (self.remote is not None and self.remote.has_workers)

    async def _write(self, command: WriteCommand) -> Any:
        assert self._writes is not None
        return await self._writes.write(command)[1]

    async def _claim(self, command: ClaimTurns | ClaimTasks) -> list[Any]:
        """A claim whose result is given back at shutdown if the claimer was cancelled."""
        assert self._writes is not None
        future, waiter = self._writes.write(command)
        try:
            claimed: list[Any] = await waiter
        except asyncio.CancelledError:
            self._abandoned_claims.append(future)
            raise
        return claimed

    async def _in_worker_thread(self, fn: Callable[..., T], *args: Any) -> T:
        assert self._activity_threads is not None
        return await self._activity_threads.run(fn, *args)

    async def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_pool, functools.partial(fn, *args, **kwargs))

    @contextlib.asynccontextmanager
    async def _exclusive(self, instance_id: str) -> AsyncIterator[None]:
        """One turn of an instance at a time on this node (claimed or unclaimed)."""
        while (busy := self._busy.get(instance_id)) is not None:
            await busy
        done = asyncio.get_running_loop().create_future()
        self._busy[instance_id] = done
        try:
            yield
        finally:
            del self._busy[instance_id]
            done.set_result(None)

    # ----- finding work -----------------------------------------------------------------

    async def _watch(self) -> None:
        """Claim when something comes due or another process changes the store."""
        assert self._watch_wakeup is not None
        marker: int | None = None
        pushes_changes = isinstance(self.store, ChangeSource)
        swept = self.clock.now()
        while True:
            now = self.clock.now()
            dues: list[datetime] = []
            try:
                turns_due, tasks_due = await self._next_dues(now)
                # A store that pushes wake-ups (PostgreSQL's NOTIFY) needs no marker:
                # its marker moves with this node's own commits too.
                if not pushes_changes:
                    current = await self._read(self.store.change_marker)
                    if marker is not None and current != marker:
                        self._want_everything()
                    marker = current
                now = self.clock.now()
                # Now and then claim whatever is due, whatever the last claims saw: a
                # safety net for work no wake-up announced (a turn another node gave
                # back without committing).
                sweep = now - swept >= SWEEP_INTERVAL
                if sweep:
                    swept = now
                    await self._purge_expired(now)
                for due, wanted in (
                    (turns_due, self._turns_wanted),
                    (tasks_due, self._tasks_wanted),
                ):
                    assert wanted is not None
                    if due is not None and due <= now and sweep:
                        wanted.set()
                    elif due is not None and due <= now:
                        wanted.due(due)
                    elif due is not None:
                        dues.append(due)
            except Exception:
                log.exception("checking the store for due work failed; retrying")
            timeout = self.settings.poll_interval.total_seconds()
            for due in dues:
                timeout = min(timeout, (due - now).total_seconds())
            await wait_then_clear(self._watch_wakeup, timeout)

    async def _purge_expired(self, now: datetime) -> None:
        """Delete finished instances whose retention ran out (see engine.retention)."""
        command = PurgeExpired(now)
        deleted = 0
        while (count := await self._write(command)) == command.limit:
            deleted += count
        deleted += count
        if deleted:
            log.info(
                "deleted %d finished instance(s) whose retention ran out",
                deleted,
                extra={"count": deleted, "node_id": self.node_id},
            )

    async def _turn_loop(self) -> None:
        assert self._turns_wanted is not None
        await self._claim_loop(
            self._turns_wanted,
            "workflow turns",
            free=lambda: self.settings.max_concurrent_turns - len(self._claimed_turns),
            names=lambda: self._claimable(self.registry.workflows),
            command=lambda names, now, free: ClaimTurns(
                self.node_id, names, now, self.settings.turn_lease, free, self.settings.app_id
            ),
            start=self._start_turn,
        )

    async def _task_loop(self) -> None:
        assert self._tasks_wanted is not None
        await self._claim_loop(
            self._tasks_wanted,
            "activity tasks",
            free=self._free_activity_slots,
            names=lambda: self._claimable(self.registry.activities),
            command=lambda names, now, free: ClaimTasks(
                self.node_id, names, now, self.settings.activity_lease, free, self.settings.app_id
            ),
            start=self._start_task,
        )

    async def _claim_loop(
        self,
        wanted: Wanted,
        what: str,
        *,
        free: Callable[[], int],
        names: Callable[[], list[str] | None],
        command: Callable[[list[str] | None, datetime, int], ClaimTurns | ClaimTasks],
        start: Callable[[Any], None],
    ) -> None:
        """Claim work of one kind whenever some is wanted and there is room for it."""
        while True:
            await wait_then_clear(wanted.event, None)
            room, claimable = free(), names()
            if not wanted.pending or room <= 0 or claimable == []:
                continue  # finishing work or a connecting worker wakes us again
            now = self.clock.now()
            wanted.claiming(now)
            try:
                claimed = await self._claim(command(claimable, now, room))
            except Exception:
                log.exception("claiming %s failed; retrying", what)
                wanted.claimed(now, complete=False)
                await asyncio.sleep(self.settings.poll_interval.total_seconds())
                continue
            for item in claimed:
                start(item)
            wanted.claimed(now, complete=len(claimed) < room)

    def _start_turn(self, claimed: ClaimedTurn) -> None:
        if claimed.taken_over_from is not None:
            self._observer.lease_taken_over(
                TURN, claimed.instance.instance_id, claimed.taken_over_from
            )
        task = asyncio.create_task(self._run_turn(claimed))
        self._claimed_turns.add(task)
        task.add_done_callback(self._turn_done)

    def _turn_done(self, task: asyncio.Task[None]) -> None:
        self._claimed_turns.discard(task)
        if self._turns_wanted is not None and self._turns_wanted.pending:
            self._turns_wanted.event.set()

    def _free_activity_slots(self) -> int:
        return (
            self.settings.max_concurrent_activities
            - len(self._running_tasks)
            - self._reserved_tasks
        )

    # ----- workflow turns -----------------------------------------------------------------

    async def _run_turn(self, claimed: ClaimedTurn) -> None:
        instance = claimed.instance
        iid = instance.instance_id
        async with self._exclusive(iid):
            started = time.perf_counter()
            try:
                planned = await self._plan_claimed(claimed)
                if planned is None:
                    await self._write(ReleaseTurn(iid, claimed.lease_token))
                    return
                commit, entry = planned
                await self._commit(instance, commit, entry, started)
            except LeaseLostError as exc:
                self._observer.lease_lost(iid, str(exc))
            except WorkerLostError as exc:
                # Back to the store: claimed again, and sent again, once a worker is here.
                log.info(
                    "turn of %r goes back to the queue: %s",
                    iid,
                    exc,
                    extra=about(iid, instance.name),
                )
                self._observer.turn_failed(iid, instance.name, exc)
                with contextlib.suppress(Exception):
                    await self._write(ReleaseTurn(iid, claimed.lease_token))
                self._want_turns()
            except Exception as exc:
                self._cache.evict(iid)
                log.exception(
                    "turn of workflow instance %r failed; it will be retried",
                    iid,
                    extra=about(iid, instance.name),
                )
                self._observer.turn_failed(iid, instance.name, exc)
                with contextlib.suppress(Exception):
                    await self._write(ReleaseTurn(iid, claimed.lease_token))

    async def _plan_claimed(
        self, claimed: ClaimedTurn
    ) -> tuple[TurnCommit, CachedInstance | None] | None:
        """The commit of a claimed turn (None: nothing to do), and the cache entry to
        keep for the instance afterwards."""
        instance = claimed.instance
        now = self.clock.now()
        turn = select_messages(claimed, now)
        if turn.terminate is not None:
            self._cache.evict(instance.instance_id)
            children = (
                await self._read(self.store.active_children, instance.instance_id)
                if turn.terminate.recurse
                else []
            )
            return plan_termination(claimed, turn, now, children), None
        if instance.app_id != self.settings.app_id or not self._runs_here(
            instance.name, self.registry.workflows
        ):
            # Claimed for a terminate (any node applies one, whatever the instance's app
            # and workflow) that another turn consumed meanwhile: not ours to run.
            return None
        if not turn.has_work:
            if not turn.consumed:
                return None
            return plan_noop(claimed, turn, now), self._cache.get(instance)
        result, entry = await self._execute(
            instance, turn, self._cache.get(instance), claimed.lease_token
        )
        if result.stall is not None:
            self._cache.evict(instance.instance_id)  # its executor ran ahead of the store
            log.warning(
                "workflow instance %r stalled: %s",
                instance.instance_id,
                result.stall,
                extra=about(instance.instance_id, instance.name, status="STALLED"),
            )
            return plan_stall(claimed, result.stall, now), None
        commit = await self._plan(instance, turn, result, now, lease_token=claimed.lease_token)
        return commit, entry

    async def _commit(
        self,
        instance: InstanceRecord,
        commit: TurnCommit,
        entry: CachedInstance | None,
        started: float,
    ) -> None:
        """Commit a turn (begun at ``started``, a ``perf_counter`` time); then run the
        tasks it leased to us and wake what it queued."""
        if commit.status.is_terminal:
            expires_at = self.settings.retention.expiry(commit.status, commit.now)
            if expires_at is not None:
                commit = dataclasses.replace(commit, expires_at=expires_at)
        commit = self._observer.turn_planned(instance, commit)
        leased = sum(task.leased for task in commit.tasks) if commit.task_lease else 0
        self._reserved_tasks += leased
        committing = time.perf_counter()
        try:
            outcome: CommitOutcome = await self._write(commit)
        except BaseException:
            self._cache.evict(instance.instance_id)  # its executor ran ahead of the store
            raise
        finally:
            self._reserved_tasks -= leased
        committed = time.perf_counter()
        self._remember(instance, commit, outcome, entry)
        self._observer.turn_committed(
            instance,
            commit,
            outcome,
            seconds=committed - started,
            commit_seconds=committed - committing,
        )
        for task in outcome.leased_tasks:
            self._start_task(task)
        if leased < len(commit.tasks):
            self._want_tasks()
        if commit.children or commit.messages or commit.continue_as_new:
            self._want_turns()
        if outcome.ready_at is not None:
            if outcome.ready_at <= commit.now:
                self._want_turns()  # events arrived while the turn ran
            elif self._watch_wakeup is not None:
                self._watch_wakeup.set()  # a timer: re-read when the next one is due
        if self._on_commit is not None:
            self._on_commit(instance.instance_id, outcome.status)

    def _remember(
        self,
        instance: InstanceRecord,
        commit: TurnCommit,
        outcome: CommitOutcome,
        entry: CachedInstance | None,
    ) -> None:
        """Keep what the next turn needs, as of this commit, or forget the instance."""
        iid = instance.instance_id
        done = entry is not None and entry.executor is not None and entry.executor.is_complete
        if entry is None or done or commit.status.is_terminal or commit.continue_as_new:
            self._cache.evict(iid)
            return
        entry.record = record_after(instance, commit, outcome)
        if entry.executor is None:
            entry.history.extend(commit.history)  # a remote worker's past events
        self._cache.put(entry)

    async def _plan(
        self,
        instance: InstanceRecord,
        turn: TurnInput,
        result: TurnResult,
        now: datetime,
        **kw: Any,
    ) -> TurnCommit:
        """The turn's commit (see ``_plan_now``). Before failing a call nobody seems to
        run, it reads the node table again: a node that runs it may have started since
        this node last looked."""
        refused: list[FailureDetails] = []

        def refuse(kind: str, name: str, app_id: str) -> FailureDetails | None:
            why = self._nodes.refusal(kind, name, app_id)
            if why is not None:
                refused.append(why)
            return why

        commit = self._plan_now(instance, turn, result, now, refuse, **kw)
        if not refused:
            return commit
        await self._nodes.announce(self._write)
        return self._plan_now(instance, turn, result, now, self._nodes.refusal, **kw)

    def _plan_now(
        self,
        instance: InstanceRecord,
        turn: TurnInput,
        result: TurnResult,
        now: datetime,
        refuse: Refusal,
        *,
        lease_token: int | None = None,
        expected_version: int | None = None,
        completed_tasks: tuple[int, ...] = (),
    ) -> TurnCommit:
        """The turn's commit, taking the new tasks this node can run now, failing the
        calls ``refuse`` refuses, and failing the workflow (instead of storing it)
        when its output is over the limit."""
        free = self._free_activity_slots()
        leasing = (
            TaskLeasing(
                TaskLease(self.node_id, now + self.settings.activity_lease),
                free,
                lambda task: (
                    task.app_id == self.settings.app_id
                    and self._runs_here(task.name, self.registry.activities)
                ),
            )
            if free > 0
            else None
        )
        plan = functools.partial(
            plan_commit,
            instance,
            lease_token,
            turn,
            now=now,
            expected_version=expected_version,
            completed_tasks=completed_tasks,
            leasing=leasing,
            refuse=refuse,
        )
        commit = plan(result)
        self._note_unregistered(commit.tasks)
        limit = self.settings.max_payload_bytes
        output = commit.output or ""
        if len(output.encode()) <= limit:
            return commit
        failed = failure_from_exception(
            SerializationError(
                f"the workflow output is {len(output.encode())} bytes, over the "
                f"{limit}-byte payload limit; return a reference (a key or URL) instead"
            )
        )
        completion = result.completion
        assert completion is not None
        return plan(
            TurnResult(
                actions=(
                    CompleteWorkflow(
                        id=completion.id, status=WorkflowStatus.FAILED, failure=failed
                    ),
                ),
                custom_status=result.custom_status,
            )
        )

    async def _execute(
        self,
        instance: InstanceRecord,
        turn: TurnInput,
        entry: CachedInstance | None,
        lease_token: int | None = None,
    ) -> tuple[TurnResult, CachedInstance]:
        """Run a turn's workflow code, here or on a remote worker; returns the result
        and the cache entry that holds the instance's state after it."""
        iid = instance.instance_id
        if instance.name not in self.registry.workflows:
            self._cache.count(entry is not None and entry.executor is None)
            if entry is None or entry.executor is not None:
                history = await self._read(self.store.get_history, iid)
                propagated = await self._propagated_to(instance, history, turn.new_events)
                entry = CachedInstance(
                    instance,
                    history=history,
                    patches=recorded_patches(history),
                    propagated=propagated,
                )
            result = await self._execute_remotely(instance, turn, entry, lease_token)
            if result.stall is None:
                stall = patch_mismatch(entry.patches, result.patches)
                if stall is not None:
                    result = TurnResult(actions=(), custom_status=result.custom_status, stall=stall)
            # What the next turn starts from once this one commits (see ``_remember``).
            after = dataclasses.replace(
                entry, record=instance, patches=result.patches or entry.patches
            )
            return result, after
        self._cache.count(entry is not None and entry.executor is not None)
        if entry is None or entry.executor is None:
            history = await self._read(self.store.get_history, iid)
            propagated = await self._propagated_to(instance, history, turn.new_events)
            executor = self._new_executor(iid, instance.name, propagated)
            result = executor.execute(history, turn.new_events)
            return result, CachedInstance(instance, executor, propagated=propagated)
        result = entry.executor.execute([], turn.new_events)
        if self.settings.always_replay:
            history = await self._read(self.store.get_history, iid)
            replaying = self._new_executor(iid, instance.name, entry.propagated)
            replayed = replaying.execute(history, turn.new_events)
            if _comparable(replayed) != _comparable(result):
                current = await self._read(self.store.get_instance, iid)
                if current is None or current.version != instance.version:
                    # Another node committed since this turn's state: not a replay bug,
                    # and the store will refuse this turn anyway.
                    raise InstanceChangedError(f"{iid!r} changed while its turn ran here")
                raise AssertionError(
                    f"replay of {iid!r} disagrees with its cached executor: "
                    f"{replayed.actions} != {result.actions}"
                )
        return result, entry

    async def _execute_remotely(
        self,
        instance: InstanceRecord,
        turn: TurnInput,
        entry: CachedInstance,
        lease_token: int | None,
    ) -> TurnResult:
        """Run a turn on a remote worker, keeping a claimed turn's lease while it works."""
        assert self.remote is not None, "ran a workflow nobody here can run"
        keeper = (
            asyncio.create_task(self._keep_turn_lease(instance.instance_id, lease_token))
            if lease_token is not None
            else None
        )
        try:
            return await self.remote.run_turn(
                instance.instance_id,
                instance.execution_id,
                entry.history,
                turn.new_events,
                entry.propagated,
            )
        finally:
            if keeper is not None:
                keeper.cancel()

    async def _keep_turn_lease(self, instance_id: str, lease_token: int) -> None:
        lease = self.settings.turn_lease
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            try:
                kept = await self._write(
                    ExtendTurnLease(instance_id, lease_token, self.clock.now() + lease)
                )
            except Exception:  # a failed renewal is retried; fencing holds
                continue
            if not kept:
                self._observer.lease_lost(
                    instance_id,
                    f"the lease on workflow instance '{instance_id}' was taken over by "
                    "another node while a remote worker ran its turn; that node redoes it",
                )
                return

    async def _propagated_to(
        self, instance: InstanceRecord, history: list[Any], new_events: list[Any]
    ) -> Propagated | None:
        """The history a child instance received from its parent's call, if any."""
        # It opens the history (or, on a first turn, the new events): no copy of either.
        events = itertools.chain(history, new_events)
        started = next((e for e in events if isinstance(e, ExecutionStarted)), None)
        if started is None or started.parent is None or not started.parent.propagation:
            return None
        return await self._read(
            propagation.for_instance, self._load, instance, self.settings.app_id
        )

    def _load(self, instance_id: str) -> tuple[InstanceRecord | None, list[Any]]:
        """An instance and its history (blocking: run it on the read pool)."""
        return self.store.get_instance(instance_id), self.store.get_history(instance_id)

    def _new_executor(
        self, instance_id: str, name: str, propagated: Propagated | None
    ) -> WorkflowExecutor:
        return WorkflowExecutor(
            instance_id, self.registry.workflows[name], self._wrap_context, propagated
        )

    # ----- the step's fast path: results straight into the next turn ---------------------

    def _deliver(self, task: ClaimedTask, result: TaskResult) -> None:
        """Hand an activity's result to its instance's next turn on this node if we
        hold the instance's state, else to its inbox."""
        iid = task.instance_id
        entry = self._cache.peek(iid)
        if (
            entry is None
            or entry.record.execution_id != task.execution_id
            or entry.record.status != WorkflowStatus.RUNNING
            or not self._runs_here(entry.record.name, self.registry.workflows)
        ):
            writing = asyncio.create_task(self._to_inbox([(task, result)]))
            self._background_writes.add(writing)
            writing.add_done_callback(self._background_writes.discard)
            return
        self._results.setdefault(iid, []).append((task, result))
        if iid not in self._result_drivers:
            self._result_drivers[iid] = asyncio.create_task(self._drive_results(iid))

    async def _drive_results(self, iid: str) -> None:
        """Run unclaimed turns of one instance until no results wait for it."""
        try:
            async with self._exclusive(iid):
                while batch := self._results.pop(iid, None):
                    await self._results_turn(iid, batch)
        finally:
            # In the same step as the last empty pop: a result delivered after this
            # starts a new driver.
            del self._result_drivers[iid]

    async def _results_turn(self, iid: str, batch: list[tuple[ClaimedTask, TaskResult]]) -> None:
        entry = self._cache.peek(iid)
        if (
            entry is None
            or entry.record.status != WorkflowStatus.RUNNING
            or any(task.execution_id != entry.record.execution_id for task, _ in batch)
        ):
            await self._to_inbox(batch)
            return
        instance = entry.record
        started = time.perf_counter()
        now = self.clock.now()
        turn = results_turn([result for _, result in batch], now)
        try:
            result, entry = await self._execute(instance, turn, entry)
            if result.stall is not None:  # the claimed turn records it
                raise InstanceChangedError(f"{iid!r} stalls")
            commit = await self._plan(
                instance,
                turn,
                result,
                now,
                expected_version=instance.version,
                completed_tasks=tuple(task.key for task, _ in batch),
            )
            await self._commit(instance, commit, entry, started)
        except Exception as exc:
            self._cache.evict(iid)
            if not isinstance(exc, InstanceChangedError | WorkerLostError):
                log.exception(
                    "unclaimed turn of %r failed; its results go to the inbox",
                    iid,
                    extra=about(iid, instance.name),
                )
                self._observer.turn_failed(iid, instance.name, exc)
            await self._to_inbox(batch)

    async def _to_inbox(self, batch: list[tuple[ClaimedTask, TaskResult]]) -> None:
        """Record results in their instances' inboxes (one group commit)."""
        now = self.clock.now()
        futures = [self._write(CompleteTask(task, result, now)) for task, result in batch]
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        for (task, _), outcome in zip(batch, outcomes, strict=True):
            if outcome is False:
                self._observer.result_discarded(task)
            elif isinstance(outcome, BaseException):
                log.error(
                    "recording the result of activity %r of workflow instance %r failed "
                    "(%s); it will re-run",
                    task.name,
                    task.instance_id,
                    outcome,
                    extra=self._logs.about_task(task),
                )
        if any(outcome is True for outcome in outcomes):
            self._want_turns()

    # ----- activities ---------------------------------------------------------------------

    def _start_task(self, task: ClaimedTask) -> None:
        if task.taken_over_from is not None:
            self._observer.lease_taken_over(ACTIVITY, task.instance_id, task.taken_over_from)
        if self._draining:
            self._not_started.append(task.key)
            return
        if task.key in self._running_tasks:
            return  # our own lease lapsed (a clock jump): it is still running here
        self._running_tasks[task.key] = asyncio.create_task(self._run_task(task))

    async def _run_task(self, task: ClaimedTask) -> None:
        self._observer.activity_started(task)
        started = time.perf_counter()
        try:
            try:
                propagated = (
                    await self._read(propagation.for_task, self._load, task, self.settings.app_id)
                    if task.propagation
                    else None
                )
                if task.name in self.registry.activities:
                    result = await self._activities.run_local(task, propagated)
                else:
                    assert self.remote is not None, "ran an activity nobody here can run"
                    remote_result = await self.remote.run_activity(
                        task, propagated, self._observer.activity_trace_context(task)
                    )
                    result = self._activities.check_remote(task, remote_result)
            except WorkerLostError as exc:
                log.info(
                    "activity %r of workflow instance %r goes back to the queue: %s",
                    task.name,
                    task.instance_id,
                    exc,
                    extra=self._logs.about_task(task),
                )
                self._observer.activity_requeued(task, str(exc))
                with contextlib.suppress(Exception):
                    await self._write(ReleaseTasks((task.key,), self.node_id))
                self._want_tasks()
                return
            self._observer.activity_finished(task, result, seconds=time.perf_counter() - started)
            self._deliver(task, result)
        finally:
            self._running_tasks.pop(task.key, None)
            if self._tasks_wanted is not None and self._tasks_wanted.pending:
                self._tasks_wanted.event.set()

    async def _lease_keeper(self) -> None:
        """Renew the leases of running activities well before they expire."""
        interval = self.settings.activity_lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            keys = tuple(self._running_tasks)
            if keys:
                try:
                    await self._write(
                        ExtendTaskLeases(
                            keys, self.node_id, self.clock.now() + self.settings.activity_lease
                        )
                    )
                except Exception:
                    log.exception("renewing activity leases failed")


def _claiming(wanted: Wanted | None, names: list[str] | None) -> bool:
    """A claim is in flight, or wanted of names someone here runs (None: any name)."""
    if wanted is None:
        return False
    return wanted.claiming_since is not None or (wanted.pending and names != [])


def _comparable(result: TurnResult) -> tuple[Any, ...]:
    # A failure's stack trace may quote object reprs (addresses differ between runs).
    actions = tuple(
        dataclasses.replace(action, failure=dataclasses.replace(action.failure, stack_trace=None))
        if isinstance(action, CompleteWorkflow) and action.failure is not None
        else action
        for action in result.actions
    )
    return (actions, result.custom_status)
