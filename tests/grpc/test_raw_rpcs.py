"""Raw gRPC calls (Wayline's own stubs, called by path) for what the SDKs do not show:
status codes, unknown instances, UNIMPLEMENTED methods, history, paging, the API token."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import empty_pb2, timestamp_pb2
from google.protobuf.message import Message
from grpc_support import ROOT, GrpcServer

from support.wait import wait_until
from wayline._proto.daprrt import workflow_pb2 as rt
from wayline._proto.dt import orchestration_pb2 as opb
from wayline._proto.dt import orchestrator_service_pb2 as pb

TASKHUB = "/TaskHubSidecarService/"
DAPR = "/dapr.proto.runtime.v1.Dapr/"


class Calls:
    """Unary calls by path on one channel, optionally with the API token."""

    def __init__(self, channel: grpc.Channel, token: str | None = None) -> None:
        self.channel = channel
        self.metadata = [("dapr-api-token", token)] if token else None

    def __call__(
        self, path: str, request: Message, response: type[Message], timeout: float = 10
    ) -> Any:
        method = self.channel.unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response.FromString,
        )
        return method(request, timeout=timeout, metadata=self.metadata)

    def code(self, path: str, request: Message, response: type[Message], **kw: Any) -> Any:
        with pytest.raises(grpc.RpcError) as info:
            self(path, request, response, **kw)
        return info.value.code(), info.value.details()

    def start(self, name: str, instance_id: str, text: str | None = None, **kw: Any) -> str:
        request = pb.CreateInstanceRequest(instanceId=instance_id, name=name, **kw)
        if text is not None:
            request.input.value = text
        reply = self(TASKHUB + "StartInstance", request, pb.CreateInstanceResponse)
        return str(reply.instanceId)

    def get(self, instance_id: str, payloads: bool = True) -> Any:
        request = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=payloads)
        return self(TASKHUB + "GetInstance", request, pb.GetInstanceResponse)

    def wait_done(self, instance_id: str, timeout: float = 30) -> Any:
        request = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True)
        return self(
            TASKHUB + "WaitForInstanceCompletion", request, pb.GetInstanceResponse, timeout=timeout
        )


@pytest.fixture(scope="module")
def calls(server: GrpcServer) -> Iterator[Calls]:
    with grpc.insecure_channel(server.grpc_target) as channel:
        yield Calls(channel)


def test_hello_and_unknown_instance(calls: Calls) -> None:
    assert calls(TASKHUB + "Hello", empty_pb2.Empty(), empty_pb2.Empty) == empty_pb2.Empty()
    reply = calls.get("raw-no-such-instance")
    assert reply.exists is False
    assert not reply.HasField("workflowState")
    # Events for unknown instances are dropped without an error.
    event = pb.RaiseEventRequest(instanceId="raw-no-such-instance", name="go")
    assert calls(TASKHUB + "RaiseEvent", event, pb.RaiseEventResponse) == pb.RaiseEventResponse()
    for method, request, response in (
        ("TerminateInstance", pb.TerminateRequest(instanceId="raw-nope"), pb.TerminateResponse),
        ("SuspendInstance", pb.SuspendRequest(instanceId="raw-nope"), pb.SuspendResponse),
        ("ResumeInstance", pb.ResumeRequest(instanceId="raw-nope"), pb.ResumeResponse),
        (
            "GetInstanceHistory",
            pb.GetInstanceHistoryRequest(instanceId="raw-nope"),
            pb.GetInstanceHistoryResponse,
        ),
        (
            "PurgeInstances",
            pb.PurgeInstancesRequest(instanceId="raw-nope"),
            pb.PurgeInstancesResponse,
        ),
    ):
        code, details = calls.code(TASKHUB + method, request, response)
        assert code == grpc.StatusCode.NOT_FOUND, method
        assert "raw-nope" in details


def test_start_validation_and_duplicates(calls: Calls) -> None:
    code, details = calls.code(
        TASKHUB + "StartInstance",
        pb.CreateInstanceRequest(instanceId="raw-x", name=""),
        pb.CreateInstanceResponse,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "name" in details
    code, details = calls.code(
        TASKHUB + "StartInstance",
        pb.CreateInstanceRequest(instanceId="bad id!", name="echo_wf"),
        pb.CreateInstanceResponse,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "ERR_INSTANCE_ID_INVALID" in details
    calls.start("wait_wf", "raw-dup")
    code, details = calls.code(
        TASKHUB + "StartInstance",
        pb.CreateInstanceRequest(instanceId="raw-dup", name="wait_wf"),
        pb.CreateInstanceResponse,
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert "raw-dup" in details


def test_epoch_zero_start_runs_now_and_payloads_are_verbatim(
    calls: Calls, server: GrpcServer
) -> None:
    # JS clients always send scheduledStartTimestamp = 1970-01-01 and an input.
    epoch = timestamp_pb2.Timestamp(seconds=0)
    text = '{"b": 2,  "a": [1, 2]}'  # odd spacing: stored and returned byte for byte
    calls.start("echo_wf", "raw-echo", text, scheduledStartTimestamp=epoch)
    reply = calls.wait_done("raw-echo")
    state = reply.workflowState
    assert reply.exists
    assert state.workflowStatus == opb.ORCHESTRATION_STATUS_COMPLETED
    assert state.name == "echo_wf"
    assert state.instanceId == "raw-echo"
    assert state.input.value == text
    assert state.HasField("output")
    assert state.HasField("completedTimestamp")
    assert not state.HasField("failureDetails")
    without = calls.get("raw-echo", payloads=False).workflowState
    assert not without.HasField("input") and not without.HasField("output")
    http = server.instance("raw-echo").json()
    assert http["input"] == text
    assert http["output"] == state.output.value
    assert http["runtimeStatus"] == "COMPLETED"


def test_future_start_is_pending(calls: Calls) -> None:
    later = timestamp_pb2.Timestamp()
    later.FromDatetime(datetime.now(UTC) + timedelta(hours=1))
    calls.start("echo_wf", "raw-later", scheduledStartTimestamp=later)
    state = calls.get("raw-later").workflowState
    assert state.workflowStatus == opb.ORCHESTRATION_STATUS_PENDING
    assert state.scheduledStartTimestamp.seconds == later.seconds


def test_wait_ends_with_deadline_exceeded(calls: Calls) -> None:
    calls.start("wait_wf", "raw-wait")
    request = pb.GetInstanceRequest(instanceId="raw-wait")
    for method in ("WaitForInstanceCompletion", "WaitForInstanceStart"):
        target = "raw-later" if method == "WaitForInstanceStart" else "raw-wait"
        started = time.monotonic()
        code, _ = calls.code(
            TASKHUB + method,
            pb.GetInstanceRequest(instanceId=target),
            pb.GetInstanceResponse,
            timeout=0.5,
        )
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.monotonic() - started < 5
    started_reply = calls(TASKHUB + "WaitForInstanceStart", request, pb.GetInstanceResponse)
    assert started_reply.workflowState.workflowStatus == opb.ORCHESTRATION_STATUS_RUNNING


def test_failure_details_terminate_and_purge(calls: Calls) -> None:
    calls.start("fail_wf", "raw-fail", '"no way"')
    state = calls.wait_done("raw-fail").workflowState
    assert state.workflowStatus == opb.ORCHESTRATION_STATUS_FAILED
    assert state.failureDetails.errorType == "TaskFailedError"
    assert "no way" in state.failureDetails.errorMessage

    calls.start("parent_wf", "raw-parent", '"raw-child"')
    wait_until(lambda: calls.get("raw-child").exists, 30, "the child workflow")
    code, details = calls.code(
        TASKHUB + "PurgeInstances",
        pb.PurgeInstancesRequest(instanceId="raw-parent"),
        pb.PurgeInstancesResponse,
    )
    # Not FAILED_PRECONDITION: the Python SDK would retry that for 30 s.
    assert code == grpc.StatusCode.INTERNAL
    assert "ERR_PURGE_WORKFLOW" in details
    terminate = pb.TerminateRequest(instanceId="raw-parent", recursive=True)
    terminate.output.value = '"enough"'
    calls(TASKHUB + "TerminateInstance", terminate, pb.TerminateResponse)
    parent = calls.wait_done("raw-parent").workflowState
    assert parent.workflowStatus == opb.ORCHESTRATION_STATUS_TERMINATED
    assert parent.output.value == '"enough"'
    child = calls.wait_done("raw-child").workflowState
    assert child.workflowStatus == opb.ORCHESTRATION_STATUS_TERMINATED
    assert child.parentInstanceId.value == "raw-parent"

    purge = pb.PurgeInstancesRequest(instanceId="raw-parent", recursive=True)
    reply = calls(TASKHUB + "PurgeInstances", purge, pb.PurgeInstancesResponse)
    assert reply.deletedInstanceCount == 2
    assert reply.isComplete.value is True
    assert not calls.get("raw-parent").exists and not calls.get("raw-child").exists


def test_purge_by_filter_only_removes_matching_finished_instances(calls: Calls) -> None:
    calls.start("echo_wf", "raw-pf-1", '"x"')
    calls.start("echo_wf", "raw-pf-2", '"y"')
    calls.start("wait_wf", "raw-pf-running")
    for iid in ("raw-pf-1", "raw-pf-2"):
        calls.wait_done(iid)
    since = timestamp_pb2.Timestamp()
    since.FromDatetime(datetime.now(UTC) - timedelta(minutes=10))
    flt = pb.PurgeInstanceFilter(
        createdTimeFrom=since,
        runtimeStatus=[opb.ORCHESTRATION_STATUS_COMPLETED, opb.ORCHESTRATION_STATUS_RUNNING],
    )
    reply = calls(
        TASKHUB + "PurgeInstances",
        pb.PurgeInstancesRequest(purgeInstanceFilter=flt),
        pb.PurgeInstancesResponse,
    )
    assert reply.isComplete.value is True
    assert reply.deletedInstanceCount >= 2
    assert not calls.get("raw-pf-1").exists and not calls.get("raw-pf-2").exists
    assert calls.get("raw-pf-running").exists  # running instances are never purged
    assert calls.get("raw-fail").exists  # FAILED was not in the filter


def test_list_instance_ids_pages(calls: Calls, server: GrpcServer) -> None:
    for n in range(5):
        calls.start("echo_wf", f"raw-list-{n}")
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        request = pb.ListInstanceIDsRequest(pageSize=2)
        if token is not None:
            request.continuationToken = token
        reply = calls(TASKHUB + "ListInstanceIDs", request, pb.ListInstanceIDsResponse)
        assert len(reply.instanceIds) <= 2
        seen.extend(reply.instanceIds)
        pages += 1
        if not reply.HasField("continuationToken"):
            break
        token = reply.continuationToken
    assert len(seen) == len(set(seen))
    assert {f"raw-list-{n}" for n in range(5)} <= set(seen)
    everything = httpx.get(f"{server.url}/wayline/v1/instances?pageSize=1000", timeout=10)
    listed = {i["instanceID"] for i in everything.json()["instances"]}
    assert set(seen) == listed
    assert pages >= 3
    one_page = calls(
        TASKHUB + "ListInstanceIDs", pb.ListInstanceIDsRequest(), pb.ListInstanceIDsResponse
    )
    assert set(one_page.instanceIds) == listed and not one_page.HasField("continuationToken")


def _approve(calls: Calls, instance_id: str) -> Any:
    """Once ``greet_wf`` waits (its custom status is set), approve it; its final state."""
    wait_until(lambda: calls.get(instance_id).workflowState.customStatus.value, 30, "status")
    event = pb.RaiseEventRequest(instanceId=instance_id, name="approve")
    event.input.value = '"yes"'
    calls(TASKHUB + "RaiseEvent", event, pb.RaiseEventResponse)
    return calls.wait_done(instance_id)


def _greet_approved(calls: Calls, instance_id: str, name: str) -> Any:
    calls.start("greet_wf", instance_id, json.dumps({"name": name}))
    return _approve(calls, instance_id)


def test_history_translates_every_event(calls: Calls, server: GrpcServer) -> None:
    _greet_approved(calls, "raw-hist", "eve")
    reply = calls(
        TASKHUB + "GetInstanceHistory",
        pb.GetInstanceHistoryRequest(instanceId="raw-hist"),
        pb.GetInstanceHistoryResponse,
    )
    kinds = [e.WhichOneof("eventType") for e in reply.events]
    assert kinds[:2] == ["workflowStarted", "executionStarted"] or kinds[:2] == [
        "executionStarted",
        "workflowStarted",
    ]
    for kind in (
        "taskScheduled",
        "taskCompleted",
        "eventRaised",
        "executionCompleted",
    ):
        assert kind in kinds, kinds
    by_kind = {e.WhichOneof("eventType"): e for e in reply.events}
    started = by_kind["executionStarted"].executionStarted
    assert started.name == "greet_wf"
    assert started.input.value == '{"name": "eve"}'
    assert started.workflowInstance.instanceId == "raw-hist"
    scheduled = by_kind["taskScheduled"]
    assert scheduled.taskScheduled.name == "greet"
    completed = by_kind["taskCompleted"].taskCompleted
    assert completed.taskScheduledId == scheduled.eventId
    assert completed.result.value == '"Hello, eve!"'
    assert by_kind["eventRaised"].eventRaised.name == "approve"
    assert by_kind["eventRaised"].eventRaised.input.value == '"yes"'
    done = by_kind["executionCompleted"].executionCompleted
    assert done.workflowStatus == opb.ORCHESTRATION_STATUS_COMPLETED
    assert all(e.timestamp.seconds > 0 for e in reply.events)
    http = httpx.get(f"{server.url}/wayline/v1/instances/raw-hist/history", timeout=10)
    assert http.status_code == 200
    body = http.json()
    events = body["events"] if isinstance(body, dict) else body
    assert len(events) == len(reply.events)


def test_rerun_workflow_from_event_raw(calls: Calls) -> None:
    _greet_approved(calls, "raw-src", "ann")
    history = calls(
        TASKHUB + "GetInstanceHistory",
        pb.GetInstanceHistoryRequest(instanceId="raw-src"),
        pb.GetInstanceHistoryResponse,
    )
    [scheduled] = [e for e in history.events if e.HasField("taskScheduled")]
    rerun = "RerunWorkflowFromEvent"
    request = pb.RerunWorkflowFromEventRequest(
        sourceInstanceID="raw-src", eventID=scheduled.eventId, newInstanceID="raw-again"
    )
    request.input.value = '"bob"'
    request.overwriteInput = True
    reply = calls(TASKHUB + rerun, request, pb.RerunWorkflowFromEventResponse)
    assert reply.newInstanceID == "raw-again"
    copied = calls(
        TASKHUB + "GetInstanceHistory",
        pb.GetInstanceHistoryRequest(instanceId="raw-again"),
        pb.GetInstanceHistoryResponse,
    )
    [again] = [e for e in copied.events if e.HasField("taskScheduled")]
    assert again.taskScheduled.input.value == '"bob"'
    assert again.taskScheduled.rerunParentInstanceInfo.instanceID == "raw-src"
    # the event raised after the activity is not in the copy: the rerun waits for one
    done = _approve(calls, "raw-again").workflowState
    assert done.workflowStatus == opb.ORCHESTRATION_STATUS_COMPLETED
    assert "bob" in done.output.value
    bad = [
        (pb.RerunWorkflowFromEventRequest(sourceInstanceID="nobody"), grpc.StatusCode.NOT_FOUND),
        (
            pb.RerunWorkflowFromEventRequest(sourceInstanceID="raw-src", eventID=999),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ]
    for request, code in bad:
        assert calls.code(TASKHUB + rerun, request, pb.RerunWorkflowFromEventResponse)[0] == code


UNIMPLEMENTED = [
    ("QueryInstances", empty_pb2.Empty(), empty_pb2.Empty),  # 0.17 proto only
    ("AbandonTaskActivityWorkItem", empty_pb2.Empty(), empty_pb2.Empty),
]


@pytest.mark.parametrize(("method", "request_", "response"), UNIMPLEMENTED)
def test_unimplemented_methods_answer_at_once(
    calls: Calls, method: str, request_: Message, response: type[Message]
) -> None:
    code, _ = calls.code(TASKHUB + method, request_, response, timeout=5)
    assert code == grpc.StatusCode.UNIMPLEMENTED


def test_dapr_runtime_rpcs_raw(calls: Calls, server: GrpcServer) -> None:
    missing = calls(
        DAPR + "GetWorkflowBeta1",
        rt.GetWorkflowRequest(instance_id="raw-rt-nope"),
        rt.GetWorkflowResponse,
    )
    assert missing == rt.GetWorkflowResponse(instance_id="raw-rt-nope")
    code, details = calls.code(
        DAPR + "GetWorkflowBeta1", rt.GetWorkflowRequest(), rt.GetWorkflowResponse
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "ERR_INSTANCE_ID_PROVIDED_MISSING" in details
    code, _ = calls.code(
        DAPR + "StartWorkflowAlpha1",
        rt.StartWorkflowRequest(instance_id="r"),
        rt.StartWorkflowResponse,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT

    start = rt.StartWorkflowRequest(
        instance_id="raw-rt", workflow_component="dapr", workflow_name="wait_wf", input=b'"in"'
    )
    reply = calls(DAPR + "StartWorkflowAlpha1", start, rt.StartWorkflowResponse)
    assert reply.instance_id == "raw-rt"
    code, details = calls.code(DAPR + "StartWorkflowBeta1", start, rt.StartWorkflowResponse)
    assert code == grpc.StatusCode.INTERNAL  # Dapr wraps "already exists" in ERR_START_WORKFLOW
    assert "raw-rt" in details
    generated = calls(
        DAPR + "StartWorkflowBeta1",
        rt.StartWorkflowRequest(workflow_name="echo_wf"),
        rt.StartWorkflowResponse,
    )
    assert generated.instance_id
    code, _ = calls.code(
        DAPR + "RaiseEventWorkflowBeta1",
        rt.RaiseEventWorkflowRequest(instance_id="raw-rt"),
        empty_pb2.Empty,
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    code, _ = calls.code(
        DAPR + "TerminateWorkflowBeta1",
        rt.TerminateWorkflowRequest(instance_id="raw-rt-nope"),
        empty_pb2.Empty,
    )
    assert code == grpc.StatusCode.NOT_FOUND

    wait_until(
        lambda: (
            calls(
                DAPR + "GetWorkflowAlpha1",
                rt.GetWorkflowRequest(instance_id="raw-rt"),
                rt.GetWorkflowResponse,
            ).runtime_status
            == "RUNNING"
        ),
        30,
        "RUNNING",
    )
    calls(
        DAPR + "PauseWorkflowAlpha1", rt.PauseWorkflowRequest(instance_id="raw-rt"), empty_pb2.Empty
    )
    got = wait_until(
        lambda: (
            (
                g := calls(
                    DAPR + "GetWorkflowBeta1",
                    rt.GetWorkflowRequest(instance_id="raw-rt"),
                    rt.GetWorkflowResponse,
                )
            ).runtime_status
            == "SUSPENDED"
            and g
        ),
        30,
        "SUSPENDED",
    )
    assert got.workflow_name == "wait_wf"
    assert dict(got.properties) == {"dapr.workflow.input": '"in"'}
    dapr_http = httpx.get(f"{server.url}/v1.0/workflows/dapr/raw-rt", timeout=10).json()
    assert dapr_http["runtimeStatus"] == got.runtime_status
    assert dapr_http["properties"] == dict(got.properties)
    assert dapr_http["createdAt"].startswith(
        got.created_at.ToDatetime().strftime("%Y-%m-%dT%H:%M:%S")
    )
    calls(
        DAPR + "ResumeWorkflowBeta1",
        rt.ResumeWorkflowRequest(instance_id="raw-rt"),
        empty_pb2.Empty,
    )
    event = rt.RaiseEventWorkflowRequest(instance_id="raw-rt", event_name="never", event_data=b"7")
    calls(DAPR + "RaiseEventWorkflowAlpha1", event, empty_pb2.Empty)
    done = calls.wait_done("raw-rt").workflowState
    assert done.workflowStatus == opb.ORCHESTRATION_STATUS_COMPLETED
    assert done.output.value == "7"
    calls(
        DAPR + "PurgeWorkflowBeta1", rt.PurgeWorkflowRequest(instance_id="raw-rt"), empty_pb2.Empty
    )
    assert not calls.get("raw-rt").exists


def test_api_token(token_server: GrpcServer) -> None:
    with grpc.insecure_channel(token_server.grpc_target) as channel:
        anonymous, wrong = Calls(channel), Calls(channel, token="wrong")
        authorized = Calls(channel, token=token_server.api_token)
        for caller in (anonymous, wrong):
            code, details = caller.code(TASKHUB + "Hello", empty_pb2.Empty(), empty_pb2.Empty)
            assert code == grpc.StatusCode.UNAUTHENTICATED
            assert "dapr-api-token" in details
            code, _ = caller.code(
                TASKHUB + "StartInstance",
                pb.CreateInstanceRequest(instanceId="tok-1", name="echo_wf"),
                pb.CreateInstanceResponse,
            )
            assert code == grpc.StatusCode.UNAUTHENTICATED
            code, _ = caller.code(
                DAPR + "GetWorkflowBeta1",
                rt.GetWorkflowRequest(instance_id="x"),
                rt.GetWorkflowResponse,
            )
            assert code == grpc.StatusCode.UNAUTHENTICATED
            stream = channel.unary_stream(
                TASKHUB + "GetWorkItems",
                request_serializer=pb.GetWorkItemsRequest.SerializeToString,
                response_deserializer=pb.WorkItem.FromString,
            )
            with pytest.raises(grpc.RpcError) as info:
                list(stream(pb.GetWorkItemsRequest(), timeout=5, metadata=caller.metadata))
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert not authorized.get("tok-1").exists  # the rejected start changed nothing
        authorized(TASKHUB + "Hello", empty_pb2.Empty(), empty_pb2.Empty)
        authorized.start("echo_wf", "tok-2", '"t"')
        assert authorized.wait_done("tok-2").workflowState.output.value == '"t"'


def test_dapr_workflow_client_with_api_token(
    token_server: GrpcServer, dapr_ext_python: Path
) -> None:
    seen = token_server.run_sdk(dapr_ext_python, "dapr_ext_workflow_client.py", "tok")
    assert seen["completed"]["runtime_status"] == "COMPLETED"
    assert token_server.instance("tok-fail").json()["runtimeStatus"] == "FAILED"


def test_protos_import_next_to_the_dapr_sdks(dapr_ext_python: Path) -> None:
    """The descriptor-pool conflict of spec §10 does not happen: one process holds both."""
    script = (
        "from wayline._proto.dt import history_events_pb2\n"
        "import dapr.ext.workflow, dapr.proto.runtime.v1.workflow_pb2 as d\n"
        "from dapr.ext.workflow._durabletask.internal import orchestrator_service_pb2 as up\n"
        "from wayline._proto.dt import orchestrator_service_pb2 as ours\n"
        "from wayline._proto.daprrt import workflow_pb2 as rt\n"
        "from wayline.api.grpc import GrpcServer\n"
        "import google.protobuf\n"
        "wire = up.WorkItem(completionToken='t').SerializeToString()\n"
        "assert ours.WorkItem.FromString(wire).completionToken == 't'\n"
        "name = d.GetWorkflowRequest.DESCRIPTOR.full_name\n"
        "assert name != rt.GetWorkflowRequest.DESCRIPTOR.full_name\n"
        "print('ok', google.protobuf.__version__)\n"
    )
    # Wayline's runtime deps are not in the SDK venv; only its source tree is added.
    probe = subprocess.run(
        [str(dapr_ext_python), "-c", "import starlette, uvicorn, httpx"], capture_output=True
    )
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    if probe.returncode != 0:
        script = script.replace("from wayline.api.grpc import GrpcServer\n", "")
    result = subprocess.run(
        [str(dapr_ext_python), "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")
