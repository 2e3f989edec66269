"""The worker side of ``TaskHubSidecarService``: the work-item stream and its answers.

A Dapr SDK app's ``WorkflowRuntime`` opens ``GetWorkItems`` and gets workflow turns
and activities on it; it answers each with ``CompleteOrchestratorTask`` (or
``CompleteWorkflowTask``) and ``CompleteActivityTask``. Everything durable happens
in the engine; this module only moves messages between a stream and the
``WorkerHub`` (``shared/spec/durabletask-protocol.md`` §4).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc

from wayline._proto.dt import orchestrator_service_pb2 as pb
from wayline.api.grpc import convert
from wayline.api.grpc.past_events import PastEventsCache
from wayline.core.events import ExecutionStarted, FailureDetails, TaskFailed
from wayline.core.executor import TurnResult
from wayline.core.serde import MAX_PAYLOAD_BYTES
from wayline.core.versioning import Stall, StallReason
from wayline.engine.logs import about
from wayline.engine.remote import TurnWork, WorkerHub, WorkItem

log = logging.getLogger("wayline.api.grpc.workers")

Ctx = grpc.aio.ServicerContext[Any, Any]
#: grpc-python's default receive limit, which the Dapr SDK workers keep (spec §7.8).
MAX_WORK_ITEM_BYTES = MAX_PAYLOAD_BYTES


def _keeps_history(request: pb.GetWorkItemsRequest) -> bool:
    return pb.WORKER_CAPABILITY_STATEFUL_HISTORY in request.capabilities


class HeldHistory:
    """What one stateful-history worker holds: per instance, how many past events of
    which execution this stream sent it last (the worker caches exactly those).

    A worker whose cache disagrees (it evicted the instance, or its last turn
    failed) fetches the whole history with ``GetInstanceHistory`` instead, so an
    entry here is a hint, never a risk.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._sent: OrderedDict[str, tuple[str, int]] = OrderedDict()

    def sent(self, instance_id: str, execution_id: str, count: int) -> int:
        """Record that a turn of ``count`` past events goes out; returns how many of
        them the worker already holds."""
        prior = self._sent.pop(instance_id, None)
        known = prior[1] if prior and prior[0] == execution_id and prior[1] <= count else 0
        self._sent[instance_id] = (execution_id, count)
        if len(self._sent) > self._capacity:
            self._sent.popitem(last=False)
        return known


def serialize_work_item(item: bytes | pb.WorkItem) -> bytes:
    """The stream's serializer: work items are built serialized (see ``convert``)."""
    return item if isinstance(item, bytes) else item.SerializeToString()


class WorkerService:
    """``GetWorkItems`` and the ``Complete*Task`` RPCs over one ``WorkerHub``."""

    def __init__(self, hub: WorkerHub) -> None:
        self.hub = hub
        self._past_events = PastEventsCache()

    async def get_work_items(
        self, request: pb.GetWorkItemsRequest, context: Ctx
    ) -> AsyncIterator[bytes]:
        # Concurrency hints need no answer, and no health pings are sent (§4, §8).
        stream = self.hub.connect()
        # A worker that keeps history (dapr 1.19's STATEFUL_HISTORY) holds, per instance,
        # the past events this stream last sent it: the next turn sends only the rest.
        held = HeldHistory() if _keeps_history(request) else None
        try:
            while (item := await stream.next_item()) is not None:
                message = self._serialize(item, held)  # see serialize_work_item
                if len(message) > MAX_WORK_ITEM_BYTES:
                    self._refuse_oversized(item, len(message))
                    continue
                yield message
        finally:
            # Ended by the worker, a broken connection or shutdown: what it had not
            # answered goes back to the queue for the next worker.
            self.hub.disconnect(stream)

    def _serialize(self, item: WorkItem, held: HeldHistory | None) -> bytes:
        if not isinstance(item, TurnWork):
            return convert.work_item(item)
        past = self._past_events.encoded(item)
        known = 0 if held is None else held.sent(item.instance_id, item.execution_id, past.count)
        return convert.work_item(item, past.after(known), known)

    def _refuse_oversized(self, item: WorkItem, size: int) -> None:
        """Fail what no worker could receive, instead of re-sending it forever."""
        failure = FailureDetails(
            message=f"the work item is {size} bytes, over the {MAX_WORK_ITEM_BYTES}-byte "
            "limit of a Dapr SDK worker's receive buffer; keep inputs, outputs and "
            "event payloads small (pass references) or continue as new to shorten history",
            error_type="PayloadSizeExceededError",
            non_retriable=True,
        )
        name = None
        if isinstance(item, TurnWork):
            started = (
                e for e in (*item.past_events, *item.new_events) if isinstance(e, ExecutionStarted)
            )
            name = next((e.name for e in started), None)
        fields = {"activity_name": item.name} if not isinstance(item, TurnWork) else {}
        log.warning(
            "%s (instance %r)",
            failure.message,
            item.instance_id,
            extra=about(item.instance_id, name, error_type=failure.error_type, **fields),
        )
        if isinstance(item, TurnWork):
            # The instance stalls (as Dapr's does): nothing is lost, and it continues
            # once it fits (e.g. the limit is raised, or the history is purged).
            stall = Stall(StallReason.PAYLOAD_SIZE_EXCEEDED, failure.message)
            self.hub.complete_turn(
                item.instance_id, item.completion_token, TurnResult((), None, stall=stall)
            )
        else:
            self.hub.complete_activity(
                item.instance_id,
                item.task_id,
                item.completion_token,
                TaskFailed(
                    timestamp=datetime.now(UTC), task_scheduled_id=item.task_id, failure=failure
                ),
            )

    async def complete_turn(
        self, request: pb.WorkflowResponse, context: Ctx
    ) -> pb.CompleteTaskResponse:
        result = convert.turn_result(request)
        if not self.hub.complete_turn(request.instanceId, request.completionToken, result):
            log.info(
                "dropped a stale workflow result for %r (re-dispatched or finished meanwhile)",
                request.instanceId,
                extra=about(request.instanceId),
            )
        return pb.CompleteTaskResponse()

    async def complete_activity(
        self, request: pb.ActivityResponse, context: Ctx
    ) -> pb.CompleteTaskResponse:
        result = convert.activity_result(request, datetime.now(UTC))
        if not self.hub.complete_activity(
            request.instanceId, request.taskId, request.completionToken, result
        ):
            log.info(
                "dropped a stale result of task %d of %r (re-dispatched or finished meanwhile)",
                request.taskId,
                request.instanceId,
                extra=about(request.instanceId, task_id=request.taskId),
            )
        return pb.CompleteTaskResponse()
