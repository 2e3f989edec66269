"""Traces of ``wayline serve``, configured by the standard ``OTEL_*`` variables and
exported over OTLP/HTTP to a collector: an HTTP start with a W3C ``traceparent``
continues the caller's trace; tracing asked for without the extra is one clear error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.ci import unavailable

try:
    import opentelemetry.proto  # noqa: F401
except ImportError:
    unavailable("needs the wayline[otel] extra: pip install -e '.[dev]'")

from support.otlp import Collector, collector
from support.server import Server
from support.wait import wait_until

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def otlp() -> Iterator[Collector]:
    with collector() as running:
        yield running


@pytest.fixture(scope="module")
def traced_server(tmp_path_factory: pytest.TempPathFactory, otlp: Collector) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("traced") / "wayline.db"
    server = Server(db, env={**otlp.env(), "OTEL_SERVICE_NAME": "orders"}).start()
    yield server
    assert server.stop() == 0, server.output()[-3000:]


def test_an_http_start_continues_the_callers_trace(traced_server: Server, otlp: Collector) -> None:
    with traced_server.client() as http:
        started = http.post(
            "/v1.0/workflows/dapr/activity_returns/start?instanceID=traced-1",
            json="1.5",
            headers={"traceparent": f"00-{TRACE}-{CALLER}-01", "tracestate": "vendor=x"},
        )
        assert started.status_code == 202, started.text
        wait_until(
            lambda: (
                http.get("/v1.0/workflows/dapr/traced-1").json()["runtimeStatus"] == "COMPLETED"
            ),
            20,
            "traced-1 to complete",
        )
    (orchestration,) = otlp.wait_for("orchestration||activity_returns")
    (create,) = otlp.wait_for("create_orchestration||activity_returns")
    (activity,) = otlp.wait_for("activity||not_a_number")
    assert create.kind == "CLIENT" and create.parent_span_id == CALLER
    assert orchestration.kind == "SERVER" and orchestration.parent_span_id == create.span_id
    assert activity.kind == "SERVER" and activity.parent_span_id == orchestration.span_id
    assert {create.trace_id, orchestration.trace_id, activity.trace_id} == {TRACE}
    assert orchestration.attributes == {
        "durabletask.type": "orchestration",
        "durabletask.task.name": "activity_returns",
        "durabletask.task.instance_id": "traced-1",
        "durabletask.runtime_status": "COMPLETED",
    }
    assert orchestration.service == "orders"  # OTEL_SERVICE_NAME wins over "wayline"

    history = httpx.get(
        f"{traced_server.url}/wayline/v1/instances/traced-1/history", timeout=10
    ).json()
    events = history["events"] if isinstance(history, dict) else history
    started_event = next(e for e in events if e["kind"] == "ExecutionStarted")
    assert started_event["workflow_span_id"] == orchestration.span_id
    assert started_event["parent_trace_context"] == {
        "trace_parent": f"00-{TRACE}-{create.span_id}-01",
        "trace_state": "vendor=x",
    }
    scheduled = next(e for e in events if e["kind"] == "TaskScheduled")
    assert activity.attributes["durabletask.task.task_id"] == scheduled["event_id"]
    assert scheduled["parent_trace_context"]["trace_parent"] == (
        f"00-{TRACE}-{orchestration.span_id}-01"
    )


def test_a_start_without_a_traceparent_is_a_new_trace(
    traced_server: Server, otlp: Collector
) -> None:
    with traced_server.client() as http:
        started = http.post("/v1.0/workflows/dapr/echo/start?instanceID=untraced-1", json=1)
        assert started.status_code == 202, started.text
    (create,) = otlp.wait_for("create_orchestration||echo")
    (orchestration,) = otlp.wait_for("orchestration||echo")
    assert create.parent_span_id is None and create.trace_id != TRACE
    assert orchestration.trace_id == create.trace_id


def test_tracing_asked_for_without_opentelemetry_is_one_clear_error(tmp_path: Path) -> None:
    # A python whose OpenTelemetry cannot be imported: a sitecustomize hides it.
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'opentelemetry' or name.startswith('opentelemetry.'):\n"
        "            raise ImportError(f'No module named {name!r}', name=name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Hide())\n"
    )
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "WAYLINE_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(hide), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["OTEL_TRACES_EXPORTER"] = "otlp"
    result = subprocess.run(
        [sys.executable, "-m", "wayline", "serve", "--store", f"sqlite:///{tmp_path}/w.db"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if "wayline[otel]" in line]
    assert len(lines) == 1, result.stderr
    assert "OTEL_TRACES_EXPORTER=otlp" in lines[0]
    assert "Traceback" not in result.stderr
