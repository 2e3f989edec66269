"""The event loop an ``async def`` workflow runs on: deterministic, durable, no I/O.

An ``async def`` workflow is a coroutine run as an ``asyncio.Task`` on a loop of
its own, one per executor. The loop is not a real one: it has no clock, no
selector and no threads. Its "time" is the workflow clock (the turn's recorded
time), its timers are durable timers (``call_at``/``call_later`` record a
``CreateTimer`` action, so ``asyncio.sleep``, ``asyncio.wait_for`` and
``asyncio.timeout`` are durable), and it runs only when the executor applies a
history event: whatever that event made ready runs until nothing is, in FIFO order.
The same history therefore always runs the same code in the same order, on replay
as live, which is what the replay kernel needs.

Why a loop rather than driving the coroutine by hand with ``send``: users reach
for ``asyncio.gather``, ``asyncio.wait_for``, ``asyncio.timeout``,
``asyncio.sleep``, task cancellation and ``asyncio.Event``, and those are built on
``asyncio.Task``/``Future`` and a running loop. Giving them a loop whose every
primitive is deterministic keeps all of asyncio's semantics (cancellation,
exception propagation, ``gather(return_exceptions=...)``) without re-implementing
any of them. Anything that would need the real world (sockets, subprocesses,
threads, executors, signals) raises ``NonDeterministicAwaitError`` naming the call.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from wayline.core.task import Task


class NonDeterministicAwaitError(RuntimeError):
    """Workflow code awaited or called something that is not a durable workflow step."""


class WorkflowEventLoop(asyncio.AbstractEventLoop):
    """One ``async def`` workflow execution's loop (see the module docstring).

    Args:
        now: the workflow clock (``ctx.current_utc_datetime``).
        create_timer: records a durable timer firing at a given UTC time; returns
            its task.
    """

    #: Workflow tasks check it before letting a coroutine await them.
    is_workflow_loop = True

    def __init__(
        self,
        now: Callable[[], datetime],
        create_timer: Callable[[datetime], Task[None]],
    ) -> None:
        self._now = now
        self._create_timer = create_timer
        self._ready: collections.deque[asyncio.Handle] = collections.deque()
        self._running = False
        self._closed = False
        self.tasks: list[asyncio.Task[Any]] = []

    # ----- running ----------------------------------------------------------------------

    def run_until_idle(self) -> None:
        """Run every ready callback, and what they make ready, until none is."""
        previous = asyncio.events._get_running_loop()
        asyncio.events._set_running_loop(self)
        self._running = True
        try:
            while self._ready:
                handle = self._ready.popleft()
                if not handle.cancelled():
                    handle._run()
        finally:
            self._running = False
            asyncio.events._set_running_loop(previous)

    def pending_tasks(self) -> list[asyncio.Task[Any]]:
        return [task for task in self.tasks if not task.done()]

    # ----- what asyncio needs -------------------------------------------------------------

    def time(self) -> float:
        return self._now().timestamp()

    def call_soon(  # type: ignore[override]
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_later(  # type: ignore[override]
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def call_at(  # type: ignore[override]
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        """A durable timer: recorded as a step, and ``callback`` runs in the turn that
        applies its firing (unless cancelled by then; the timer itself stays)."""
        handle = asyncio.TimerHandle(when, callback, args, self, context)
        timer = self._create_timer(datetime.fromtimestamp(when, UTC))
        timer._on_done(lambda _: None if handle.cancelled() else self._ready.append(handle))
        return handle

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        """A cancelled durable timer still fires; its callback is then skipped."""

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.Future(loop=self)

    def create_task(  # type: ignore[override]
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[Any]:
        if name is None:  # asyncio's default names count every task in the process
            name = f"task {len(self.tasks) + 1} ({getattr(coro, '__qualname__', 'coroutine')})"
        task = asyncio.Task(coro, loop=self, name=name, context=context)
        self.tasks.append(task)
        return task

    def get_debug(self) -> bool:
        return False

    def is_running(self) -> bool:
        return self._running

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        """asyncio reports here what nobody awaited (a task dropped while pending when
        its workflow ended): nothing to report from a workflow that has finished."""

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        """See ``call_exception_handler``."""

    def get_exception_handler(self) -> None:
        return None

    def get_task_factory(self) -> None:
        return None

    async def shutdown_asyncgens(self) -> None:
        """No async generators are tracked: there is nothing to shut down."""


def _refuse(call: str, why: str) -> Callable[..., Any]:
    def refused(self: WorkflowEventLoop, *args: Any, **kwargs: Any) -> Any:
        raise NonDeterministicAwaitError(
            f"workflow code called {call}, which {why}: a workflow must be deterministic "
            "and do no I/O; put the work in an activity (ctx.call_activity) and await that"
        )

    refused.__name__ = call.rsplit(".", 1)[-1].rstrip("()")
    return refused


_REFUSED = {
    "run_in_executor": "runs code on a thread (asyncio.to_thread uses it too)",
    "set_default_executor": "configures threads",
    "call_soon_threadsafe": "lets another thread into the workflow",
    "getaddrinfo": "does network I/O",
    "getnameinfo": "does network I/O",
    "create_connection": "does network I/O",
    "create_server": "does network I/O",
    "create_unix_connection": "does network I/O",
    "create_unix_server": "does network I/O",
    "create_datagram_endpoint": "does network I/O",
    "connect_accepted_socket": "does network I/O",
    "sendfile": "does I/O",
    "start_tls": "does network I/O",
    "sock_recv": "does network I/O",
    "sock_recv_into": "does network I/O",
    "sock_sendall": "does network I/O",
    "sock_connect": "does network I/O",
    "sock_accept": "does network I/O",
    "sock_sendfile": "does network I/O",
    "connect_read_pipe": "does I/O",
    "connect_write_pipe": "does I/O",
    "subprocess_exec": "starts a process",
    "subprocess_shell": "starts a process",
    "add_reader": "waits on a file descriptor",
    "add_writer": "waits on a file descriptor",
    "add_signal_handler": "handles process signals",
    "run_forever": "runs a loop of its own",
    "run_until_complete": "runs a loop of its own",
}
for _name, _why in _REFUSED.items():
    setattr(WorkflowEventLoop, _name, _refuse(f"loop.{_name}()", _why))
