"""History events <-> JSON: every kind round-trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Optional

import pytest

from wayline.core import codec
from wayline.core.events import (
    ALL_EVENT_TYPES,
    EVENT_TYPES_BY_NAME,
    ChildWorkflowCompleted,
    ChildWorkflowCreated,
    ChildWorkflowFailed,
    EventRaised,
    EventSent,
    ExecutionCompleted,
    ExecutionResumed,
    ExecutionStalled,
    ExecutionStarted,
    ExecutionSuspended,
    ExecutionTerminated,
    FailureDetails,
    HistoryEvent,
    ParentInfo,
    Router,
    TaskCompleted,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
    TimerOrigin,
    WorkflowStarted,
    WorkflowStatus,
)

NOW = datetime(2025, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
FAILURE = FailureDetails(
    message="kaputt ✗", error_type="ValueError", stack_trace="Traceback...", non_retriable=True
)

# Every field set to something other than its default, so nothing round-trips by luck.
EVERY_KIND: list[HistoryEvent] = [
    WorkflowStarted(event_id=-1, timestamp=NOW),
    WorkflowStarted(timestamp=NOW, version_name="v2", patches=("fix-1", "fix-2")),
    ExecutionStarted(
        timestamp=NOW,
        name="order",
        instance_id="wf-ü",
        execution_id="e1",
        input='{"a": 1}',
        parent=ParentInfo(instance_id="p", name="parent", task_scheduled_id=3, execution_id="pe"),
        scheduled_start=LATER,
    ),
    ExecutionCompleted(event_id=9, timestamp=NOW, status=WorkflowStatus.FAILED, failure=FAILURE),
    ExecutionTerminated(timestamp=NOW, input='"bye"', recurse=False),
    ExecutionSuspended(timestamp=NOW, input="maintenance"),
    ExecutionResumed(timestamp=NOW, input="done"),
    TaskScheduled(event_id=1, timestamp=NOW, name="act", input="[1]", task_execution_id="t1"),
    TaskCompleted(timestamp=NOW, task_scheduled_id=1, result="2", task_execution_id="t1"),
    TaskFailed(timestamp=NOW, task_scheduled_id=1, failure=FAILURE, task_execution_id="t1"),
    ChildWorkflowCreated(event_id=2, timestamp=NOW, instance_id="c", name="child", input="1"),
    ChildWorkflowCompleted(timestamp=NOW, task_scheduled_id=2, result="null"),
    ChildWorkflowFailed(timestamp=NOW, task_scheduled_id=2, failure=FAILURE),
    TimerCreated(
        event_id=3,
        timestamp=NOW,
        fire_at=LATER,
        origin=TimerOrigin.EXTERNAL_EVENT,
        origin_name="approval",
    ),
    TimerFired(timestamp=LATER, timer_id=3, fire_at=LATER),
    EventRaised(timestamp=NOW, name="Approval", input='"yes"'),
    EventSent(event_id=4, timestamp=NOW, instance_id="other", name="ping", input="{}"),
    ExecutionStalled(timestamp=NOW, reason="VersionMismatch", description="v2 needed"),
]


def test_the_list_covers_every_event_kind() -> None:
    assert {type(e) for e in EVERY_KIND} == set(ALL_EVENT_TYPES)
    assert set(EVENT_TYPES_BY_NAME) == {t.__name__ for t in ALL_EVENT_TYPES}


@pytest.mark.parametrize("event", EVERY_KIND, ids=lambda e: type(e).__name__)
def test_every_event_kind_round_trips(event: HistoryEvent) -> None:
    text = codec.encode_event(event)
    decoded = codec.decode_event(text)
    assert decoded == event
    assert type(decoded) is type(event)
    data = json.loads(text)
    assert data["kind"] == type(event).__name__
    assert data["timestamp"] == NOW.isoformat() or isinstance(event, TimerFired)


@pytest.mark.parametrize("origin", list(TimerOrigin))
def test_every_timer_origin_round_trips(origin: TimerOrigin) -> None:
    event = TimerCreated(event_id=1, timestamp=NOW, fire_at=NOW, origin=origin)
    assert codec.decode_event(codec.encode_event(event)) == event


@pytest.mark.parametrize("status", list(WorkflowStatus))
def test_every_status_round_trips(status: WorkflowStatus) -> None:
    event = ExecutionCompleted(event_id=1, timestamp=NOW, status=status, result='"x"')
    assert codec.decode_event(codec.encode_event(event)) == event


def test_defaults_round_trip() -> None:
    event = ExecutionStarted(timestamp=NOW, name="n", instance_id="i", execution_id="e")
    decoded = codec.decode_event(codec.encode_event(event))
    assert decoded == event
    assert isinstance(decoded, ExecutionStarted)
    assert decoded.parent is None
    assert decoded.scheduled_start is None


def test_encoded_form_is_compact_json_with_rfc3339_times_and_raw_unicode() -> None:
    event = EventRaised(timestamp=NOW, name="grüße", input='"✓"')
    assert codec.encode_event(event) == (
        '{"kind":"EventRaised","event_id":-1,"timestamp":"2025-03-04T05:06:07.890123+00:00",'
        '"router":null,"name":"grüße","input":"\\"✓\\""}'
    )


def test_offsets_survive_the_round_trip() -> None:
    moment = datetime(2025, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5)))
    event = TimerFired(timestamp=moment, timer_id=1, fire_at=moment)
    decoded = codec.decode_event(codec.encode_event(event))
    assert isinstance(decoded, TimerFired)
    assert decoded.fire_at.utcoffset() == timedelta(hours=-5)


def test_dict_form() -> None:
    event = TaskCompleted(timestamp=NOW, task_scheduled_id=7, result="1")
    data = codec.event_to_dict(event)
    routed = TaskCompleted(timestamp=NOW, task_scheduled_id=7, router=Router("a", "b"))
    assert codec.event_to_dict(routed)["router"] == {"source_app_id": "a", "target_app_id": "b"}
    assert codec.decode_event(codec.encode_event(routed)) == routed
    assert data == {
        "kind": "TaskCompleted",
        "event_id": -1,
        "timestamp": NOW.isoformat(),
        "router": None,
        "task_scheduled_id": 7,
        "result": "1",
        "task_execution_id": "",
    }
    assert codec.event_from_dict(data) == event
    assert data["kind"] == "TaskCompleted"  # the input dict is not consumed


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    data = codec.event_to_dict(EventRaised(timestamp=NOW, name="e"))
    data["added_in_a_later_version"] = 1
    assert codec.event_from_dict(data) == EventRaised(timestamp=NOW, name="e")


def test_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown history event kind 'Nope'"):
        codec.decode_event('{"kind": "Nope", "timestamp": "2025-01-01T00:00:00+00:00"}')


def test_failure_details_round_trip() -> None:
    text = codec.encode_failure(FAILURE)
    assert text is not None
    assert "kaputt ✗" in text
    assert codec.decode_failure(text) == FAILURE
    minimal = FailureDetails(message="m", error_type="E")
    assert codec.decode_failure(codec.encode_failure(minimal)) == minimal


def test_missing_failure_details() -> None:
    assert codec.encode_failure(None) is None
    assert codec.decode_failure(None) is None
    assert codec.decode_failure("") is None


def test_type_hint_helpers() -> None:
    assert codec._concrete(int | None) is int
    assert codec._concrete(Optional[int]) is int  # noqa: UP045 - the typing.Union spelling
    assert codec._concrete(int | str) == int | str
    assert codec._concrete(int) is int
    assert codec._decode(int | str, 5) == 5
    assert codec._decode(datetime, None) is None
    assert codec._encode((1, [NOW])) == [1, [NOW.isoformat()]]
