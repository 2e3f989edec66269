"""Remote workers: turns and activities run by processes connected over a stream.

A Dapr SDK app (``dapr-ext-workflow``'s ``WorkflowRuntime``) holds its workflow and
activity code itself and asks the server for work over a long-lived stream. The
:class:`WorkerHub` is the engine's side of that arrangement, free of any wire
format: the engine hands it a turn or an activity and awaits the answer; the
transport (``api/grpc``) connects streams, forwards their work items and passes
the answers back.

The hub never holds work durably. The engine claims work from the store only
while a worker is connected, keeps the lease while a worker runs it, and when a
worker disconnects with work unanswered (:class:`WorkerLostError`) gives the
lease back, so the store queues it until a worker is connected again.

All methods run on the engine's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from wayline.core.events import HistoryEvent, TaskCompleted, TaskFailed, TraceContext
from wayline.core.executor import TurnResult
from wayline.core.propagation import Propagated
from wayline.store.types import ClaimedTask, TaskResult

log = logging.getLogger("wayline.engine.remote")


class WorkerLostError(Exception):
    """The worker running a piece of work disconnected (or none is connected)."""


@dataclass(frozen=True)
class TurnWork:
    """A workflow turn for a remote worker: the whole history plus the new events."""

    instance_id: str
    execution_id: str
    past_events: tuple[HistoryEvent, ...]
    new_events: tuple[HistoryEvent, ...]
    completion_token: str
    #: The history the instance received from its parent's call (``core.propagation``).
    propagated: Propagated | None = None


@dataclass(frozen=True)
class ActivityWork:
    """An activity execution for a remote worker."""

    instance_id: str
    execution_id: str
    task_id: int
    name: str
    input: str | None
    task_execution_id: str
    completion_token: str
    propagated: Propagated | None = None
    #: The span the worker's run continues (the activity span), when traced.
    trace_context: TraceContext | None = None


WorkItem = TurnWork | ActivityWork
# Waiting turns are keyed by instance id, waiting activities by (instance id, task id).
_K = TypeVar("_K", str, tuple[str, int])


@dataclass
class _Assignment:
    token: str
    stream: WorkerStream
    answer: asyncio.Future[object]


@dataclass(eq=False)
class WorkerStream:
    """One connected worker: the work items sent to it, in order."""

    id: int
    _items: asyncio.Queue[WorkItem | None] = field(default_factory=asyncio.Queue)
    assigned: int = 0

    async def next_item(self) -> WorkItem | None:
        """The next work item for this worker (waits until there is one); None once
        the hub closes, so the transport can end the stream cleanly."""
        return await self._items.get()


class WorkerHub:
    """Routes the engine's remote work to connected workers and their answers back."""

    def __init__(self) -> None:
        self._streams: list[WorkerStream] = []
        self._ids = itertools.count(1)
        self._turns: dict[str, _Assignment] = {}
        self._activities: dict[tuple[str, int], _Assignment] = {}
        self._listeners: list[Callable[[], None]] = []
        self._closed = False

    # ----- the transport's side -----------------------------------------------------------

    @property
    def has_workers(self) -> bool:
        return bool(self._streams)

    @property
    def worker_count(self) -> int:
        """Worker streams connected now."""
        return len(self._streams)

    def connect(self) -> WorkerStream:
        """Register a new worker stream; the engine is woken to claim remote work."""
        stream = WorkerStream(next(self._ids))
        if self._closed:  # shutting down: the stream ends at once
            stream._items.put_nowait(None)
            return stream
        self._streams.append(stream)
        log.info("remote worker stream %d connected (%d open)", stream.id, len(self._streams))
        self._notify()
        return stream

    def disconnect(self, stream: WorkerStream) -> None:
        """Forget a stream; its unanswered work fails with ``WorkerLostError``."""
        if stream not in self._streams:
            return
        self._streams.remove(stream)
        lost = 0
        for assignments in (self._turns, self._activities):
            for assignment in assignments.values():
                if assignment.stream is stream and not assignment.answer.done():
                    assignment.answer.set_exception(WorkerLostError("the worker disconnected"))
                    lost += 1
        log.info(
            "remote worker stream %d disconnected with %d unanswered work items (%d open)",
            stream.id,
            lost,
            len(self._streams),
        )

    def close(self) -> None:
        """End every stream (shutdown): each gets None, then disconnects."""
        self._closed = True
        for stream in self._streams:
            stream._items.put_nowait(None)

    def complete_turn(self, instance_id: str, token: str, result: TurnResult) -> bool:
        """A worker's answer to a turn; False if no such turn is waiting (stale)."""
        return _answer(self._turns.get(instance_id), token, result)

    def complete_activity(
        self, instance_id: str, task_id: int, token: str, result: TaskResult
    ) -> bool:
        """A worker's answer to an activity; False if no such activity is waiting."""
        return _answer(self._activities.get((instance_id, task_id)), token, result)

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` whenever a worker connects (new capacity for queued work)."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # ----- the engine's side ---------------------------------------------------------------

    async def run_turn(
        self,
        instance_id: str,
        execution_id: str,
        past_events: list[HistoryEvent],
        new_events: list[HistoryEvent],
        propagated: Propagated | None = None,
    ) -> TurnResult:
        """Have a worker run one turn; raises ``WorkerLostError`` if it goes away."""
        token = uuid.uuid4().hex
        work = TurnWork(
            instance_id, execution_id, tuple(past_events), tuple(new_events), token, propagated
        )
        result = await self._dispatch(self._turns, instance_id, work)
        assert isinstance(result, TurnResult)
        return result

    async def run_activity(
        self,
        task: ClaimedTask,
        propagated: Propagated | None = None,
        trace_context: TraceContext | None = None,
    ) -> TaskResult:
        """Have a worker run one activity; raises ``WorkerLostError`` if it goes away."""
        token = uuid.uuid4().hex
        work = ActivityWork(
            task.instance_id,
            task.execution_id,
            task.task_id,
            task.name,
            task.input,
            task.task_execution_id,
            token,
            propagated,
            trace_context,
        )
        result = await self._dispatch(self._activities, (task.instance_id, task.task_id), work)
        assert isinstance(result, TaskCompleted | TaskFailed)
        return result

    async def _dispatch(self, table: dict[_K, _Assignment], key: _K, work: WorkItem) -> object:
        if not self._streams:
            raise WorkerLostError("no worker is connected")
        # The least busy stream: several worker processes share the load.
        stream = min(self._streams, key=lambda s: s.assigned)
        assignment = _Assignment(
            work.completion_token, stream, asyncio.get_running_loop().create_future()
        )
        table[key] = assignment
        stream.assigned += 1
        try:
            stream._items.put_nowait(work)
            return await assignment.answer
        finally:
            stream.assigned -= 1
            if table.get(key) is assignment:
                del table[key]

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


def _answer(assignment: _Assignment | None, token: str, result: object) -> bool:
    # A worker that knows no tokens (the JS SDK) sends none: correlate by key alone.
    if assignment is None or assignment.answer.done():
        return False
    if token and token != assignment.token:
        return False
    assignment.answer.set_result(result)
    return True
