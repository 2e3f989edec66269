"""The worker side of ``TaskHubSidecarService``: the work-item stream and its answers.

A Dapr SDK app's ``WorkflowRuntime`` opens ``GetWorkItems`` and gets workflow turns
and activities on it; it answers each with ``CompleteOrchestratorTask`` (or
``CompleteWorkflowTask``) and ``CompleteActivityTask``. Everything durable happens
in the engine; this module only moves messages between a stream and the
``WorkerHub`` (``shared/spec/durabletask-protocol.md`` §4).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import grpc

from wayline._proto.dt import orchestrator_service_pb2 as pb
from wayline.api.grpc import convert
from wayline.engine.remote import WorkerHub

log = logging.getLogger("wayline.api.grpc.workers")

Ctx = grpc.aio.ServicerContext[Any, Any]


class WorkerService:
    """``GetWorkItems`` and the ``Complete*Task`` RPCs over one ``WorkerHub``."""

    def __init__(self, hub: WorkerHub) -> None:
        self.hub = hub

    async def get_work_items(
        self, request: pb.GetWorkItemsRequest, context: Ctx
    ) -> AsyncIterator[pb.WorkItem]:
        # The request's concurrency hints and capabilities need no answer: every item
        # is self-contained (full history) and no health pings are sent (§4, §8).
        stream = self.hub.connect()
        try:
            while True:
                item = await stream.next_item()
                yield convert.work_item(item)
        finally:
            # Ended by the worker, a broken connection or shutdown: what it had not
            # answered goes back to the queue for the next worker.
            self.hub.disconnect(stream)

    async def complete_turn(
        self, request: pb.WorkflowResponse, context: Ctx
    ) -> pb.CompleteTaskResponse:
        result = convert.turn_result(request)
        if not self.hub.complete_turn(request.instanceId, request.completionToken, result):
            log.info(
                "dropped a stale workflow result for %r (re-dispatched or finished meanwhile)",
                request.instanceId,
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
            )
        return pb.CompleteTaskResponse()
