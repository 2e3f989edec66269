"""A worker's past events are encoded once, not on every turn, and a work item built
from them parses as the same message as one built from scratch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wayline._proto.dt import orchestrator_service_pb2 as pb
from wayline.api.grpc import convert
from wayline.api.grpc.past_events import PastEventsCache
from wayline.api.grpc.workers import HeldHistory
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


def _encoded(events: list[HistoryEvent]) -> bytes:
    return b"".join(convert.encoded_past_events(events))


def _parsed(item: bytes) -> pb.WorkItem:
    return pb.WorkItem.FromString(item)


def _expected(turn: TurnWork) -> pb.WorkItem:
    request = pb.WorkflowRequest(
        instanceId=turn.instance_id,
        pastEvents=convert.worker_events(turn.past_events),
        newEvents=convert.worker_events(turn.new_events),
    )
    request.executionId.value = turn.execution_id
    return pb.WorkItem(workflowRequest=request, completionToken=turn.completion_token)


def test_a_work_item_from_cached_past_events_is_the_same_message() -> None:
    cache = PastEventsCache()
    history = _history(50)
    for length in (0, 2, 6, 30, len(history)):
        turn = _turn(history[:length])
        assert _parsed(convert.work_item(turn, cache.encoded(turn).after(0))) == _expected(turn)
        assert _parsed(convert.work_item(turn)) == _expected(turn)


def test_each_turn_encodes_only_the_events_new_since_the_last_one() -> None:
    cache = PastEventsCache()
    history = _history(30)
    cache.encoded(_turn(history[:10]))
    before = convert.encoded_past_events
    seen: list[int] = []

    def counting(events):  # type: ignore[no-untyped-def]
        seen.append(len(events))
        return before(events)

    convert.encoded_past_events = counting  # type: ignore[assignment]
    try:
        cache.encoded(_turn(history))
    finally:
        convert.encoded_past_events = before  # type: ignore[assignment]
    assert seen == [len(history) - 10]


def test_a_new_execution_or_a_shorter_history_starts_over() -> None:
    cache = PastEventsCache()
    history = _history(10)
    cache.encoded(_turn(history))
    restarted = _history(1, execution_id="e2")
    assert cache.encoded(_turn(restarted, "e2")).after(0) == _encoded(restarted)
    shorter = _history(3, execution_id="e2")[:5]
    assert cache.encoded(_turn(shorter, "e2")).after(0) == _encoded(shorter)


def test_the_cache_is_bounded_by_size_least_recently_used_first() -> None:
    one = len(_encoded(_history(5)))
    cache = PastEventsCache(max_bytes=one * 3)
    for n in range(20):
        cache.encoded(TurnWork(f"i{n}", "e1", tuple(_history(5)), (), "token"))
    assert len(cache) == 3


def test_a_worker_that_keeps_history_gets_only_the_events_it_lacks() -> None:
    cache = PastEventsCache()
    held = HeldHistory()
    history = _history(20)
    first = _turn(history[:10])
    past = cache.encoded(first)
    assert held.sent("i", "e1", past.count) == 0  # a new stream: everything
    later = _turn(history)
    past = cache.encoded(later)
    known = held.sent("i", "e1", past.count)
    assert known == len(convert.worker_events(history[:10]))
    item = _parsed(convert.work_item(later, past.after(known), known))
    assert item.workflowRequest.cachedHistory.eventCount == known
    assert list(item.workflowRequest.pastEvents) == convert.worker_events(history)[known:]
    # Another execution (continue as new) starts over.
    assert held.sent("i", "e2", 3) == 0
