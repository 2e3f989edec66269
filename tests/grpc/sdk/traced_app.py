"""A dapr-ext-workflow 1.18.3 app with OpenTelemetry installed, against a tracing
``wayline serve``: the SDK's worker makes its own ``activity: NAME`` span for each
ActivityRequest, parented on the request's ``parentTraceContext``.

Usage (in the pinned venv plus opentelemetry-sdk): python traced_app.py SPANS_FILE

Every span the app ends is written to SPANS_FILE as one JSON line; prints one JSON
line: the instance id and its output.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


class JsonLines(SpanExporter):
    """Appends each span as a JSON line: what the test compares with Wayline's spans."""

    def __init__(self, path: str) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with open(self.path, "a") as out:
            for span in spans:
                context = span.get_span_context()
                row = {
                    "name": span.name,
                    "kind": span.kind.name,
                    "trace_id": f"{context.trace_id:032x}",
                    "span_id": f"{context.span_id:016x}",
                    "parent_span_id": f"{span.parent.span_id:016x}" if span.parent else None,
                    "attributes": dict(span.attributes or {}),
                }
                out.write(json.dumps(row) + "\n")
        return SpanExportResult.SUCCESS


provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(JsonLines(sys.argv[1])))
trace.set_tracer_provider(provider)

import dapr.ext.workflow as wf  # noqa: E402  (after the provider, as an app would)

runtime = wf.WorkflowRuntime()


@runtime.activity(name="traced_hello")
def traced_hello(ctx: wf.WorkflowActivityContext, name: str) -> str:
    return f"Hello, {name}!"


@runtime.workflow(name="traced_flow")
def traced_flow(ctx: wf.DaprWorkflowContext, name: str) -> Any:
    first = yield ctx.call_activity(traced_hello, input=name)
    second = yield ctx.call_activity(traced_hello, input="again")
    return [first, second]


runtime.start()
try:
    client = wf.DaprWorkflowClient()
    iid = client.schedule_new_workflow(traced_flow, input="sdk", instance_id="traced-sdk")
    state = client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
    print(json.dumps({"instance_id": iid, "output": json.loads(state.serialized_output)}))
finally:
    runtime.shutdown()
    provider.shutdown()
