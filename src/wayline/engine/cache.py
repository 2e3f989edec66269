"""A bounded LRU of instances this node ran recently, so their next turn skips replay.

An entry holds the instance row as this node's last commit left it, and what is
needed to run the next turn without reading the store: a local workflow's live
executor, or a remote workflow's committed history (sent to the worker as its past
events) and the patches it last recorded; and the history the instance's parent
handed it, if any. The row's ``version`` is what the store checks when a turn runs unclaimed
(the step's fast path): if anyone else committed since, the entry is stale.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from wayline.core.events import HistoryEvent
from wayline.core.executor import WorkflowExecutor
from wayline.core.propagation import Propagated
from wayline.store.types import InstanceRecord


@dataclass
class CachedInstance:
    record: InstanceRecord
    executor: WorkflowExecutor | None = None
    history: list[HistoryEvent] = field(default_factory=list)
    patches: tuple[str, ...] = ()
    propagated: Propagated | None = None


class InstanceCache:
    """At most ``capacity`` instances; a stale or missing entry means replay."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, CachedInstance] = OrderedDict()
        #: Turns that ran on a cached instance / had to replay its stored history first
        #: (statistics for metrics; counted by ``count``).
        self.hits = 0
        self.misses = 0

    def count(self, hit: bool) -> None:
        """Record whether a turn found its instance here (``hit``) or replayed it."""
        if hit:
            self.hits += 1
        else:
            self.misses += 1

    def get(self, record: InstanceRecord) -> CachedInstance | None:
        """The entry if it is current for ``record`` (same execution and version)."""
        entry = self._entries.get(record.instance_id)
        if entry is None:
            return None
        if (
            entry.record.execution_id != record.execution_id
            or entry.record.version != record.version
        ):
            del self._entries[record.instance_id]  # another node ran a turn since: replay
            return None
        self._entries.move_to_end(record.instance_id)
        return entry

    def peek(self, instance_id: str) -> CachedInstance | None:
        """The entry as this node last left it (the store decides whether it is current)."""
        entry = self._entries.get(instance_id)
        if entry is not None:
            self._entries.move_to_end(instance_id)
        return entry

    def name_of(self, instance_id: str) -> str | None:
        """The workflow name of a cached instance (for log lines: its place in the LRU
        stays as it was)."""
        entry = self._entries.get(instance_id)
        return None if entry is None else entry.record.name

    def put(self, entry: CachedInstance) -> None:
        if self._capacity <= 0:
            return
        instance_id = entry.record.instance_id
        self._entries[instance_id] = entry
        self._entries.move_to_end(instance_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def evict(self, instance_id: str) -> None:
        self._entries.pop(instance_id, None)

    def __len__(self) -> int:
        return len(self._entries)
