"""A bounded LRU of live executors, so a turn on a recent instance skips replay."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from wayline.core.executor import WorkflowExecutor


@dataclass
class CachedExecutor:
    executor: WorkflowExecutor
    execution_id: str
    # The instance row's version after the turn this executor last ran.
    version: int


class ExecutorCache:
    """At most ``capacity`` executors; a stale or missing entry means replay."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[str, CachedExecutor] = OrderedDict()

    def get(self, instance_id: str, execution_id: str, version: int) -> WorkflowExecutor | None:
        entry = self._entries.get(instance_id)
        if entry is None:
            return None
        if entry.execution_id != execution_id or entry.version != version:
            del self._entries[instance_id]  # another node ran a turn since: replay
            return None
        self._entries.move_to_end(instance_id)
        return entry.executor

    def put(self, instance_id: str, entry: CachedExecutor) -> None:
        if self._capacity <= 0:
            return
        self._entries[instance_id] = entry
        self._entries.move_to_end(instance_id)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def evict(self, instance_id: str) -> None:
        self._entries.pop(instance_id, None)

    def __len__(self) -> int:
        return len(self._entries)
