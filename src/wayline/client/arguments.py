"""The client's arguments checked and converted: statuses, times, sorts, timeouts,
and the filters of ``list_workflows`` as a store query."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from wayline.core.context import as_utc
from wayline.core.events import WorkflowStatus
from wayline.errors import InvalidArgumentError
from wayline.store.types import InstanceQuery, InstanceSort


def statuses(
    status: str | WorkflowStatus | Collection[str | WorkflowStatus] | None,
) -> list[WorkflowStatus] | None:
    if status is None:
        return None
    items = [status] if isinstance(status, str) else list(status)
    try:
        return [WorkflowStatus(str(s).upper()) for s in items]
    except ValueError as exc:
        known = ", ".join(s.value for s in WorkflowStatus)
        raise InvalidArgumentError(
            f"unknown runtime status in {items!r}; use one of {known}"
        ) from exc


def utc(moment: datetime | None, name: str) -> datetime | None:
    """``moment`` in UTC; a time UTC cannot hold (year 9999 at -23:59) is refused."""
    if moment is None:
        return None
    try:
        return as_utc(moment)
    except OverflowError as exc:
        raise InvalidArgumentError(
            f"{name} {moment.isoformat()} is out of range once converted to UTC; give a "
            "time between years 1 and 9999 in UTC"
        ) from exc


def sort_order(sort: str | InstanceSort) -> InstanceSort:
    try:
        return InstanceSort(str(sort).lower())
    except ValueError as exc:
        known = ", ".join(s.value for s in InstanceSort)
        raise InvalidArgumentError(f"unknown sort {sort!r}; use one of {known}") from exc


def dapr_timeout(timeout: float | None, timeout_in_seconds: float | None) -> float | None:
    """``timeout`` or Dapr's ``timeout_in_seconds`` (where 0 means no limit)."""
    if timeout_in_seconds is None:
        return timeout
    if timeout is not None:
        raise TypeError("pass either timeout or timeout_in_seconds, not both")
    return timeout_in_seconds or None


def instance_query(
    status: str | WorkflowStatus | Collection[str | WorkflowStatus] | None,
    name: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    completed_after: datetime | None,
    completed_before: datetime | None,
    parent_instance_id: str | None,
    instance_id_prefix: str | None,
) -> InstanceQuery:
    """The store query of ``list_workflows``' filters (each None means "any")."""
    return InstanceQuery(
        statuses=statuses(status),
        name=name,
        created_from=utc(created_after, "created_after"),
        created_to=utc(created_before, "created_before"),
        completed_from=utc(completed_after, "completed_after"),
        completed_to=utc(completed_before, "completed_before"),
        parent_instance_id=parent_instance_id,
        instance_id_prefix=instance_id_prefix or None,
    )
