"""Listing and counting instances with filters and keyset paging."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

from wayline.core.events import WorkflowStatus
from wayline.errors import InvalidArgumentError
from wayline.store.rows import (
    INSTANCE_COLUMNS,
    Cursor,
    instance_from_row,
    placeholders,
    to_micros,
)
from wayline.store.types import InstancePage, InstanceQuery, InstanceSort

# The keyset of each order: its columns, the instance id last (unique, so ties page
# stably). Name and status continue by creation time, as their indexes do.
_SORT_COLUMNS: dict[InstanceSort, tuple[str, ...]] = {
    InstanceSort.CREATED: ("created_at", "instance_id"),
    InstanceSort.UPDATED: ("last_updated_at", "instance_id"),
    InstanceSort.ID: ("instance_id",),
    InstanceSort.NAME: ("name", "created_at", "instance_id"),
    InstanceSort.STATUS: ("status", "created_at", "instance_id"),
    InstanceSort.DURATION: ("COALESCE(completed_at - created_at, -1)", "instance_id"),
}
_TEXT_COLUMNS = frozenset({"instance_id", "name", "status"})
_TOKEN_ERROR = "invalid continuation token; pass the token returned by the previous page"


def encode_token(created_at: int, instance_id: str) -> str:
    raw = f"{created_at}|{instance_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


#: The range of the stored microsecond times (64-bit signed integers in SQL).
_MIN_MICROS, _MAX_MICROS = -(2**63), 2**63 - 1


def decode_token(token: str) -> tuple[int, str]:
    """The keyset position a token names; ``InvalidArgumentError`` if no page gave it."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        created, instance_id = raw.split("|", 1)
        micros = int(created)
        if not _MIN_MICROS <= micros <= _MAX_MICROS or "\x00" in instance_id:
            raise ValueError(raw)
        return micros, instance_id
    except ValueError as exc:  # also bad base64 (binascii.Error) and UTF-8
        raise InvalidArgumentError(_TOKEN_ERROR) from exc


def _encode_keyset(query: InstanceQuery, values: list[Any]) -> str:
    """The token after a row: newest-created-first keeps the original ``created|id``
    form; other orders carry their name, direction and key values as JSON."""
    if query.sort == InstanceSort.CREATED and query.descending:
        return encode_token(values[0], values[1])
    raw = json.dumps({"s": query.sort.value, "d": query.descending, "k": values})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_keyset(query: InstanceQuery, token: str) -> list[Any]:
    if query.sort == InstanceSort.CREATED and query.descending:
        return list(decode_token(token))
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        values = data["k"]
        same_order = data["s"] == query.sort.value and data["d"] == query.descending
    except (ValueError, TypeError, KeyError, RecursionError) as exc:  # bad base64, UTF-8
        raise InvalidArgumentError(_TOKEN_ERROR) from exc
    if not same_order:
        raise InvalidArgumentError(
            "the continuation token continues another sort order; "
            "start again from the first page of this one"
        )
    columns = _SORT_COLUMNS[query.sort]
    if not isinstance(values, list) or len(values) != len(columns):
        raise InvalidArgumentError(_TOKEN_ERROR)
    if not all(_fits(column, value) for column, value in zip(columns, values, strict=True)):
        raise InvalidArgumentError(_TOKEN_ERROR)
    return values


def _fits(column: str, value: Any) -> bool:
    """A key value a stored row could have: a 64-bit integer for the time columns, a
    string (no NUL, which PostgreSQL text cannot hold) for the others."""
    if column in _TEXT_COLUMNS:
        return isinstance(value, str) and "\x00" not in value
    return type(value) is int and _MIN_MICROS <= value <= _MAX_MICROS


def _keyset(query: InstanceQuery, values: list[Any]) -> tuple[str, list[Any]]:
    """Rows strictly after ``values`` in the query's order, as a WHERE clause.

    ``a <= x AND (a < x OR (a = x AND b < y))``: the leading bound lets an index range
    scan start at the key, so a page deep in the list costs what the first one costs.
    """
    columns = _SORT_COLUMNS[query.sort]
    op = "<" if query.descending else ">"
    alternatives: list[str] = []
    params: list[Any] = [values[0]]
    for i, column in enumerate(columns):
        equal = [f"{c} = ?" for c in columns[:i]]
        alternatives.append("(" + " AND ".join([*equal, f"{column} {op} ?"]) + ")")
        params.extend([*values[:i], values[i]])
    return f"{columns[0]} {op}= ? AND ({' OR '.join(alternatives)})", params


def _key_of(query: InstanceQuery, row: Any) -> list[Any]:
    """The keyset values of an ``INSTANCE_COLUMNS`` row (plus the sort value column)."""
    index = {"created_at": 4, "last_updated_at": 5, "instance_id": 0, "name": 1, "status": 2}
    return [row[index[c]] if c in index else row[-1] for c in _SORT_COLUMNS[query.sort]]


def _where(query: InstanceQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if query.statuses:
        statuses = [WorkflowStatus(s).value for s in query.statuses]
        clauses.append(f"status IN ({placeholders(len(statuses))})")
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


def list_instances(cur: Cursor, query: InstanceQuery) -> InstancePage:
    """One page of instances matching ``query`` in its order (newest first by default)."""
    if query.page_size < 1:
        raise ValueError("page_size must be at least 1")
    sort = InstanceSort(query.sort)
    query = query if sort is query.sort else replace(query, sort=sort)
    where, params = _where(query)
    if query.continuation_token:
        keyset, keyset_params = _keyset(query, _decode_keyset(query, query.continuation_token))
        where = f"{where} AND {keyset}" if where else f" WHERE {keyset}"
        params.extend(keyset_params)
    columns = _SORT_COLUMNS[sort]
    direction = " DESC" if query.descending else ""
    order = ", ".join(f"{c}{direction}" for c in columns)
    cur.execute(
        f"SELECT {INSTANCE_COLUMNS}, {columns[0]} FROM instances{where} ORDER BY {order} LIMIT ?",
        (*params, query.page_size + 1),
    )
    rows = cur.fetchall()
    records = [instance_from_row(r) for r in rows[: query.page_size]]
    token = None
    if len(rows) > query.page_size:
        token = _encode_keyset(query, _key_of(query, rows[query.page_size - 1]))
    return InstancePage(instances=records, continuation_token=token)


def count_instances(cur: Cursor, query: InstanceQuery) -> int:
    where, params = _where(query)
    cur.execute(f"SELECT COUNT(*) FROM instances{where}", params)
    return int(cur.fetchone()[0])


def count_by_status(cur: Cursor, query: InstanceQuery) -> dict[WorkflowStatus, int]:
    """How many instances match ``query`` per status, in one query (absent: none)."""
    where, params = _where(query)
    cur.execute(f"SELECT status, COUNT(*) FROM instances{where} GROUP BY status", params)
    return {WorkflowStatus(status): int(count) for status, count in cur.fetchall()}


def recent_durations(cur: Cursor, name: str, limit: int) -> list[int]:
    """Microseconds from creation to completion of the ``limit`` most recently created
    COMPLETED instances of workflow ``name`` (walks the name index backwards)."""
    cur.execute(
        "SELECT completed_at - created_at FROM instances "
        "WHERE name = ? AND status = ? AND completed_at IS NOT NULL "
        "ORDER BY created_at DESC LIMIT ?",
        (name, WorkflowStatus.COMPLETED.value, limit),
    )
    return [int(row[0]) for row in cur.fetchall()]


def instance_names(cur: Cursor, limit: int) -> list[str]:
    """The distinct workflow names of stored instances, sorted; a skip scan of the name
    index (one probe per name), so it costs nothing like a scan of every instance."""
    cur.execute(
        "WITH RECURSIVE names(name) AS ("
        "SELECT MIN(name) FROM instances "
        "UNION ALL SELECT (SELECT MIN(name) FROM instances WHERE name > names.name) "
        "FROM names WHERE names.name IS NOT NULL) "
        "SELECT name FROM names WHERE name IS NOT NULL LIMIT ?",
        (limit,),
    )
    return [str(row[0]) for row in cur.fetchall()]
