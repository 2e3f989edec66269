"""Protobuf <-> Wayline conversions for the durabletask protocol (no I/O, no state).

Field numbers and meanings: ``shared/spec/durabletask-protocol.md`` §3 (management
messages) and §5 (history events).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2, wrappers_pb2
from google.protobuf.message import Message

from wayline._proto.dt import history_events_pb2 as hpb
from wayline._proto.dt import orchestration_pb2 as opb
from wayline._proto.dt import orchestrator_actions_pb2 as apb
from wayline._proto.dt import orchestrator_service_pb2 as opb_service
from wayline.client import WorkflowState
from wayline.core import events as ev
from wayline.core import serde
from wayline.core.actions import (
    Action,
    CompleteWorkflow,
    CreateChildWorkflow,
    CreateTimer,
    ScheduleTask,
    SendEvent,
)
from wayline.core.executor import TurnResult, failure_from_exception
from wayline.core.propagation import Propagated, PropagationScope
from wayline.core.versioning import Stall, StallReason
from wayline.engine.remote import TurnWork, WorkItem
from wayline.errors import SerializationError

STATUS_TO_PROTO: dict[ev.WorkflowStatus, opb.OrchestrationStatus] = {
    ev.WorkflowStatus.RUNNING: opb.ORCHESTRATION_STATUS_RUNNING,
    ev.WorkflowStatus.COMPLETED: opb.ORCHESTRATION_STATUS_COMPLETED,
    ev.WorkflowStatus.CONTINUED_AS_NEW: opb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
    ev.WorkflowStatus.FAILED: opb.ORCHESTRATION_STATUS_FAILED,
    ev.WorkflowStatus.CANCELED: opb.ORCHESTRATION_STATUS_CANCELED,
    ev.WorkflowStatus.TERMINATED: opb.ORCHESTRATION_STATUS_TERMINATED,
    ev.WorkflowStatus.PENDING: opb.ORCHESTRATION_STATUS_PENDING,
    ev.WorkflowStatus.SUSPENDED: opb.ORCHESTRATION_STATUS_SUSPENDED,
    ev.WorkflowStatus.STALLED: opb.ORCHESTRATION_STATUS_STALLED,
}
STATUS_FROM_PROTO: dict[int, ev.WorkflowStatus] = {int(v): k for k, v in STATUS_TO_PROTO.items()}

STALLED_REASONS = {
    "PATCH_MISMATCH": opb.PATCH_MISMATCH,
    "VERSION_NOT_AVAILABLE": opb.VERSION_NOT_AVAILABLE,
    "PAYLOAD_SIZE_EXCEEDED": opb.PAYLOAD_SIZE_EXCEEDED,
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: durabletask's "never fires" timer of an indefinite wait_for_external_event.
SENTINEL_FIRE_AT = timestamp_pb2.Timestamp(seconds=253402300799, nanos=999999999)
# That sentinel as stored (to the microsecond): durabletask's "optional" timer of an
# indefinite wait. The engine queues it like any timer; its time never comes.
NEVER = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


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


def payload_text(holder: Message, field: str) -> str | None:
    """A ``StringValue`` field's text, or None when unset (not the same as "")."""
    return getattr(holder, field).value if holder.HasField(field) else None


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


def trace_context(target: opb.TraceContext, context: ev.TraceContext) -> None:
    """Fill a protocol ``TraceContext`` (the 4-part W3C form; no legacy ``spanID``)."""
    target.traceParent = context.trace_parent
    _set(target.traceState, context.trace_state)


def trace_context_from(message: Message, field: str) -> ev.TraceContext | None:
    """A ``TraceContext`` field as sent, or None when unset or empty.

    The legacy 2-field form (``traceParent`` a bare trace id, ``spanID`` the span id,
    as the Go SDK's client sends it) becomes the 4-part form, sampled as durabletask
    reads it."""
    if not message.HasField(field):
        return None
    given: opb.TraceContext = getattr(message, field)
    parent = given.traceParent.strip()
    if not parent:
        return None
    if given.spanID and "-" not in parent:
        parent = f"00-{parent}-{given.spanID.strip()}-01"
    state = given.traceState.value if given.HasField("traceState") else None
    return ev.TraceContext(parent, state or None)


def incoming_trace(request: Message | None, context: Any) -> dict[str, str | None]:
    """The ``trace_parent``/``trace_state`` arguments of a start RPC's
    ``start_workflow``: the request's ``parentTraceContext``, else the call's
    ``traceparent`` metadata (what an instrumented gRPC client sends); none: {}."""
    found = trace_context_from(request, "parentTraceContext") if request is not None else None
    if found is None:
        metadata = {key: value for key, value in context.invocation_metadata() or ()}
        parent = metadata.get("traceparent")
        if isinstance(parent, str) and parent:
            state = metadata.get("tracestate")
            found = ev.TraceContext(parent, state if isinstance(state, str) and state else None)
    if found is None:
        return {}
    return {"trace_parent": found.trace_parent, "trace_state": found.trace_state}


def history_event(event: ev.HistoryEvent) -> hpb.HistoryEvent:
    """One stored event as durabletask's ``HistoryEvent`` (same kinds, same payloads)."""
    msg = hpb.HistoryEvent(eventId=event.event_id, timestamp=timestamp(event.timestamp))
    if event.router is not None:
        msg.router.sourceAppID = event.router.source_app_id
        if event.router.target_app_id is not None:
            msg.router.targetAppID = event.router.target_app_id
    match event:
        case ev.WorkflowStarted():
            msg.workflowStarted.SetInParent()
            if event.version_name or event.patches:
                version = msg.workflowStarted.version
                version.SetInParent()
                if event.version_name:
                    version.name = event.version_name
                version.patches.extend(event.patches)
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
                if event.parent.app_id:
                    parent.appID = event.parent.app_id
            if event.scheduled_start is not None:
                started.scheduledStartTimestamp.CopyFrom(timestamp(event.scheduled_start))
            if event.parent_trace_context is not None:
                trace_context(started.parentTraceContext, event.parent_trace_context)
            _set(started.workflowSpanID, event.workflow_span_id)
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
            if event.rerun_parent_instance_id:
                info = msg.taskScheduled.rerunParentInstanceInfo
                info.instanceID = event.rerun_parent_instance_id
            if event.propagation:
                msg.taskScheduled.historyPropagationScope = _SCOPES[event.propagation]
            if event.parent_trace_context is not None:
                trace_context(msg.taskScheduled.parentTraceContext, event.parent_trace_context)
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
            if event.rerun_parent_instance_id:
                created.rerunParentInstanceInfo.instanceID = event.rerun_parent_instance_id
            if event.propagation:
                created.historyPropagationScope = _SCOPES[event.propagation]
            if event.parent_trace_context is not None:
                trace_context(created.parentTraceContext, event.parent_trace_context)
        case ev.ChildWorkflowCompleted():
            msg.childWorkflowInstanceCompleted.taskScheduledId = event.task_scheduled_id
            _set(msg.childWorkflowInstanceCompleted.result, event.result)
        case ev.ChildWorkflowFailed():
            child_failed = msg.childWorkflowInstanceFailed
            child_failed.taskScheduledId = event.task_scheduled_id
            child_failed.failureDetails.CopyFrom(failure_details(event.failure))
        case ev.TimerCreated():
            _timer_created(msg.timerCreated, event)
            if event.rerun_parent_instance_id:
                info = msg.timerCreated.rerunParentInstanceInfo
                info.instanceID = event.rerun_parent_instance_id
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
            stalled.reason = STALLED_REASONS.get(event.reason, opb.PATCH_MISMATCH)
            if event.description:
                stalled.description = event.description
        case _:
            raise TypeError(f"no HistoryEvent kind for {type(event).__name__}")
    return msg


def _timer_created(msg: hpb.TimerCreatedEvent, event: ev.TimerCreated) -> None:
    if event.fire_at >= NEVER:
        # The sentinel of an indefinite wait, to the nanosecond (stored to the
        # microsecond): the worker recognises it only by this exact value.
        msg.fireAt.CopyFrom(SENTINEL_FIRE_AT)
    else:
        msg.fireAt.CopyFrom(timestamp(event.fire_at))
    if event.origin == ev.TimerOrigin.CREATE_TIMER:
        msg.createTimer.SetInParent()
    elif event.origin == ev.TimerOrigin.EXTERNAL_EVENT:
        msg.externalEvent.name = event.origin_name or ""
    elif event.origin == ev.TimerOrigin.ACTIVITY_RETRY:
        msg.activityRetry.taskExecutionId = event.origin_name or ""
    else:
        msg.childWorkflowRetry.instanceId = event.origin_name or ""


# ----- remote workers (durabletask-protocol.md §4-§6) ----------------------------------------

# Kinds the Python worker fails the workflow on ("Don't know how to handle event"):
# never sent to a worker, though kept in the stored history.
_NEVER_SENT_TO_WORKERS = (ev.ExecutionCompleted, ev.EventSent, ev.ExecutionStalled)


def worker_events(events: Sequence[ev.HistoryEvent]) -> list[hpb.HistoryEvent]:
    """Events as a worker receives them (without the kinds it rejects)."""
    return [history_event(e) for e in events if not isinstance(e, _NEVER_SENT_TO_WORKERS)]


def encoded_past_events(events: Sequence[ev.HistoryEvent]) -> list[bytes]:
    """Events as encoded ``pastEvents`` entries of a ``WorkflowRequest``, one each.

    Protobuf's wire format concatenates: a repeated field's entries may be encoded
    separately and joined, and a message's fields may come in any order, so a
    work item can be assembled from an instance's already encoded past events.
    """
    return [
        _length_delimited(_PAST_EVENTS_FIELD, event.SerializeToString())
        for event in worker_events(events)
    ]


def work_item(item: WorkItem, encoded_past: bytes | None = None, held: int = 0) -> bytes:
    """A turn or an activity as the serialized ``WorkItem`` a worker's stream receives.

    ``encoded_past``: a turn's past events already encoded (``encoded_past_events``);
    with ``held``, only those after the first ``held``, which the worker keeps from
    earlier turns (a stateful-history worker, ``cachedHistory``).
    """
    if isinstance(item, TurnWork):
        request = opb_service.WorkflowRequest(
            instanceId=item.instance_id, newEvents=worker_events(item.new_events)
        )
        request.executionId.value = item.execution_id
        if held:
            request.cachedHistory.eventCount = held
        if item.propagated is not None:
            request.propagatedHistory.CopyFrom(propagated_history(item.propagated))
        past = (
            b"".join(encoded_past_events(item.past_events))
            if encoded_past is None
            else encoded_past
        )
        envelope = opb_service.WorkItem(completionToken=item.completion_token)
        return envelope.SerializeToString() + _length_delimited(
            _WORKFLOW_REQUEST_FIELD, past + request.SerializeToString()
        )
    activity = opb_service.ActivityRequest(
        name=item.name,
        taskId=item.task_id,
        taskExecutionId=item.task_execution_id,
    )
    _set(activity.input, item.input)
    activity.workflowInstance.instanceId = item.instance_id
    activity.workflowInstance.executionId.value = item.execution_id
    if item.propagated is not None:
        activity.propagatedHistory.CopyFrom(propagated_history(item.propagated))
    if item.trace_context is not None:
        trace_context(activity.parentTraceContext, item.trace_context)
    message = opb_service.WorkItem(activityRequest=activity, completionToken=item.completion_token)
    return message.SerializeToString()


_SCOPES = {
    PropagationScope.OWN_HISTORY.value: opb.HISTORY_PROPAGATION_SCOPE_OWN_HISTORY,
    PropagationScope.LINEAGE.value: opb.HISTORY_PROPAGATION_SCOPE_LINEAGE,
}
SCOPE_NAMES = {int(number): name for name, number in _SCOPES.items()}


def _scope(action: apb.ScheduleTaskAction | apb.CreateChildWorkflowAction) -> str | None:
    """A worker's ``historyPropagationScope`` (unset or NONE: None)."""
    if not action.HasField("historyPropagationScope"):
        return None
    return SCOPE_NAMES.get(int(action.historyPropagationScope))


def propagated_history(propagated: Propagated) -> hpb.PropagatedHistory:
    """What a step receives of its callers' histories, as a work item carries it."""
    message = hpb.PropagatedHistory(scope=_SCOPES[propagated.scope.value])
    for chunk in propagated.chunks:
        message.chunks.append(
            hpb.PropagatedHistoryChunk(
                rawEvents=[history_event(e).SerializeToString() for e in chunk.events],
                appId=chunk.app_id,
                instanceId=chunk.instance_id,
                workflowName=chunk.workflow_name,
            )
        )
    return message


_PAST_EVENTS_FIELD = opb_service.WorkflowRequest.DESCRIPTOR.fields_by_name["pastEvents"].number
_WORKFLOW_REQUEST_FIELD = opb_service.WorkItem.DESCRIPTOR.fields_by_name["workflowRequest"].number


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    """One length-delimited field (wire type 2) in protobuf's wire format."""
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _failure(details: opb.TaskFailureDetails, fallback: str) -> ev.FailureDetails:
    return ev.FailureDetails(
        message=details.errorMessage or fallback,
        error_type=details.errorType or "Error",
        stack_trace=payload_text(details, "stackTrace"),
        non_retriable=details.isNonRetriable,
    )


def activity_result(
    response: opb_service.ActivityResponse, now: datetime
) -> ev.TaskCompleted | ev.TaskFailed:
    """A worker's ``ActivityResponse`` as the result event for the workflow's inbox.

    A result that is JSON but would not survive a round trip (an SDK writes ``NaN``
    for ``float("nan")``) fails the task, as a local activity's does.
    """
    if response.HasField("failureDetails"):
        return ev.TaskFailed(
            timestamp=now,
            task_scheduled_id=response.taskId,
            failure=_failure(response.failureDetails, "the activity failed"),
        )
    result = payload_text(response, "result")
    try:
        _check(result)
    except SerializationError as exc:
        return ev.TaskFailed(
            timestamp=now, task_scheduled_id=response.taskId, failure=failure_from_exception(exc)
        )
    return ev.TaskCompleted(timestamp=now, task_scheduled_id=response.taskId, result=result)


def _check(text: str | None) -> None:
    if text is not None:
        serde.check_text(text)


def _checked(actions: list[Action]) -> CompleteWorkflow | None:
    """A failure of the workflow if one of its actions carries a payload that would not
    survive a round trip (``NaN``, ``1e999``), as local workflow code fails on one."""
    for action in actions:
        texts: tuple[str | None, ...] = ()
        if isinstance(action, ScheduleTask | CreateChildWorkflow | SendEvent):
            texts = (action.input,)
        elif isinstance(action, CompleteWorkflow):
            texts = (action.result, *(e.input for e in action.carryover_events))
        try:
            for text in texts:
                _check(text)
        except SerializationError as exc:
            return CompleteWorkflow(
                id=action.id, status=ev.WorkflowStatus.FAILED, failure=failure_from_exception(exc)
            )
    return None


def turn_result(response: opb_service.WorkflowResponse) -> TurnResult:
    """A worker's ``WorkflowResponse`` as a ``TurnResult`` (actions after a completion
    are ignored, as durabletask-go does)."""
    version = response.version if response.HasField("version") else None
    version_name = (version.name or None) if version is not None else None
    patches = tuple(version.patches) if version is not None else ()
    if any(a.WhichOneof("workflowActionType") == _NO_VERSION for a in response.actions):
        return TurnResult(
            actions=(),
            custom_status=payload_text(response, "customStatus"),
            version_name=version_name,
            patches=patches,
            stall=Stall(
                StallReason.VERSION_NOT_AVAILABLE,
                "Version not available. The worker does not register the version this "
                f"instance started with{f' ({version_name!r})' if version_name else ''}; it "
                "continues once a worker with that version connects",
            ),
        )
    actions: list[Action] = []
    for action in response.actions:
        converted = _action(action)
        actions.append(converted)
        if isinstance(converted, CompleteWorkflow):
            break
    failed = _checked(actions)
    return TurnResult(
        actions=tuple(actions) if failed is None else (failed,),
        custom_status=payload_text(response, "customStatus"),
        version_name=version_name,
        patches=patches,
    )


_NO_VERSION = "workflowVersionNotAvailable"


_TIMER_ORIGINS = {
    "createTimer": ev.TimerOrigin.CREATE_TIMER,
    "externalEvent": ev.TimerOrigin.EXTERNAL_EVENT,
    "activityRetry": ev.TimerOrigin.ACTIVITY_RETRY,
    "childWorkflowRetry": ev.TimerOrigin.CHILD_WORKFLOW_RETRY,
}


def _target_app(
    call: apb.ScheduleTaskAction | apb.CreateChildWorkflowAction, action: apb.WorkflowAction
) -> str | None:
    """The app a call names (its own router, or its action's), None for its own app."""
    for holder in (call, action):
        if holder.HasField("router") and holder.router.targetAppID:
            return str(holder.router.targetAppID)
    return None


def _action(action: apb.WorkflowAction) -> Action:
    kind = action.WhichOneof("workflowActionType")
    if kind == "scheduleTask":
        task = action.scheduleTask
        return ScheduleTask(
            id=action.id,
            name=task.name,
            input=payload_text(task, "input"),
            task_execution_id=task.taskExecutionId,
            propagation=_scope(task),
            app_id=_target_app(task, action),
        )
    if kind == "createTimer":
        timer = action.createTimer
        origin_kind = timer.WhichOneof("origin")
        origin = _TIMER_ORIGINS.get(origin_kind or "", ev.TimerOrigin.CREATE_TIMER)
        origin_name = {
            "externalEvent": timer.externalEvent.name,
            "activityRetry": timer.activityRetry.taskExecutionId,
            "childWorkflowRetry": timer.childWorkflowRetry.instanceId,
        }.get(origin_kind or "")
        return CreateTimer(
            id=action.id,
            fire_at=from_timestamp(timer.fireAt),
            origin=origin,
            origin_name=origin_name,
        )
    if kind == "createChildWorkflow":
        child = action.createChildWorkflow
        return CreateChildWorkflow(
            id=action.id,
            instance_id=child.instanceId,
            name=child.name,
            input=payload_text(child, "input"),
            propagation=_scope(child),
            app_id=_target_app(child, action),
        )
    if kind == "sendEvent":
        send = action.sendEvent
        return SendEvent(
            id=action.id,
            instance_id=send.instance.instanceId,
            name=send.name,
            input=payload_text(send, "data"),
        )
    if kind == "completeWorkflow":
        return _completion(action.id, action.completeWorkflow)
    # terminateWorkflow, createDetachedWorkflow: not emitted by the Python SDK; fail
    # the workflow with a reason rather than guess.
    return CompleteWorkflow(
        id=action.id,
        status=ev.WorkflowStatus.FAILED,
        failure=ev.FailureDetails(
            message=f"the worker sent a {kind or 'empty'} action, which Wayline does not support",
            error_type="UnsupportedActionError",
            non_retriable=True,
        ),
    )


def _completion(action_id: int, done: apb.CompleteWorkflowAction) -> CompleteWorkflow:
    status = STATUS_FROM_PROTO.get(int(done.workflowStatus), ev.WorkflowStatus.FAILED)
    failure = None
    if done.HasField("failureDetails"):
        failure = _failure(done.failureDetails, "the workflow failed")
    elif status == ev.WorkflowStatus.FAILED:
        failure = ev.FailureDetails(
            message=payload_text(done, "details") or "the workflow failed", error_type="Error"
        )
    carryover = tuple(
        ev.EventRaised(
            timestamp=from_timestamp(e.timestamp),
            name=e.eventRaised.name,
            input=payload_text(e.eventRaised, "input"),
        )
        for e in done.carryoverEvents
        if e.WhichOneof("eventType") == "eventRaised"
    )
    return CompleteWorkflow(
        id=action_id,
        status=status,
        result=payload_text(done, "result"),
        failure=failure,
        carryover_events=carryover,
    )
