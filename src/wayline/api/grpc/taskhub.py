"""The durabletask ``TaskHubSidecarService``: management RPCs over a ``WorkflowClient``,
worker RPCs over a ``WorkerHub`` (``workers.py``).

Served at ``/TaskHubSidecarService/<Method>`` (the upstream proto has no package),
registered by path string so Wayline's own protobuf package never clashes with the
Dapr SDK's (``shared/spec/durabletask-protocol.md`` §3 and §10).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

import grpc
from google.protobuf import empty_pb2, wrappers_pb2

from wayline._proto.dt import orchestrator_service_pb2 as pb
from wayline.api.grpc import convert
from wayline.api.grpc.errors import RpcError
from wayline.api.grpc.handlers import unary
from wayline.api.grpc.workers import WorkerService, serialize_work_item
from wayline.client import WorkflowClient, WorkflowState
from wayline.core.serde import RawPayload
from wayline.engine.remote import WorkerHub
from wayline.errors import InstanceNotFoundError

SERVICE = "TaskHubSidecarService"
DEFAULT_LIST_PAGE_SIZE = 1024
# A long poll waits in slices this long, so a cancelled call frees its thread quickly.
_WAIT_SLICE_SECONDS = 1.0

Ctx = grpc.aio.ServicerContext[Any, Any]


def _payload(holder: Any, field: str) -> RawPayload | None:
    """A StringValue field as verbatim payload text, or None when unset."""
    text = convert.payload_text(holder, field)
    return None if text is None else RawPayload(text)


class TaskHubService:
    """Handlers of ``TaskHubSidecarService``; every store call runs off the event loop."""

    def __init__(self, client: WorkflowClient, hub: WorkerHub, *, max_waiters: int = 64) -> None:
        self.client = client
        self.workers = WorkerService(hub)
        self._waiters = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_waiters, thread_name_prefix="wayline-grpc-wait"
        )

    def close(self) -> None:
        self._waiters.shutdown(wait=False, cancel_futures=True)

    def handler(self) -> grpc.GenericRpcHandler:
        u = unary
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                "Hello": u(self.hello, empty_pb2.Empty, empty_pb2.Empty),
                "StartInstance": u(
                    self.start_instance, pb.CreateInstanceRequest, pb.CreateInstanceResponse
                ),
                "GetInstance": u(self.get_instance, pb.GetInstanceRequest, pb.GetInstanceResponse),
                "WaitForInstanceStart": u(
                    self.wait_for_instance_start, pb.GetInstanceRequest, pb.GetInstanceResponse
                ),
                "WaitForInstanceCompletion": u(
                    self.wait_for_instance_completion,
                    pb.GetInstanceRequest,
                    pb.GetInstanceResponse,
                ),
                "RaiseEvent": u(self.raise_event, pb.RaiseEventRequest, pb.RaiseEventResponse),
                "TerminateInstance": u(self.terminate, pb.TerminateRequest, pb.TerminateResponse),
                "SuspendInstance": u(self.suspend, pb.SuspendRequest, pb.SuspendResponse),
                "ResumeInstance": u(self.resume, pb.ResumeRequest, pb.ResumeResponse),
                "PurgeInstances": u(
                    self.purge, pb.PurgeInstancesRequest, pb.PurgeInstancesResponse
                ),
                "ListInstanceIDs": u(
                    self.list_instance_ids, pb.ListInstanceIDsRequest, pb.ListInstanceIDsResponse
                ),
                "GetInstanceHistory": u(
                    self.get_instance_history,
                    pb.GetInstanceHistoryRequest,
                    pb.GetInstanceHistoryResponse,
                ),
                "GetWorkItems": grpc.unary_stream_rpc_method_handler(
                    self.workers.get_work_items,
                    request_deserializer=pb.GetWorkItemsRequest.FromString,
                    response_serializer=serialize_work_item,
                ),
                "CompleteActivityTask": u(
                    self.workers.complete_activity, pb.ActivityResponse, pb.CompleteTaskResponse
                ),
                # The newer name of the same RPC; 1.18.3 workers call the old one.
                "CompleteOrchestratorTask": u(
                    self.workers.complete_turn, pb.WorkflowResponse, pb.CompleteTaskResponse
                ),
                "CompleteWorkflowTask": u(
                    self.workers.complete_turn, pb.WorkflowResponse, pb.CompleteTaskResponse
                ),
                "RerunWorkflowFromEvent": u(
                    self.rerun,
                    pb.RerunWorkflowFromEventRequest,
                    pb.RerunWorkflowFromEventResponse,
                ),
            },
        )

    # ----- handlers ------------------------------------------------------------------------

    async def hello(self, request: empty_pb2.Empty, context: Ctx) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    async def start_instance(
        self, request: pb.CreateInstanceRequest, context: Ctx
    ) -> pb.CreateInstanceResponse:
        # version, executionId and tags are accepted and ignored. The trace context
        # (else a ``traceparent`` in the call's metadata) is the workflow's spans' parent.
        given = request.scheduledStartTimestamp
        start_at = convert.scheduled_start(
            given if request.HasField("scheduledStartTimestamp") else None, datetime.now(UTC)
        )
        instance_id = await asyncio.to_thread(
            self.client.start_workflow,
            request.name,
            input=_payload(request, "input"),
            instance_id=request.instanceId or None,
            start_at=start_at,
            **convert.incoming_trace(request, context),
        )
        return pb.CreateInstanceResponse(instanceId=instance_id)

    async def get_instance(
        self, request: pb.GetInstanceRequest, context: Ctx
    ) -> pb.GetInstanceResponse:
        state = await asyncio.to_thread(self.client.get_workflow_state, request.instanceId)
        return self._instance_response(state, request)

    async def wait_for_instance_start(
        self, request: pb.GetInstanceRequest, context: Ctx
    ) -> pb.GetInstanceResponse:
        return await self._long_poll(self.client.wait_for_workflow_start, request, context)

    async def wait_for_instance_completion(
        self, request: pb.GetInstanceRequest, context: Ctx
    ) -> pb.GetInstanceResponse:
        return await self._long_poll(self.client.wait_for_workflow_completion, request, context)

    async def raise_event(
        self, request: pb.RaiseEventRequest, context: Ctx
    ) -> pb.RaiseEventResponse:
        # events for unknown instances are dropped, as Dapr does
        with contextlib.suppress(InstanceNotFoundError):
            await asyncio.to_thread(
                self.client.raise_event,
                request.instanceId,
                request.name,
                _payload(request, "input"),
            )
        return pb.RaiseEventResponse()

    async def terminate(self, request: pb.TerminateRequest, context: Ctx) -> pb.TerminateResponse:
        await asyncio.to_thread(
            self.client.terminate_workflow,
            request.instanceId,
            output=_payload(request, "output"),
            recursive=request.recursive,
        )
        return pb.TerminateResponse()

    async def rerun(
        self, request: pb.RerunWorkflowFromEventRequest, context: Ctx
    ) -> pb.RerunWorkflowFromEventResponse:
        new_id = await asyncio.to_thread(
            self.client.rerun_workflow_from_event,
            request.sourceInstanceID,
            request.eventID,
            new_instance_id=request.newInstanceID if request.HasField("newInstanceID") else None,
            input=_payload(request, "input"),
            overwrite_input=request.overwriteInput,
            new_child_workflow_instance_id=request.newChildWorkflowInstanceID or None,
        )
        return pb.RerunWorkflowFromEventResponse(newInstanceID=new_id)

    async def suspend(self, request: pb.SuspendRequest, context: Ctx) -> pb.SuspendResponse:
        await asyncio.to_thread(self.client.pause_workflow, request.instanceId)
        return pb.SuspendResponse()

    async def resume(self, request: pb.ResumeRequest, context: Ctx) -> pb.ResumeResponse:
        await asyncio.to_thread(self.client.resume_workflow, request.instanceId)
        return pb.ResumeResponse()

    async def purge(
        self, request: pb.PurgeInstancesRequest, context: Ctx
    ) -> pb.PurgeInstancesResponse:
        kind = request.WhichOneof("request")
        if kind == "instanceId":
            count = await asyncio.to_thread(
                self.client.purge_workflow,
                request.instanceId,
                recursive=request.recursive,
                force=request.force,
            )
        elif kind == "purgeInstanceFilter":
            count = await asyncio.to_thread(
                self._purge_matching, request.purgeInstanceFilter, request.recursive, request.force
            )
        else:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "ERR_INSTANCE_ID_PROVIDED_MISSING: give an instanceId or a purgeInstanceFilter",
            )
        return pb.PurgeInstancesResponse(
            deletedInstanceCount=count, isComplete=wrappers_pb2.BoolValue(value=True)
        )

    async def list_instance_ids(
        self, request: pb.ListInstanceIDsRequest, context: Ctx
    ) -> pb.ListInstanceIDsResponse:
        page_size = request.pageSize if request.HasField("pageSize") else 0
        page = await asyncio.to_thread(
            self.client.list_workflows,
            page_size=page_size or DEFAULT_LIST_PAGE_SIZE,
            continuation_token=request.continuationToken or None,
        )
        response = pb.ListInstanceIDsResponse(
            instanceIds=[state.instance_id for state in page.workflows]
        )
        if page.continuation_token is not None:
            response.continuationToken = page.continuation_token
        return response

    async def get_instance_history(
        self, request: pb.GetInstanceHistoryRequest, context: Ctx
    ) -> pb.GetInstanceHistoryResponse:
        events = await asyncio.to_thread(self.client.get_history, request.instanceId)
        return pb.GetInstanceHistoryResponse(events=[convert.history_event(e) for e in events])

    # ----- helpers -------------------------------------------------------------------------

    @staticmethod
    def _instance_response(
        state: WorkflowState | None, request: pb.GetInstanceRequest
    ) -> pb.GetInstanceResponse:
        if state is None:
            return pb.GetInstanceResponse(exists=False)
        return pb.GetInstanceResponse(
            exists=True,
            workflowState=convert.workflow_state(state, with_payloads=request.getInputsAndOutputs),
        )

    async def _long_poll(
        self,
        wait: Callable[..., WorkflowState],
        request: pb.GetInstanceRequest,
        context: Ctx,
    ) -> pb.GetInstanceResponse:
        """Wait in short slices until done or the call's deadline (DEADLINE_EXCEEDED)."""
        loop = asyncio.get_running_loop()
        while True:
            remaining = context.time_remaining()
            if remaining is not None and remaining <= 0:
                raise RpcError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"workflow instance '{request.instanceId}' did not reach the awaited "
                    "status before the call's deadline",
                )
            slice_ = (
                _WAIT_SLICE_SECONDS if remaining is None else min(_WAIT_SLICE_SECONDS, remaining)
            )
            try:
                state = await loop.run_in_executor(
                    self._waiters, partial(wait, request.instanceId, timeout=slice_)
                )
            except InstanceNotFoundError:
                return pb.GetInstanceResponse(exists=False)
            except TimeoutError:
                continue
            return self._instance_response(state, request)

    def _purge_matching(self, flt: pb.PurgeInstanceFilter, recursive: bool, force: bool) -> int:
        filters: dict[str, Any] = {}
        if flt.runtimeStatus:
            known = convert.STATUS_FROM_PROTO
            statuses = [known[s] for s in flt.runtimeStatus if s in known]
            if not statuses:
                return 0
            filters["status"] = statuses
        if flt.HasField("createdTimeFrom"):
            filters["created_after"] = convert.from_timestamp(flt.createdTimeFrom)
        if flt.HasField("createdTimeTo"):
            filters["created_before"] = convert.from_timestamp(flt.createdTimeTo)
        # Instances still running (without force) stay, as their refusals say.
        result = self.client.bulk("purge", recursive=recursive, force=force, **filters)
        return result.affected
