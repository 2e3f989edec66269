"""What the instance page shows from a history: its rows, what the instance waits
for now, and the timeline's bars. Pure functions over the client's event list."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from wayline.core.events import (
    ChildWorkflowCompleted,
    ChildWorkflowCreated,
    ChildWorkflowFailed,
    EventRaised,
    EventSent,
    ExecutionCompleted,
    ExecutionStarted,
    ExecutionTerminated,
    FailureDetails,
    HistoryEvent,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
    TimerOrigin,
)

#: The payload a history row shows under its summary (the first of these present).
_PAYLOAD_FIELDS = ("input", "result")


def pretty(text: str | None) -> str:
    """Stored JSON text indented for reading; other text as it is."""
    if text is None:
        return ""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def kind_of(event: HistoryEvent) -> str:
    return type(event).__name__


@dataclass(frozen=True)
class HistoryRow:
    index: int
    event_id: int
    kind: str
    timestamp: datetime
    summary: str
    payload: str
    failure: FailureDetails | None
    #: The event a rerun can start from (an activity or a child workflow).
    rerunnable: bool


def _summary(event: HistoryEvent) -> str:
    if isinstance(event, ExecutionStarted):
        return event.name
    if isinstance(event, TaskScheduled | ChildWorkflowCreated):
        child = f" → {event.instance_id}" if isinstance(event, ChildWorkflowCreated) else ""
        return f"{event.name}{child}"
    if isinstance(event, TaskCompleted | TaskFailed | ChildWorkflowCompleted | ChildWorkflowFailed):
        return f"of #{event.task_scheduled_id}"
    if isinstance(event, TimerCreated):
        why = "" if event.origin == TimerOrigin.CREATE_TIMER else f" ({event.origin.value}"
        why += f" {event.origin_name})" if event.origin_name else (")" if why else "")
        return f"until {event.fire_at.isoformat()}{why}"
    if isinstance(event, TimerFired):
        return f"timer #{event.timer_id}"
    if isinstance(event, EventRaised):
        return event.name
    if isinstance(event, EventSent):
        return f"{event.name} → {event.instance_id}"
    if isinstance(event, ExecutionCompleted):
        return event.status.value
    return ""


def history_rows(events: list[HistoryEvent]) -> list[HistoryRow]:
    rows = []
    for index, event in enumerate(events):
        payload = next(
            (getattr(event, f) for f in _PAYLOAD_FIELDS if getattr(event, f, None) is not None),
            None,
        )
        rows.append(
            HistoryRow(
                index=index,
                event_id=event.event_id,
                kind=kind_of(event),
                timestamp=event.timestamp,
                summary=_summary(event),
                payload=pretty(payload),
                failure=getattr(event, "failure", None),
                rerunnable=isinstance(event, TaskScheduled | ChildWorkflowCreated),
            )
        )
    return rows


@dataclass(frozen=True)
class Waiting:
    """What an unfinished instance waits for now."""

    activities: list[tuple[int, str, datetime]] = field(default_factory=list)
    timers: list[tuple[int, datetime, str]] = field(default_factory=list)
    events: list[tuple[str, datetime | None]] = field(default_factory=list)
    children: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def nothing(self) -> bool:
        return not (self.activities or self.timers or self.events or self.children)


#: A timer at or after this year is durabletask's "wait forever".
_FOREVER_YEAR = 9000


def waiting(events: list[HistoryEvent]) -> Waiting:
    """Activities scheduled without a result, unfired timers (with their due times),
    awaited event names (a wait with a timeout, or any wait of an SDK worker, leaves
    a timer in the history; an indefinite wait of a Python workflow leaves nothing)
    and unfinished children."""
    tasks: dict[int, tuple[int, str, datetime]] = {}
    children: dict[int, tuple[int, str, str]] = {}
    timers: dict[int, TimerCreated] = {}
    for event in events:
        if isinstance(event, TaskScheduled):
            tasks[event.event_id] = (event.event_id, event.name, event.timestamp)
        elif isinstance(event, TaskCompleted | TaskFailed):
            tasks.pop(event.task_scheduled_id, None)
        elif isinstance(event, ChildWorkflowCreated):
            children[event.event_id] = (event.event_id, event.name, event.instance_id)
        elif isinstance(event, ChildWorkflowCompleted | ChildWorkflowFailed):
            children.pop(event.task_scheduled_id, None)
        elif isinstance(event, TimerCreated):
            timers[event.event_id] = event
        elif isinstance(event, TimerFired):
            timers.pop(event.timer_id, None)
    result = Waiting(activities=list(tasks.values()), children=list(children.values()))
    for timer in timers.values():
        if timer.origin == TimerOrigin.EXTERNAL_EVENT:
            due = None if timer.fire_at.year >= _FOREVER_YEAR else timer.fire_at
            result.events.append((timer.origin_name or "", due))
        else:
            result.timers.append((timer.event_id, timer.fire_at, timer.origin.value))
    return result


@dataclass
class Bar:
    """One span of the run on the timeline."""

    lane: str  # activity, timer, child, event, retry
    label: str
    start: datetime
    end: datetime | None  # None: still open
    failed: bool = False
    attempt: int = 1
    detail: str = ""
    link: str | None = None  # a child's instance id


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime
    bars: list[Bar]
    #: Event arrivals (name, time) drawn as ticks.
    marks: list[tuple[str, datetime]]

    def position(self, moment: datetime) -> float:
        """Percent along the axis."""
        span = (self.end - self.start).total_seconds()
        if span <= 0:
            return 0.0
        return max(0.0, min(100.0, (moment - self.start).total_seconds() / span * 100))


def timeline(events: list[HistoryEvent], now: datetime) -> Timeline:
    """Bars for activities, timers, children and event waits; retries counted per name
    (a retry timer between two schedules of it) and failures marked."""
    bars: list[Bar] = []
    open_: dict[tuple[str, int], Bar] = {}
    waits: dict[str, list[Bar]] = {}
    marks: list[tuple[str, datetime]] = []
    attempts: dict[str, int] = {}
    retry_pending: set[str] = set()
    failed_last: dict[str, bool] = {}
    start = events[0].timestamp if events else now
    end: datetime | None = None
    for event in events:
        if isinstance(event, TaskScheduled | ChildWorkflowCreated):
            lane = "activity" if isinstance(event, TaskScheduled) else "child"
            key = f"{lane}:{event.name}"
            attempt = attempts.get(key, 0) + 1 if key in retry_pending else 1
            retry_pending.discard(key)
            attempts[key] = attempt
            bar = Bar(
                lane,
                event.name,
                event.timestamp,
                None,
                attempt=attempt,
                link=event.instance_id if isinstance(event, ChildWorkflowCreated) else None,
            )
            open_[("task", event.event_id)] = bar
            bars.append(bar)
        elif isinstance(
            event, TaskCompleted | TaskFailed | ChildWorkflowCompleted | ChildWorkflowFailed
        ):
            bar_or_none = open_.pop(("task", event.task_scheduled_id), None)
            if bar_or_none is not None:
                bar_or_none.end = event.timestamp
                failure = getattr(event, "failure", None)
                if failure is not None:
                    bar_or_none.failed = True
                    bar_or_none.detail = f"{failure.error_type}: {failure.message}"
                failed_last[f"{bar_or_none.lane}:{bar_or_none.label}"] = failure is not None
        elif isinstance(event, TimerCreated):
            if event.origin == TimerOrigin.EXTERNAL_EVENT:
                name = event.origin_name or ""
                bar = Bar("event", name, event.timestamp, None, detail="awaiting event")
                waits.setdefault(name.casefold(), []).append(bar)
            elif event.origin in (TimerOrigin.ACTIVITY_RETRY, TimerOrigin.CHILD_WORKFLOW_RETRY):
                bar = Bar(
                    "retry", "retry backoff", event.timestamp, None, detail=str(event.fire_at)
                )
                for key, failed in failed_last.items():
                    if failed:
                        retry_pending.add(key)
                        bar.label = f"retry backoff ({key.split(':', 1)[1]})"
                failed_last.clear()
            else:
                bar = Bar("timer", "timer", event.timestamp, None, detail=str(event.fire_at))
            if event.fire_at.year < _FOREVER_YEAR and event.origin != TimerOrigin.EXTERNAL_EVENT:
                bar.detail = f"due {event.fire_at.isoformat()}"
            open_[("timer", event.event_id)] = bar
            bars.append(bar)
        elif isinstance(event, TimerFired):
            fired = open_.pop(("timer", event.timer_id), None)
            if fired is not None:
                fired.end = event.timestamp
                if fired.lane == "event":
                    fired.failed = True
                    fired.detail = "timed out"
        elif isinstance(event, EventRaised):
            marks.append((event.name, event.timestamp))
            pending = waits.get(event.name.casefold())
            if pending:
                bar = pending.pop(0)
                if bar.end is None:
                    bar.end = event.timestamp
                    bar.detail = "received"
        elif isinstance(event, ExecutionCompleted | ExecutionTerminated):
            end = event.timestamp
    finish = end or max(now, events[-1].timestamp if events else now)
    for bar in bars:
        if bar.end is None and end is not None:
            bar.end = end  # cut off by the end of the run: drawn as unfinished
            bar.detail = bar.detail or "unfinished"
    return Timeline(start=start, end=finish, bars=bars, marks=marks)


def overview(line: Timeline, buckets: int = 100) -> list[tuple[int, int, int]]:
    """The whole run in ``buckets`` slices: (bars starting in it, failed ones, height
    percent); the timeline's summary when it has too many bars to draw at once."""
    counts = [[0, 0] for _ in range(buckets)]
    for bar in line.bars:
        slot = min(buckets - 1, int(line.position(bar.start) / 100 * buckets))
        counts[slot][0] += 1
        counts[slot][1] += 1 if bar.failed else 0
    top = max((c[0] for c in counts), default=0) or 1
    return [(n, failed, round(n / top * 100)) for n, failed in counts]


def json_text_or_error(text: str) -> tuple[Any, str | None]:
    """Parse a form's JSON field: (value, None), or (None, why it is not JSON)."""
    if not text.strip():
        return None, None
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, f"the data is not valid JSON: {exc}"


def execution_of(events: list[HistoryEvent]) -> str | None:
    """The execution id of the generation these events are the history of."""
    return next((e.execution_id for e in events if isinstance(e, ExecutionStarted)), None)
