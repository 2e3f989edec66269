"""What every SQL backend shares below the store logic: the cursor it is given,
times as integer microseconds, and instance rows as ``InstanceRecord``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from wayline.core import codec
from wayline.core.events import TERMINAL_STATUSES, WorkflowStatus
from wayline.store.types import InstanceRecord

#: Finished statuses as stored, for ``status IN (...)`` filters.
TERMINAL = tuple(sorted(s.value for s in TERMINAL_STATUSES))
INSTANCE_COLUMNS = (
    "instance_id, name, status, execution_id, created_at, last_updated_at, input, output, "
    "custom_status, failure, parent_instance_id, parent_task_id, parent_execution_id, "
    "completed_at, scheduled_start_at, version, app_id, parent_app_id, generation, trace_context"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Cursor(Protocol):
    """The slice of a DB-API cursor the SQL layer uses (parameters in ``?`` style)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    @property
    def rowcount(self) -> int: ...


class StatementResult(Protocol):
    """A statement's outcome, readable once its pipeline has been sent (see
    ``SqlStore.pipeline``)."""

    def fetchone(self) -> Any: ...

    @property
    def rowcount(self) -> int: ...


class Materialized:
    """A result read at once (where statements are not pipelined)."""

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None


def placeholders(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def to_micros(moment: datetime) -> int:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int | None) -> datetime | None:
    if value is None:
        return None
    return _EPOCH + timedelta(microseconds=value)


def _required_time(value: int) -> datetime:
    moment = from_micros(value)
    assert moment is not None
    return moment


def load_instance(cur: Cursor, instance_id: str) -> InstanceRecord | None:
    cur.execute(f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE instance_id = ?", (instance_id,))
    row = cur.fetchone()
    return None if row is None else instance_from_row(row)


def instance_from_row(row: Sequence[Any]) -> InstanceRecord:
    """An ``InstanceRecord`` from a row of ``INSTANCE_COLUMNS``."""
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
        app_id=row[16],
        parent_app_id=row[17],
        generation=row[18],
        trace_context=row[19],
    )
