"""Bad input over gRPC: INVALID_ARGUMENT and no effect, never INTERNAL or UNKNOWN.

The gRPC twins of the HTTP cases of issue 11: payloads that would not survive a
round trip (NaN, Infinity, 1e999, integers over 4300 digits, deep nesting, bytes
that are not UTF-8), results of that kind from a worker (the task or workflow
fails with a SerializationError), out-of-range times and continuation tokens.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import grpc
import httpx
import pytest
from google.protobuf import empty_pb2
from grpc_support import GrpcServer
from test_raw_rpcs import DAPR, TASKHUB, Calls
from test_worker_protocol import Hub, RawWorker, done

from wayline._proto.daprrt import workflow_pb2 as rt
from wayline._proto.dt import orchestration_pb2 as opb
from wayline._proto.dt import orchestrator_actions_pb2 as apb
from wayline._proto.dt import orchestrator_service_pb2 as pb

INVALID = grpc.StatusCode.INVALID_ARGUMENT
BAD_TEXTS = [
    "1" * 5000,
    '{"n": ' + "7" * 4301 + "}",
    "NaN",
    "[Infinity]",
    "1e999",
    '"\\ud800"',
    "[" * 200_000,
]


@pytest.fixture(scope="module")
def channel(server: GrpcServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.grpc_target) as ch:
        yield ch


@pytest.fixture(scope="module")
def calls(channel: grpc.Channel) -> Calls:
    return Calls(channel)


@pytest.fixture(scope="module")
def waiting(calls: Calls) -> str:
    """An instance waiting for the event "never" (local workflow wait_wf)."""
    calls.start("wait_wf", "bad-waiting", "1")
    request = pb.GetInstanceRequest(instanceId="bad-waiting")
    calls(TASKHUB + "WaitForInstanceStart", request, pb.GetInstanceResponse)
    return "bad-waiting"


def _ids(calls: Calls) -> list[str]:
    reply = calls(
        TASKHUB + "ListInstanceIDs", pb.ListInstanceIDsRequest(), pb.ListInstanceIDsResponse
    )
    return sorted(reply.instanceIds)


def _history_length(calls: Calls, instance_id: str) -> int:
    request = pb.GetInstanceHistoryRequest(instanceId=instance_id)
    return len(calls(TASKHUB + "GetInstanceHistory", request, pb.GetInstanceHistoryResponse).events)


@pytest.mark.parametrize("text", BAD_TEXTS, ids=lambda t: t[:12])
def test_start_raise_terminate_refuse_payloads_that_would_change(
    calls: Calls, waiting: str, text: str
) -> None:
    before = (_ids(calls), _history_length(calls, waiting))
    start = pb.CreateInstanceRequest(instanceId="bad-new", name="echo_wf")
    start.input.value = text
    raise_event = pb.RaiseEventRequest(instanceId=waiting, name="never")
    raise_event.input.value = text
    terminate = pb.TerminateRequest(instanceId=waiting)
    terminate.output.value = text
    for method, request, response in (
        ("StartInstance", start, pb.CreateInstanceResponse),
        ("RaiseEvent", raise_event, pb.RaiseEventResponse),
        ("TerminateInstance", terminate, pb.TerminateResponse),
    ):
        code, details = calls.code(TASKHUB + method, request, response)
        assert code == INVALID, (method, details)
        assert details.startswith("ERR_MALFORMED_REQUEST: ")
    dapr_start = rt.StartWorkflowRequest(
        instance_id="bad-new", workflow_name="echo_wf", input=text.encode()
    )
    dapr_raise = rt.RaiseEventWorkflowRequest(
        instance_id=waiting, event_name="never", event_data=text.encode()
    )
    assert calls.code(DAPR + "StartWorkflowBeta1", dapr_start, rt.StartWorkflowResponse)[0] == (
        INVALID
    )
    assert calls.code(DAPR + "RaiseEventWorkflowBeta1", dapr_raise, empty_pb2.Empty)[0] == (INVALID)
    assert (_ids(calls), _history_length(calls, waiting)) == before
    assert calls.get(waiting).workflowState.workflowStatus == opb.ORCHESTRATION_STATUS_RUNNING


def test_strings_that_are_not_utf8_are_invalid_argument(calls: Calls, waiting: str) -> None:
    """A protobuf string field with bad UTF-8 cannot even be decoded: that was UNKNOWN."""
    before = _ids(calls)
    start = pb.CreateInstanceRequest(instanceId="bad-utf8", name="echo_wf")
    start.input.value = "XX"
    raw = start.SerializeToString().replace(b"XX", b"\xff\xfe")
    method = calls.channel.unary_unary(
        TASKHUB + "StartInstance",
        request_serializer=lambda _: raw,
        response_deserializer=pb.CreateInstanceResponse.FromString,
    )
    with pytest.raises(grpc.RpcError) as info:
        method(start, timeout=10)
    assert info.value.code() == INVALID
    assert "UTF-8" in (info.value.details() or "")
    # Dapr's runtime RPCs carry payloads as bytes: those must be UTF-8 text too.
    for path, request, response in (
        (
            DAPR + "StartWorkflowAlpha1",
            rt.StartWorkflowRequest(instance_id="bad-utf8", workflow_name="echo_wf", input=b"\xe9"),
            rt.StartWorkflowResponse,
        ),
        (
            DAPR + "RaiseEventWorkflowBeta1",
            rt.RaiseEventWorkflowRequest(
                instance_id=waiting, event_name="never", event_data=b'"caf\xe9"'
            ),
            empty_pb2.Empty,
        ),
    ):
        code, details = calls.code(path, request, response)
        assert code == INVALID and "not UTF-8" in details
    assert _ids(calls) == before


def test_text_that_is_not_json_still_passes_through(calls: Calls) -> None:
    for iid, text in (("bad-ok-1", "NaN is a word"), ("bad-ok-2", "naïve 😀")):
        calls.start("echo_wf", iid, text)
        state = calls.wait_done(iid).workflowState
        assert state.workflowStatus == opb.ORCHESTRATION_STATUS_COMPLETED
        assert state.input.value == text
        assert json.loads(state.output.value) == text


# ----- results from a worker ------------------------------------------------------------


@pytest.fixture
def hub(channel: grpc.Channel) -> Hub:
    return Hub(channel)


@pytest.fixture
def worker(channel: grpc.Channel) -> Iterator[RawWorker]:
    w = RawWorker(channel)
    yield w
    w.close()


@pytest.mark.parametrize("result", ["NaN", "[1, -Infinity]", "1e999", "9" * 4301])
def test_an_activity_result_that_would_change_fails_the_task(
    hub: Hub, worker: RawWorker, result: str
) -> None:
    iid = f"bad-act-{abs(hash(result)) % 10**8}"
    hub.start("raw_flow", iid, '"x"')
    schedule = apb.WorkflowAction(id=1)
    schedule.scheduleTask.name = "raw_act"
    schedule.scheduleTask.input.value = '"x"'
    hub.complete_turn(worker.next(), schedule)
    activity = worker.next()
    assert activity.WhichOneof("request") == "activityRequest"
    hub.complete_activity(activity, result)
    turn = worker.next().workflowRequest
    assert [e.WhichOneof("eventType") for e in turn.newEvents] == ["workflowStarted", "taskFailed"]
    failure = turn.newEvents[1].taskFailed.failureDetails
    assert failure.errorType == "SerializationError"
    assert "round trip" in failure.errorMessage
    hub.complete_turn(pb.WorkItem(workflowRequest=turn), done(2, '"handled"'))
    assert hub.wait_done(iid).workflowState.output.value == '"handled"'


@pytest.mark.parametrize("where", ["output", "activity input", "child input", "event data"])
def test_a_turn_carrying_nan_fails_the_workflow(hub: Hub, worker: RawWorker, where: str) -> None:
    iid = "bad-turn-" + where.replace(" ", "-")
    hub.start("raw_flow", iid, '"x"')
    action = apb.WorkflowAction(id=1)
    if where == "output":
        action = done(1, '{"score": NaN}')
    elif where == "activity input":
        action.scheduleTask.name = "raw_act"
        action.scheduleTask.input.value = "Infinity"
    elif where == "child input":
        action.createChildWorkflow.name = "raw_flow"
        action.createChildWorkflow.instanceId = iid + "-child"
        action.createChildWorkflow.input.value = "-1e999"
    else:
        action.sendEvent.instance.instanceId = "bad-waiting"
        action.sendEvent.name = "never"
        action.sendEvent.data.value = "[NaN]"
    hub.complete_turn(worker.next(), action)
    state = hub.wait_done(iid).workflowState
    assert state.workflowStatus == opb.ORCHESTRATION_STATUS_FAILED
    assert state.failureDetails.errorType == "SerializationError"
    assert "round trip" in state.failureDetails.errorMessage
    assert not state.HasField("output")
    assert hub.get(iid + "-child").exists is False
    # Nothing was scheduled: no activity work item follows.
    assert worker.nothing_for(0.3)


# ----- times and tokens ------------------------------------------------------------------


def test_an_out_of_range_token_is_invalid_argument(calls: Calls) -> None:
    """Item 7: an integer over 64 bits in a continuation token was INTERNAL (OverflowError)."""
    for raw in (b"9" * 30 + b"|x", b"-" + b"9" * 20 + b"|x", b"1|a\x00b", b"\xff|x"):
        token = base64.urlsafe_b64encode(raw).decode()
        request = pb.ListInstanceIDsRequest(continuationToken=token)
        code, details = calls.code(TASKHUB + "ListInstanceIDs", request, pb.ListInstanceIDsResponse)
        assert code == INVALID, details
        assert "continuation token" in details


def test_a_start_time_out_of_range_in_utc_is_dapr_s_start_error(calls: Calls) -> None:
    """Was INTERNAL 'internal error: OverflowError'; Dapr answers a bad start_time with
    ERR_START_WORKFLOW (spec §1.6), and nothing starts."""
    for start_time in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+00:01"):
        request = rt.StartWorkflowRequest(
            instance_id="bad-time",
            workflow_name="echo_wf",
            options={"dapr.workflow.start_time": start_time},
        )
        code, details = calls.code(DAPR + "StartWorkflowBeta1", request, rt.StartWorkflowResponse)
        assert code == grpc.StatusCode.INTERNAL
        assert details.startswith("ERR_START_WORKFLOW: ") and start_time in details
    assert calls.get("bad-time").exists is False
    # A purge filter's out-of-range Timestamp is refused before any instance is touched.
    purge = pb.PurgeInstancesRequest()
    purge.purgeInstanceFilter.createdTimeFrom.seconds = 2**62
    code, _ = calls.code(TASKHUB + "PurgeInstances", purge, pb.PurgeInstancesResponse)
    assert code == INVALID


def test_a_token_beyond_ascii_is_checked_as_bytes(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Issue 11, item 4 on gRPC: the token check compares UTF-8 bytes (gRPC metadata is
    ASCII, so such a token is for HTTP clients; gRPC calls are refused, never crash)."""
    token = "tökén-✓"
    db = tmp_path_factory.mktemp("grpc-unicode-token") / "wayline.db"
    running = GrpcServer(db, api_token=token).start()
    try:
        with grpc.insecure_channel(running.grpc_target) as channel:
            for metadata in (None, [("dapr-api-token", "tok")], [("dapr-api-token-bin", b"\xff")]):
                hello = channel.unary_unary(
                    TASKHUB + "Hello",
                    request_serializer=empty_pb2.Empty.SerializeToString,
                    response_deserializer=empty_pb2.Empty.FromString,
                )
                with pytest.raises(grpc.RpcError) as info:
                    hello(empty_pb2.Empty(), timeout=10, metadata=metadata)
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        headers = {"dapr-api-token": token.encode()}
        response = httpx.get(f"{running.url}/wayline/v1/instances", headers=headers)
        assert response.status_code == 200, response.text
    finally:
        assert running.stop() == 0


def test_a_store_that_cannot_be_written_is_unavailable(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Issue 11, item 8 on gRPC: the database file moved away under the server; every
    write is UNAVAILABLE (was INTERNAL or, worse, written into the deleted file)."""
    tmp = tmp_path_factory.mktemp("grpc-store-gone")
    running = GrpcServer(tmp / "wayline.db").start()
    db = running.db
    try:
        with grpc.insecure_channel(running.grpc_target) as channel:
            calls = Calls(channel)
            calls.start("wait_wf", "gone-a", "1")
            calls(
                TASKHUB + "WaitForInstanceStart",
                pb.GetInstanceRequest(instanceId="gone-a"),
                pb.GetInstanceResponse,
            )
            db.rename(tmp / "moved.db")
            start = pb.CreateInstanceRequest(instanceId="gone-b", name="echo_wf")
            raise_event = pb.RaiseEventRequest(instanceId="gone-a", name="never")
            for path, request, response in (
                (TASKHUB + "StartInstance", start, pb.CreateInstanceResponse),
                (TASKHUB + "RaiseEvent", raise_event, pb.RaiseEventResponse),
                (TASKHUB + "SuspendInstance", pb.SuspendRequest(instanceId="gone-a"), None),
                (TASKHUB + "TerminateInstance", pb.TerminateRequest(instanceId="gone-a"), None),
                (
                    DAPR + "StartWorkflowBeta1",
                    rt.StartWorkflowRequest(instance_id="gone-c", workflow_name="echo_wf"),
                    rt.StartWorkflowResponse,
                ),
            ):
                code, details = calls.code(path, request, response or empty_pb2.Empty)
                assert code == grpc.StatusCode.UNAVAILABLE, (path, details)
                assert details.startswith("ERR_STORE_UNAVAILABLE: ")
            assert calls(TASKHUB + "Hello", empty_pb2.Empty(), empty_pb2.Empty) == empty_pb2.Empty()
            (tmp / "moved.db").rename(db)
            calls.start("echo_wf", "gone-b", "2")
            assert calls.wait_done("gone-b").workflowState.output.value == "2"
            state = calls.get("gone-a").workflowState
            assert state.workflowStatus == opb.ORCHESTRATION_STATUS_RUNNING  # nothing applied
    finally:
        assert running.stop() == 0
