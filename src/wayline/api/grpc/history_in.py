"""durabletask ``HistoryEvent`` messages -> Wayline history events: the inverse of
``convert.history_event``, for histories recorded elsewhere (Dapr's
``GetInstanceHistory`` output, as JSON, checked by the replay checker).

Both generations of the protocol's names are read (``orchestratorStarted`` and
``workflowStarted``, ``subOrchestrationInstance*`` and ``childWorkflowInstance*``,
``orchestrationInstance`` and ``workflowInstance``): the wire is the same, only
the names of the JSON form differ. Kinds with no Wayline counterpart (the end of
a turn, entity events, a detached child) change nothing in a replay and are left
out.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format

from wayline._proto.dt import history_events_pb2 as hpb
from wayline._proto.dt import orchestrator_service_pb2 as opb_service
from wayline.api.grpc.convert import (
    NEVER,
    SCOPE_NAMES,
    SENTINEL_FIRE_AT,
    STALLED_REASONS,
    STATUS_FROM_PROTO,
    from_timestamp,
    payload_text,
)
from wayline.core import events as ev

# Names of the JSON form before durabletask's Orchestration -> Workflow rename.
_OLD_NAMES = {
    "orchestratorStarted": "workflowStarted",
    "orchestratorCompleted": "workflowCompleted",
    "subOrchestrationInstanceCreated": "childWorkflowInstanceCreated",
    "subOrchestrationInstanceCompleted": "childWorkflowInstanceCompleted",
    "subOrchestrationInstanceFailed": "childWorkflowInstanceFailed",
    "orchestrationInstance": "workflowInstance",
    "orchestrationStatus": "workflowStatus",
    "orchestrationSpanID": "workflowSpanID",
    "subOrchestrationRetry": "childWorkflowRetry",
}
_STALLED = {int(number): name for name, number in STALLED_REASONS.items()}


def history_from_json(text: str) -> list[ev.HistoryEvent]:
    """The events of a ``GetInstanceHistoryResponse`` in protobuf's JSON form
    (``{"events": [...]}``), or of a bare JSON list of ``HistoryEvent`` objects."""
    data = json.loads(text)
    if isinstance(data, list):
        data = {"events": data}
    message = json_format.ParseDict(
        _renamed(data), opb_service.GetInstanceHistoryResponse(), ignore_unknown_fields=True
    )
    return [e for e in map(history_event_from_proto, message.events) if e is not None]


def _renamed(value: Any) -> Any:
    if isinstance(value, dict):
        return {_OLD_NAMES.get(k, k): _renamed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return value


def _failure(details: Any) -> ev.FailureDetails:
    return ev.FailureDetails(
        message=details.errorMessage,
        error_type=details.errorType,
        stack_trace=payload_text(details, "stackTrace"),
        non_retriable=details.isNonRetriable,
    )


def history_event_from_proto(msg: hpb.HistoryEvent) -> ev.HistoryEvent | None:
    """One durabletask event as Wayline's (None for a kind a replay does not use)."""
    common: dict[str, Any] = {"event_id": msg.eventId, "timestamp": from_timestamp(msg.timestamp)}
    if msg.HasField("router"):
        common["router"] = ev.Router(
            msg.router.sourceAppID,
            msg.router.targetAppID if msg.router.HasField("targetAppID") else None,
        )
    kind = msg.WhichOneof("eventType")
    if kind == "workflowStarted":
        version = msg.workflowStarted.version
        return ev.WorkflowStarted(
            **common,
            version_name=version.name or None,
            patches=tuple(version.patches),
        )
    if kind == "executionStarted":
        started = msg.executionStarted
        parent = None
        if started.HasField("parentInstance"):
            info = started.parentInstance
            parent = ev.ParentInfo(
                instance_id=info.workflowInstance.instanceId,
                name=info.name.value,
                task_scheduled_id=info.taskScheduledId,
                execution_id=info.workflowInstance.executionId.value or None,
                app_id=info.appID or None,
            )
        return ev.ExecutionStarted(
            **common,
            name=started.name,
            instance_id=started.workflowInstance.instanceId,
            execution_id=started.workflowInstance.executionId.value,
            input=payload_text(started, "input"),
            parent=parent,
            scheduled_start=from_timestamp(started.scheduledStartTimestamp)
            if started.HasField("scheduledStartTimestamp")
            else None,
        )
    if kind == "executionCompleted":
        done = msg.executionCompleted
        return ev.ExecutionCompleted(
            **common,
            status=STATUS_FROM_PROTO[int(done.workflowStatus)],
            result=payload_text(done, "result"),
            failure=_failure(done.failureDetails) if done.HasField("failureDetails") else None,
        )
    if kind == "executionTerminated":
        terminated = msg.executionTerminated
        return ev.ExecutionTerminated(
            **common, input=payload_text(terminated, "input"), recurse=terminated.recurse
        )
    if kind == "executionSuspended":
        return ev.ExecutionSuspended(**common, input=payload_text(msg.executionSuspended, "input"))
    if kind == "executionResumed":
        return ev.ExecutionResumed(**common, input=payload_text(msg.executionResumed, "input"))
    if kind == "taskScheduled":
        scheduled = msg.taskScheduled
        return ev.TaskScheduled(
            **common,
            name=scheduled.name,
            input=payload_text(scheduled, "input"),
            task_execution_id=scheduled.taskExecutionId,
            propagation=SCOPE_NAMES.get(int(scheduled.historyPropagationScope)),
        )
    if kind == "taskCompleted":
        completed = msg.taskCompleted
        return ev.TaskCompleted(
            **common,
            task_scheduled_id=completed.taskScheduledId,
            result=payload_text(completed, "result"),
            task_execution_id=completed.taskExecutionId,
        )
    if kind == "taskFailed":
        failed = msg.taskFailed
        return ev.TaskFailed(
            **common,
            task_scheduled_id=failed.taskScheduledId,
            failure=_failure(failed.failureDetails),
            task_execution_id=failed.taskExecutionId,
        )
    if kind == "childWorkflowInstanceCreated":
        created = msg.childWorkflowInstanceCreated
        return ev.ChildWorkflowCreated(
            **common,
            instance_id=created.instanceId,
            name=created.name,
            input=payload_text(created, "input"),
            propagation=SCOPE_NAMES.get(int(created.historyPropagationScope)),
        )
    if kind == "childWorkflowInstanceCompleted":
        child = msg.childWorkflowInstanceCompleted
        return ev.ChildWorkflowCompleted(
            **common, task_scheduled_id=child.taskScheduledId, result=payload_text(child, "result")
        )
    if kind == "childWorkflowInstanceFailed":
        child_failed = msg.childWorkflowInstanceFailed
        return ev.ChildWorkflowFailed(
            **common,
            task_scheduled_id=child_failed.taskScheduledId,
            failure=_failure(child_failed.failureDetails),
        )
    if kind == "timerCreated":
        return _timer_created(msg.timerCreated, common)
    if kind == "timerFired":
        return ev.TimerFired(
            **common, timer_id=msg.timerFired.timerId, fire_at=from_timestamp(msg.timerFired.fireAt)
        )
    if kind == "eventRaised":
        return ev.EventRaised(
            **common, name=msg.eventRaised.name, input=payload_text(msg.eventRaised, "input")
        )
    if kind == "eventSent":
        sent = msg.eventSent
        return ev.EventSent(
            **common, instance_id=sent.instanceId, name=sent.name, input=payload_text(sent, "input")
        )
    if kind == "executionStalled":
        stalled = msg.executionStalled
        return ev.ExecutionStalled(
            **common,
            reason=_STALLED.get(int(stalled.reason), "PATCH_MISMATCH"),
            description=stalled.description,
        )
    return None


def _timer_created(timer: hpb.TimerCreatedEvent, common: dict[str, Any]) -> ev.TimerCreated:
    fire_at = NEVER if timer.fireAt == SENTINEL_FIRE_AT else from_timestamp(timer.fireAt)
    origin = timer.WhichOneof("origin")
    if origin == "externalEvent":
        return ev.TimerCreated(
            **common,
            fire_at=fire_at,
            origin=ev.TimerOrigin.EXTERNAL_EVENT,
            origin_name=timer.externalEvent.name,
        )
    if origin == "activityRetry":
        return ev.TimerCreated(
            **common,
            fire_at=fire_at,
            origin=ev.TimerOrigin.ACTIVITY_RETRY,
            origin_name=timer.activityRetry.taskExecutionId,
        )
    if origin == "childWorkflowRetry":
        return ev.TimerCreated(
            **common,
            fire_at=fire_at,
            origin=ev.TimerOrigin.CHILD_WORKFLOW_RETRY,
            origin_name=timer.childWorkflowRetry.instanceId,
        )
    return ev.TimerCreated(**common, fire_at=fire_at)
