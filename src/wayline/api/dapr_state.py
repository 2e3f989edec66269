"""Dapr's view of a workflow instance, shared by the HTTP API and the Dapr runtime gRPC RPCs.

Both surfaces report the same status strings and ``properties`` map
(``shared/spec/dapr-workflow-api.md`` §1.4 and §2).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wayline.client import WorkflowState


def rfc3339(moment: datetime) -> str:
    """protojson's Timestamp format: UTC, 'Z', fractional digits only when needed."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        micros = f"{moment.microsecond:06d}"
        text += "." + (micros[:3] if micros.endswith("000") else micros)
    return text + "Z"


def dapr_properties(state: WorkflowState) -> dict[str, str]:
    """The ``properties`` map: input, custom status, then output or the failure."""
    properties: dict[str, str] = {}
    if state.serialized_input:
        properties["dapr.workflow.input"] = state.serialized_input
    if state.serialized_custom_status:
        properties["dapr.workflow.custom_status"] = state.serialized_custom_status
    failure = state.failure_details
    if failure is not None:
        properties["dapr.workflow.failure.error_type"] = failure.error_type
        properties["dapr.workflow.failure.error_message"] = failure.message
        if failure.stack_trace:
            properties["dapr.workflow.failure.stack_trace"] = failure.stack_trace
    elif state.serialized_output:
        properties["dapr.workflow.output"] = state.serialized_output
    return properties


def dapr_runtime_status(state: WorkflowState) -> str:
    """Dapr's ``runtimeStatus`` string (``RUNNING``, ``COMPLETED``, ...)."""
    return state.runtime_status.value


def dapr_state_json(state: WorkflowState) -> dict[str, Any]:
    """The HTTP GET response body: Dapr's names, empty fields omitted, payloads verbatim."""
    properties = dapr_properties(state)
    body: dict[str, Any] = {
        "instanceID": state.instance_id,
        "workflowName": state.name,
        "createdAt": rfc3339(state.created_at),
        "lastUpdatedAt": rfc3339(state.last_updated_at),
        "runtimeStatus": dapr_runtime_status(state),
    }
    if properties:
        body["properties"] = properties
    return {k: v for k, v in body.items() if v}
