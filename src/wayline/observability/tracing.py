"""OpenTelemetry traces as durabletask and Dapr emit them (the ``wayline[otel]`` extra).

:class:`Tracing` is an engine ``Observer``. It produces durabletask's spans with
their names, kinds and ``durabletask.*`` attributes:

- ``create_orchestration||NAME`` (client): a start, parented on the caller's trace
  (an HTTP ``traceparent``, a gRPC ``parentTraceContext``, else the current span);
- ``orchestration||NAME`` (server): one span per run of an instance, from its start
  to its end or continue-as-new, exported once; its id is chosen when the instance
  is created and persisted (``ExecutionStarted.workflow_span_id``), so replays,
  restarts and other nodes all end the same span;
- ``activity||NAME`` (server): each attempt of an activity; a remote worker's
  ``ActivityRequest`` carries it, so the SDK's own span joins the trace;
- ``timer`` (internal): from a durable timer's creation until its firing is processed.

The engine and the store carry what this module writes as opaque text
(``InstanceRecord.trace_context``, ``ClaimedTask.trace_context``) and the history
carries durabletask's trace fields; nothing is read or written per step for it.
An instance started without a trace context (before tracing was on, or by an
unsampled parent) gets no spans, as in Dapr.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import json
import logging
import random
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from wayline.core.events import (
    ChildWorkflowCreated,
    EventRaised,
    ExecutionResumed,
    ExecutionStalled,
    ExecutionSuspended,
    HistoryEvent,
    TaskFailed,
    TaskScheduled,
    TimerCreated,
    TimerFired,
    TraceContext,
    WorkflowStatus,
)
from wayline.engine.observer import CREATE_WORKFLOW, Observer
from wayline.store.types import (
    ClaimedTask,
    CommitOutcome,
    InstanceRecord,
    NewInstance,
    TaskResult,
    TurnCommit,
)

__all__ = ["SCOPE", "Tracing", "parse_trace_parent"]

#: The instrumentation scope of Wayline's spans.
SCOPE = "wayline"
#: How many instances, timers and running activities the observer remembers at most.
_REMEMBERED = 10_000

_TYPE = "durabletask.type"
_NAME = "durabletask.task.name"
_INSTANCE_ID = "durabletask.task.instance_id"
_TASK_ID = "durabletask.task.task_id"
_RUNTIME_STATUS = "durabletask.runtime_status"
_FIRE_AT = "durabletask.fire_at"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_W3C = TraceContextTextMapPropagator()


def _ns(moment: datetime) -> int:
    """A datetime as OpenTelemetry's nanoseconds since the epoch (exact to the µs)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


def _rfc3339(moment: datetime) -> str:
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _new_id(bits: int) -> int:
    return random.getrandbits(bits) or 1  # all-zero ids are invalid


def _traceparent(trace_id: int, span_id: int, flags: int) -> str:
    return f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"


def parse_trace_parent(trace_parent: str, trace_state: str | None = None) -> SpanContext | None:
    """A W3C ``traceparent`` (and ``tracestate``) as a remote span context, or None
    when it is not a valid one (which W3C says to ignore)."""
    carrier = {"traceparent": trace_parent}
    if trace_state:
        carrier["tracestate"] = trace_state
    found = trace.get_current_span(_W3C.extract(carrier)).get_span_context()
    return found if found.is_valid else None


def _trace_context(span: SpanContext) -> TraceContext | None:
    """A span's context as the protocol carries it; None unless sampled (durabletask's
    ``TraceContextFromSpan``: unsampled traces propagate nothing)."""
    if not span.is_valid or not span.trace_flags.sampled:
        return None
    state = span.trace_state.to_header() if span.trace_state else None
    return TraceContext(
        _traceparent(span.trace_id, span.span_id, int(span.trace_flags)), state or None
    )


@dataclasses.dataclass(frozen=True)
class _Run:
    """One traced run of an instance: its ``orchestration`` span (ids chosen at its
    start) and the span that is its parent. Kept as the instance row's opaque
    ``trace_context``."""

    trace_id: int
    parent_span_id: int
    span_id: int
    flags: int
    start: datetime
    trace_state: str | None = None

    def encode(self) -> str:
        data: dict[str, Any] = {
            "trace": f"{self.trace_id:032x}",
            "parent": f"{self.parent_span_id:016x}",
            "span": f"{self.span_id:016x}",
            "flags": self.flags,
            "start": self.start.isoformat(),
        }
        if self.trace_state:
            data["state"] = self.trace_state
        return json.dumps(data, separators=(",", ":"))

    @staticmethod
    def decode(text: str | None) -> _Run | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            return _Run(
                trace_id=int(data["trace"], 16),
                parent_span_id=int(data["parent"], 16),
                span_id=int(data["span"], 16),
                flags=int(data["flags"]),
                start=datetime.fromisoformat(data["start"]),
                trace_state=data.get("state"),
            )
        except (ValueError, KeyError, TypeError):
            return None

    def _state(self) -> TraceState | None:
        return TraceState.from_header([self.trace_state]) if self.trace_state else None

    @property
    def span_context(self) -> SpanContext:
        """The ``orchestration`` span's context, the parent of the run's other spans."""
        return SpanContext(self.trace_id, self.span_id, True, TraceFlags(self.flags), self._state())

    @property
    def parent_context(self) -> SpanContext:
        return SpanContext(
            self.trace_id, self.parent_span_id, True, TraceFlags(self.flags), self._state()
        )

    @property
    def trace_context(self) -> TraceContext:
        """The ``orchestration`` span as history events carry it (the parent of
        activities and children)."""
        return TraceContext(_traceparent(self.trace_id, self.span_id, self.flags), self.trace_state)

    @property
    def trace_id_hex(self) -> str:
        return f"{self.trace_id:032x}"


@functools.lru_cache(maxsize=4096)
def _run_of(text: str | None) -> _Run | None:
    """``_Run.decode``, once per stored text: a turn reads it when planned and again when
    committed, and an instance's text does not change while it runs (``_Run`` is frozen)."""
    return _Run.decode(text)


def _encode_task_context(context: TraceContext) -> str:
    if context.trace_state:
        return f"{context.trace_parent}\n{context.trace_state}"
    return context.trace_parent


def _decode_task_context(text: str | None) -> SpanContext | None:
    if not text:
        return None
    trace_parent, _, trace_state = text.partition("\n")
    return parse_trace_parent(trace_parent, trace_state or None)


class _PresetSpanIds(IdGenerator):
    """The SDK tracer's id generator, except for a span whose id was chosen beforehand
    (an ``orchestration`` span's persisted id): ``preset`` holds it while it starts."""

    def __init__(self, delegate: IdGenerator) -> None:
        self.delegate = delegate
        self.preset: contextvars.ContextVar[int | None] = contextvars.ContextVar(
            "wayline_preset_span_id", default=None
        )

    def generate_span_id(self) -> int:
        preset = self.preset.get()
        return self.delegate.generate_span_id() if preset is None else preset

    def generate_trace_id(self) -> int:
        return self.delegate.generate_trace_id()

    def is_trace_id_random(self) -> bool:
        return self.delegate.is_trace_id_random()


class _Bounded:
    """A map that forgets its oldest entries past ``_REMEMBERED``; hooks run on the
    engine's loop and clients' threads, and the log filter on any thread."""

    def __init__(self) -> None:
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > _REMEMBERED:
                self._items.popitem(last=False)

    def get(self, key: Any) -> Any:
        with self._lock:
            return self._items.get(key)

    def pop(self, key: Any) -> Any:
        with self._lock:
            return self._items.pop(key, None)


class Tracing(Observer):
    """Durabletask's spans for the instances an engine runs and its clients start.

    Pass it as ``WorkflowRuntime(observer=Tracing())`` (embedded) or let
    ``wayline serve`` make one from the ``OTEL_*`` variables. ``tracer_provider``:
    an OpenTelemetry SDK ``TracerProvider`` (default: the global one).
    """

    def __init__(self, tracer_provider: trace.TracerProvider | None = None) -> None:
        self._provider = tracer_provider
        self._tracer: trace.Tracer | None = None
        self._ids: _PresetSpanIds | None = None
        self._creating: contextvars.ContextVar[Span | None] = contextvars.ContextVar(
            "wayline_create_span", default=None
        )
        # Running activity attempts by task key: their span and the context token.
        self._activities = _Bounded()
        # When each timer of a traced run was created, by (run's span id, timer id).
        self._timers = _Bounded()
        # Notable events of each run (span events of its orchestration span).
        self._events = _Bounded()
        # The trace id of each traced instance (for log records), by instance id.
        self.trace_ids = _Bounded()
        self.log_filter = TraceIdFilter(self)

    # ----- spans ------------------------------------------------------------------------

    def tracer(self) -> trace.Tracer:
        """The SDK tracer spans are made with (the global provider's, if none was
        given: looked up until one is set), with its span ids presettable."""
        if self._tracer is not None:
            return self._tracer
        provider = self._provider or trace.get_tracer_provider()
        tracer = provider.get_tracer(SCOPE)
        generator = getattr(tracer, "id_generator", None)
        if not isinstance(generator, IdGenerator):
            # Not the SDK's (no provider set yet): spans are no-ops, nothing propagates.
            return tracer
        if not isinstance(generator, _PresetSpanIds):
            generator = _PresetSpanIds(generator)
            tracer.id_generator = generator  # type: ignore[attr-defined]
        self._ids = generator
        self._tracer = tracer
        return tracer

    def _span(
        self,
        name: str,
        kind: SpanKind,
        parent: SpanContext | None,
        attributes: Mapping[str, str | int],
        *,
        start: datetime | None = None,
        span_id: int | None = None,
    ) -> Span:
        tracer = self.tracer()
        context = (
            trace.set_span_in_context(NonRecordingSpan(parent)) if parent is not None else None
        )
        token = self._ids.preset.set(span_id) if self._ids is not None and span_id else None
        try:
            return tracer.start_span(
                name,
                context=context,
                kind=kind,
                attributes=dict(attributes),
                start_time=_ns(start) if start is not None else None,
            )
        finally:
            if token is not None and self._ids is not None:
                self._ids.preset.reset(token)

    # ----- the client ---------------------------------------------------------------------

    def instance_starting(
        self, new: NewInstance, *, trace_parent: TraceContext | None, now: datetime
    ) -> NewInstance:
        parent = (
            parse_trace_parent(trace_parent.trace_parent, trace_parent.trace_state)
            if trace_parent is not None
            else None
        )
        if parent is None:  # the current span's, if any (a root span otherwise)
            parent = trace.get_current_span().get_span_context()
        span = self._span(
            f"create_orchestration||{new.name}",
            SpanKind.CLIENT,
            parent if parent.is_valid else None,
            {_TYPE: "orchestration", _NAME: new.name, _INSTANCE_ID: new.instance_id},
        )
        self._creating.set(span)
        context = _trace_context(span.get_span_context())
        if context is None:
            return new
        created = span.get_span_context()
        run = _Run(
            created.trace_id,
            created.span_id,
            _new_id(64),
            int(created.trace_flags),
            now,
            context.trace_state,
        )
        self.trace_ids.remember(new.instance_id, run.trace_id_hex)
        return dataclasses.replace(
            new,
            parent_trace_context=context,
            workflow_span_id=f"{run.span_id:016x}",
            trace_context=run.encode(),
        )

    def operation(
        self, operation: str, instance_id: str | None, *, ok: bool, seconds: float
    ) -> None:
        if operation != CREATE_WORKFLOW:
            return
        span = self._creating.get()
        if span is None:
            return
        self._creating.set(None)
        if not ok:
            span.set_status(Status(StatusCode.ERROR, "the workflow could not be created"))
        span.end()

    # ----- turns ----------------------------------------------------------------------------

    def turn_planned(self, instance: InstanceRecord, commit: TurnCommit) -> TurnCommit:
        run = _run_of(instance.trace_context)
        if run is None:
            return commit
        self.trace_ids.remember(instance.instance_id, run.trace_id_hex)
        context = run.trace_context
        changes: dict[str, Any] = {}
        if any(isinstance(e, TaskScheduled | ChildWorkflowCreated) for e in commit.history):
            changes["history"] = tuple(_with_parent(e, context) for e in commit.history)
        if commit.tasks:
            text = _encode_task_context(context)
            changes["tasks"] = tuple(
                dataclasses.replace(task, trace_context=text) for task in commit.tasks
            )
        if commit.children:
            changes["children"] = tuple(
                _traced_child(child, context, run, commit.now) for child in commit.children
            )
        if commit.continue_as_new is not None:
            # A fresh root trace per generation, as Dapr 1.18.3 does (dapr/dapr#10064).
            root_trace, root_span = _new_id(128), _new_id(64)
            root = TraceContext(_traceparent(root_trace, root_span, 1))
            new_run = _Run(root_trace, root_span, _new_id(64), 1, commit.now)
            changes["continue_as_new"] = dataclasses.replace(
                commit.continue_as_new,
                parent_trace_context=root,
                workflow_span_id=f"{new_run.span_id:016x}",
                trace_context=new_run.encode(),
            )
        return dataclasses.replace(commit, **changes) if changes else commit

    def turn_committed(
        self,
        instance: InstanceRecord,
        commit: TurnCommit,
        outcome: CommitOutcome,
        *,
        seconds: float,
        commit_seconds: float,
    ) -> None:
        run = _run_of(instance.trace_context)
        if run is None:
            return
        for event in commit.history:
            if isinstance(event, TimerCreated):
                self._timers.remember((run.span_id, event.event_id), event.timestamp)
            elif isinstance(event, TimerFired):
                self._timer_span(instance, run, event, commit.now)
            else:
                self._note(run, event)
        if commit.continue_as_new is not None:
            self._end_run(instance, run, WorkflowStatus.CONTINUED_AS_NEW, commit)
        elif outcome.status.is_terminal:
            self._end_run(instance, run, outcome.status, commit)

    def _timer_span(
        self, instance: InstanceRecord, run: _Run, fired: TimerFired, now: datetime
    ) -> None:
        created = self._timers.pop((run.span_id, fired.timer_id))
        span = self._span(
            "timer",
            SpanKind.INTERNAL,
            run.span_context,
            {
                _TYPE: "timer",
                _FIRE_AT: _rfc3339(fired.fire_at),
                _TASK_ID: fired.timer_id,
                _INSTANCE_ID: instance.instance_id,
            },
            start=created or fired.fire_at,
        )
        span.end(end_time=_ns(max(now, created or now)))

    def _note(self, run: _Run, event: HistoryEvent) -> None:
        """Keep the history events durabletask shows on the orchestration span."""
        note: tuple[str, dict[str, str | int]] | None = None
        if isinstance(event, EventRaised):
            size = len(event.input.encode()) if event.input else 0
            note = ("Received external event", {"name": event.name, "size": size})
        elif isinstance(event, ExecutionSuspended):
            note = ("Execution suspended", {"reason": event.input or ""})
        elif isinstance(event, ExecutionResumed):
            note = ("Execution resumed", {"reason": event.input or ""})
        elif isinstance(event, ExecutionStalled):
            note = (
                "Execution stalled",
                {"reason": event.reason, "description": event.description},
            )
        if note is not None:
            notes = self._events.get(run.span_id) or []
            self._events.remember(run.span_id, [*notes[-99:], (*note, event.timestamp)])

    def _end_run(
        self, instance: InstanceRecord, run: _Run, status: WorkflowStatus, commit: TurnCommit
    ) -> None:
        span = self._span(
            f"orchestration||{instance.name}",
            SpanKind.SERVER,
            run.parent_context,
            {
                _TYPE: "orchestration",
                _NAME: instance.name,
                _INSTANCE_ID: instance.instance_id,
                _RUNTIME_STATUS: status.value,
            },
            start=run.start,
            span_id=run.span_id,
        )
        for name, attributes, moment in self._events.pop(run.span_id) or []:
            span.add_event(name, attributes, timestamp=_ns(moment))
        if status == WorkflowStatus.FAILED and commit.failure is not None:
            span.set_status(Status(StatusCode.ERROR, commit.failure.message))
        span.end(end_time=_ns(max(commit.now, run.start)))

    # ----- activities -----------------------------------------------------------------

    def activity_started(self, task: ClaimedTask) -> None:
        parent = _decode_task_context(task.trace_context)
        if parent is None:
            return
        self.trace_ids.remember(task.instance_id, f"{parent.trace_id:032x}")
        span = self._span(
            f"activity||{task.name}",
            SpanKind.SERVER,
            parent,
            {
                _TYPE: "activity",
                _NAME: task.name,
                _TASK_ID: task.task_id,
                _INSTANCE_ID: task.instance_id,
            },
        )
        # The activity's own code (an ``async def`` run in this task) sees it as current.
        token = otel_context.attach(trace.set_span_in_context(span))
        self._activities.remember(task.key, (span, token))

    def activity_trace_context(self, task: ClaimedTask) -> TraceContext | None:
        running = self._activities.get(task.key)
        return None if running is None else _trace_context(running[0].get_span_context())

    def activity_finished(self, task: ClaimedTask, result: TaskResult, *, seconds: float) -> None:
        running = self._activities.pop(task.key)
        if running is None:
            return
        span, token = running
        if isinstance(result, TaskFailed):
            span.set_status(Status(StatusCode.ERROR, result.failure.message))
        _end(span, token)

    def activity_requeued(self, task: ClaimedTask, why: str) -> None:
        running = self._activities.pop(task.key)
        if running is not None:
            span, token = running
            span.set_status(Status(StatusCode.ERROR, f"the attempt was abandoned: {why}"))
            _end(span, token)


def _end(span: Span, token: object) -> None:
    span.end()
    otel_context.detach(token)  # type: ignore[arg-type]


def _with_parent(event: HistoryEvent, context: TraceContext) -> HistoryEvent:
    if isinstance(event, TaskScheduled | ChildWorkflowCreated) and not event.parent_trace_context:
        return dataclasses.replace(event, parent_trace_context=context)
    return event


def _traced_child(
    child: NewInstance, context: TraceContext, parent: _Run, now: datetime
) -> NewInstance:
    run = _Run(parent.trace_id, parent.span_id, _new_id(64), parent.flags, now, parent.trace_state)
    return dataclasses.replace(
        child,
        parent_trace_context=context,
        workflow_span_id=f"{run.span_id:016x}",
        trace_context=run.encode(),
    )


class TraceIdFilter(logging.Filter):
    """Gives log records about a traced instance a ``trace_id`` attribute (32 lowercase
    hex digits): the instance's trace, by the record's ``instance_id``, else the current
    span's. Add it to the handlers whose formatter shows ``trace_id``."""

    def __init__(self, tracing: Tracing) -> None:
        super().__init__()
        self._tracing = tracing

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "trace_id", None) is None:
            instance_id = getattr(record, "instance_id", None)
            found = self._tracing.trace_ids.get(instance_id) if instance_id else None
            if found is None:
                current = trace.get_current_span().get_span_context()
                found = f"{current.trace_id:032x}" if current.is_valid else None
            if found is not None:
                record.trace_id = found
        return True
