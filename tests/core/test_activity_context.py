"""The context an activity function receives."""

from __future__ import annotations

from wayline.core.activity import WorkflowActivityContext


def test_activity_context_names_the_step() -> None:
    ctx = WorkflowActivityContext("wf-1", 3)
    assert ctx.workflow_id == "wf-1"
    assert ctx.task_id == 3
    assert ctx.attempt == 1
    assert repr(ctx) == "WorkflowActivityContext(workflow_id='wf-1', task_id=3)"


def test_activity_context_counts_attempts() -> None:
    assert WorkflowActivityContext("wf-1", 3, attempt=2).attempt == 2
