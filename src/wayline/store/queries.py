"""Listing and counting instances with filters and keyset paging."""

from __future__ import annotations

import base64
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
from wayline.store.types import InstancePage, InstanceQuery


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
        raise InvalidArgumentError(
            "invalid continuation token; pass the token returned by the previous page"
        ) from exc


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
    """One page of instances matching ``query``, newest first."""
    if query.page_size < 1:
        raise ValueError("page_size must be at least 1")
    where, params = _where(query)
    if query.continuation_token:
        created, after_id = decode_token(query.continuation_token)
        keyset = "(created_at < ? OR (created_at = ? AND instance_id < ?))"
        where = f"{where} AND {keyset}" if where else f" WHERE {keyset}"
        params.extend([created, created, after_id])
    cur.execute(
        f"SELECT {INSTANCE_COLUMNS} FROM instances{where} "
        "ORDER BY created_at DESC, instance_id DESC LIMIT ?",
        (*params, query.page_size + 1),
    )
    rows = cur.fetchall()
    records = [instance_from_row(r) for r in rows[: query.page_size]]
    token = None
    if len(rows) > query.page_size:
        last = records[-1]
        token = encode_token(to_micros(last.created_at), last.instance_id)
    return InstancePage(instances=records, continuation_token=token)


def count_instances(cur: Cursor, query: InstanceQuery) -> int:
    where, params = _where(query)
    cur.execute(f"SELECT COUNT(*) FROM instances{where}", params)
    return int(cur.fetchone()[0])
