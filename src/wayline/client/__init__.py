"""The management API: start, inspect, signal and clean up workflow instances.

Used by Python callers directly and by every server surface (HTTP, gRPC, CLI).
One job per module:

- ``state``: what the client returns (``WorkflowState``, ``WorkflowPage``,
  ``BulkResult``, ``WorkflowFailedError``);
- ``arguments``: the callers' arguments checked and turned into store queries;
- ``running``: the runtimes running in this process, which a client made without
  a store reaches;
- ``sync``: ``WorkflowClient``;
- ``aio``: ``AsyncWorkflowClient``, its asyncio twin.
"""

from __future__ import annotations

from wayline.client.aio import AsyncWorkflowClient
from wayline.client.running import register_running_runtime, unregister_running_runtime
from wayline.client.state import (
    BULK_OPERATIONS,
    BulkResult,
    WorkflowFailedError,
    WorkflowPage,
    WorkflowState,
)
from wayline.client.sync import DEFAULT_MAX_PAYLOAD_BYTES, WorkflowClient
from wayline.core import serde
from wayline.core.codec import event_to_dict
from wayline.core.events import HistoryEvent, WorkflowStatus

# What the API layers (HTTP, gRPC, dashboard) use of the kernel, through the client:
# the payload rules, statuses, and events as the JSON export shows them.
RawPayload = serde.RawPayload
parse_json_payload = serde.loads

__all__ = [
    "BULK_OPERATIONS",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "AsyncWorkflowClient",
    "BulkResult",
    "HistoryEvent",
    "RawPayload",
    "WorkflowClient",
    "WorkflowFailedError",
    "WorkflowPage",
    "WorkflowState",
    "WorkflowStatus",
    "event_to_dict",
    "parse_json_payload",
    "register_running_runtime",
    "unregister_running_runtime",
]
