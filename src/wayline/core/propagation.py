"""History propagation (dapr-ext-workflow 1.18): a step may carry its caller's history.

A workflow calls an activity or a child workflow with ``propagation=`` a scope; the
callee then receives the caller's history so far (``OWN_HISTORY``), or that plus what
the caller itself received (``LINEAGE``), one chunk per workflow, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from wayline.core.events import HistoryEvent


class PropagationScope(StrEnum):
    """durabletask's ``HistoryPropagationScope`` (NONE is no scope at all)."""

    OWN_HISTORY = "OWN_HISTORY"
    LINEAGE = "LINEAGE"


def scope_of(value: Any) -> PropagationScope | None:
    """A scope given as ours, dapr-ext-workflow's enum member, or its name."""
    if value is None:
        return None
    name = getattr(value, "name", value)
    if name == "NONE":
        return None
    try:
        return PropagationScope(name)
    except ValueError:
        raise ValueError(
            f"propagation must be PropagationScope.OWN_HISTORY or LINEAGE, got {value!r}"
        ) from None


@dataclass(frozen=True)
class HistoryChunk:
    """One workflow's history as propagated: events up to the call that carries it."""

    app_id: str
    instance_id: str
    workflow_name: str
    events: tuple[HistoryEvent, ...]


@dataclass(frozen=True)
class Propagated:
    scope: PropagationScope
    chunks: tuple[HistoryChunk, ...]


def history_up_to(history: Sequence[HistoryEvent], event_id: int) -> tuple[HistoryEvent, ...]:
    """The history up to and including the step with ``event_id`` (the call)."""
    for position, event in enumerate(history):
        if event.event_id == event_id:
            return tuple(history[: position + 1])
    return tuple(history)


def propagate(
    scope: PropagationScope, own: HistoryChunk, received: Propagated | None
) -> Propagated:
    """What a call with ``scope`` carries: the caller's chunk, after its lineage."""
    chunks: tuple[HistoryChunk, ...] = (own,)
    if scope is PropagationScope.LINEAGE and received is not None:
        chunks = (*received.chunks, own)
    return Propagated(scope, chunks)
