"""Past events of recently dispatched instances, kept in their wire encoding.

A Dapr SDK worker (1.18.3) keeps no state between turns: every workflow work item
carries the instance's whole committed history. Converting it to protobuf (and
copying it into each work item) again on every turn would make the server's work
per turn grow with the history; this cache converts and encodes each event once
and keeps the encoded ``pastEvents`` field, so a turn costs Python work for its
new events only (plus one copy of the bytes, which the protocol needs anyway).

The engine only ever sends committed history, so the past events of a later turn
extend those of an earlier one (same execution); anything else (a new execution,
a shorter history) starts over.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from wayline.api.grpc import convert
from wayline.engine.remote import TurnWork

#: Encoded bytes kept in all (an LRU of instances is evicted beyond it).
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


@dataclass
class EncodedPast:
    """One instance's encoded past events: ``data``, where event ``i`` starts at
    ``offsets[i]``."""

    execution_id: str
    source_count: int = 0  # how many of the engine's events are encoded (some are not sent)
    data: bytearray = field(default_factory=bytearray)
    offsets: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many events a worker receives."""
        return len(self.offsets)

    def after(self, known: int) -> bytes:
        """The encoded events past the first ``known`` (all of them for 0)."""
        return bytes(self.data[self.offsets[known] :]) if known < self.count else b""


class PastEventsCache:
    """An LRU of instances' encoded past events, bounded by their size in bytes."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, EncodedPast] = OrderedDict()
        self._size = 0

    def encoded(self, work: TurnWork) -> EncodedPast:
        """``work.past_events`` as the encoded entries of a ``WorkflowRequest``'s
        ``pastEvents``, encoding only what is new since last time."""
        entry = self._entries.pop(work.instance_id, None)
        if entry is not None:
            self._size -= len(entry.data)
            if entry.execution_id != work.execution_id or entry.source_count > len(
                work.past_events
            ):
                entry = None
        if entry is None:
            entry = EncodedPast(work.execution_id)
        for chunk in convert.encoded_past_events(work.past_events[entry.source_count :]):
            entry.offsets.append(len(entry.data))
            entry.data += chunk
        entry.source_count = len(work.past_events)
        self._entries[work.instance_id] = entry
        self._size += len(entry.data)
        while self._size > self._max_bytes and len(self._entries) > 1:
            _, evicted = self._entries.popitem(last=False)
            self._size -= len(evicted.data)
        return entry

    def __len__(self) -> int:
        return len(self._entries)
