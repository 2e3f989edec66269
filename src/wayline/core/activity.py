"""The context an activity function receives."""

from __future__ import annotations

from wayline.core.propagation import Propagated, PropagatedHistory


class WorkflowActivityContext:
    """Identifies the workflow step an activity runs for (``dapr-ext-workflow`` names)."""

    def __init__(
        self,
        workflow_id: str,
        task_id: int,
        attempt: int = 1,
        propagated: Propagated | None = None,
    ) -> None:
        self._workflow_id = workflow_id
        self._task_id = task_id
        self._attempt = attempt
        self._propagated = propagated

    def get_propagated_history(self) -> PropagatedHistory | None:
        """The history the calling workflow handed this activity (``propagation=``)."""
        return None if self._propagated is None else PropagatedHistory(self._propagated)

    @property
    def workflow_id(self) -> str:
        """The id of the workflow instance that scheduled this activity."""
        return self._workflow_id

    @property
    def task_id(self) -> int:
        """The step's sequence number within the workflow (stable across re-runs)."""
        return self._task_id

    @property
    def attempt(self) -> int:
        """How many times the engine has started this task (re-runs after crashes count)."""
        return self._attempt

    def __repr__(self) -> str:
        return (
            f"WorkflowActivityContext(workflow_id={self._workflow_id!r}, task_id={self._task_id})"
        )
