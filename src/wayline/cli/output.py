"""Tables and colour: what the commands print when not asked for JSON."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

_STATUS_COLOURS = {
    "COMPLETED": "32",  # green
    "FAILED": "31",  # red
    "STALLED": "31",
    "TERMINATED": "33",  # yellow
    "CANCELED": "33",
    "SUSPENDED": "35",  # magenta
    "RUNNING": "36",  # cyan
    "PENDING": "36",
    "CONTINUED_AS_NEW": "36",
}
FAILURE_COLOUR = "31"


def use_colour(stream: IO[str]) -> bool:
    """Colour on a terminal only, and never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, code: str | None, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour and code and text else text


def _cell(value: Any) -> str:
    return " ".join(str(value or "").splitlines())


def _table(
    rows: list[dict[str, Any]],
    columns: Sequence[tuple[str, str]],
    *,
    colour: Callable[[str, dict[str, Any]], str | None] | None = None,
) -> str:
    """Aligned columns; ``colour(key, row)`` names an ANSI colour for a cell, or None."""
    cells = [[_cell(row.get(key)) for key, _ in columns] for row in rows]
    widths = [
        max([len(title)] + [len(c[i]) for c in cells]) for i, (_, title) in enumerate(columns)
    ]
    lines = ["  ".join(title.ljust(w) for (_, title), w in zip(columns, widths, strict=True))]
    for row, cell in zip(rows, cells, strict=True):
        parts = []
        for (key, _), text, width in zip(columns, cell, widths, strict=True):
            code = colour(key, row) if colour else None
            parts.append(paint(text, code, True) + " " * (width - len(text)))
        lines.append("  ".join(parts))
    return "\n".join(line.rstrip() for line in lines)


_INSTANCE_COLUMNS = (
    ("instanceID", "INSTANCE ID"),
    ("workflowName", "WORKFLOW"),
    ("runtimeStatus", "STATUS"),
    ("createdAt", "CREATED"),
    ("lastUpdatedAt", "UPDATED"),
)


def emit(args: argparse.Namespace, data: Any, render: Callable[[Any, bool], str]) -> None:
    if args.output == "json":
        print(json.dumps(data, indent=2))
    else:
        print(render(data, use_colour(sys.stdout)))


def _status_colour(key: str, row: dict[str, Any]) -> str | None:
    return _STATUS_COLOURS.get(str(row.get(key))) if key == "runtimeStatus" else None


def render_instances(instances: list[dict[str, Any]], colour: bool) -> str:
    return _table(instances, _INSTANCE_COLUMNS, colour=_status_colour if colour else None)


def render_instance(body: dict[str, Any], colour: bool) -> str:
    lines = []
    for key in body:
        if key == "failure":
            continue
        value = str(body[key])
        if key == "runtimeStatus":
            value = paint(value, _STATUS_COLOURS.get(value), colour)
        lines.append(f"{key:16} {value}")
    failure = body.get("failure")
    if failure:
        text = f"{failure.get('errorType')}: {failure.get('message')}"
        lines.append(f"{'failure':16} {paint(_cell(text), FAILURE_COLOUR, colour)}")
    return "\n".join(lines)


_HISTORY_COLUMNS = (
    ("event_id", "ID"),
    ("timestamp", "TIMESTAMP"),
    ("kind", "KIND"),
    ("name", "NAME"),
    ("detail", "DETAIL"),
)
# Events that answer an earlier one, and the field naming it.
_ANSWERS = {
    "TaskCompleted": "task_scheduled_id",
    "TaskFailed": "task_scheduled_id",
    "ChildWorkflowCompleted": "task_scheduled_id",
    "ChildWorkflowFailed": "task_scheduled_id",
    "TimerFired": "timer_id",
}


def history_rows(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One table row per event: an answer (completed, failed, fired) is named after the
    step it answers, and a failure shows as ``ErrorType: message``."""
    steps: dict[Any, str] = {}
    rows = []
    for event in events:
        kind = event.get("kind", "")
        name = event.get("name") or ""
        detail = next((event[k] for k in ("input", "result") if event.get(k)), "")
        if kind == "ChildWorkflowCreated":
            name = f"{name} ({event.get('instance_id')})"
        elif kind == "TimerCreated":
            name = event.get("origin_name") or "timer"
            detail = f"fires at {event.get('fire_at')}"
        elif kind == "EventSent":
            name = f"{name} (to {event.get('instance_id')})"
        elif kind == "ExecutionStalled":
            detail = f"{event.get('reason')}: {event.get('description')}"
        if kind in ("TaskScheduled", "ChildWorkflowCreated", "TimerCreated"):
            steps[event.get("event_id")] = name
        elif kind in _ANSWERS:
            name = steps.get(event.get(_ANSWERS[kind]), "")
        failure = event.get("failure")
        if failure:
            detail = f"{failure.get('error_type')}: {failure.get('message')}"
        if kind == "ExecutionCompleted" and event.get("status") not in (None, "COMPLETED"):
            detail = f"{event.get('status')}" + (f": {detail}" if detail else "")
        rows.append(
            {
                "event_id": event.get("event_id"),
                "timestamp": event.get("timestamp"),
                "kind": kind,
                "name": name,
                "detail": detail,
                "failed": bool(failure) or kind == "ExecutionStalled",
            }
        )
    return rows


def render_history(result: dict[str, Any], colour: bool) -> str:
    def paint(key: str, row: dict[str, Any]) -> str | None:
        return FAILURE_COLOUR if row["failed"] and key in ("kind", "detail") else None

    return _table(
        history_rows(result["events"]), _HISTORY_COLUMNS, colour=paint if colour else None
    )


def print_error(message: str) -> None:
    """``error: message`` on stderr, on one line, red on a terminal."""
    prefix = paint("error:", FAILURE_COLOUR, use_colour(sys.stderr))
    print(f"{prefix} {_cell(message)}", file=sys.stderr)
