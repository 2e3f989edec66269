"""The SQL implementation of ``Store`` shared by every backend.

Backends subclass :class:`SqlStore` and supply a dialect: how to open a
transaction, the parameter style, and how to lock candidate rows when claiming
work. Everything else (the schema's meaning, turn commits, queries) lives here
once. Times are stored as integer microseconds since the epoch (UTC).
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from wayline.core import codec
from wayline.core.events import (
    TERMINAL_STATUSES,
    ChildWorkflowFailed,
    ExecutionStarted,
    FailureDetails,
    HistoryEvent,
    ParentInfo,
    WorkflowStatus,
)
from wayline.errors import (
    InstanceAlreadyExistsError,
    InstanceNotFoundError,
    InstanceNotTerminalError,
    LeaseLostError,
)
from wayline.store.types import (
    AppendResult,
    ClaimedTask,
    ClaimedTurn,
    InboxMessage,
    InstancePage,
    InstanceQuery,
    InstanceRecord,
    NewInstance,
    TaskResult,
    TurnCommit,
)

_TERMINAL = tuple(sorted(s.value for s in TERMINAL_STATUSES))
_INSTANCE_COLUMNS = (
    "instance_id, name, status, execution_id, created_at, last_updated_at, input, output, "
    "custom_status, failure, parent_instance_id, parent_task_id, parent_execution_id, "
    "completed_at, scheduled_start_at, version"
)


def to_micros(moment: datetime) -> int:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int | None) -> datetime | None:
    if value is None:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)


def _required_time(value: int) -> datetime:
    moment = from_micros(value)
    assert moment is not None
    return moment


class Cursor(Protocol):
    """The slice of a DB-API cursor the SQL layer uses (parameters in ``?`` style)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    @property
    def rowcount(self) -> int: ...


def _placeholders(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def encode_token(created_at: int, instance_id: str) -> str:
    raw = f"{created_at}|{instance_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        created, instance_id = raw.split("|", 1)
        return int(created), instance_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(
            "invalid continuation token; pass the token returned by the previous page"
        ) from exc


class SqlStore:
    """Store logic over a dialect's transactions. Subclasses implement the hooks."""

    #: Appended to the claim's candidate SELECT to lock rows (``FOR UPDATE SKIP LOCKED``).
    claim_lock_clause = ""
    #: Appended to a SELECT of one row that the transaction will update (``FOR UPDATE``).
    row_lock_clause = ""

    def __init__(self) -> None:
        self._closed = threading.Event()

    # ----- dialect hooks -------------------------------------------------------------------

    def transaction(self) -> AbstractContextManager[Cursor]:
        """A cursor inside one write transaction, committed on normal exit."""
        raise NotImplementedError

    def read(self) -> AbstractContextManager[Cursor]:
        """A cursor for reads (may share the write transaction machinery)."""
        return self.transaction()

    def change_marker(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        self._closed.set()

    # ----- row helpers ------------------------------------------------------------------

    @staticmethod
    def _instance_from_row(row: Sequence[Any]) -> InstanceRecord:
        return InstanceRecord(
            instance_id=row[0],
            name=row[1],
            status=WorkflowStatus(row[2]),
            execution_id=row[3],
            created_at=_required_time(row[4]),
            last_updated_at=_required_time(row[5]),
            input=row[6],
            output=row[7],
            custom_status=row[8],
            failure=codec.decode_failure(row[9]),
            parent_instance_id=row[10],
            parent_task_id=row[11],
            parent_execution_id=row[12],
            completed_at=from_micros(row[13]),
            scheduled_start_at=from_micros(row[14]),
            version=row[15],
        )

    def _load_instance(self, cur: Cursor, instance_id: str) -> InstanceRecord | None:
        cur.execute(
            f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?", (instance_id,)
        )
        row = cur.fetchone()
        return None if row is None else self._instance_from_row(row)

    @staticmethod
    def _insert_message(
        cur: Cursor,
        instance_id: str,
        event: HistoryEvent,
        *,
        visible_at: datetime,
        execution_id: str | None = None,
    ) -> None:
        cur.execute(
            "INSERT INTO inbox (instance_id, execution_id, kind, event, visible_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                instance_id,
                execution_id,
                type(event).__name__,
                codec.encode_event(event),
                to_micros(visible_at),
            ),
        )

    def _delete_instance_rows(self, cur: Cursor, instance_id: str) -> None:
        for table in ("history", "inbox", "tasks", "instances"):
            cur.execute(f"DELETE FROM {table} WHERE instance_id = ?", (instance_id,))

    def _insert_instance(self, cur: Cursor, new: NewInstance, now: datetime) -> None:
        """Insert (or replace a terminal) instance; raises if an active one exists."""
        cur.execute(
            "SELECT status, lease_token FROM instances WHERE instance_id = ?", (new.instance_id,)
        )
        row = cur.fetchone()
        # A replacement keeps counting lease tokens where the old row stopped, so a
        # stalled turn of the old run can never match a token of the new one.
        lease_token = 0
        if row is not None:
            if row[0] not in _TERMINAL:
                raise InstanceAlreadyExistsError(new.instance_id)
            lease_token = row[1]
            self._delete_instance_rows(cur, new.instance_id)
        parent = new.parent
        now_us = to_micros(now)
        cur.execute(
            "INSERT INTO instances (instance_id, name, status, execution_id, created_at, "
            "last_updated_at, input, parent_instance_id, parent_task_id, parent_execution_id, "
            "scheduled_start_at, version, lease_token) "
            f"VALUES ({_placeholders(11)}, 0, ?)",
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
                lease_token,
            ),
        )
        started = ExecutionStarted(
            timestamp=now,
            name=new.name,
            instance_id=new.instance_id,
            execution_id=new.execution_id,
            input=new.input,
            parent=parent,
            scheduled_start=new.start_at,
        )
        visible_at = max(new.start_at, now) if new.start_at else now
        self._insert_message(cur, new.instance_id, started, visible_at=visible_at)

    # ----- Store API: instances ----------------------------------------------------------

    def create_instance(self, new: NewInstance, *, now: datetime) -> None:
        with self.transaction() as cur:
            self._insert_instance(cur, new, now)

    def get_instance(self, instance_id: str) -> InstanceRecord | None:
        with self.read() as cur:
            return self._load_instance(cur, instance_id)

    def get_history(self, instance_id: str) -> list[HistoryEvent]:
        with self.read() as cur:
            cur.execute(
                "SELECT event FROM history WHERE instance_id = ? ORDER BY seq", (instance_id,)
            )
            return [codec.decode_event(row[0]) for row in cur.fetchall()]

    def append_message(
        self, instance_id: str, event: HistoryEvent, *, now: datetime
    ) -> AppendResult:
        with self.transaction() as cur:
            cur.execute("SELECT status FROM instances WHERE instance_id = ?", (instance_id,))
            row = cur.fetchone()
            if row is None:
                return AppendResult.NOT_FOUND
            if row[0] in _TERMINAL:
                return AppendResult.FINISHED
            self._insert_message(cur, instance_id, event, visible_at=now)
            return AppendResult.APPENDED

    # ----- turns ---------------------------------------------------------------------------

    def claim_turns(
        self,
        *,
        owner: str,
        workflow_names: Collection[str] | None,
        now: datetime,
        lease: timedelta,
        limit: int,
    ) -> list[ClaimedTurn]:
        now_us = to_micros(now)
        name_filter, name_params = "", []
        if workflow_names is not None:
            if not workflow_names:
                return []
            name_filter = f" AND i.name IN ({_placeholders(len(workflow_names))})"
            name_params = list(workflow_names)
        with self.transaction() as cur:
            cur.execute(
                "SELECT i.instance_id FROM instances i WHERE i.instance_id IN ("
                " SELECT m.instance_id FROM inbox m JOIN instances j"
                "  ON j.instance_id = m.instance_id"
                " WHERE m.visible_at <= ? AND CASE j.status"
                "  WHEN 'SUSPENDED' THEN m.kind IN ('ExecutionResumed', 'ExecutionTerminated')"
                "  WHEN 'PENDING' THEN m.kind IN ('ExecutionStarted', 'ExecutionTerminated')"
                "  ELSE 1 = 1 END"
                # A finished instance is never runnable: where writers are not serialized
                # (PostgreSQL) an event can land just after the final commit; it waits
                # there, harmless, until a purge or a new run of the id removes it.
                f"  AND j.status NOT IN ({_placeholders(len(_TERMINAL))}))"
                " AND (i.lease_expires_at IS NULL OR i.lease_expires_at < ?)"
                f"{name_filter} ORDER BY i.last_updated_at LIMIT ?{self.claim_lock_clause}",
                (now_us, *_TERMINAL, now_us, *name_params, limit),
            )
            ids = [row[0] for row in cur.fetchall()]
            if not ids:
                return []
            marks = _placeholders(len(ids))
            cur.execute(
                "UPDATE instances SET lease_owner = ?, lease_expires_at = ?, "
                f"lease_token = lease_token + 1 WHERE instance_id IN ({marks})",
                (owner, to_micros(now + lease), *ids),
            )
            cur.execute(
                f"SELECT {_INSTANCE_COLUMNS}, lease_token FROM instances "
                f"WHERE instance_id IN ({marks})",
                ids,
            )
            rows = {row[0]: row for row in cur.fetchall()}
            cur.execute(
                "SELECT id, instance_id, execution_id, event FROM inbox "
                f"WHERE instance_id IN ({marks}) AND visible_at <= ? ORDER BY id",
                (*ids, now_us),
            )
            messages: dict[str, list[InboxMessage]] = {i: [] for i in ids}
            for msg_id, instance_id, execution_id, event in cur.fetchall():
                messages[instance_id].append(
                    InboxMessage(
                        id=msg_id, event=codec.decode_event(event), execution_id=execution_id
                    )
                )
        return [
            ClaimedTurn(
                instance=self._instance_from_row(rows[i]),
                messages=tuple(messages[i]),
                lease_token=rows[i][16],
            )
            for i in ids
        ]

    def release_turn(self, instance_id: str, lease_token: int) -> None:
        with self.transaction() as cur:
            cur.execute(
                "UPDATE instances SET lease_owner = NULL, lease_expires_at = NULL "
                "WHERE instance_id = ? AND lease_token = ?",
                (instance_id, lease_token),
            )

    def extend_turn_lease(self, instance_id: str, lease_token: int, *, until: datetime) -> bool:
        with self.transaction() as cur:
            cur.execute(
                "UPDATE instances SET lease_expires_at = ? "
                "WHERE instance_id = ? AND lease_token = ? AND lease_owner IS NOT NULL",
                (to_micros(until), instance_id, lease_token),
            )
            return cur.rowcount == 1

    def commit_turn(self, commit: TurnCommit) -> None:
        with self.transaction() as cur:
            cur.execute(
                "SELECT lease_token, execution_id, lease_owner FROM instances "
                f"WHERE instance_id = ?{self.row_lock_clause}",
                (commit.instance_id,),
            )
            row = cur.fetchone()
            # A lease ends with its commit (or release): a repeated commit of the same
            # turn (a worker retrying a call that did succeed) must not apply twice.
            if row is None or row[0] != commit.lease_token or row[2] is None:
                raise LeaseLostError(
                    f"the lease on workflow instance '{commit.instance_id}' was taken over "
                    "by another node or already ended; this turn's results were discarded "
                    "and the instance's next turn will redo it"
                )
            self._apply_commit(cur, commit, old_execution_id=row[1])

    def _apply_commit(self, cur: Cursor, commit: TurnCommit, *, old_execution_id: str) -> None:
        iid, now = commit.instance_id, commit.now
        now_us = to_micros(now)
        restart = commit.continue_as_new
        if restart is not None:
            cur.execute("DELETE FROM history WHERE instance_id = ?", (iid,))
        if commit.history:
            cur.execute("SELECT COALESCE(MAX(seq), -1) FROM history WHERE instance_id = ?", (iid,))
            next_seq = cur.fetchone()[0] + 1
            for offset, event in enumerate(commit.history):
                cur.execute(
                    "INSERT INTO history (instance_id, seq, event) VALUES (?, ?, ?)",
                    (iid, next_seq + offset, codec.encode_event(event)),
                )
        if commit.consumed:
            cur.execute(
                "DELETE FROM inbox WHERE instance_id = ? "
                f"AND id IN ({_placeholders(len(commit.consumed))})",
                (iid, *commit.consumed),
            )
        terminal = commit.status.is_terminal
        execution_id = restart.execution_id if restart else old_execution_id
        cur.execute(
            "UPDATE instances SET status = ?, output = ?, custom_status = ?, failure = ?, "
            "last_updated_at = ?, completed_at = ?, version = version + 1, "
            "execution_id = ?, input = CASE WHEN ? THEN ? ELSE input END, "
            "lease_owner = NULL, lease_expires_at = NULL WHERE instance_id = ?",
            (
                commit.status.value,
                commit.output,
                commit.custom_status,
                codec.encode_failure(commit.failure),
                now_us,
                now_us if terminal else None,
                execution_id,
                restart is not None,
                restart.input if restart else None,
                iid,
            ),
        )
        for task in commit.tasks:
            cur.execute(
                "INSERT INTO tasks (instance_id, execution_id, task_id, name, input, "
                "task_execution_id, created_at, attempt) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    iid,
                    execution_id,
                    task.task_id,
                    task.name,
                    task.input,
                    task.task_execution_id,
                    now_us,
                ),
            )
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
            # Results and timers of the old execution must not reach the new one.
            cur.execute(
                "DELETE FROM inbox WHERE instance_id = ? AND execution_id = ?",
                (iid, old_execution_id),
            )
            cur.execute(
                "DELETE FROM tasks WHERE instance_id = ? AND execution_id = ?",
                (iid, old_execution_id),
            )
            record = self._load_instance(cur, iid)
            assert record is not None
            started = ExecutionStarted(
                timestamp=now,
                name=record.name,
                instance_id=iid,
                execution_id=restart.execution_id,
                input=restart.input,
                parent=self._parent_of(record),
            )
            self._insert_message(cur, iid, started, visible_at=now)
            for event in restart.carryover_events:
                self._insert_message(cur, iid, event, visible_at=now)

    @staticmethod
    def _parent_of(record: InstanceRecord) -> ParentInfo | None:
        if record.parent_instance_id is None or record.parent_task_id is None:
            return None
        return ParentInfo(
            instance_id=record.parent_instance_id,
            name="",
            task_scheduled_id=record.parent_task_id,
            execution_id=record.parent_execution_id,
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
            self._insert_message(
                cur, parent_id, failed, visible_at=now, execution_id=child.parent.execution_id
            )

    def _deliver(
        self,
        cur: Cursor,
        instance_id: str,
        event: HistoryEvent,
        execution_id: str | None,
        now: datetime,
    ) -> None:
        cur.execute(
            "SELECT status, execution_id FROM instances WHERE instance_id = ?", (instance_id,)
        )
        row = cur.fetchone()
        if row is None or row[0] in _TERMINAL:
            return
        if execution_id is not None and row[1] != execution_id:
            return
        self._insert_message(cur, instance_id, event, visible_at=now, execution_id=execution_id)

    # ----- activity tasks ------------------------------------------------------------------

    def claim_tasks(
        self,
        *,
        owner: str,
        activity_names: Collection[str] | None,
        now: datetime,
        lease: timedelta,
        limit: int,
    ) -> list[ClaimedTask]:
        now_us = to_micros(now)
        name_filter, name_params = "", []
        if activity_names is not None:
            if not activity_names:
                return []
            name_filter = f" AND name IN ({_placeholders(len(activity_names))})"
            name_params = list(activity_names)
        with self.transaction() as cur:
            cur.execute(
                "SELECT id FROM tasks WHERE (lease_expires_at IS NULL OR lease_expires_at < ?)"
                f"{name_filter} ORDER BY id LIMIT ?{self.claim_lock_clause}",
                (now_us, *name_params, limit),
            )
            keys = [row[0] for row in cur.fetchall()]
            if not keys:
                return []
            marks = _placeholders(len(keys))
            cur.execute(
                "UPDATE tasks SET lease_owner = ?, lease_expires_at = ?, attempt = attempt + 1 "
                f"WHERE id IN ({marks})",
                (owner, to_micros(now + lease), *keys),
            )
            cur.execute(
                "SELECT id, instance_id, execution_id, task_id, name, input, attempt, "
                "task_execution_id FROM tasks "
                f"WHERE id IN ({marks}) ORDER BY id",
                keys,
            )
            return [ClaimedTask(*row) for row in cur.fetchall()]

    def extend_task_leases(self, keys: Collection[int], *, owner: str, until: datetime) -> None:
        if not keys:
            return
        with self.transaction() as cur:
            cur.execute(
                "UPDATE tasks SET lease_expires_at = ? WHERE lease_owner = ? "
                f"AND id IN ({_placeholders(len(keys))})",
                (to_micros(until), owner, *keys),
            )

    def release_tasks(self, keys: Collection[int], *, owner: str) -> None:
        if not keys:
            return
        with self.transaction() as cur:
            cur.execute(
                "UPDATE tasks SET lease_owner = NULL, lease_expires_at = NULL, "
                "attempt = attempt - 1 WHERE lease_owner = ? "
                f"AND id IN ({_placeholders(len(keys))})",
                (owner, *keys),
            )

    def complete_task(self, task: ClaimedTask, result: TaskResult, *, now: datetime) -> bool:
        with self.transaction() as cur:
            cur.execute(
                "DELETE FROM tasks WHERE id = ? AND instance_id = ? AND execution_id = ?",
                (task.key, task.instance_id, task.execution_id),
            )
            if cur.rowcount != 1:
                return False
            self._insert_message(
                cur, task.instance_id, result, visible_at=now, execution_id=task.execution_id
            )
            return True

    # ----- timers, queries, purge ------------------------------------------------------

    def next_wakeup(self, *, now: datetime) -> datetime | None:
        with self.read() as cur:
            cur.execute("SELECT MIN(visible_at) FROM inbox WHERE visible_at > ?", (to_micros(now),))
            row = cur.fetchone()
            return from_micros(row[0]) if row and row[0] is not None else None

    def active_children(self, instance_id: str) -> list[InstanceRecord]:
        with self.read() as cur:
            cur.execute(
                f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE parent_instance_id = ? "
                f"AND status NOT IN ({_placeholders(len(_TERMINAL))})",
                (instance_id, *_TERMINAL),
            )
            return [self._instance_from_row(row) for row in cur.fetchall()]

    @staticmethod
    def _where(query: InstanceQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.statuses:
            statuses = [WorkflowStatus(s).value for s in query.statuses]
            clauses.append(f"status IN ({_placeholders(len(statuses))})")
            params.extend(statuses)
        if query.name is not None:
            clauses.append("name = ?")
            params.append(query.name)
        for column, bound, op in (
            ("created_at", query.created_from, ">="),
            ("created_at", query.created_to, "<"),
            ("completed_at", query.completed_from, ">="),
            ("completed_at", query.completed_to, "<"),
        ):
            if bound is not None:
                clauses.append(f"{column} {op} ?")
                params.append(to_micros(bound))
        if query.parent_instance_id is not None:
            clauses.append("parent_instance_id = ?")
            params.append(query.parent_instance_id)
        if query.instance_id_prefix:
            clauses.append("substr(instance_id, 1, ?) = ?")
            params.extend([len(query.instance_id_prefix), query.instance_id_prefix])
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list_instances(self, query: InstanceQuery) -> InstancePage:
        if query.page_size < 1:
            raise ValueError("page_size must be at least 1")
        where, params = self._where(query)
        if query.continuation_token:
            created, after_id = decode_token(query.continuation_token)
            keyset = "(created_at < ? OR (created_at = ? AND instance_id < ?))"
            where = f"{where} AND {keyset}" if where else f" WHERE {keyset}"
            params.extend([created, created, after_id])
        with self.read() as cur:
            cur.execute(
                f"SELECT {_INSTANCE_COLUMNS} FROM instances{where} "
                "ORDER BY created_at DESC, instance_id DESC LIMIT ?",
                (*params, query.page_size + 1),
            )
            rows = cur.fetchall()
        records = [self._instance_from_row(r) for r in rows[: query.page_size]]
        token = None
        if len(rows) > query.page_size:
            last = records[-1]
            token = encode_token(to_micros(last.created_at), last.instance_id)
        return InstancePage(instances=records, continuation_token=token)

    def count_instances(self, query: InstanceQuery) -> int:
        where, params = self._where(query)
        with self.read() as cur:
            cur.execute(f"SELECT COUNT(*) FROM instances{where}", params)
            return int(cur.fetchone()[0])

    def purge_instance(self, instance_id: str, *, recursive: bool = True) -> int:
        with self.transaction() as cur:
            record = self._load_instance(cur, instance_id)
            if record is None:
                raise InstanceNotFoundError(instance_id)
            doomed = [record]
            if recursive:
                doomed.extend(self._descendants(cur, instance_id))
            for victim in doomed:
                if not victim.status.is_terminal:
                    raise InstanceNotTerminalError(victim.instance_id, victim.status.value)
            for victim in doomed:
                self._delete_instance_rows(cur, victim.instance_id)
            return len(doomed)

    def _descendants(self, cur: Cursor, instance_id: str) -> Iterator[InstanceRecord]:
        # Reused ids can link instances in a cycle (A's child B later starts a new A as
        # its own child), so each instance is visited once.
        seen = {instance_id}
        frontier = [instance_id]
        while frontier:
            parent = frontier.pop()
            cur.execute(
                f"SELECT {_INSTANCE_COLUMNS} FROM instances WHERE parent_instance_id = ?", (parent,)
            )
            for row in cur.fetchall():
                child = self._instance_from_row(row)
                if child.instance_id in seen:
                    continue
                seen.add(child.instance_id)
                frontier.append(child.instance_id)
                yield child
