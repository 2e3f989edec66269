"""Traces across the durabletask protocol: a real dapr-ext-workflow 1.18.3 app (with
OpenTelemetry installed) runs its workflow and activities against a tracing
``wayline serve``; its own ``activity: NAME`` spans join Wayline's trace, each a child
of Wayline's ``activity||NAME`` span (``ActivityRequest.parentTraceContext``). Raw
``StartInstance`` calls show the ``parentTraceContext`` of ``CreateInstanceRequest``
(both forms) and the ``traceparent`` metadata continuing the caller's trace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_support import DAPR_EXT_118, GrpcServer, sdk_python

from support.ci import unavailable

try:
    import opentelemetry.proto  # noqa: F401
except ImportError:
    unavailable("needs the wayline[otel] extra: pip install -e '.[dev]'")

from support.otlp import Collector, collector
from support.wait import wait_until
from wayline._proto.dt import orchestrator_service_pb2 as pb

OTEL_SDK = ("opentelemetry-sdk==1.45.2",)
TRACE = "5bf92f3577b34da6a3ce929d0e0e4736"
CALLER = "10f067aa0ba902b7"


@pytest.fixture(scope="module")
def otlp() -> Iterator[Collector]:
    with collector() as running:
        yield running


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory, otlp: Collector) -> Iterator[GrpcServer]:
    db = tmp_path_factory.mktemp("grpc-traced") / "wayline.db"
    running = GrpcServer(db, env=otlp.env()).start()
    yield running
    assert running.stop() == 0, f"unclean exit:\n{running.output()[-3000:]}"


def test_a_dapr_sdk_worker_joins_the_trace(
    traced: GrpcServer, otlp: Collector, tmp_path: Path
) -> None:
    python = sdk_python("dapr-ext-workflow-1.18.3-otel", (*DAPR_EXT_118, *OTEL_SDK))
    spans_file = tmp_path / "sdk-spans.jsonl"
    seen = traced.run_sdk(python, "traced_app.py", str(spans_file))
    assert seen == {"instance_id": "traced-sdk", "output": ["Hello, sdk!", "Hello, again!"]}

    (orchestration,) = otlp.wait_for("orchestration||traced_flow")
    (create,) = otlp.wait_for("create_orchestration||traced_flow")
    ours = otlp.wait_for("activity||traced_hello", count=2)
    assert orchestration.parent_span_id == create.span_id
    assert {a.parent_span_id for a in ours} == {orchestration.span_id}
    assert len({a.attributes["durabletask.task.task_id"] for a in ours}) == 2

    sdk_spans = [json.loads(line) for line in spans_file.read_text().splitlines()]
    theirs = [s for s in sdk_spans if s["name"] == "activity: traced_hello"]
    assert len(theirs) == 2, sdk_spans
    # One connected trace: each SDK span is a child of Wayline's span for that attempt.
    assert {s["trace_id"] for s in theirs} == {orchestration.trace_id}
    assert {s["parent_span_id"] for s in theirs} == {a.span_id for a in ours}
    assert {create.trace_id, *(a.trace_id for a in ours)} == {orchestration.trace_id}


def _start(server: GrpcServer, request: pb.CreateInstanceRequest, metadata=None) -> None:  # type: ignore[no-untyped-def]
    with grpc.insecure_channel(server.grpc_target) as channel:
        call = channel.unary_unary(
            "/TaskHubSidecarService/StartInstance",
            request_serializer=pb.CreateInstanceRequest.SerializeToString,
            response_deserializer=pb.CreateInstanceResponse.FromString,
        )
        call(request, timeout=10, metadata=metadata)


def _created_under(otlp: Collector, name: str, instance_id: str) -> tuple[str, str | None]:
    span = wait_until(
        lambda: next(
            (
                s
                for s in otlp.named(f"create_orchestration||{name}")
                if s.attributes["durabletask.task.instance_id"] == instance_id
            ),
            None,
        ),
        20,
        f"the create span of {instance_id}",
    )
    return span.trace_id, span.parent_span_id


def test_start_instance_continues_the_given_trace_context(
    traced: GrpcServer, otlp: Collector
) -> None:
    request = pb.CreateInstanceRequest(instanceId="ctx-w3c", name="echo_wf")
    request.parentTraceContext.traceParent = f"00-{TRACE}-{CALLER}-01"
    _start(traced, request)
    assert _created_under(otlp, "echo_wf", "ctx-w3c") == (TRACE, CALLER)

    # The legacy form (the Go SDK's): a bare trace id and the span id apart.
    legacy = pb.CreateInstanceRequest(instanceId="ctx-legacy", name="echo_wf")
    legacy.parentTraceContext.traceParent = TRACE
    legacy.parentTraceContext.spanID = CALLER
    _start(traced, legacy)
    assert _created_under(otlp, "echo_wf", "ctx-legacy") == (TRACE, CALLER)

    # No field: the call's traceparent metadata (an instrumented gRPC client's).
    plain = pb.CreateInstanceRequest(instanceId="ctx-metadata", name="echo_wf")
    _start(traced, plain, metadata=[("traceparent", f"00-{TRACE}-{CALLER}-01")])
    assert _created_under(otlp, "echo_wf", "ctx-metadata") == (TRACE, CALLER)
