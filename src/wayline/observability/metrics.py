"""Prometheus metrics: Dapr's workflow metrics, exactly as ``daprd`` exposes them, and
Wayline's own (``wayline_*``). ``docs/observability.md`` lists every family.

``PrometheusMetrics`` is an engine observer. ``wayline serve`` makes one and serves it
at ``GET /metrics``; embedded, pass one to the runtime and serve it yourself::

    metrics = PrometheusMetrics()
    runtime = wayline.WorkflowRuntime(observer=metrics)
    metrics.serve(9090)                    # or: body, content_type = metrics.exposition()

Cost on the hot path: a hook is a few dict updates and one ``bisect`` under an
uncontended lock; nothing is formatted, allocated per label set or sent anywhere
until a scrape. What is cheap to read when asked (backlogs, instance counts, store
transactions, the replay cache, connected workers) is read at scrape time from the
engine the observer was started with, not counted on the way.

Dapr's families are exposed the way Dapr's OpenCensus exporter writes them: counters
named ``..._count`` without a ``_total`` suffix or ``_created`` series, latency
histograms in milliseconds with Dapr's 34 buckets (bounds written as Go writes
them: ``le="1"``, ``le="100000"``), every label present (``namespace=""`` unless
set). ``prometheus_client``'s own text writer would add ``_total`` to those TYPE
lines, so :meth:`PrometheusMetrics.exposition` writes the text format itself.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import CollectorRegistry, exposition
from prometheus_client.core import Metric

from wayline.core.events import ExecutionStarted, TaskCompleted, WorkflowStatus
from wayline.core.ids import DEFAULT_APP_ID
from wayline.engine.observer import Observer
from wayline.store.types import (
    Backlog,
    ClaimedTask,
    CommitOutcome,
    InstanceQuery,
    InstanceRecord,
    TaskResult,
    TurnCommit,
)

if TYPE_CHECKING:
    from wayline.engine.engine import Engine

log = logging.getLogger("wayline.observability.metrics")

#: The text exposition format 0.0.4 (what ``daprd`` serves).
CONTENT_TYPE: Final[str] = getattr(
    exposition, "CONTENT_TYPE_PLAIN_0_0_4", "text/plain; version=0.0.4; charset=utf-8"
)

#: Dapr's latency distribution in milliseconds (``MetricSpec.GetLatencyDistribution``).
DAPR_LATENCY_BUCKETS_MS: Final = (
    1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 13.0, 16.0, 20.0, 25.0, 30.0, 40.0, 50.0,
    65.0, 80.0, 100.0, 130.0, 160.0, 200.0, 250.0, 300.0, 400.0, 500.0, 650.0, 800.0,
    1000.0, 2000.0, 5000.0, 10000.0, 20000.0, 50000.0, 100000.0,
)  # fmt: skip
#: Turn and commit latency, seconds.
SECONDS_BUCKETS: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
#: Payload sizes, bytes (4 MiB is the default payload limit).
BYTES_BUCKETS: Final = tuple(float(4**n * 64) for n in range(11))  # 64 B .. 64 MiB

# Dapr's status label values (Dapr 1.17: a terminated workflow counts as "failed").
SUCCESS: Final = "success"
FAILED: Final = "failed"
RECOVERABLE: Final = "recoverable"

_DAPR = "dapr_runtime_workflow_"
#: Dapr's nine workflow families: name, type, labels besides app_id and namespace, help.
DAPR_FAMILIES: Final = (
    ("operation_count", "counter", ("operation", "status"),
     "The number of successful/failed workflow operation requests."),
    ("operation_latency", "histogram", ("operation", "status"),
     "The latencies of responses for workflow operation requests."),
    ("execution_count", "counter", ("workflow_name", "status"),
     "The number of successful/failed/recoverable workflow executions."),
    ("execution_latency", "histogram", ("workflow_name", "status"),
     "The total time taken to run workflow to completion."),
    ("scheduling_latency", "histogram", ("workflow_name",),
     "Interval between workflow execution request and workflow execution."),
    ("activity_operation_count", "counter", ("activity_name", "status"),
     "The number of successful/failed activity operation requests."),
    ("activity_operation_latency", "histogram", ("activity_name", "status"),
     "The latencies of responses for activity operation requests."),
    ("activity_execution_count", "counter", ("activity_name", "status"),
     "The number of successful/failed/recoverable activity executions."),
    ("activity_execution_latency", "histogram", ("activity_name", "status"),
     "The total time taken to run an activity to completion."),
)  # fmt: skip


class _Histogram:
    """One label set's buckets (not cumulative; the last one is +Inf) and sum."""

    __slots__ = ("counts", "sum")

    def __init__(self, size: int) -> None:
        self.counts = [0] * (size + 1)
        self.sum = 0.0


def _observe(
    series: dict[Any, _Histogram], key: Any, value: float, bounds: Sequence[float]
) -> None:
    histogram = series.get(key)
    if histogram is None:
        histogram = series[key] = _Histogram(len(bounds))
    histogram.counts[bisect.bisect_left(bounds, value)] += 1  # le: value <= bound
    histogram.sum += value


def _count(series: dict[Any, int], key: Any) -> None:
    series[key] = series.get(key, 0) + 1


def _size(text: str) -> int:
    """UTF-8 size of ``text`` (``isascii`` is O(1): JSON payloads are never encoded)."""
    return len(text) if text.isascii() else len(text.encode())


def _ms(since: datetime, until: datetime) -> float:
    return (until - since).total_seconds() * 1000.0


class PrometheusMetrics(Observer):
    """An engine observer that keeps Prometheus metrics; see the module docstring.

    Args:
        app_id: the ``app_id`` label of Dapr's families; default: the engine's
            ``EngineSettings.app_id``.
        namespace: the ``namespace`` label (Dapr's ``NAMESPACE``); ``""`` by default.
        instances_refresh: seconds a scrape reuses the instance counts by status
            (one ``GROUP BY`` over every instance; slow on huge stores).
        backlog_refresh: seconds a scrape reuses the backlog figures.

    One object observes one engine (the last one started with it) and its clients.
    """

    def __init__(
        self,
        *,
        app_id: str | None = None,
        namespace: str = "",
        instances_refresh: float = 10.0,
        backlog_refresh: float = 1.0,
    ) -> None:
        self._app_id = app_id
        self.namespace = namespace
        self._instances_refresh = instances_refresh
        self._backlog_refresh = backlog_refresh
        self._lock = threading.Lock()  # hooks run on the engine loop and client threads
        self._engine: Engine | None = None
        self._node_id = ""
        self._engine_app_id = DEFAULT_APP_ID  # the last engine's, kept once it stops
        self._operations: dict[tuple[str, str], int] = {}
        self._operation_ms: dict[tuple[str, str], _Histogram] = {}
        self._executions: dict[tuple[str, str], int] = {}
        self._execution_ms: dict[tuple[str, str], _Histogram] = {}
        self._scheduling_ms: dict[tuple[str], _Histogram] = {}
        self._activity_operations: dict[tuple[str, str], int] = {}
        self._activity_operation_ms: dict[tuple[str, str], _Histogram] = {}
        self._activity_executions: dict[tuple[str, str], int] = {}
        self._activity_execution_ms: dict[tuple[str, str], _Histogram] = {}
        self._turn_seconds: dict[tuple[()], _Histogram] = {}
        self._commit_seconds: dict[tuple[()], _Histogram] = {}
        self._payload_bytes: dict[tuple[str], _Histogram] = {}
        self._takeovers: dict[tuple[str, str], int] = {}
        self._leases_lost = 0
        self._discarded = 0
        self._pull_lock = threading.Lock()
        self._instances: tuple[float, dict[WorkflowStatus, int]] | None = None
        self._backlog: tuple[float, Backlog] | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    @property
    def app_id(self) -> str:
        """The ``app_id`` label: as given, else the engine's."""
        return self._engine_app_id if self._app_id is None else self._app_id

    # ----- hooks (the hot path) ------------------------------------------------------------

    def engine_started(self, engine: Engine) -> None:
        with self._lock:
            self._engine = engine
            self._node_id = engine.node_id
            self._engine_app_id = engine.settings.app_id
            self._instances = self._backlog = None

    def engine_stopped(self, engine: Engine) -> None:
        with self._lock:
            if self._engine is engine:
                self._engine = None

    def operation(
        self, operation: str, instance_id: str | None, *, ok: bool, seconds: float
    ) -> None:
        key = (operation, SUCCESS if ok else FAILED)
        with self._lock:
            _count(self._operations, key)
            _observe(self._operation_ms, key, seconds * 1000.0, DAPR_LATENCY_BUCKETS_MS)

    def turn_committed(
        self,
        instance: InstanceRecord,
        commit: TurnCommit,
        outcome: CommitOutcome,
        *,
        seconds: float,
        commit_seconds: float,
    ) -> None:
        name = instance.name
        status = outcome.status
        with self._lock:
            _observe(self._turn_seconds, (), seconds, SECONDS_BUCKETS)
            _observe(self._commit_seconds, (), commit_seconds, SECONDS_BUCKETS)
            for event in commit.history:
                if isinstance(event, ExecutionStarted):  # the first turn (of a generation)
                    began = event.scheduled_start or event.timestamp
                    ms = _ms(began, commit.now)
                    _observe(self._scheduling_ms, (name,), ms, DAPR_LATENCY_BUCKETS_MS)
                    if event.input is not None:
                        size = _size(event.input)
                        _observe(self._payload_bytes, ("workflow_input",), size, BYTES_BUCKETS)
                    break
            if status.is_terminal and commit.continue_as_new is None:
                key = (name, SUCCESS if status is WorkflowStatus.COMPLETED else FAILED)
                _count(self._executions, key)
                began = instance.scheduled_start_at or instance.created_at
                ms = _ms(began, commit.now)
                _observe(self._execution_ms, key, ms, DAPR_LATENCY_BUCKETS_MS)
                if commit.output is not None:
                    size = _size(commit.output)
                    _observe(self._payload_bytes, ("workflow_output",), size, BYTES_BUCKETS)

    def turn_failed(self, instance_id: str, workflow_name: str, error: BaseException) -> None:
        with self._lock:
            _count(self._executions, (workflow_name, RECOVERABLE))

    def activity_started(self, task: ClaimedTask) -> None:
        key = (task.name, SUCCESS)
        engine = self._engine
        now = engine.clock.now() if engine is not None else datetime.now(UTC)
        with self._lock:
            _count(self._activity_operations, key)
            if task.scheduled_at is not None:
                ms = _ms(task.scheduled_at, now)
                _observe(self._activity_operation_ms, key, ms, DAPR_LATENCY_BUCKETS_MS)

    def activity_finished(self, task: ClaimedTask, result: TaskResult, *, seconds: float) -> None:
        output = result.result if isinstance(result, TaskCompleted) else None
        key = (task.name, SUCCESS if isinstance(result, TaskCompleted) else FAILED)
        with self._lock:
            _count(self._activity_executions, key)
            _observe(self._activity_execution_ms, key, seconds * 1000.0, DAPR_LATENCY_BUCKETS_MS)
            if output is not None:
                size = _size(output)
                _observe(self._payload_bytes, ("activity_result",), size, BYTES_BUCKETS)

    def activity_requeued(self, task: ClaimedTask, why: str) -> None:
        key = (task.name, RECOVERABLE)
        with self._lock:
            _count(self._activity_operations, key)
            _count(self._activity_executions, key)

    def result_discarded(self, task: ClaimedTask) -> None:
        with self._lock:
            self._discarded += 1

    def lease_lost(self, instance_id: str, why: str) -> None:
        with self._lock:
            self._leases_lost += 1

    def lease_taken_over(self, kind: str, instance_id: str, previous_owner: str) -> None:
        with self._lock:
            _count(self._takeovers, (kind, previous_owner))

    # ----- scrapes -------------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in the text format 0.0.4, and its content type (a scrape)."""
        return render(self.collect()), CONTENT_TYPE

    def serve(self, port: int, *, host: str = "127.0.0.1") -> ThreadingHTTPServer:
        """Serve ``GET /metrics`` on ``host:port`` from a daemon thread (embedded mode;
        ``host="0.0.0.0"`` to let a Prometheus on another machine scrape it). Returns
        the server: ``shutdown()`` it to stop."""
        metrics = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404, "metrics are at /metrics")
                    return
                body, content_type = metrics.exposition()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a scrape every few seconds is not worth a log line

        server = ThreadingHTTPServer((host, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="wayline-metrics", daemon=True).start()
        return server

    def collect(self) -> Iterator[Metric]:
        """Every family, as ``prometheus_client`` metric families (a ``Collector``).

        Registered in another ``CollectorRegistry``, the values are the same, but that
        registry's text writer names Dapr's counters' TYPE lines ``..._count_total``;
        serve :meth:`exposition` where the exact Dapr exposition matters."""
        with self._lock:
            hot = {
                name: {k: (list(h.counts), h.sum) for k, h in series.items()}
                for name, series in (
                    ("operation_latency", self._operation_ms),
                    ("execution_latency", self._execution_ms),
                    ("scheduling_latency", self._scheduling_ms),
                    ("activity_operation_latency", self._activity_operation_ms),
                    ("activity_execution_latency", self._activity_execution_ms),
                    ("turn", self._turn_seconds),
                    ("commit", self._commit_seconds),
                    ("payload", self._payload_bytes),
                )
            }
            counts: dict[str, dict[Any, int]] = {
                "operation_count": dict(self._operations),
                "execution_count": dict(self._executions),
                "activity_operation_count": dict(self._activity_operations),
                "activity_execution_count": dict(self._activity_executions),
                "takeovers": dict(self._takeovers),
            }
            leases_lost, discarded = self._leases_lost, self._discarded
            engine, node = self._engine, self._node_id
        common = {"app_id": self.app_id, "namespace": self.namespace}
        for suffix, kind, labels, help_text in DAPR_FAMILIES:
            name = _DAPR + suffix
            if kind == "counter":
                yield _counter(name, help_text, labels, counts[suffix], common)
            else:
                yield _histogram(
                    name, help_text, labels, hot[suffix], DAPR_LATENCY_BUCKETS_MS, common
                )
        yield _histogram(
            "wayline_turn_latency_seconds",
            "Time from a workflow turn's start to its commit, seconds.",
            (),
            hot["turn"],
            SECONDS_BUCKETS,
        )
        yield _histogram(
            "wayline_commit_latency_seconds",
            "Time a turn waited for its commit (the store's transaction, shared with others "
            "ready at once), seconds.",
            (),
            hot["commit"],
            SECONDS_BUCKETS,
        )
        yield _histogram(
            "wayline_payload_size_bytes",
            "Sizes of workflow inputs and outputs and activity results, UTF-8 bytes.",
            ("kind",),
            hot["payload"],
            BYTES_BUCKETS,
        )
        node_label = {"node": node}
        yield _counter(
            "wayline_lease_takeovers_total",
            "Work this node claimed whose lease, held by previous_node, had expired.",
            ("kind", "previous_node"),
            counts["takeovers"],
            node_label,
        )
        yield _counter(
            "wayline_leases_lost_total",
            "Turns whose lease this node lost to another node before committing.",
            (),
            {(): leases_lost},
            node_label,
        )
        yield _counter(
            "wayline_activity_results_discarded_total",
            "Activity results dropped because their task was gone (taken over after "
            "its lease expired, or its instance ended).",
            (),
            {(): discarded},
        )
        if engine is not None:
            yield from self._pulled(engine)

    def _pulled(self, engine: Engine) -> Iterator[Metric]:
        """What is read from the engine and its store when scraped."""
        cache = engine.cache
        yield _counter(
            "wayline_replay_cache_hits_total",
            "Workflow turns that ran on this node's cached instance state.",
            (),
            {(): cache.hits},
        )
        yield _counter(
            "wayline_replay_cache_misses_total",
            "Workflow turns that replayed the instance's stored history first.",
            (),
            {(): cache.misses},
        )
        yield _gauge("wayline_replay_cache_entries", "Instances in the replay cache.", len(cache))
        hub = engine.remote
        yield _gauge(
            "wayline_remote_workers",
            "Remote workers (Dapr SDK apps) connected to this node's gRPC worker stream.",
            hub.worker_count if hub is not None else 0,
        )
        store = engine.store
        transactions = store.write_transactions
        yield _counter(
            "wayline_store_transactions_total",
            "Write transactions this node committed (group commits count once).",
            (),
            {(): transactions},
        )
        synchronous = getattr(store, "synchronous", None)  # SQLite's; None: PostgreSQL
        durable = synchronous is None or synchronous in ("FULL", "EXTRA")
        yield _counter(
            "wayline_store_fsyncs_total",
            "Write transactions whose commit waited for a durable flush (SQLite "
            "synchronous=FULL: one WAL fsync each; PostgreSQL: one WAL flush each); "
            "checkpoints not counted.",
            (),
            {(): transactions if durable else 0},
        )
        yield _counter(
            "wayline_store_write_conflicts_total",
            "Write transactions that met a deadlock or serialization failure with another "
            "node and were applied again.",
            (),
            {(): store.write_conflicts},
        )
        now = engine.clock.now()
        try:
            backlog, statuses = self._store_figures(engine, now)
        except Exception as exc:  # a store that is down must not fail the scrape
            log.warning("metrics could not read the store: %s", exc)
            return
        yield _gauge(
            "wayline_runnable_turns",
            "Workflow instances with a turn to run now, not leased (store-wide).",
            backlog.runnable_turns,
        )
        yield _gauge(
            "wayline_runnable_activity_tasks",
            "Activity tasks waiting for a worker, not leased (store-wide).",
            backlog.runnable_tasks,
        )
        yield _gauge(
            "wayline_due_timers",
            "Durable timers whose time has come, not yet consumed by a turn (store-wide).",
            backlog.due_timers,
        )
        oldest = Metric(
            "wayline_oldest_runnable_age_seconds",
            "How long the longest-waiting runnable turn or activity task has waited "
            "(0: none waits).",
            "gauge",
        )
        for kind, since in (("turn", backlog.oldest_turn), ("activity", backlog.oldest_task)):
            age = max(0.0, (now - since).total_seconds()) if since is not None else 0.0
            oldest.add_sample(oldest.name, {"kind": kind}, age)
        yield oldest
        instances = Metric(
            "wayline_instances",
            "Workflow instances in the store by runtime status (refreshed every "
            f"{self._instances_refresh:g} s at most).",
            "gauge",
        )
        for status in WorkflowStatus:
            instances.add_sample(
                "wayline_instances", {"status": status.value}, statuses.get(status, 0)
            )
        yield instances

    def _store_figures(
        self, engine: Engine, now: datetime
    ) -> tuple[Backlog, dict[WorkflowStatus, int]]:
        """The backlog and instance counts, each re-read at most once per its refresh."""
        with self._pull_lock:
            clock = time.monotonic()
            if self._backlog is None or clock - self._backlog[0] >= self._backlog_refresh:
                self._backlog = (clock, engine.store.backlog(now=now))
            if self._instances is None or clock - self._instances[0] >= self._instances_refresh:
                self._instances = (clock, engine.store.count_by_status(InstanceQuery()))
            return self._backlog[1], self._instances[1]


def _labelled(
    names: Sequence[str], key: Iterable[str], common: dict[str, str] | None
) -> dict[str, str]:
    labels = dict(common or {})
    labels.update(zip(names, key, strict=True))
    return labels


def _counter(
    name: str,
    help_text: str,
    labels: Sequence[str],
    values: dict[Any, int],
    common: dict[str, str] | None = None,
) -> Metric:
    """A counter whose samples carry the family's name as is (no ``_total`` added)."""
    metric = Metric(name, help_text, "counter")
    for key, value in values.items():
        metric.add_sample(name, _labelled(labels, key, common), value)
    return metric


def _gauge(name: str, help_text: str, value: float) -> Metric:
    metric = Metric(name, help_text, "gauge")
    metric.add_sample(name, {}, value)
    return metric


def _histogram(
    name: str,
    help_text: str,
    labels: Sequence[str],
    values: dict[Any, tuple[list[int], float]],
    bounds: Sequence[float],
    common: dict[str, str] | None = None,
) -> Metric:
    metric = Metric(name, help_text, "histogram")
    for key, (counts, total) in values.items():
        base = _labelled(labels, key, common)
        cumulative = 0
        for bound, count in zip((*bounds, float("inf")), counts, strict=True):
            cumulative += count
            metric.add_sample(f"{name}_bucket", {**base, "le": go_float(bound)}, cumulative)
        metric.add_sample(f"{name}_sum", base, total)
        metric.add_sample(f"{name}_count", base, cumulative)
    return metric


# ----- the text format ----------------------------------------------------------------------


def go_float(value: float) -> str:
    """``value`` as Go's ``strconv.FormatFloat(v, 'g', -1, 64)`` writes it, which is how
    ``daprd`` writes bucket bounds and values (``1``, ``0.5``, ``100000``, ``1e+06``)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent  # where the decimal point falls in ``text``
    minus = "-" if sign else ""
    if not -4 <= point - 1 < 6:  # Go's %e threshold for the shortest form
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        power = point - 1
        return f"{minus}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{minus}{text}{'0' * (point - len(text))}"
    return f"{minus}{text[:point]}.{text[point:]}"


def _escape_label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def render(metrics: Iterable[Metric]) -> bytes:
    """The text format 0.0.4 of ``metrics`` (Go's number format, labels sorted by name,
    TYPE lines named as the samples are: ``prometheus_client``-style counters whose
    samples end in ``_total`` get that name, their ``_created`` series are left out)."""
    out: list[str] = []
    for metric in metrics:
        name, kind = metric.name, metric.type
        samples = [s for s in metric.samples if s.name != f"{name}_created"]
        if kind == "counter" and any(s.name == f"{name}_total" for s in samples):
            name = f"{name}_total"
        kind = {"unknown": "untyped", "info": "gauge", "stateset": "gauge"}.get(kind, kind)
        help_text = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n")
        for sample in samples:
            labels = ",".join(
                f'{key}="{_escape_label(value)}"' for key, value in sorted(sample.labels.items())
            )
            out.append(
                f"{sample.name}{{{labels}}} {go_float(float(sample.value))}\n"
                if labels
                else f"{sample.name} {go_float(float(sample.value))}\n"
            )
    return "".join(out).encode()
