"""Group commit: write commands that are ready together share one transaction.

Commands wait in one queue. Whoever applies the queue (a blocking caller, the
engine once per loop iteration, or the writer thread) takes everything queued
and applies it in one transaction, with one commit (and one fsync); a command
that fails is taken out and the rest applied again, so one command's error does
not undo the others. A command's future is set only once its transaction is
committed: an answered request is durable.

A caller that finds the queue being applied by another thread waits for that
group, which carries its command too (flat combining): no thread hand-off when
the writer is free, and group commit when it is not.

Where groups run concurrently (PostgreSQL, several nodes), two groups that lock
the same instance rows in opposite orders deadlock. So a group is applied in
instance-id order (``lock_key``), keeping the order of commands on one instance
and never moving a command across one that locks no instance first (a claim):
groups then take their first locks in one global order. A group that still
conflicts (a turn also locks the instance it sends to) is applied again after an
exponentially growing random pause, and at last one command per transaction.
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any

from wayline.errors import StoreError
from wayline.store.commands import WriteCommand, lock_key
from wayline.store.rows import Cursor

#: The most commands one group commit applies.
MAX_GROUP = 512
#: Attempts at a group (then at each of its commands alone) that hit a transient
#: conflict with another writer.
RETRIES = 6
#: The first pause before applying a conflicted group again; it doubles each attempt
#: (with jitter, so two victims of one deadlock do not collide again in step).
RETRY_PAUSE = 0.004

_Queued = tuple[WriteCommand, "Future[Any]"]


class GroupWriter:
    """The write path of one store object.

    Args:
        transaction: opens one write transaction (committed on normal exit).
        apply: applies one command with a cursor inside the transaction.
        lock: held while a group is applied (the writer connection's lock, where
            there is one).
        committed: called after every group commit (e.g. to schedule a checkpoint).
        retryable: whether an error is a transient conflict with another writer (a
            deadlock or serialization failure where writers run concurrently): the
            command, or the whole group, is then applied again.
        concurrent: groups may be applied by several threads at once, each in its own
            transaction on its own connection (a server database, where one group's
            round trips and commit would otherwise hold up the next); else one at a
            time under ``lock``. Concurrent groups are applied in lock order.
    """

    def __init__(
        self,
        transaction: Callable[[], AbstractContextManager[Cursor]],
        apply: Callable[[Cursor, WriteCommand], Any],
        *,
        lock: threading.RLock | None = None,
        committed: Callable[[], None] | None = None,
        retryable: Callable[[BaseException], bool] | None = None,
        concurrent: bool = False,
        name: str = "wayline-writer",
    ) -> None:
        self._transaction = transaction
        self._apply = apply
        self._retryable = retryable or (lambda exc: False)
        self._lock = lock or threading.RLock()
        self._exclusive = self._lock if not concurrent else contextlib.nullcontext()
        self._in_lock_order = concurrent
        self.conflicts = 0  # transient conflicts met (a statistic)
        self._committed = committed
        self._name = name
        self._queue: queue.SimpleQueue[_Queued | None] = queue.SimpleQueue()
        self._wake = threading.Semaphore(0)
        self._thread: threading.Thread | None = None
        self._closed = False

    def enqueue(self, command: WriteCommand) -> Future[Any]:
        """Queue a command; it is applied by the next flush (of anyone)."""
        if self._closed:
            raise StoreError("the store is closed")
        future: Future[Any] = Future()
        self._queue.put((command, future))
        return future

    def flush(self) -> None:
        """Apply everything queued, on this thread (waits for a group in progress)."""
        with self._exclusive:
            self._apply_queued()

    def execute(self, command: WriteCommand) -> Any:
        """Apply one command (with whatever else is queued) and return its result."""
        future = self.enqueue(command)
        with self._exclusive:
            if not future.done():
                self._apply_queued()
        return future.result()  # another thread may be applying the group that has it

    def submit(self, command: WriteCommand) -> Future[Any]:
        """Queue a command for the writer thread; returns at once."""
        future = self.enqueue(command)
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._write_loop, name=self._name, daemon=True
                    )
                    self._thread.start()
        self._wake.release()
        return future

    def close(self) -> None:
        """Stop the writer thread; whatever is still queued fails."""
        self._closed = True
        self._wake.release()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5.0)
        with self._exclusive:
            self._apply_queued()

    def _write_loop(self) -> None:
        while True:
            self._wake.acquire()
            if self._closed:
                return
            self.flush()

    def _apply_queued(self) -> None:
        """Apply every queued command in group commits."""
        while True:
            batch: list[_Queued] = []
            while len(batch) < MAX_GROUP:
                try:
                    queued = self._queue.get_nowait()
                except queue.Empty:
                    break
                # A command whose caller gave up waiting (cancelled) is not applied.
                if queued is not None and queued[1].set_running_or_notify_cancel():
                    batch.append(queued)
            if not batch:
                return
            self._apply_group(batch)

    def _apply_group(self, batch: list[_Queued]) -> None:
        if self._closed:
            for _, future in batch:
                future.set_exception(StoreError("the store is closed"))
            return
        if self._in_lock_order:
            batch = in_lock_order(batch)
        try:
            outcomes = self._apply_with_retries(batch)
        except _StillConflicting as conflict:
            if len(batch) == 1:  # already alone: trying it alone again changes nothing
                outcomes = [(batch[0][1], False, conflict.error)]
            else:
                outcomes = self._apply_one_by_one(batch)
        except BaseException as exc:
            # Nothing of the group is durable: every caller hears of the failure.
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        if self._committed is not None:
            self._committed()
        for future, ok, value in outcomes:
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _apply_one_by_one(self, batch: list[_Queued]) -> list[tuple[Future[Any], bool, Any]]:
        """Two groups kept deadlocking: one command per transaction is slower but holds
        one instance's locks at a time."""
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        for queued in batch:
            try:
                outcomes += self._apply_with_retries([queued])
            except _StillConflicting as conflict:
                outcomes.append((queued[1], False, conflict.error))
            except Exception as exc:
                outcomes.append((queued[1], False, exc))
        return outcomes

    def _apply_with_retries(self, batch: list[_Queued]) -> list[tuple[Future[Any], bool, Any]]:
        """``_apply_once``, again after a transient conflict (``_StillConflicting``
        when every attempt conflicted)."""
        for attempt in range(RETRIES):
            try:
                return self._apply_once(batch)
            except Exception as exc:
                if not self._retryable(exc):
                    raise
                self.conflicts += 1
                if attempt == RETRIES - 1:
                    raise _StillConflicting(exc) from exc
                time.sleep(RETRY_PAUSE * 2**attempt * random.uniform(0.5, 1.5))
        raise AssertionError("unreachable")

    def _apply_once(self, batch: list[_Queued]) -> list[tuple[Future[Any], bool, Any]]:
        """Apply the batch, each command's own error being its outcome.

        Commands rarely fail, and a savepoint around each would cost two more
        statements per command (two more round trips on a network): the batch runs
        in one transaction without them; when a command fails, that transaction is
        rolled back and the batch applied again without it (its error kept).
        """
        failed: dict[int, Exception] = {}
        while len(failed) < len(batch):
            outcomes: list[tuple[Future[Any], bool, Any]] = []
            try:
                with self._transaction() as cur:
                    for index, (command, future) in enumerate(batch):
                        if index in failed:
                            outcomes.append((future, False, failed[index]))
                            continue
                        try:
                            result = self._apply(cur, command)
                        except Exception as exc:
                            raise _CommandFailed(index, exc) from exc
                        outcomes.append((future, True, result))
            except _CommandFailed as failure:
                if self._retryable(failure.error):
                    raise failure.error from None  # the whole group is tried again
                failed[failure.index] = failure.error
                continue
            return outcomes
        return [(future, False, failed[index]) for index, (_, future) in enumerate(batch)]


class _CommandFailed(Exception):
    """One command of a group failed; the group's transaction is rolled back."""

    def __init__(self, index: int, error: Exception) -> None:
        super().__init__(index, error)
        self.index = index
        self.error = error


class _StillConflicting(Exception):
    """Every attempt at a group met a transient conflict."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error


def in_lock_order(batch: list[_Queued]) -> list[_Queued]:
    """``batch`` with each run of instance commands sorted by instance id (stable:
    one instance's commands keep their order); a command without a lock key stays
    where it is, between the runs before and after it."""
    ordered: list[_Queued] = []
    run: list[tuple[str, _Queued]] = []
    for queued in batch:
        key = lock_key(queued[0])
        if key is None:
            ordered += [item for _, item in sorted(run, key=lambda keyed: keyed[0])]
            run = []
            ordered.append(queued)
        else:
            run.append((key, queued))
    ordered += [item for _, item in sorted(run, key=lambda keyed: keyed[0])]
    return ordered
