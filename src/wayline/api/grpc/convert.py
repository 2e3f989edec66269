"""Protobuf <-> Wayline conversions for the durabletask protocol (no I/O, no state).

Field numbers and meanings: ``shared/spec/durabletask-protocol.md`` §3 (management
messages) and §5 (history events).
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2, wrappers_pb2

from wayline._proto.dt import history_events_pb2 as hpb
from wayline._proto.dt import orchestration_pb2 as opb
from wayline.client import WorkflowState
from wayline.core import events as ev

STATUS_TO_PROTO: dict[ev.WorkflowStatus, opb.OrchestrationStatus] = {
    ev.WorkflowStatus.RUNNING: opb.ORCHESTRATION_STATUS_RUNNING,
    ev.WorkflowStatus.COMPLETED: opb.ORCHESTRATION_STATUS_COMPLETED,
    ev.WorkflowStatus.CONTINUED_AS_NEW: opb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
    ev.WorkflowStatus.FAILED: opb.ORCHESTRATION_STATUS_FAILED,
    ev.WorkflowStatus.CANCELED: opb.ORCHESTRATION_STATUS_CANCELED,
    ev.WorkflowStatus.TERMINATED: opb.ORCHESTRATION_STATUS_TERMINATED,
    ev.WorkflowStatus.PENDING: opb.ORCHESTRATION_STATUS_PENDING,
    ev.WorkflowStatus.SUSPENDED: opb.ORCHESTRATION_STATUS_SUSPENDED,
}
STATUS_FROM_PROTO: dict[int, ev.WorkflowStatus] = {int(v): k for k, v in STATUS_TO_PROTO.items()}

_STALLED_REASONS = {
    "PATCH_MISMATCH": opb.PATCH_MISMATCH,
    "VERSION_NOT_AVAILABLE": opb.VERSION_NOT_AVAILABLE,
    "PAYLOAD_SIZE_EXCEEDED": opb.PAYLOAD_SIZE_EXCEEDED,
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC))
    return ts


def from_timestamp(ts: timestamp_pb2.Timestamp) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def scheduled_start(ts: timestamp_pb2.Timestamp | None, now: datetime) -> datetime | None:
    """A start time, or None for "now": unset, epoch 0 (JS always sends it) or not in the future."""
    if ts is None:
        return None
    moment = from_timestamp(ts)
    if moment <= _EPOCH or moment <= now:
        return None
    return moment


def string_value(text: str | None) -> wrappers_pb2.StringValue | None:
    return None if text is None else wrappers_pb2.StringValue(value=text)


def failure_details(failure: ev.FailureDetails) -> opb.TaskFailureDetails:
    return opb.TaskFailureDetails(
        errorType=failure.error_type,
        errorMessage=failure.message,
        stackTrace=string_value(failure.stack_trace),
        isNonRetriable=failure.non_retriable,
    )


def workflow_state(state: WorkflowState, *, with_payloads: bool) -> opb.WorkflowState:
    """``WorkflowState`` of a ``GetInstanceResponse``; payloads only when asked for."""
    msg = opb.WorkflowState(
        instanceId=state.instance_id,
        name=state.name,
        workflowStatus=STATUS_TO_PROTO[state.runtime_status],
        createdTimestamp=timestamp(state.created_at),
        lastUpdatedTimestamp=timestamp(state.last_updated_at),
    )
    if state.scheduled_start_at is not None:
        msg.scheduledStartTimestamp.CopyFrom(timestamp(state.scheduled_start_at))
    if state.completed_at is not None:
        msg.completedTimestamp.CopyFrom(timestamp(state.completed_at))
    if state.parent_instance_id:
        msg.parentInstanceId.value = state.parent_instance_id
    failure = state.failure_details
    if failure is not None and (failure.error_type or failure.message):
        msg.failureDetails.CopyFrom(failure_details(failure))
    if with_payloads:
        for field, text in (
            ("input", state.serialized_input),
            ("output", state.serialized_output),
            ("customStatus", state.serialized_custom_status),
        ):
            if text is not None:
                getattr(msg, field).value = text
    return msg


def _set(target: wrappers_pb2.StringValue, text: str | None) -> None:
    if text is not None:
        target.value = text


def history_event(event: ev.HistoryEvent) -> hpb.HistoryEvent:
    """One stored event as durabletask's ``HistoryEvent`` (same kinds, same payloads)."""
    msg = hpb.HistoryEvent(eventId=event.event_id, timestamp=timestamp(event.timestamp))
    match event:
        case ev.WorkflowStarted():
            msg.workflowStarted.SetInParent()
        case ev.ExecutionStarted():
            started = msg.executionStarted
            started.name = event.name
            _set(started.input, event.input)
            started.workflowInstance.instanceId = event.instance_id
            started.workflowInstance.executionId.value = event.execution_id
            if event.parent is not None:
                parent = started.parentInstance
                parent.taskScheduledId = event.parent.task_scheduled_id
                parent.name.value = event.parent.name
                parent.workflowInstance.instanceId = event.parent.instance_id
                if event.parent.execution_id:
                    parent.workflowInstance.executionId.value = event.parent.execution_id
            if event.scheduled_start is not None:
                started.scheduledStartTimestamp.CopyFrom(timestamp(event.scheduled_start))
        case ev.ExecutionCompleted():
            done = msg.executionCompleted
            done.workflowStatus = STATUS_TO_PROTO[event.status]
            _set(done.result, event.result)
            if event.failure is not None:
                done.failureDetails.CopyFrom(failure_details(event.failure))
        case ev.ExecutionTerminated():
            msg.executionTerminated.recurse = event.recurse
            _set(msg.executionTerminated.input, event.input)
        case ev.ExecutionSuspended():
            msg.executionSuspended.SetInParent()
            _set(msg.executionSuspended.input, event.input)
        case ev.ExecutionResumed():
            msg.executionResumed.SetInParent()
            _set(msg.executionResumed.input, event.input)
        case ev.TaskScheduled():
            msg.taskScheduled.name = event.name
            _set(msg.taskScheduled.input, event.input)
            msg.taskScheduled.taskExecutionId = event.task_execution_id
        case ev.TaskCompleted():
            msg.taskCompleted.taskScheduledId = event.task_scheduled_id
            _set(msg.taskCompleted.result, event.result)
            msg.taskCompleted.taskExecutionId = event.task_execution_id
        case ev.TaskFailed():
            msg.taskFailed.taskScheduledId = event.task_scheduled_id
            msg.taskFailed.failureDetails.CopyFrom(failure_details(event.failure))
            msg.taskFailed.taskExecutionId = event.task_execution_id
        case ev.ChildWorkflowCreated():
            created = msg.childWorkflowInstanceCreated
            created.instanceId = event.instance_id
            created.name = event.name
            _set(created.input, event.input)
        case ev.ChildWorkflowCompleted():
            msg.childWorkflowInstanceCompleted.taskScheduledId = event.task_scheduled_id
            _set(msg.childWorkflowInstanceCompleted.result, event.result)
        case ev.ChildWorkflowFailed():
            child_failed = msg.childWorkflowInstanceFailed
            child_failed.taskScheduledId = event.task_scheduled_id
            child_failed.failureDetails.CopyFrom(failure_details(event.failure))
        case ev.TimerCreated():
            _timer_created(msg.timerCreated, event)
        case ev.TimerFired():
            msg.timerFired.timerId = event.timer_id
            msg.timerFired.fireAt.CopyFrom(timestamp(event.fire_at))
        case ev.EventRaised():
            msg.eventRaised.name = event.name
            _set(msg.eventRaised.input, event.input)
        case ev.EventSent():
            msg.eventSent.instanceId = event.instance_id
            msg.eventSent.name = event.name
            _set(msg.eventSent.input, event.input)
        case ev.ExecutionStalled():
            stalled = msg.executionStalled
            stalled.reason = _STALLED_REASONS.get(event.reason, opb.PATCH_MISMATCH)
            if event.description:
                stalled.description = event.description
        case _:
            raise TypeError(f"no HistoryEvent kind for {type(event).__name__}")
    return msg


def _timer_created(msg: hpb.TimerCreatedEvent, event: ev.TimerCreated) -> None:
    msg.fireAt.CopyFrom(timestamp(event.fire_at))
    if event.origin == ev.TimerOrigin.CREATE_TIMER:
        msg.createTimer.SetInParent()
    elif event.origin == ev.TimerOrigin.EXTERNAL_EVENT:
        msg.externalEvent.name = event.origin_name or ""
    elif event.origin == ev.TimerOrigin.ACTIVITY_RETRY:
        msg.activityRetry.taskExecutionId = event.origin_name or ""
    else:
        msg.childWorkflowRetry.instanceId = event.origin_name or ""
