"""A worker's past events are converted to protobuf once, not on every turn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wayline.api.grpc import convert
from wayline.api.grpc.past_events import PastEventsCache
from wayline.core.events import (
    EventSent,
    ExecutionStarted,
    HistoryEvent,
    TaskCompleted,
    TaskScheduled,
    WorkflowStarted,
)
from wayline.engine.remote import TurnWork

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _history(steps: int, execution_id: str = "e1") -> list[HistoryEvent]:
    events: list[HistoryEvent] = [
        WorkflowStarted(timestamp=T0),
        ExecutionStarted(timestamp=T0, name="wf", instance_id="i", execution_id=execution_id),
    ]
    for n in range(steps):
        at = T0 + timedelta(seconds=n)
        events += [
            TaskScheduled(event_id=n, timestamp=at, name="act"),
            EventSent(event_id=n + 1000, timestamp=at, instance_id="other", name="x"),  # not sent
            WorkflowStarted(timestamp=at),
            TaskCompleted(timestamp=at, task_scheduled_id=n, result=str(n)),
        ]
    return events


def _turn(past: list[HistoryEvent], execution_id: str = "e1") -> TurnWork:
    return TurnWork("i", execution_id, tuple(past), (WorkflowStarted(timestamp=T0),), "token")


def test_each_turn_converts_only_the_events_new_since_the_last_one() -> None:
    cache = PastEventsCache()
    history = _history(50)
    for length in (0, 2, 6, 30, len(history)):
        past = history[:length]
        assert cache.past_events(_turn(past)) == convert.worker_events(past)
    first = cache.past_events(_turn(history))
    again = cache.past_events(_turn(history))
    assert again is first  # nothing new: nothing converted


def test_a_new_execution_or_a_shorter_history_starts_over() -> None:
    cache = PastEventsCache()
    history = _history(10)
    cache.past_events(_turn(history))
    restarted = _history(1, execution_id="e2")
    assert cache.past_events(_turn(restarted, "e2")) == convert.worker_events(restarted)
    shorter = _history(3, execution_id="e2")[:5]
    assert cache.past_events(_turn(shorter, "e2")) == convert.worker_events(shorter)


def test_the_cache_is_bounded_by_events_least_recently_used_first() -> None:
    cache = PastEventsCache(max_events=100)
    for n in range(20):
        turn = TurnWork(f"i{n}", "e1", tuple(_history(5)), (), "token")
        cache.past_events(turn)
    assert len(cache) <= 100 // len(convert.worker_events(_history(5))) + 1
