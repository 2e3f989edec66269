"""The workflow RPCs of ``dapr.proto.runtime.v1.Dapr`` (``*Alpha1`` and ``*Beta1``).

Used by ``DaprClient`` in the dapr Python SDK up to 1.17 and by the .NET SDK
(``shared/spec/dapr-workflow-api.md`` §2). Same semantics as the Dapr HTTP API;
messages come from Wayline's own ``wayline.daprrt.v1`` package, registered by the
service path so they never clash with the dapr SDK's registration.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import grpc
from google.protobuf import empty_pb2

from wayline._proto.daprrt import workflow_pb2 as pb
from wayline.api.dapr_state import dapr_properties, dapr_runtime_status
from wayline.api.grpc import convert
from wayline.api.grpc.errors import RpcError
from wayline.api.grpc.handlers import unary
from wayline.client import WorkflowClient
from wayline.core.serde import RawPayload
from wayline.errors import InstanceNotFoundError

SERVICE = "dapr.proto.runtime.v1.Dapr"
START_TIME_OPTION = "dapr.workflow.start_time"

Ctx = grpc.aio.ServicerContext[Any, Any]


def _required_id(instance_id: str) -> str:
    if not instance_id:
        raise RpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            "ERR_INSTANCE_ID_PROVIDED_MISSING: no instance ID was provided",
        )
    return instance_id


def _payload(data: bytes) -> RawPayload | None:
    """Raw bytes as payload text (checked by the client); not UTF-8: refused."""
    if not data:
        return None
    try:
        return RawPayload(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RpcError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"ERR_MALFORMED_REQUEST: the payload is not UTF-8 text (byte {data[exc.start]:#04x} "
            f"at offset {exc.start}); send UTF-8 (JSON always is)",
        ) from exc


class DaprRuntimeWorkflowService:
    """Handlers of the seven Dapr runtime workflow RPCs, in both API versions."""

    def __init__(self, client: WorkflowClient) -> None:
        self.client = client

    def handler(self) -> grpc.GenericRpcHandler:
        internal = grpc.StatusCode.INTERNAL  # Dapr wraps "already exists" in ERR_START_WORKFLOW
        methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        for version in ("Alpha1", "Beta1"):
            methods[f"StartWorkflow{version}"] = unary(
                self.start,
                pb.StartWorkflowRequest,
                pb.StartWorkflowResponse,
                already_exists=internal,
            )
            methods[f"GetWorkflow{version}"] = unary(
                self.get, pb.GetWorkflowRequest, pb.GetWorkflowResponse
            )
            for verb, fn, request in (
                ("Terminate", self.terminate, pb.TerminateWorkflowRequest),
                ("Pause", self.pause, pb.PauseWorkflowRequest),
                ("Resume", self.resume, pb.ResumeWorkflowRequest),
                ("Purge", self.purge, pb.PurgeWorkflowRequest),
                ("RaiseEvent", self.raise_event, pb.RaiseEventWorkflowRequest),
            ):
                methods[f"{verb}Workflow{version}"] = unary(fn, request, empty_pb2.Empty)
        return grpc.method_handlers_generic_handler(SERVICE, methods)

    async def start(
        self, request: pb.StartWorkflowRequest, context: Ctx
    ) -> pb.StartWorkflowResponse:
        if not request.workflow_name:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "ERR_WORKFLOW_NAME_MISSING: no workflow name was provided",
            )
        start_at = None
        start_time = request.options.get(START_TIME_OPTION)
        if start_time:
            try:
                start_at = datetime.fromisoformat(start_time.replace("Z", "+00:00"))
                start_at.astimezone(UTC)  # in range once in UTC (not year 10000)
            except (ValueError, OverflowError) as exc:
                raise RpcError(
                    grpc.StatusCode.INTERNAL,
                    f"ERR_START_WORKFLOW: {START_TIME_OPTION} {start_time!r} is not an RFC3339 "
                    "time such as 2030-01-02T15:04:05Z",
                ) from exc
        instance_id = await asyncio.to_thread(
            self.client.start_workflow,
            request.workflow_name,
            input=_payload(request.input),
            instance_id=request.instance_id or None,
            start_at=start_at,
            **convert.incoming_trace(None, context),
        )
        return pb.StartWorkflowResponse(instance_id=instance_id)

    async def get(self, request: pb.GetWorkflowRequest, context: Ctx) -> pb.GetWorkflowResponse:
        instance_id = _required_id(request.instance_id)
        state = await asyncio.to_thread(self.client.get_workflow_state, instance_id)
        if state is None:
            # Dapr >= 1.16: OK with only the id; SDKs read the empty status as "not found".
            return pb.GetWorkflowResponse(instance_id=instance_id)
        return pb.GetWorkflowResponse(
            instance_id=state.instance_id,
            workflow_name=state.name,
            created_at=convert.timestamp(state.created_at),
            last_updated_at=convert.timestamp(state.last_updated_at),
            runtime_status=dapr_runtime_status(state),
            properties=dapr_properties(state),
        )

    async def terminate(
        self, request: pb.TerminateWorkflowRequest, context: Ctx
    ) -> empty_pb2.Empty:
        await asyncio.to_thread(self.client.terminate_workflow, _required_id(request.instance_id))
        return empty_pb2.Empty()

    async def pause(self, request: pb.PauseWorkflowRequest, context: Ctx) -> empty_pb2.Empty:
        await asyncio.to_thread(self.client.pause_workflow, _required_id(request.instance_id))
        return empty_pb2.Empty()

    async def resume(self, request: pb.ResumeWorkflowRequest, context: Ctx) -> empty_pb2.Empty:
        await asyncio.to_thread(self.client.resume_workflow, _required_id(request.instance_id))
        return empty_pb2.Empty()

    async def purge(self, request: pb.PurgeWorkflowRequest, context: Ctx) -> empty_pb2.Empty:
        await asyncio.to_thread(self.client.purge_workflow, _required_id(request.instance_id))
        return empty_pb2.Empty()

    async def raise_event(
        self, request: pb.RaiseEventWorkflowRequest, context: Ctx
    ) -> empty_pb2.Empty:
        instance_id = _required_id(request.instance_id)
        if not request.event_name:
            raise RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "ERR_WORKFLOW_EVENT_NAME_MISSING: no event name was provided",
            )
        # dropped, as the HTTP API and Dapr do
        with contextlib.suppress(InstanceNotFoundError):
            await asyncio.to_thread(
                self.client.raise_event,
                instance_id,
                request.event_name,
                _payload(request.event_data),
            )
        return empty_pb2.Empty()
