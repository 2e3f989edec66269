"""What history a step receives from its callers (see ``core.propagation``).

Read from the store when a step is dispatched: the caller's history up to the call,
and, for ``LINEAGE``, what the caller itself received, walking up the parent links.
A caller that is gone (purged, continued as new) propagates nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wayline.core.events import ChildWorkflowCreated, HistoryEvent, TaskScheduled
from wayline.core.propagation import (
    HistoryChunk,
    Propagated,
    PropagationScope,
    history_up_to,
    propagate,
)
from wayline.store.types import ClaimedTask, InstanceRecord

#: ``instance_id -> (its record or None, its history)``: a blocking store read.
Load = Callable[[str], tuple[InstanceRecord | None, list[HistoryEvent]]]


def for_task(load: Load, task: ClaimedTask, app_id: str) -> Propagated | None:
    """The history an activity task receives (None: its call carries none)."""
    if not task.propagation:
        return None
    instance, history = load(task.instance_id)
    if instance is None or instance.execution_id != task.execution_id:
        return None
    return _carried(load, instance, history, task.task_id, TaskScheduled, app_id)


def for_instance(load: Load, instance: InstanceRecord, app_id: str) -> Propagated | None:
    """The history a child workflow instance received from its parent's call."""
    if instance.parent_instance_id is None or instance.parent_task_id is None:
        return None
    parent, history = load(instance.parent_instance_id)
    if parent is None or parent.execution_id != instance.parent_execution_id:
        return None
    return _carried(load, parent, history, instance.parent_task_id, ChildWorkflowCreated, app_id)


def _carried(
    load: Load,
    caller: InstanceRecord,
    history: Sequence[HistoryEvent],
    call_id: int,
    kind: type[TaskScheduled] | type[ChildWorkflowCreated],
    app_id: str,
) -> Propagated | None:
    call = next((e for e in history if e.event_id == call_id and isinstance(e, kind)), None)
    if call is None or not call.propagation:
        return None
    scope = PropagationScope(call.propagation)
    own = HistoryChunk(app_id, caller.instance_id, caller.name, history_up_to(history, call_id))
    received = for_instance(load, caller, app_id) if scope is PropagationScope.LINEAGE else None
    return propagate(scope, own, received)
