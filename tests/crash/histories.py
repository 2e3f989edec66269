"""History checks shared by the crash and cluster tests (a killed or paused node must
leave every instance with a history that recorded each step once and resolved it once).
"""

from __future__ import annotations

from collections import Counter

import wayline
from wayline.core.events import (
    ChildWorkflowCompleted,
    ChildWorkflowCreated,
    EventRaised,
    ExecutionCompleted,
    TaskCompleted,
    TaskScheduled,
    TimerCreated,
    TimerFired,
)


def check_history(
    client: wayline.WorkflowClient, iid: str, *, events_raised: int | None = None
) -> None:
    """Assert that ``iid`` completed once with every step recorded and resolved once.

    No step (task, timer, child) recorded twice; every scheduled task, timer and
    child resolved exactly once (no result lost, none applied twice); exactly one
    completion, last. ``events_raised``, when given, is the exact count of
    ``EventRaised`` the instance must hold.
    """
    history = client.get_history(iid)
    recorded = [
        e.event_id
        for e in history
        if isinstance(e, TaskScheduled | TimerCreated | ChildWorkflowCreated)
    ]
    assert len(recorded) == len(set(recorded)), f"{iid}: a step was recorded twice"
    scheduled = Counter(e.event_id for e in history if isinstance(e, TaskScheduled))
    completed = Counter(e.task_scheduled_id for e in history if isinstance(e, TaskCompleted))
    assert scheduled == completed, f"{iid}: task results missing or applied twice"
    timers = Counter(e.event_id for e in history if isinstance(e, TimerCreated))
    fired = Counter(e.timer_id for e in history if isinstance(e, TimerFired))
    assert timers == fired, f"{iid}: timers lost or fired twice"
    children = Counter(e.event_id for e in history if isinstance(e, ChildWorkflowCreated))
    child_done = Counter(
        e.task_scheduled_id for e in history if isinstance(e, ChildWorkflowCompleted)
    )
    assert children == child_done, f"{iid}: child results missing or applied twice"
    assert sum(isinstance(e, ExecutionCompleted) for e in history) == 1
    assert isinstance(history[-1], ExecutionCompleted)
    if events_raised is not None:
        assert sum(isinstance(e, EventRaised) for e in history) == events_raised
