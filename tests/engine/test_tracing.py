"""Traces (``wayline.observability.tracing``) of embedded runs, collected with the
OpenTelemetry SDK's in-memory exporter: durabletask's span names, kinds, parents and
attributes, the persisted orchestration span id, context propagation into children,
continue-as-new, a restart, and nothing at all with tracing off."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from support.ci import unavailable

try:
    import opentelemetry.sdk.trace  # noqa: F401
except ImportError:
    unavailable("needs the wayline[otel] extra: pip install -e '.[dev]'")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import wayline
from wayline.core import codec
from wayline.core.events import (
    ChildWorkflowCreated,
    ExecutionStarted,
    TaskScheduled,
)
from wayline.observability.tracing import Tracing

from ._support import completed, wait_for_history, wait_for_status
from .conftest import Runtimes

TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER = "b7ad6b7169203331"


class Traced:
    """A ``Tracing`` observer on its own provider, and what it exported."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.provider = provider
        self.tracing = Tracing(provider)

    def fresh(self) -> Tracing:
        """Another observer on the same provider (a restarted process's)."""
        return Tracing(self.provider)

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        found = list(self.exporter.get_finished_spans())
        return [s for s in found if name is None or s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.spans(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r}: {self.names()}"
        return found[0]

    def names(self) -> list[str]:
        return [s.name for s in self.spans()]


@pytest.fixture
def traced() -> Iterator[Traced]:
    made = Traced()
    yield made
    made.provider.shutdown()


def _hex_span(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.span_id:016x}"


def _hex_trace(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def _parent(span: ReadableSpan) -> str | None:
    return None if span.parent is None else f"{span.parent.span_id:016x}"


def _started(client: wayline.WorkflowClient, iid: str) -> ExecutionStarted:
    started = [e for e in client.get_history(iid) if isinstance(e, ExecutionStarted)]
    assert len(started) == 1
    return started[0]


def _register_flow(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.activity
    def hello(ctx: wayline.WorkflowActivityContext, name: str) -> str:
        return f"Hello, {name}!"

    @runtime.workflow
    def child(ctx: wayline.WorkflowContext, n: int) -> Any:
        return (yield ctx.call_activity(hello, input=str(n)))

    @runtime.workflow
    def flow(ctx: wayline.WorkflowContext, _: Any) -> Any:
        greeting = yield ctx.call_activity(hello, input="trace")
        yield ctx.create_timer(timedelta(milliseconds=10))
        from_child = yield ctx.call_child_workflow(child, input=7)
        return [greeting, from_child]


def test_an_embedded_run_produces_durabletask_spans(runtimes: Runtimes, traced: Traced) -> None:
    runtime = runtimes.new(observer=traced.tracing)
    _register_flow(runtime)
    with runtime:
        client = runtime.client()
        iid = client.start_workflow("flow", trace_parent=f"00-{TRACE}-{CALLER}-01")
        assert completed(client, iid).output == ["Hello, trace!", "Hello, 7!"]
        history = client.get_history(iid)
        child_id = next(e.instance_id for e in history if isinstance(e, ChildWorkflowCreated))
        wait_for_status(client, child_id, "COMPLETED")
        started, child_started = _started(client, iid), _started(client, child_id)

    create = traced.one("create_orchestration||flow")
    assert create.kind == SpanKind.CLIENT
    assert _hex_trace(create) == TRACE and _parent(create) == CALLER
    assert create.attributes == {
        "durabletask.type": "orchestration",
        "durabletask.task.name": "flow",
        "durabletask.task.instance_id": iid,
    }

    orchestration = traced.one("orchestration||flow")
    assert orchestration.kind == SpanKind.SERVER
    assert _parent(orchestration) == _hex_span(create)
    assert _hex_span(orchestration) == started.workflow_span_id
    assert started.parent_trace_context is not None
    assert started.parent_trace_context.trace_parent == f"00-{TRACE}-{_hex_span(create)}-01"
    assert orchestration.attributes == {
        "durabletask.type": "orchestration",
        "durabletask.task.name": "flow",
        "durabletask.task.instance_id": iid,
        "durabletask.runtime_status": "COMPLETED",
    }
    orchestration_context = f"00-{TRACE}-{_hex_span(orchestration)}-01"

    scheduled = [e for e in history if isinstance(e, TaskScheduled)]
    assert [e.parent_trace_context and e.parent_trace_context.trace_parent for e in scheduled] == [
        orchestration_context
    ]
    activities = traced.spans("activity||hello")
    assert len(activities) == 2
    mine = next(s for s in activities if s.attributes["durabletask.task.instance_id"] == iid)
    assert mine.kind == SpanKind.SERVER
    assert _parent(mine) == _hex_span(orchestration)
    assert mine.attributes == {
        "durabletask.type": "activity",
        "durabletask.task.name": "hello",
        "durabletask.task.task_id": scheduled[0].event_id,
        "durabletask.task.instance_id": iid,
    }

    timer = traced.one("timer")
    assert timer.kind == SpanKind.INTERNAL
    assert _parent(timer) == _hex_span(orchestration)
    assert timer.attributes["durabletask.type"] == "timer"
    assert timer.attributes["durabletask.task.instance_id"] == iid
    assert str(timer.attributes["durabletask.fire_at"]).endswith("Z")
    assert isinstance(timer.attributes["durabletask.task.task_id"], int)
    assert timer.start_time is not None and timer.end_time is not None
    assert timer.start_time <= timer.end_time

    created = next(e for e in history if isinstance(e, ChildWorkflowCreated))
    assert created.parent_trace_context is not None
    assert created.parent_trace_context.trace_parent == orchestration_context
    assert child_started.parent_trace_context == created.parent_trace_context
    child_span = traced.one("orchestration||child")
    assert _parent(child_span) == _hex_span(orchestration)
    assert _hex_span(child_span) == child_started.workflow_span_id
    child_activity = next(s for s in activities if s is not mine)
    assert _parent(child_activity) == _hex_span(child_span)

    assert {_hex_trace(s) for s in traced.spans()} == {TRACE}  # one connected trace
    assert orchestration.start_time is not None and orchestration.end_time is not None
    assert create.start_time is not None and create.start_time <= orchestration.end_time


def test_the_current_span_is_the_start_s_parent(runtimes: Runtimes, traced: Traced) -> None:
    runtime = runtimes.new(observer=traced.tracing)
    _register_flow(runtime)
    tracer = traced.provider.get_tracer("the-app")
    with runtime:
        client = runtime.client()
        with tracer.start_as_current_span("request") as request:
            iid = client.start_workflow("child", input=1)
        completed(client, iid)
    create = traced.one("create_orchestration||child")
    assert _parent(create) == f"{request.get_span_context().span_id:016x}"
    assert _parent(traced.one("orchestration||child")) == _hex_span(create)


def test_failures_are_error_spans(runtimes: Runtimes, traced: Traced) -> None:
    runtime = runtimes.new(observer=traced.tracing)

    @runtime.activity
    def broken(ctx: wayline.WorkflowActivityContext) -> None:
        raise ValueError("the activity broke")

    @runtime.workflow
    def failing(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.call_activity(broken)

    with runtime:
        client = runtime.client()
        iid = client.start_workflow("failing")
        wait_for_status(client, iid, "FAILED")

    activity = traced.one("activity||broken")
    assert activity.status.status_code == StatusCode.ERROR
    assert "the activity broke" in (activity.status.description or "")
    orchestration = traced.one("orchestration||failing")
    assert orchestration.attributes["durabletask.runtime_status"] == "FAILED"
    assert orchestration.status.status_code == StatusCode.ERROR
    assert "the activity broke" in (orchestration.status.description or "")
    create = traced.one("create_orchestration||failing")
    assert create.parent is None  # no caller trace: the start is the root
    assert _hex_trace(orchestration) == _hex_trace(create)


def test_terminated_and_events_on_the_orchestration_span(
    runtimes: Runtimes, traced: Traced
) -> None:
    runtime = runtimes.new(observer=traced.tracing)

    @runtime.workflow
    def waiting(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.wait_for_external_event("go")
        yield ctx.wait_for_external_event("never")

    with runtime:
        client = runtime.client()
        iid = client.start_workflow("waiting")
        wait_for_status(client, iid, "RUNNING")
        client.raise_event(iid, "go", "hi")
        client.pause_workflow(iid)
        wait_for_status(client, iid, "SUSPENDED")
        client.resume_workflow(iid)
        wait_for_history(client, iid, "ExecutionResumed")
        client.terminate_workflow(iid)
        wait_for_status(client, iid, "TERMINATED")

    orchestration = traced.one("orchestration||waiting")
    assert orchestration.attributes["durabletask.runtime_status"] == "TERMINATED"
    assert orchestration.status.status_code == StatusCode.UNSET
    names = [event.name for event in orchestration.events]
    assert names[0] == "Received external event"
    assert "Execution suspended" in names and "Execution resumed" in names
    assert orchestration.events[0].attributes == {"name": "go", "size": len('"hi"')}


def test_continue_as_new_starts_a_fresh_trace(runtimes: Runtimes, traced: Traced) -> None:
    runtime = runtimes.new(observer=traced.tracing)

    @runtime.workflow
    def counting(ctx: wayline.WorkflowContext, n: int) -> Any:
        if n < 2:
            ctx.continue_as_new(n + 1)
            return None
        return n

    with runtime:
        client = runtime.client()
        iid = client.start_workflow("counting", input=0)
        assert completed(client, iid).output == 2
        last = _started(client, iid)

    runs = traced.spans("orchestration||counting")
    assert len(runs) == 3
    statuses = [s.attributes["durabletask.runtime_status"] for s in runs]
    assert statuses == ["CONTINUED_AS_NEW", "CONTINUED_AS_NEW", "COMPLETED"]
    create = traced.one("create_orchestration||counting")
    assert _parent(runs[0]) == _hex_span(create)
    assert _hex_trace(runs[0]) == _hex_trace(create)
    # Each later generation: a new root trace (Dapr 1.18.3), its own span id.
    traces = {_hex_trace(s) for s in runs}
    assert len(traces) == 3
    assert len({_hex_span(s) for s in runs}) == 3
    assert last.workflow_span_id == _hex_span(runs[2])
    assert last.parent_trace_context is not None
    assert last.parent_trace_context.trace_parent == (
        f"00-{_hex_trace(runs[2])}-{_parent(runs[2])}-01"
    )


def test_one_orchestration_span_across_a_restart(runtimes: Runtimes, traced: Traced) -> None:
    """A run begun by one process and finished by another (replaying its history) is
    still one span, with the id persisted at its start, exported once."""

    def register(runtime: wayline.WorkflowRuntime) -> None:
        @runtime.activity
        def step(ctx: wayline.WorkflowActivityContext, n: int) -> int:
            return n + 1

        @runtime.workflow
        def resumable(ctx: wayline.WorkflowContext) -> Any:
            first = yield ctx.call_activity(step, input=1)
            more = yield ctx.wait_for_external_event("more")
            return (yield ctx.call_activity(step, input=first + more))

    first = runtimes.new(observer=traced.tracing)
    register(first)
    with first:
        client = first.client()
        iid = client.start_workflow("resumable")
        wait_for_history(client, iid, "TaskCompleted")
    assert traced.spans("orchestration||resumable") == []  # not finished: not exported

    second = runtimes.new(observer=traced.fresh())
    register(second)
    with second:
        client = second.client()
        client.raise_event(iid, "more", 10)
        assert completed(client, iid).output == 13
        started = _started(client, iid)

    orchestration = traced.one("orchestration||resumable")
    assert _hex_span(orchestration) == started.workflow_span_id
    steps = traced.spans("activity||step")
    assert len(steps) == 2
    assert {_parent(s) for s in steps} == {started.workflow_span_id}
    assert len({_hex_trace(s) for s in traced.spans()}) == 1


def test_with_tracing_off_nothing_is_added(runtimes: Runtimes) -> None:
    runtime = runtimes.new()  # no tracing observer
    _register_flow(runtime)
    with runtime:
        client = runtime.client()
        iid = client.start_workflow("flow", trace_parent=f"00-{TRACE}-{CALLER}-01")
        completed(client, iid)
        history = client.get_history(iid)
        state = client.store.get_instance(iid)
    assert state is not None and state.trace_context is None
    for event in history:
        assert getattr(event, "parent_trace_context", None) is None
        assert getattr(event, "workflow_span_id", None) is None
        text = codec.encode_event(event)
        assert "trace" not in json.loads(text) and "span" not in text


def test_log_records_about_a_traced_instance_carry_its_trace_id(
    runtimes: Runtimes, traced: Traced
) -> None:
    runtime = runtimes.new(observer=traced.tracing)
    _register_flow(runtime)
    with runtime:
        client = runtime.client()
        iid = client.start_workflow("child", input=3, trace_parent=f"00-{TRACE}-{CALLER}-01")
        completed(client, iid)
    record = logging.LogRecord("wayline.engine", logging.INFO, __file__, 1, "done", (), None)
    record.instance_id = iid
    assert traced.tracing.log_filter.filter(record)
    assert record.trace_id == TRACE  # type: ignore[attr-defined]
    other = logging.LogRecord("wayline.engine", logging.INFO, __file__, 1, "x", (), None)
    other.instance_id = "not-traced"
    traced.tracing.log_filter.filter(other)
    assert not hasattr(other, "trace_id")


def test_an_async_activity_s_own_spans_are_children_of_its_span(
    runtimes: Runtimes, traced: Traced
) -> None:
    runtime = runtimes.new(observer=traced.tracing)
    tracer = traced.provider.get_tracer("the-app")

    @runtime.activity
    async def lookup(ctx: wayline.WorkflowActivityContext, key: str) -> str:
        with tracer.start_as_current_span("database query"):
            return key.upper()

    @runtime.workflow
    def looking(ctx: wayline.WorkflowContext, key: str) -> Any:
        return (yield ctx.call_activity(lookup, input=key))

    with runtime:
        client = runtime.client()
        iid = client.start_workflow("looking", input="k")
        assert completed(client, iid).output == "K"
    query = traced.one("database query")
    activity = traced.one("activity||lookup")
    assert _parent(query) == _hex_span(activity)
    assert _hex_trace(query) == _hex_trace(activity)
