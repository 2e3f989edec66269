"""The SQL implementation of ``Store`` shared by every backend.

Backends subclass :class:`SqlStore` and supply a dialect: how to open a
transaction, how to run write commands (one transaction each, or many grouped
into one), the parameter style, and how to lock candidate rows when claiming
work. Everything else (the schema's meaning, turn commits, queries) lives here
once. Times are stored as integer microseconds since the epoch (UTC).

Claims cost the same however many instances have finished or are waiting: see
``readiness`` for how runnable work is indexed.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

from wayline.core import codec
from wayline.core.events import (
    ChildWorkflowFailed,
    ExecutionStarted,
    FailureDetails,
    HistoryEvent,
    ParentInfo,
    Router,
    WorkflowStatus,
)
from wayline.core.ids import DEFAULT_APP_ID
from wayline.errors import (
    InstanceAlreadyExistsError,
    InstanceChangedError,
    LeaseLostError,
    StoreError,
    StoreUnavailableError,
)
from wayline.store import nodes, purge, queries, suspension, tasks
from wayline.store.commands import (
    AnnounceNode,
    AppendMessage,
    ClaimTasks,
    ClaimTurns,
    CompleteTask,
    CreateInstance,
    ExtendTaskLeases,
    ExtendTurnLease,
    ProbeWrite,
    PurgeExpired,
    PurgeInstance,
    ReleaseTasks,
    ReleaseTurn,
    RetireNode,
    StartRerun,
    Unstall,
    WriteCommand,
)
from wayline.store.queries import count_instances, list_instances
from wayline.store.readiness import (
    BACKLOG_TASKS_SQL,
    DELAYED_KINDS,
    DUE_TIMERS_SQL,
    MARK_READY_SQL,
    NEXT_READY_SQL,
    NEXT_RUNNABLE_SQL,
    NEXT_TASK_SQL,
    backlog_turns_sql,
    claim_terminations_sql,
    claim_turns_sql,
    ready_at_sql,
    statuses_woken_by,
)
from wayline.store.rows import (
    INSTANCE_COLUMNS,
    TERMINAL,
    Cursor,
    Materialized,
    StatementResult,
    from_micros,
    instance_from_row,
    load_instance,
    placeholders,
    to_micros,
)
from wayline.store.types import (
    AppendResult,
    Backlog,
    ClaimedTask,
    ClaimedTurn,
    CommitOutcome,
    InboxMessage,
    InstancePage,
    InstanceQuery,
    InstanceRecord,
    NewInstance,
    TaskResult,
    TurnCommit,
)
from wayline.store.writer import GroupWriter

#: History events written by one INSERT.
HISTORY_CHUNK = 500


class SqlStore:
    """Store logic over a dialect's transactions. Subclasses implement the hooks."""

    #: Appended to the claim's candidate SELECT to lock rows (``FOR UPDATE SKIP LOCKED``).
    claim_lock_clause = ""
    #: Appended to a SELECT of one row that the transaction will update (``FOR UPDATE``).
    row_lock_clause = ""
    #: Appended to ``FROM instances`` in claims to pin the ready index, where possible.
    ready_index_hint = ""

    #: Whether applying writes on the caller's thread is cheap enough to do on an event
    #: loop (a local file: microseconds, or one fsync) rather than over a network.
    local_writes = False

    def __init__(
        self,
        *,
        writer_lock: threading.RLock | None = None,
        committed: Callable[[], None] | None = None,
        retryable: Callable[[BaseException], bool] | None = None,
        concurrent_writes: bool = False,
    ) -> None:
        self._closed = threading.Event()
        self._write_transactions = 0
        self._count_lock = threading.Lock()
        self._writer = GroupWriter(
            self._writing,
            self.apply,
            lock=writer_lock,
            committed=committed,
            retryable=retryable,
            concurrent=concurrent_writes,
        )
        self._handlers: dict[type[Any], Callable[[Cursor, Any], Any]] = {
            CreateInstance: self._create_instance,
            AppendMessage: self._append_message,
            ClaimTurns: self._claim_turns,
            ReleaseTurn: self._release_turn,
            ExtendTurnLease: self._extend_turn_lease,
            TurnCommit: self._commit_turn,
            ClaimTasks: lambda cur, command: tasks.claim(cur, command, self.claim_lock_clause),
            ExtendTaskLeases: tasks.extend_leases,
            ReleaseTasks: tasks.release,
            CompleteTask: self._complete_task,
            PurgeInstance: purge.purge,
            Unstall: suspension.unstall,
            StartRerun: self._start_rerun,
            AnnounceNode: lambda cur, command: nodes.announce(cur, command, self.claim_lock_clause),
            RetireNode: nodes.retire,
            PurgeExpired: lambda cur, command: purge.purge_expired(
                cur, command, self.claim_lock_clause
            ),
            ProbeWrite: self._probe_write,
        }

    # ----- dialect hooks -------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[Cursor]:
        """A cursor inside one write transaction, committed (and counted) on normal exit."""
        raise NotImplementedError

    def read(self) -> AbstractContextManager[Cursor]:
        """A cursor for reads (may share the write transaction machinery)."""
        return self.transaction()

    def change_marker(self) -> int:
        raise NotImplementedError

    def is_unavailable(self, exc: BaseException) -> bool:
        """Whether a driver error means the database cannot be used right now (disk
        full, file read-only, connection lost), rather than a bug or bad data."""
        return False

    # ----- store failures as StoreUnavailableError -------------------------------------

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        """Re-raise the driver's "cannot use the database now" errors as
        ``StoreUnavailableError``, the one type every API layer maps (503, UNAVAILABLE)."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            if self.is_unavailable(exc):
                raise StoreUnavailableError(
                    f"the store is unavailable: {str(exc).strip() or type(exc).__name__} "
                    f"({type(exc).__module__}.{type(exc).__name__}); the request was not "
                    "applied, retry it once the store is back"
                ) from exc
            raise

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Cursor]:
        with self._translated(), self.transaction() as cur:
            yield cur

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Cursor]:
        with self._translated(), self.read() as cur:
            yield cur

    def pipeline(self, cur: Cursor) -> AbstractContextManager[None]:
        """Statements run through :meth:`statement` inside this block may be sent
        together, their results read after it (one round trip on a network)."""
        return contextlib.nullcontext()

    def statement(self, cur: Cursor, sql: str, params: Sequence[Any] = ()) -> StatementResult:
        """Run one statement whose result is read later (after the pipeline block)."""
        own = cur.connection.cursor()  # type: ignore[attr-defined]
        try:
            own.execute(sql, params)
            rows = own.fetchall()
            return Materialized(rows, own.rowcount)
        finally:
            own.close()

    def close(self) -> None:
        self._closed.set()
        self._writer.close()

    # ----- the write path (group commit, see ``writer``) -----------------------------------

    def execute(self, command: WriteCommand) -> Any:
        """Apply one write command (with whatever else is queued) and return its result."""
        return self._writer.execute(command)

    def submit(self, command: WriteCommand) -> Future[Any]:
        """Queue a write command for the writer thread; the future holds its result."""
        return self._writer.submit(command)

    def enqueue(self, command: WriteCommand) -> Future[Any]:
        """Queue a write command for the next :meth:`flush` (anyone's)."""
        return self._writer.enqueue(command)

    def flush(self) -> None:
        """Apply every queued write command on this thread, in group commits."""
        self._writer.flush()

    # ----- commands ------------------------------------------------------------------------

    def apply(self, cur: Cursor, command: WriteCommand) -> Any:
        """Apply a command inside the caller's transaction (an error leaves it to the
        caller to roll back)."""
        with self._translated():
            return self._handlers[type(command)](cur, command)

    def check_writable(self) -> None:
        """Raise ``StoreUnavailableError`` unless a write transaction commits now."""
        self.execute(ProbeWrite())

    @staticmethod
    def _probe_write(cur: Cursor, command: ProbeWrite) -> None:
        cur.execute(
            "UPDATE schema_migrations SET applied_at = applied_at "
            "WHERE version = (SELECT MAX(version) FROM schema_migrations)"
        )

    @property
    def write_transactions(self) -> int:
        """How many write transactions this store object has committed."""
        return self._write_transactions

    @property
    def write_conflicts(self) -> int:
        """How many write transactions met a transient conflict and were applied again."""
        return self._writer.conflicts

    def _count_write(self, transactions: int = 1) -> None:
        with self._count_lock:
            self._write_transactions += transactions

    # ----- row helpers ------------------------------------------------------------------

    @staticmethod
    def _insert_message(
        cur: Cursor,
        instance_id: str,
        event: HistoryEvent,
        *,
        visible_at: datetime,
        execution_id: str | None = None,
        status: str | None = None,
    ) -> None:
        """Queue an event. ``status``: the instance's status, read with its row locked;
        if it lets the event start a turn, the instance becomes runnable from
        ``visible_at``. (A commit of the instance itself passes None: it recomputes
        its readiness at the end.)"""
        kind = type(event).__name__
        visible_us = to_micros(visible_at)
        cur.execute(
            "INSERT INTO inbox (instance_id, execution_id, kind, event, visible_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (instance_id, execution_id, kind, codec.encode_event(event), visible_us),
        )
        if status is not None and status in statuses_woken_by(kind):
            cur.execute(MARK_READY_SQL, (visible_us, instance_id, visible_us))

    def _lock_status(self, cur: Cursor, instance_id: str) -> tuple[str, str] | None:
        """The instance's status and execution id, its row locked for the rest of the
        transaction. Every write to an instance's inbox takes this lock first, as its
        commits do: where writers run concurrently (PostgreSQL), a commit that
        recomputes readiness can then never miss a message added meanwhile."""
        cur.execute(
            "SELECT status, execution_id FROM instances "
            f"WHERE instance_id = ?{self.row_lock_clause}",
            (instance_id,),
        )
        row = cur.fetchone()
        return None if row is None else (row[0], row[1])

    def _insert_instance(
        self, cur: Cursor, new: NewInstance, now: datetime, *, queue_start: bool = True
    ) -> None:
        """Insert (or replace a terminal) instance and, unless told not to, queue its
        start; raises if an active one exists."""
        cur.execute(
            "SELECT status, lease_token FROM instances WHERE instance_id = ?", (new.instance_id,)
        )
        row = cur.fetchone()
        # A replacement keeps counting lease tokens where the old row stopped, so a
        # stalled turn of the old run can never match a token of the new one.
        lease_token = 0
        if row is not None:
            if row[0] not in TERMINAL:
                raise InstanceAlreadyExistsError(new.instance_id)
            lease_token = row[1]
            purge.delete_instance_rows(cur, new.instance_id)
        parent = new.parent
        now_us = to_micros(now)
        visible_at = max(new.start_at, now) if new.start_at else now
        cur.execute(
            "INSERT INTO instances (instance_id, name, status, execution_id, created_at, "
            "last_updated_at, input, parent_instance_id, parent_task_id, parent_execution_id, "
            "scheduled_start_at, app_id, parent_app_id, trace_context, version, lease_token, "
            f"ready_at) VALUES ({placeholders(14)}, 0, ?, ?)",
            (
                new.instance_id,
                new.name,
                WorkflowStatus.PENDING.value,
                new.execution_id,
                now_us,
                now_us,
                new.input,
                parent.instance_id if parent else None,
                parent.task_scheduled_id if parent else None,
                parent.execution_id if parent else None,
                to_micros(new.start_at) if new.start_at else None,
                new.app_id,
                parent.app_id if parent else None,
                new.trace_context,
                lease_token,
                to_micros(visible_at),
            ),
        )
        if queue_start:
            started = ExecutionStarted(
                timestamp=now,
                name=new.name,
                instance_id=new.instance_id,
                execution_id=new.execution_id,
                input=new.input,
                parent=parent,
                scheduled_start=new.start_at,
                router=Router.of_start(new.app_id, parent.app_id if parent else None),
                parent_trace_context=new.parent_trace_context,
                workflow_span_id=new.workflow_span_id,
            )
            self._insert_message(cur, new.instance_id, started, visible_at=visible_at)

    # ----- Store API: the blocking forms of the commands -----------------------------------

    def create_instance(self, new: NewInstance, *, now: datetime) -> None:
        self.execute(CreateInstance(new, now))

    def append_message(
        self, instance_id: str, event: HistoryEvent, *, now: datetime
    ) -> AppendResult:
        result: AppendResult = self.execute(AppendMessage(instance_id, event, now))
        return result

    def claim_turns(
        self,
        *,
        owner: str,
        workflow_names: Collection[str] | None,
        now: datetime,
        lease: timedelta,
        limit: int,
        app_id: str = DEFAULT_APP_ID,
    ) -> list[ClaimedTurn]:
        claimed: list[ClaimedTurn] = self.execute(
            ClaimTurns(owner, workflow_names, now, lease, limit, app_id)
        )
        return claimed

    def release_turn(self, instance_id: str, lease_token: int) -> None:
        self.execute(ReleaseTurn(instance_id, lease_token))

    def extend_turn_lease(self, instance_id: str, lease_token: int, *, until: datetime) -> bool:
        return bool(self.execute(ExtendTurnLease(instance_id, lease_token, until)))

    def commit_turn(self, commit: TurnCommit) -> CommitOutcome:
        outcome: CommitOutcome = self.execute(commit)
        return outcome

    def claim_tasks(
        self,
        *,
        owner: str,
        activity_names: Collection[str] | None,
        now: datetime,
        lease: timedelta,
        limit: int,
        app_id: str = DEFAULT_APP_ID,
    ) -> list[ClaimedTask]:
        claimed: list[ClaimedTask] = self.execute(
            ClaimTasks(owner, activity_names, now, lease, limit, app_id)
        )
        return claimed

    def extend_task_leases(self, keys: Collection[int], *, owner: str, until: datetime) -> None:
        if keys:
            self.execute(ExtendTaskLeases(tuple(keys), owner, until))

    def release_tasks(self, keys: Collection[int], *, owner: str) -> None:
        if keys:
            self.execute(ReleaseTasks(tuple(keys), owner))

    def complete_task(self, task: ClaimedTask, result: TaskResult, *, now: datetime) -> bool:
        return bool(self.execute(CompleteTask(task, result, now)))

    def purge_instance(
        self, instance_id: str, *, recursive: bool = True, force: bool = False
    ) -> int:
        return int(self.execute(PurgeInstance(instance_id, recursive, force)))

    # ----- instances -------------------------------------------------------------------------

    def _create_instance(self, cur: Cursor, command: CreateInstance) -> None:
        self._insert_instance(cur, command.new, command.now)

    def get_instance(self, instance_id: str) -> InstanceRecord | None:
        with self._reading() as cur:
            return load_instance(cur, instance_id)

    def get_history(self, instance_id: str) -> list[HistoryEvent]:
        with self._reading() as cur:
            cur.execute(
                "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
            )
            return [codec.decode_event(row[0]) for row in cur.fetchall()]

    def _append_message(self, cur: Cursor, command: AppendMessage) -> AppendResult:
        found = self._lock_status(cur, command.instance_id)
        if found is None:
            return AppendResult.NOT_FOUND
        if found[0] in TERMINAL:
            return AppendResult.FINISHED
        status = found[0]
        kind = type(command.event).__name__
        if kind in suspension.SIGNAL_KINDS:
            queue_with = suspension.accept(cur, command.instance_id, kind, status, command.now)
            if queue_with is None:
                return AppendResult.APPENDED
            status = queue_with
        self._insert_message(
            cur, command.instance_id, command.event, visible_at=command.now, status=status
        )
        return AppendResult.APPENDED

    def _start_rerun(self, cur: Cursor, command: StartRerun) -> None:
        new, commit = command.instance, command.commit
        # Its copied history starts it: no start message.
        self._insert_instance(cur, new, commit.now, queue_start=False)
        with self.pipeline(cur):
            finish = self._apply_commit(
                cur,
                commit,
                old_execution_id=new.execution_id,
                old_status=WorkflowStatus.PENDING.value,
                history_length=0,
                version=1,
            )
        finish()

    # ----- turns ---------------------------------------------------------------------------

    def _claim_turns(self, cur: Cursor, command: ClaimTurns) -> list[ClaimedTurn]:
        now_us = to_micros(command.now)
        names = command.workflow_names
        if names is not None and not names:
            return []
        cur.execute(
            claim_turns_sql(
                None if names is None else len(names),
                self.claim_lock_clause,
                self.ready_index_hint,
            ),
            (now_us, now_us, command.app_id, *(names or ()), command.limit),
        )
        # Each id with the owner of the expired lease it had, if any (see claim_turns_sql).
        previous = dict(cur.fetchall())
        if len(previous) < command.limit:  # terminates of other names and apps
            cur.execute(
                claim_terminations_sql(self.claim_lock_clause), (now_us, now_us, command.limit)
            )
            for instance_id, owner in cur.fetchall():
                previous.setdefault(instance_id, owner)
        ids = list(previous)[: command.limit]
        if not ids:
            return []
        marks = placeholders(len(ids))
        cur.execute(
            "UPDATE instances SET lease_owner = ?, lease_expires_at = ?, "
            f"lease_token = lease_token + 1 WHERE instance_id IN ({marks})",
            (command.owner, to_micros(command.now + command.lease), *ids),
        )
        cur.execute(
            f"SELECT {INSTANCE_COLUMNS}, lease_token FROM instances WHERE instance_id IN ({marks})",
            ids,
        )
        rows = {row[0]: row for row in cur.fetchall()}
        # Only timers and scheduled starts wait for their time. Everything else is
        # visible once committed, whatever this claim's ``now``: the claimer read that
        # time before its claim ran (or its clock is behind the accepting node's), and
        # a resume whose status change this claim sees must come with its signal, or
        # the turn would run held events as if never paused and drop the resume.
        cur.execute(
            "SELECT id, instance_id, execution_id, event FROM inbox "
            f"WHERE instance_id IN ({marks}) AND (visible_at <= ? OR kind NOT IN "
            f"({placeholders(len(DELAYED_KINDS))})) ORDER BY id",
            (*ids, now_us, *DELAYED_KINDS),
        )
        messages: dict[str, list[InboxMessage]] = {i: [] for i in ids}
        for msg_id, instance_id, execution_id, event in cur.fetchall():
            messages[instance_id].append(
                InboxMessage(id=msg_id, event=codec.decode_event(event), execution_id=execution_id)
            )
        return [
            ClaimedTurn(
                instance=instance_from_row(rows[i]),
                messages=tuple(messages[i]),
                lease_token=rows[i][-1],
                taken_over_from=previous[i],
            )
            for i in ids
        ]

    def _release_turn(self, cur: Cursor, command: ReleaseTurn) -> None:
        cur.execute(
            "UPDATE instances SET lease_owner = NULL, lease_expires_at = NULL "
            "WHERE instance_id = ? AND lease_token = ?",
            (command.instance_id, command.lease_token),
        )

    def _extend_turn_lease(self, cur: Cursor, command: ExtendTurnLease) -> bool:
        cur.execute(
            "UPDATE instances SET lease_expires_at = ? "
            "WHERE instance_id = ? AND lease_token = ? AND lease_owner IS NOT NULL",
            (to_micros(command.until), command.instance_id, command.lease_token),
        )
        return bool(cur.rowcount == 1)

    def _commit_turn(self, cur: Cursor, commit: TurnCommit) -> CommitOutcome:
        iid = commit.instance_id
        with self.pipeline(cur):  # with the transaction's start: one round trip
            locked = self.statement(
                cur,
                "SELECT lease_token, execution_id, lease_owner, lease_expires_at, version, "
                f"status, history_length FROM instances WHERE instance_id = ?"
                f"{self.row_lock_clause}",
                (iid,),
            )
        row = locked.fetchone()
        if commit.expected_version is None:
            # A lease ends with its commit (or release): a repeated commit of the same
            # turn (a worker retrying a call that did succeed) must not apply twice.
            if row is None or row[0] != commit.lease_token or row[2] is None:
                raise LeaseLostError(
                    f"the lease on workflow instance '{iid}' was taken over by another "
                    "node or already ended; this turn's results were discarded and the "
                    "instance's next turn will redo it"
                )
        elif (
            row is None
            or row[4] != commit.expected_version
            or row[5] != WorkflowStatus.RUNNING.value
            or (row[2] is not None and row[3] > to_micros(commit.now))
        ):
            raise InstanceChangedError(
                f"workflow instance '{iid}' changed since this node last ran it; the turn "
                "was discarded and its inputs go through the inbox instead"
            )
        # Everything else of the commit goes in one round trip; what it returns is read
        # afterwards (a failed check rolls the whole transaction back).
        with self.pipeline(cur):
            deleted = (
                self.statement(
                    cur,
                    "DELETE FROM tasks WHERE instance_id = ? AND execution_id = ? "
                    f"AND id IN ({placeholders(len(commit.completed_tasks))})",
                    (iid, row[1], *commit.completed_tasks),
                )
                if commit.completed_tasks
                else None
            )
            finish = self._apply_commit(
                cur,
                commit,
                old_execution_id=row[1],
                old_status=row[5],
                history_length=row[6],
                version=row[4] + 1,
            )
        if deleted is not None and deleted.rowcount != len(commit.completed_tasks):
            raise InstanceChangedError(
                f"an activity task of workflow instance '{iid}' was already completed "
                "(its lease had expired and another worker ran it); this result was "
                "discarded"
            )
        return finish()

    def _apply_commit(
        self,
        cur: Cursor,
        commit: TurnCommit,
        *,
        old_execution_id: str,
        old_status: str,
        history_length: int,
        version: int,
    ) -> Callable[[], CommitOutcome]:
        """Issue the commit's writes; returns how to read its outcome once sent."""
        iid, now = commit.instance_id, commit.now
        now_us = to_micros(now)
        restart = commit.continue_as_new
        if restart is not None:
            cur.execute("DELETE FROM history WHERE instance_id = ?", (iid,))
            history_length = 0
        # One statement per chunk of events: a round trip per row costs more than the
        # rows (and a chunk stays well below SQLite's limit of 32,766 parameters).
        for start in range(0, len(commit.history), HISTORY_CHUNK):
            chunk = commit.history[start : start + HISTORY_CHUNK]
            rows = [
                value
                for offset, event in enumerate(chunk, start=history_length + start)
                for value in (iid, offset, codec.encode_event(event))
            ]
            values = ", ".join("(?, ?, ?)" for _ in chunk)
            cur.execute(f"INSERT INTO history (instance_id, seq, event) VALUES {values}", rows)
        history_length += len(commit.history)
        if commit.consumed:
            cur.execute(
                "DELETE FROM inbox WHERE instance_id = ? "
                f"AND id IN ({placeholders(len(commit.consumed))})",
                (iid, *commit.consumed),
            )
        status = commit.status
        if (
            not status.is_terminal
            and commit.status_before is not None
            and old_status != commit.status_before.value
        ):
            status = WorkflowStatus(old_status)  # paused or resumed while the turn ran
        terminal = status.is_terminal
        execution_id = restart.execution_id if restart else old_execution_id
        leased = tasks.insert(self.statement, cur, commit, execution_id, now_us)
        for timer in commit.timers:
            self._insert_message(
                cur, iid, timer, visible_at=timer.fire_at, execution_id=execution_id
            )
        for child in commit.children:
            self._create_child(cur, iid, child, now)
        for message in commit.messages:
            self._deliver(cur, message.instance_id, message.event, message.execution_id, now)
        if terminal:
            cur.execute("DELETE FROM inbox WHERE instance_id = ?", (iid,))
            cur.execute("DELETE FROM tasks WHERE instance_id = ?", (iid,))
        elif restart is not None:
            self._restart(cur, commit, restart.execution_id, old_execution_id)
        ready_at, ready_params = ready_at_sql(iid, status)
        # Only what may have changed is SET: an index whose columns are not in the SET
        # list is not rewritten, and every page a commit touches is written again.
        changes: list[tuple[str, Any]] = [
            ("output = ?", commit.output),
            ("custom_status = ?", commit.custom_status),
            ("failure = ?", codec.encode_failure(commit.failure)),
            ("last_updated_at = ?", now_us),
            ("version = ?", version),
            ("history_length = ?", history_length),
            # An unclaimed commit also moves the token on: a node whose expired lease it
            # overrides can no longer commit with its old token.
            ("lease_token = lease_token + ?", 0 if commit.expected_version is None else 1),
        ]
        if status.value != old_status:
            changes.append(("status = ?", status.value))
        if terminal:
            changes.append(("completed_at = ?", now_us))
            if commit.expires_at is not None:
                changes.append(("expires_at = ?", to_micros(commit.expires_at)))
        if restart is not None:
            changes.extend(
                [
                    ("execution_id = ?", execution_id),
                    ("input = ?", restart.input),
                    ("generation = generation + ?", 1),
                    ("trace_context = ?", restart.trace_context),
                ]
            )
        updated = self.statement(
            cur,
            f"UPDATE instances SET {', '.join(sql for sql, _ in changes)}, "
            f"lease_owner = NULL, lease_expires_at = NULL, ready_at = {ready_at} "
            "WHERE instance_id = ? RETURNING ready_at",
            (*(value for _, value in changes), *ready_params, iid),
        )
        return lambda: CommitOutcome(
            version=version,
            status=status,
            leased_tasks=tuple(claimed() for claimed in leased),
            ready_at=from_micros(updated.fetchone()[0]),
        )

    def _restart(
        self, cur: Cursor, commit: TurnCommit, execution_id: str, old_execution_id: str
    ) -> None:
        """Continue as new: drop the old execution's inputs, queue the new start."""
        assert commit.continue_as_new is not None
        iid, now = commit.instance_id, commit.now
        # Results and timers of the old execution must not reach the new one.
        cur.execute(
            "DELETE FROM inbox WHERE instance_id = ? AND execution_id = ?",
            (iid, old_execution_id),
        )
        cur.execute(
            "DELETE FROM tasks WHERE instance_id = ? AND execution_id = ?",
            (iid, old_execution_id),
        )
        record = load_instance(cur, iid)
        assert record is not None
        # Messages that arrived while the turn ran are queued again behind the new start
        # and the carried-over events, which happened before them (the inbox is read by id).
        cur.execute("SELECT MAX(id) FROM inbox WHERE instance_id = ?", (iid,))
        arrived_up_to = cur.fetchone()[0]
        started = ExecutionStarted(
            timestamp=now,
            name=record.name,
            instance_id=iid,
            execution_id=execution_id,
            input=commit.continue_as_new.input,
            parent=self._parent_of(record),
            router=Router.of_start(record.app_id, record.parent_app_id),
            parent_trace_context=commit.continue_as_new.parent_trace_context,
            workflow_span_id=commit.continue_as_new.workflow_span_id,
        )
        self._insert_message(cur, iid, started, visible_at=now)
        for event in commit.continue_as_new.carryover_events:
            self._insert_message(cur, iid, event, visible_at=now)
        if arrived_up_to is not None:
            cur.execute(
                "INSERT INTO inbox (instance_id, execution_id, kind, event, visible_at) "
                "SELECT instance_id, execution_id, kind, event, visible_at FROM inbox "
                "WHERE instance_id = ? AND id <= ? ORDER BY id",
                (iid, arrived_up_to),
            )
            cur.execute("DELETE FROM inbox WHERE instance_id = ? AND id <= ?", (iid, arrived_up_to))

    @staticmethod
    def _parent_of(record: InstanceRecord) -> ParentInfo | None:
        if record.parent_instance_id is None or record.parent_task_id is None:
            return None
        return ParentInfo(
            instance_id=record.parent_instance_id,
            name="",
            task_scheduled_id=record.parent_task_id,
            execution_id=record.parent_execution_id,
            app_id=record.parent_app_id,
        )

    def _create_child(self, cur: Cursor, parent_id: str, child: NewInstance, now: datetime) -> None:
        try:
            self._insert_instance(cur, child, now)
        except InstanceAlreadyExistsError as exc:
            assert child.parent is not None
            failed = ChildWorkflowFailed(
                timestamp=now,
                task_scheduled_id=child.parent.task_scheduled_id,
                failure=FailureDetails(message=str(exc), error_type=type(exc).__name__),
            )
            # The parent is the committing instance: its readiness is recomputed at
            # the end of the commit.
            self._insert_message(
                cur,
                parent_id,
                failed,
                visible_at=now,
                execution_id=child.parent.execution_id,
            )

    def _deliver(
        self,
        cur: Cursor,
        instance_id: str,
        event: HistoryEvent,
        execution_id: str | None,
        now: datetime,
    ) -> None:
        found = self._lock_status(cur, instance_id)
        if found is None or found[0] in TERMINAL:
            return
        if execution_id is not None and found[1] != execution_id:
            return
        self._insert_message(
            cur, instance_id, event, visible_at=now, execution_id=execution_id, status=found[0]
        )

    # ----- activity tasks ------------------------------------------------------------------

    def _complete_task(self, cur: Cursor, command: CompleteTask) -> bool:
        task = command.task
        found = self._lock_status(cur, task.instance_id)  # the instance row, then its tasks
        if found is None:
            return False
        cur.execute(
            "DELETE FROM tasks WHERE id = ? AND instance_id = ? AND execution_id = ?",
            (task.key, task.instance_id, task.execution_id),
        )
        if cur.rowcount != 1:
            return False
        self._insert_message(
            cur,
            task.instance_id,
            command.result,
            visible_at=command.now,
            execution_id=task.execution_id,
            status=found[0],
        )
        return True

    # ----- timers, queries, purge ------------------------------------------------------

    def next_wakeup(self, *, now: datetime) -> datetime | None:
        now_us = to_micros(now)
        with self._reading() as cur:
            cur.execute(NEXT_READY_SQL, (now_us,))
            row = cur.fetchone()
            future = row[0] if row else None
            cur.execute(NEXT_RUNNABLE_SQL, (now_us, now_us))
            current = cur.fetchone()[0]
        moments = [m for m in (future, current) if m is not None]
        return from_micros(min(moments)) if moments else None

    def next_task_visible(self) -> datetime | None:
        with self._reading() as cur:
            cur.execute(NEXT_TASK_SQL)
            return from_micros(cur.fetchone()[0])

    def backlog(self, *, now: datetime) -> Backlog:
        now_us = to_micros(now)
        with self._reading() as cur:
            cur.execute(backlog_turns_sql(self.ready_index_hint), (now_us, now_us))
            turns, oldest_turn = cur.fetchone()
            cur.execute(BACKLOG_TASKS_SQL, (now_us,))
            tasks_, oldest_task = cur.fetchone()
            cur.execute(DUE_TIMERS_SQL, (now_us,))
            timers = cur.fetchone()[0]
        return Backlog(
            runnable_turns=int(turns),
            runnable_tasks=int(tasks_),
            due_timers=int(timers),
            oldest_turn=from_micros(oldest_turn),
            oldest_task=from_micros(oldest_task),
        )

    def active_children(self, instance_id: str) -> list[InstanceRecord]:
        with self._reading() as cur:
            cur.execute(
                f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE parent_instance_id = ? "
                f"AND status NOT IN ({placeholders(len(TERMINAL))})",
                (instance_id, *TERMINAL),
            )
            return [instance_from_row(row) for row in cur.fetchall()]

    def list_instances(self, query: InstanceQuery) -> InstancePage:
        with self._reading() as cur:
            return list_instances(cur, query)

    def count_instances(self, query: InstanceQuery) -> int:
        with self._reading() as cur:
            return count_instances(cur, query)

    def count_by_status(self, query: InstanceQuery) -> dict[WorkflowStatus, int]:
        with self._reading() as cur:
            return queries.count_by_status(cur, query)

    def recent_durations(self, name: str, *, limit: int) -> list[int]:
        with self._reading() as cur:
            return queries.recent_durations(cur, name, limit)

    def workflow_names(self, *, now: datetime, limit: int = 1000) -> list[str]:
        with self._reading() as cur:
            names = set(queries.instance_names(cur, limit))
            cur.execute("SELECT workflows FROM nodes WHERE expires_at > ?", (to_micros(now),))
            for (registered,) in cur.fetchall():
                names.update(json.loads(registered))
        return sorted(names)[:limit]
