"""``WorkflowState`` of dapr-ext-workflow as JSON, for the scripts run in its venv."""

from __future__ import annotations

from typing import Any


def state_json(state: Any) -> dict[str, Any] | None:
    """What the SDK client saw of an instance (None: no such instance)."""
    if state is None:
        return None
    failure = state.failure_details
    return {
        "instance_id": state.instance_id,
        "name": state.name,
        "runtime_status": state.runtime_status.name,
        "created_at": state.created_at.isoformat(),
        "last_updated_at": state.last_updated_at.isoformat(),
        "serialized_input": state.serialized_input,
        "serialized_output": state.serialized_output,
        "serialized_custom_status": state.serialized_custom_status,
        "failure": None
        if failure is None
        else {
            "error_type": failure.error_type,
            "message": failure.message,
            "stack_trace": failure.stack_trace,
        },
    }
