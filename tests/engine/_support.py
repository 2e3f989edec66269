"""Helpers shared by the engine behaviour tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import wayline
from support.wait import wait_until

#: Upper bound of every wait on a condition; the conditions normally hold in milliseconds.
WAIT = 10.0


def settings(**overrides: Any) -> wayline.EngineSettings:
    """Engine settings for tests: every cached turn is also replayed and compared."""
    values: dict[str, Any] = {
        "always_replay": True,
        "poll_interval": timedelta(milliseconds=50),
    }
    values.update(overrides)
    return wayline.EngineSettings(**values)


def events_of(client: wayline.WorkflowClient, instance_id: str, kind: str) -> list[Any]:
    """The history events of one type."""
    return [e for e in client.get_history(instance_id) if type(e).__name__ == kind]


def wait_for_history(
    client: wayline.WorkflowClient, instance_id: str, kind: str, count: int = 1
) -> list[Any]:
    """Wait until the history holds at least ``count`` events of ``kind``; returns them."""
    return wait_until(
        lambda: (found := events_of(client, instance_id, kind)) and len(found) >= count and found,
        what=f"{count} {kind} event(s) in the history of {instance_id!r}",
    )


def wait_for_status(
    client: wayline.WorkflowClient, instance_id: str, status: str
) -> wayline.WorkflowState:
    """Wait until the instance exists and has ``status``; returns its state."""

    def probe() -> wayline.WorkflowState | None:
        state = client.get_workflow_state(instance_id)
        return state if state is not None and state.runtime_status == status else None

    return wait_until(probe, what=f"{instance_id!r} to be {status}")


def completed(client: wayline.WorkflowClient, instance_id: str) -> wayline.WorkflowState:
    """Wait for the instance to finish and check it COMPLETED."""
    state = client.wait_for_workflow_completion(instance_id, timeout=WAIT)
    assert state.runtime_status == "COMPLETED", state
    return state
