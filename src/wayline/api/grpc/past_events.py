"""Past events of recently dispatched instances, kept as protobuf messages.

A Dapr SDK worker (1.18.3) keeps no state between turns: every workflow work item
carries the instance's whole committed history. Converting it to protobuf again
on every turn would make the server's work per turn grow with the history; this
cache converts each event once. The engine only ever sends committed history, so
the past events of a later turn extend those of an earlier one (same execution);
anything else (a new execution, a shorter history) starts over.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from wayline._proto.dt import history_events_pb2 as hpb
from wayline.api.grpc import convert
from wayline.engine.remote import TurnWork

#: Converted events kept in all (an LRU of instances is evicted beyond it).
DEFAULT_MAX_EVENTS = 500_000


@dataclass
class _Converted:
    execution_id: str
    source_count: int = 0  # how many of the engine's events are converted (some are not sent)
    messages: list[hpb.HistoryEvent] = field(default_factory=list)


class PastEventsCache:
    """An LRU of instances' converted past events, bounded by the number of events."""

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS) -> None:
        self._max_events = max_events
        self._entries: OrderedDict[str, _Converted] = OrderedDict()
        self._size = 0

    def past_events(self, work: TurnWork) -> list[hpb.HistoryEvent]:
        """``work.past_events`` as protobuf, converting only what is new since last time."""
        entry = self._entries.pop(work.instance_id, None)
        if entry is not None:
            self._size -= len(entry.messages)
            if entry.execution_id != work.execution_id or entry.source_count > len(
                work.past_events
            ):
                entry = None
        if entry is None:
            entry = _Converted(work.execution_id)
        entry.messages.extend(convert.worker_events(work.past_events[entry.source_count :]))
        entry.source_count = len(work.past_events)
        self._entries[work.instance_id] = entry
        self._size += len(entry.messages)
        while self._size > self._max_events and len(self._entries) > 1:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted.messages)
        return entry.messages

    def __len__(self) -> int:
        return len(self._entries)
