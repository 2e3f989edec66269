"""What the client returns: instance snapshots, pages of them, bulk outcomes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from wayline.core import serde, typed
from wayline.core.events import FailureDetails, WorkflowStatus
from wayline.core.ids import DEFAULT_APP_ID
from wayline.store.types import InstanceRecord

T = TypeVar("T")


@dataclass(frozen=True)
class WorkflowState:
    """A snapshot of one instance, as ``dapr-ext-workflow``'s ``WorkflowState``.

    ``runtime_status`` is a ``WorkflowStatus`` that compares equal to Dapr's status
    strings (``state.runtime_status == "RUNNING"``). Payloads are the stored JSON
    text; ``input``, ``output`` and ``custom_status`` give them decoded.
    """

    instance_id: str
    name: str
    runtime_status: WorkflowStatus
    created_at: datetime
    last_updated_at: datetime
    serialized_input: str | None = None
    serialized_output: str | None = None
    serialized_custom_status: str | None = None
    failure_details: FailureDetails | None = None
    completed_at: datetime | None = None
    parent_instance_id: str | None = None
    scheduled_start_at: datetime | None = None
    #: The app whose nodes run it (multi-app workflows).
    app_id: str = DEFAULT_APP_ID
    #: 1, plus one for every continue-as-new; the history is the current generation's.
    generation: int = 1

    @classmethod
    def from_record(cls, record: InstanceRecord) -> WorkflowState:
        return cls(
            instance_id=record.instance_id,
            name=record.name,
            runtime_status=record.status,
            created_at=record.created_at,
            last_updated_at=record.last_updated_at,
            serialized_input=record.input,
            serialized_output=record.output,
            serialized_custom_status=record.custom_status,
            failure_details=record.failure,
            completed_at=record.completed_at,
            parent_instance_id=record.parent_instance_id,
            scheduled_start_at=record.scheduled_start_at,
            app_id=record.app_id,
            generation=record.generation,
        )

    @property
    def input(self) -> Any:
        return serde.loads_lenient(self.serialized_input)

    @property
    def output(self) -> Any:
        return serde.loads_lenient(self.serialized_output)

    @property
    def custom_status(self) -> Any:
        return serde.loads_lenient(self.serialized_custom_status)

    def input_as(self, type_: type[T]) -> T:
        """The input decoded into ``type_`` (a dataclass, enum, pydantic model, ...);
        ``PayloadTypeError`` if it does not fit."""
        return typed.convert(self.input, type_, "input")  # type: ignore[no-any-return]

    def output_as(self, type_: type[T]) -> T:
        """The output decoded into ``type_``; ``PayloadTypeError`` if it does not fit."""
        return typed.convert(self.output, type_, "output")  # type: ignore[no-any-return]

    def custom_status_as(self, type_: type[T]) -> T:
        """The custom status decoded into ``type_``."""
        return typed.convert(self.custom_status, type_, "custom status")  # type: ignore[no-any-return]

    def raise_if_failed(self) -> None:
        """Raise ``WorkflowFailedError`` if the instance FAILED."""
        if self.runtime_status == WorkflowStatus.FAILED:
            raise WorkflowFailedError(self)

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible dict of every field."""
        failure = self.failure_details
        return {
            "instance_id": self.instance_id,
            "name": self.name,
            "runtime_status": self.runtime_status.value,
            "created_at": self.created_at.isoformat(),
            "last_updated_at": self.last_updated_at.isoformat(),
            "completed_at": self.completed_at.isoformat() if self.completed_at else None,
            "serialized_input": self.serialized_input,
            "serialized_output": self.serialized_output,
            "serialized_custom_status": self.serialized_custom_status,
            "failure_details": None
            if failure is None
            else {
                "message": failure.message,
                "error_type": failure.error_type,
                "stack_trace": failure.stack_trace,
            },
            "parent_instance_id": self.parent_instance_id,
            "app_id": self.app_id,
            "generation": self.generation,
        }

    def __str__(self) -> str:
        return json.dumps(self.to_json(), indent=2)


class WorkflowFailedError(Exception):
    """Raised by ``WorkflowState.raise_if_failed`` for a FAILED instance."""

    def __init__(self, state: WorkflowState) -> None:
        details = state.failure_details
        reason = f"{details.error_type}: {details.message}" if details else "unknown error"
        super().__init__(f"workflow instance '{state.instance_id}' failed: {reason}")
        self.state = state


@dataclass(frozen=True)
class WorkflowPage:
    """One page of ``list_workflows``; pass ``continuation_token`` to get the next.

    Iterating the page (``for state in page``) iterates ``workflows``, and
    ``len(page)`` is how many it holds (so an empty page is falsy).
    """

    workflows: list[WorkflowState] = field(default_factory=list)
    continuation_token: str | None = None

    def __iter__(self) -> Iterator[WorkflowState]:
        return iter(self.workflows)

    def __len__(self) -> int:
        return len(self.workflows)


@dataclass(frozen=True)
class BulkResult:
    """Outcome of a bulk operation: how many instances it affected, and the refusals."""

    operation: str
    affected: int = 0
    failed: dict[str, str] = field(default_factory=dict)


BULK_OPERATIONS = ("terminate", "pause", "resume", "purge")
