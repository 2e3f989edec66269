"""How long finished instances are kept (Dapr 1.17's ``stateRetentionPolicy``).

When an instance finishes, its node stamps the time its state may be deleted,
from the policy it runs with then: a policy is not retroactive, and changing it
does not move the stamps of instances already finished. Every node deletes
stamped instances once their time has come, whatever its own policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from wayline.core.events import WorkflowStatus


@dataclass(frozen=True)
class RetentionPolicy:
    """How long to keep instances that finished with each status (None: forever).

    A status's own duration beats ``any_terminal``.
    """

    any_terminal: timedelta | None = None
    completed: timedelta | None = None
    failed: timedelta | None = None
    terminated: timedelta | None = None

    def __post_init__(self) -> None:
        for name in ("any_terminal", "completed", "failed", "terminated"):
            value = getattr(self, name)
            if value is not None and value < timedelta(0):
                raise ValueError(f"retention {name} must not be negative, got {value}")

    def expiry(self, status: WorkflowStatus, finished_at: datetime) -> datetime | None:
        """When an instance that finished with ``status`` at ``finished_at`` may go."""
        own = {
            WorkflowStatus.COMPLETED: self.completed,
            WorkflowStatus.FAILED: self.failed,
            WorkflowStatus.TERMINATED: self.terminated,
        }.get(status)
        keep = own if own is not None else self.any_terminal
        return None if keep is None else finished_at + keep


_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")


def parse_duration(text: str) -> timedelta:
    """A duration as Dapr's configuration writes it (Go's syntax, plus days): ``90s``,
    ``1h30m``, ``168h``, ``7d``; a bare number is seconds."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        pos, seconds = 0, 0.0
        for match in _PART.finditer(value):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(value) or not value:
            raise ValueError(
                f"{text!r} is not a duration: write e.g. 30s, 15m, 24h, 7d or 1h30m"
            ) from None
    if seconds < 0 or seconds != seconds or seconds == float("inf"):
        raise ValueError(f"{text!r} is not a duration of zero or more")
    return timedelta(seconds=seconds)
