"""Workflow versioning (Dapr 1.17): patches, named versions and stalled instances.

A turn reports the patches its code has seen (``ctx.is_patched``) and the version
it ran; both are recorded on the turn's ``WorkflowStarted``. When the code that
runs an instance no longer matches what its history recorded, the instance is not
failed: it *stalls* (status STALLED, an ``ExecutionStalled`` event), the turn's
new actions are discarded, and it continues once matching code runs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from wayline.core.events import HistoryEvent, WorkflowStarted


class StallReason(StrEnum):
    """durabletask's ``StalledReason``."""

    PATCH_MISMATCH = "PATCH_MISMATCH"
    VERSION_NOT_AVAILABLE = "VERSION_NOT_AVAILABLE"
    PAYLOAD_SIZE_EXCEEDED = "PAYLOAD_SIZE_EXCEEDED"


@dataclass(frozen=True)
class Stall:
    """Why a turn cannot proceed with the code that ran it."""

    reason: StallReason
    description: str


def recorded_patches(history: Iterable[HistoryEvent]) -> tuple[str, ...]:
    """The patches the history last recorded (each turn records all it has seen)."""
    patches: tuple[str, ...] = ()
    for event in history:
        if isinstance(event, WorkflowStarted) and event.patches:
            patches = event.patches
    return patches


def patch_mismatch(recorded: Sequence[str], current: Sequence[str]) -> Stall | None:
    """A stall unless the recorded patches are an exact prefix of the current turn's."""
    if tuple(current[: len(recorded)]) == tuple(recorded):
        return None
    return Stall(
        StallReason.PATCH_MISMATCH,
        f"Patch mismatch. History patches: [{', '.join(recorded)}], "
        f"current patches: [{', '.join(current)}]",
    )


def version_not_available(name: str, version: str | None) -> Stall:
    what = f"version {version!r} of workflow {name!r}" if version else f"workflow {name!r}"
    return Stall(
        StallReason.VERSION_NOT_AVAILABLE,
        f"Version not available. The instance started with {what}, which this code "
        "does not register; it continues once code with that version runs it",
    )
