"""The worker stream byte by byte: a hand-driven worker on ``GetWorkItems``.

What the SDK tests cannot show directly: the exact events of each work item, that
work waits for a worker, one turn per instance in flight, re-dispatch after a
disconnect with a new completion token, stale answers dropped, and the sentinel
timer returned to the nanosecond (``shared/spec/durabletask-protocol.md`` §4-§7).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2
from grpc_support import GrpcServer

from support.wait import wait_until
from wayline._proto.dt import orchestration_pb2 as opb
from wayline._proto.dt import orchestrator_actions_pb2 as apb
from wayline._proto.dt import orchestrator_service_pb2 as pb

TASKHUB = "/TaskHubSidecarService/"
SENTINEL = timestamp_pb2.Timestamp(seconds=253402300799, nanos=999999999)
WAIT = 15.0


class RawWorker:
    """A worker stream read on a thread; its work items arrive in ``next()``."""

    def __init__(self, channel: grpc.Channel) -> None:
        open_stream = channel.unary_stream(
            TASKHUB + "GetWorkItems",
            request_serializer=pb.GetWorkItemsRequest.SerializeToString,
            response_deserializer=pb.WorkItem.FromString,
        )
        self._call: Any = open_stream(pb.GetWorkItemsRequest())
        self._items: queue.Queue[pb.WorkItem | BaseException] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for item in self._call:
                self._items.put(item)
        except BaseException as exc:  # the stream ended: cancelled or failed
            self._items.put(exc)

    def next(self, timeout: float = WAIT) -> pb.WorkItem:
        item = self._items.get(timeout=timeout)
        if isinstance(item, BaseException):
            raise item
        return item

    def nothing_for(self, seconds: float) -> bool:
        try:
            item = self._items.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected work item: {item}")

    def close(self) -> None:
        self._call.cancel()
        self._reader.join(timeout=5)


class Hub:
    """Unary calls of the tests, by path."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel

    def call(self, method: str, request: Any, response: Any) -> Any:
        fn = self.channel.unary_unary(
            TASKHUB + method,
            request_serializer=type(request).SerializeToString,
            response_deserializer=response.FromString,
        )
        return fn(request, timeout=10)

    def start(self, name: str, instance_id: str, text: str | None = None) -> None:
        request = pb.CreateInstanceRequest(instanceId=instance_id, name=name)
        if text is not None:
            request.input.value = text
        self.call("StartInstance", request, pb.CreateInstanceResponse)

    def get(self, instance_id: str) -> Any:
        request = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True)
        return self.call("GetInstance", request, pb.GetInstanceResponse)

    def wait_done(self, instance_id: str) -> Any:
        request = pb.GetInstanceRequest(instanceId=instance_id, getInputsAndOutputs=True)
        fn = self.channel.unary_unary(
            TASKHUB + "WaitForInstanceCompletion",
            request_serializer=pb.GetInstanceRequest.SerializeToString,
            response_deserializer=pb.GetInstanceResponse.FromString,
        )
        return fn(request, timeout=WAIT)

    def raise_event(self, instance_id: str, name: str, text: str) -> None:
        request = pb.RaiseEventRequest(instanceId=instance_id, name=name)
        request.input.value = text
        self.call("RaiseEvent", request, pb.RaiseEventResponse)

    def complete_turn(
        self,
        item: pb.WorkItem,
        *actions: apb.WorkflowAction,
        custom_status: str | None = None,
        token: str | None = None,
        version: opb.WorkflowVersion | None = None,
    ) -> None:
        response = pb.WorkflowResponse(
            instanceId=item.workflowRequest.instanceId,
            actions=list(actions),
            completionToken=item.completionToken if token is None else token,
        )
        if version is not None:
            response.version.CopyFrom(version)
        if custom_status is not None:
            response.customStatus.value = custom_status
        self.call("CompleteOrchestratorTask", response, pb.CompleteTaskResponse)

    def complete_activity(self, item: pb.WorkItem, result: str) -> None:
        request = item.activityRequest
        response = pb.ActivityResponse(
            instanceId=request.workflowInstance.instanceId,
            taskId=request.taskId,
            completionToken=item.completionToken,
        )
        response.result.value = result
        self.call("CompleteActivityTask", response, pb.CompleteTaskResponse)


def kinds(events: Any) -> list[str]:
    return [e.WhichOneof("eventType") for e in events]


def done(action_id: int, result: str) -> apb.WorkflowAction:
    action = apb.WorkflowAction(id=action_id)
    action.completeWorkflow.workflowStatus = opb.ORCHESTRATION_STATUS_COMPLETED
    action.completeWorkflow.result.value = result
    return action


@pytest.fixture
def channel(server: GrpcServer) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.grpc_target) as ch:
        yield ch


@pytest.fixture
def hub(channel: grpc.Channel) -> Hub:
    return Hub(channel)


@pytest.fixture
def worker(channel: grpc.Channel) -> Iterator[RawWorker]:
    w = RawWorker(channel)
    yield w
    w.close()


def test_a_workflow_turn_by_turn(hub: Hub, worker: RawWorker) -> None:
    hub.start("raw_flow", "p1", '"x"')
    first = worker.next()
    request = first.workflowRequest
    assert request.instanceId == "p1" and first.completionToken
    assert list(request.pastEvents) == []
    assert kinds(request.newEvents) == ["workflowStarted", "executionStarted"]
    started = request.newEvents[1].executionStarted
    assert (started.name, started.input.value) == ("raw_flow", '"x"')
    assert started.workflowInstance.instanceId == "p1"
    # PENDING until the first turn commits.
    assert hub.get("p1").workflowState.workflowStatus == opb.ORCHESTRATION_STATUS_PENDING

    schedule = apb.WorkflowAction(id=1)
    schedule.scheduleTask.name = "raw_act"
    schedule.scheduleTask.input.value = '"x"'
    schedule.scheduleTask.taskExecutionId = "te-1"
    wait = apb.WorkflowAction(id=2)
    wait.createTimer.fireAt.CopyFrom(SENTINEL)
    wait.createTimer.externalEvent.name = "go"
    hub.complete_turn(first, schedule, wait, custom_status="step-1")

    activity = worker.next()
    assert activity.WhichOneof("request") == "activityRequest" and activity.completionToken
    act = activity.activityRequest
    assert (act.name, act.taskId, act.input.value, act.taskExecutionId) == (
        "raw_act",
        1,
        '"x"',
        "te-1",
    )
    assert act.workflowInstance.instanceId == "p1"
    state = hub.get("p1").workflowState
    assert state.workflowStatus == opb.ORCHESTRATION_STATUS_RUNNING
    assert state.customStatus.value == "step-1"  # stored as the worker sent it

    hub.complete_activity(activity, '"X"')
    second = worker.next().workflowRequest
    assert kinds(second.pastEvents) == [
        "workflowStarted",
        "executionStarted",
        "taskScheduled",
        "timerCreated",
    ]
    assert second.pastEvents[0].timestamp == request.newEvents[0].timestamp  # byte-stable
    assert second.pastEvents[2].eventId == 1 and second.pastEvents[3].eventId == 2
    assert second.pastEvents[3].timerCreated.fireAt == SENTINEL  # to the nanosecond
    assert second.pastEvents[3].timerCreated.externalEvent.name == "go"
    assert kinds(second.newEvents) == ["workflowStarted", "taskCompleted"]
    completed = second.newEvents[1].taskCompleted
    assert (completed.taskScheduledId, completed.result.value) == (1, '"X"')
    assert completed.taskExecutionId == "te-1"
    hub.complete_turn(pb.WorkItem(workflowRequest=second))  # no token: correlated by id

    hub.raise_event("p1", "go", '"now"')
    third = worker.next()
    assert kinds(third.workflowRequest.newEvents) == ["workflowStarted", "eventRaised"]
    hub.complete_turn(third, done(3, '"done"'))

    final = hub.wait_done("p1").workflowState
    assert final.workflowStatus == opb.ORCHESTRATION_STATUS_COMPLETED
    assert final.output.value == '"done"'
    assert final.customStatus.value == "step-1"
    # Nothing was sent for the sentinel timer, and the finished instance gets no turns.
    assert worker.nothing_for(0.5)


def test_work_waits_for_a_worker_and_moves_on_after_a_disconnect(
    hub: Hub, channel: grpc.Channel
) -> None:
    hub.start("raw_flow", "p2", '"y"')
    time.sleep(0.5)  # no worker yet: the start is queued, not lost
    assert hub.get("p2").workflowState.workflowStatus == opb.ORCHESTRATION_STATUS_PENDING

    gone = RawWorker(channel)
    first = gone.next()
    assert first.workflowRequest.instanceId == "p2"
    gone.close()  # disconnects without answering

    worker = RawWorker(channel)
    try:
        again = worker.next()
        assert again.workflowRequest.instanceId == "p2"
        assert kinds(again.workflowRequest.newEvents) == ["workflowStarted", "executionStarted"]
        assert again.completionToken != first.completionToken
        # The old worker's late answer carries the old token: dropped.
        hub.complete_turn(first, done(1, '"stale"'))
        assert hub.get("p2").workflowState.workflowStatus == opb.ORCHESTRATION_STATUS_PENDING
        hub.complete_turn(again, done(1, '"fresh"'))
        final = hub.wait_done("p2").workflowState
        assert final.workflowStatus == opb.ORCHESTRATION_STATUS_COMPLETED
        assert final.output.value == '"fresh"'
    finally:
        worker.close()


def test_activity_is_dispatched_again_after_a_disconnect(hub: Hub, channel: grpc.Channel) -> None:
    worker = RawWorker(channel)
    hub.start("raw_flow", "p3")
    schedule = apb.WorkflowAction(id=1)
    schedule.scheduleTask.name = "raw_act"
    hub.complete_turn(worker.next(), schedule)
    lost = worker.next()
    assert lost.activityRequest.taskId == 1
    worker.close()

    worker = RawWorker(channel)
    try:
        again = worker.next()
        assert again.activityRequest.taskId == 1 and again.activityRequest.name == "raw_act"
        assert again.completionToken != lost.completionToken
        hub.complete_activity(again, '"ok"')
        turn = worker.next()
        assert kinds(turn.workflowRequest.newEvents) == ["workflowStarted", "taskCompleted"]
        hub.complete_turn(turn, done(2, '"ok"'))
        assert hub.wait_done("p3").workflowState.output.value == '"ok"'
    finally:
        worker.close()


def test_one_turn_per_instance_in_flight(hub: Hub, worker: RawWorker) -> None:
    hub.start("raw_flow", "p4")
    first = worker.next()
    for n in range(3):
        hub.raise_event("p4", "tick", str(n))
    assert worker.nothing_for(1.0)  # the events wait for the turn in flight
    hub.complete_turn(first)
    second = worker.next().workflowRequest
    assert kinds(second.newEvents) == ["workflowStarted", *["eventRaised"] * 3]
    assert [e.eventRaised.input.value for e in second.newEvents[1:]] == ["0", "1", "2"]
    hub.complete_turn(pb.WorkItem(workflowRequest=second), done(1, "null"))
    assert hub.wait_done("p4").workflowState.workflowStatus == (opb.ORCHESTRATION_STATUS_COMPLETED)


def test_suspend_and_resume_reach_the_worker_in_order(hub: Hub, worker: RawWorker) -> None:
    hub.start("raw_flow", "p5")
    hub.complete_turn(worker.next())
    hub.call("SuspendInstance", pb.SuspendRequest(instanceId="p5"), pb.SuspendResponse)
    suspended = worker.next()
    assert kinds(suspended.workflowRequest.newEvents) == ["workflowStarted", "executionSuspended"]
    hub.complete_turn(suspended)
    hub.raise_event("p5", "go", '"held"')
    assert worker.nothing_for(0.7)  # held while suspended
    hub.call("ResumeInstance", pb.ResumeRequest(instanceId="p5"), pb.ResumeResponse)
    resumed = worker.next().workflowRequest
    assert kinds(resumed.newEvents) == ["workflowStarted", "executionResumed", "eventRaised"]
    hub.complete_turn(pb.WorkItem(workflowRequest=resumed), done(1, '"held"'))
    assert hub.wait_done("p5").workflowState.output.value == '"held"'


def test_a_failed_workflow_keeps_the_workers_failure_details(hub: Hub, worker: RawWorker) -> None:
    hub.start("raw_flow", "p6")
    item = worker.next()
    fail = apb.WorkflowAction(id=1)
    fail.completeWorkflow.workflowStatus = opb.ORCHESTRATION_STATUS_FAILED
    fail.completeWorkflow.failureDetails.errorType = "ValueError"
    fail.completeWorkflow.failureDetails.errorMessage = "bad order"
    hub.complete_turn(item, fail)
    state = hub.wait_done("p6").workflowState
    assert state.workflowStatus == opb.ORCHESTRATION_STATUS_FAILED
    assert (state.failureDetails.errorType, state.failureDetails.errorMessage) == (
        "ValueError",
        "bad order",
    )


def test_app_workflows_run_locally_beside_a_remote_worker(hub: Hub, worker: RawWorker) -> None:
    # Registered by the server's --app: one completes at once, one fails in its
    # (local) activity.
    hub.start("echo_wf", "local-1", '"ada"')
    hub.start("fail_wf", "local-2", '"boom"')
    assert hub.wait_done("local-1").workflowState.output.value == '"ada"'
    failed = hub.wait_done("local-2").workflowState
    assert failed.workflowStatus == opb.ORCHESTRATION_STATUS_FAILED
    assert worker.nothing_for(0.5)  # neither their turns nor the activity came here


def _wait_status(hub: Hub, instance_id: str, status: int) -> Any:
    return wait_until(
        lambda: (state := hub.get(instance_id).workflowState).workflowStatus == status and state,
        WAIT,
        f"{instance_id} to reach status {status}",
    )


def _stalled_events(hub: Hub, instance_id: str) -> list[Any]:
    request = pb.GetInstanceHistoryRequest(instanceId=instance_id)
    history = hub.call("GetInstanceHistory", request, pb.GetInstanceHistoryResponse)
    return [e.executionStalled for e in history.events if e.HasField("executionStalled")]


def test_a_turn_too_big_for_a_worker_stalls_the_instance(hub: Hub, worker: RawWorker) -> None:
    big = '"' + "x" * (3 * 1024 * 1024) + '"'  # each payload is allowed; together too big
    hub.start("raw_flow", "p7", big)
    hub.complete_turn(worker.next())
    hub.raise_event("p7", "go", big)
    state = _wait_status(hub, "p7", opb.ORCHESTRATION_STATUS_STALLED)
    assert state.failureDetails.errorType == "PAYLOAD_SIZE_EXCEEDED"
    assert "continue as new" in state.failureDetails.errorMessage
    [stalled] = _stalled_events(hub, "p7")
    assert stalled.reason == opb.PAYLOAD_SIZE_EXCEEDED
    assert worker.nothing_for(0.5)  # never sent, never re-sent
    # terminate needs no worker turn
    hub.call("TerminateInstance", pb.TerminateRequest(instanceId="p7"), pb.TerminateResponse)
    assert hub.wait_done("p7").workflowState.workflowStatus == opb.ORCHESTRATION_STATUS_TERMINATED


def test_a_worker_without_the_instances_version_stalls_it_until_one_with_it_connects(
    hub: Hub, worker: RawWorker, channel: grpc.Channel
) -> None:
    hub.start("raw_flow", "p9")
    first = worker.next()
    hub.complete_turn(first, version=opb.WorkflowVersion(name="v1"))
    hub.raise_event("p9", "go", "1")
    second = worker.next().workflowRequest
    assert second.pastEvents[0].workflowStarted.version.name == "v1"
    missing = apb.WorkflowAction(id=1)
    missing.workflowVersionNotAvailable.SetInParent()
    hub.complete_turn(pb.WorkItem(workflowRequest=second), missing)
    state = _wait_status(hub, "p9", opb.ORCHESTRATION_STATUS_STALLED)
    assert state.failureDetails.errorType == "VERSION_NOT_AVAILABLE"
    [stalled] = _stalled_events(hub, "p9")
    assert stalled.reason == opb.VERSION_NOT_AVAILABLE
    assert worker.nothing_for(0.3)
    # a worker that connects may have the version: the instance is dispatched again
    worker.close()
    other = RawWorker(channel)
    try:
        again = other.next().workflowRequest
        assert kinds(again.newEvents) == ["workflowStarted", "eventRaised"]  # nothing lost
        hub.complete_turn(pb.WorkItem(workflowRequest=again), done(1, "1"))
        assert hub.wait_done("p9").workflowState.output.value == "1"
    finally:
        other.close()


def test_a_worker_that_dropped_a_recorded_patch_stalls_the_instance(
    hub: Hub, worker: RawWorker
) -> None:
    hub.start("raw_flow", "p10")
    hub.complete_turn(worker.next(), version=opb.WorkflowVersion(patches=["p1", "p2"]))
    hub.raise_event("p10", "go", "1")
    second = worker.next()
    # the code no longer calls is_patched("p1"): its actions are discarded
    hub.complete_turn(second, done(1, "1"), version=opb.WorkflowVersion(patches=["p2"]))
    state = _wait_status(hub, "p10", opb.ORCHESTRATION_STATUS_STALLED)
    assert state.failureDetails.errorMessage == (
        "Patch mismatch. History patches: [p1, p2], current patches: [p2]"
    )
    [stalled] = _stalled_events(hub, "p10")
    assert stalled.reason == opb.PATCH_MISMATCH
    # resume: run it again; code that has the patches (and a new one) goes on
    hub.call("ResumeInstance", pb.ResumeRequest(instanceId="p10"), pb.ResumeResponse)
    third = worker.next()
    assert kinds(third.workflowRequest.newEvents) == ["workflowStarted", "eventRaised"]
    hub.complete_turn(third, done(1, "ok"), version=opb.WorkflowVersion(patches=["p1", "p2", "p3"]))
    assert hub.wait_done("p10").workflowState.output.value == "ok"


def test_the_workers_version_and_patches_are_replayed_to_it(hub: Hub, worker: RawWorker) -> None:
    hub.start("raw_flow", "p8")
    first = worker.next()
    version = opb.WorkflowVersion(name="v2", patches=["fix-1"])
    hub.complete_turn(first, version=version)  # is_patched("fix-1") was True
    hub.raise_event("p8", "go", "1")
    second = worker.next().workflowRequest
    replayed = second.pastEvents[0].workflowStarted
    assert replayed.HasField("version")
    assert (replayed.version.name, list(replayed.version.patches)) == ("v2", ["fix-1"])
    assert not second.newEvents[0].workflowStarted.HasField("version")  # a new turn
    # replaying, the code sees the same patch again (dropping it would stall the instance)
    hub.complete_turn(pb.WorkItem(workflowRequest=second), done(1, "1"), version=version)
    assert hub.wait_done("p8").workflowState.output.value == "1"


def test_purge_with_force_deletes_a_running_instance(hub: Hub, worker: RawWorker) -> None:
    hub.start("raw_flow", "p11")
    hub.complete_turn(worker.next())  # running, waiting for an event
    with pytest.raises(grpc.RpcError):
        hub.call(
            "PurgeInstances", pb.PurgeInstancesRequest(instanceId="p11"), pb.PurgeInstancesResponse
        )
    assert hub.get("p11").exists
    forced = pb.PurgeInstancesRequest(instanceId="p11", force=True)
    assert hub.call("PurgeInstances", forced, pb.PurgeInstancesResponse).deletedInstanceCount == 1
    assert not hub.get("p11").exists
