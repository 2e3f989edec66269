"""Wayline's side of the benchmark: one scenario per process, one JSON line out.

    python bench/wayline_scenarios.py <scenario> '<json params>'

Uses Wayline's public API only (``WorkflowRuntime``, ``EngineSettings``,
``runtime.client()``, ``WorkflowClient``, ``when_all``, ``wayline serve`` and its HTTP
API), so it keeps working while the engine and store internals change. The
workload is the one DBOS runs in ``dbos_scenarios.py``: an activity returning
``x + 1``, and a workflow calling it ``steps`` times in sequence.

``{"metrics": true}`` (the scenarios that use ``running``) adds Prometheus metrics.

Store parameters (every scenario that opens a store): ``{"store": "sqlite"}`` is
the default store URL ``sqlite:///<tmp>/wayline.db`` (fsync-durable);
``{"store": "sqlite", "sync": "normal"}`` adds ``?synchronous=normal`` (WAL without
an fsync per commit); ``{"store": "postgresql://..."}`` uses that database.
"""

from __future__ import annotations

import contextlib
import json
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from scenario_support import (
    NotApplicable,
    Params,
    Result,
    StepClock,
    idle_cpu_percent,
    per_step,
    percentile,
    run_cli,
)
from serve_support import serve

import wayline

HERE = Path(__file__).resolve().parent
CHAIN_APP = HERE / "apps" / "chain_app.py"
NORMAL_SUFFIX = "?synchronous=normal"


def build_runtime(
    url: str, clock: StepClock | None = None, *, metrics: bool = False
) -> wayline.WorkflowRuntime:
    """A runtime with the benchmark's workflows: ``chain`` (n sequential ``inc``) and
    ``fan`` (n parallel ``inc`` joined by ``when_all``); with ``metrics``, Prometheus
    metrics observe it (``run.py --metrics`` measures what they cost)."""
    observer = None
    if metrics:
        from wayline.observability.metrics import PrometheusMetrics

        observer = PrometheusMetrics()
    runtime = wayline.WorkflowRuntime(store=url, observer=observer)

    @runtime.activity(name="inc")
    def inc(ctx: wayline.WorkflowActivityContext, x: int) -> int:
        if clock is not None:
            clock.tick()
        return x + 1

    @runtime.workflow(name="chain")
    def chain(ctx: wayline.WorkflowContext, n: int) -> Any:
        x = 0
        for _ in range(n):
            x = yield ctx.call_activity(inc, input=x)
        return x

    @runtime.workflow(name="fan")
    def fan(ctx: wayline.WorkflowContext, n: int) -> Any:
        results = yield wayline.when_all([ctx.call_activity(inc, input=i) for i in range(n)])
        return sum(results)

    return runtime


@contextlib.contextmanager
def store_url(params: Params) -> Iterator[str]:
    """The store URL a scenario uses; a temporary SQLite file unless a URL is given."""
    store = params.get("store", "sqlite")
    if store != "sqlite":
        yield store
        return
    with tempfile.TemporaryDirectory(prefix="wayline-bench-") as tmp:
        path = Path(params["db"]) if params.get("db") else Path(tmp) / "wayline.db"
        yield f"sqlite:///{path}" + (NORMAL_SUFFIX if params.get("sync") == "normal" else "")
        # A build that does not parse URL options opens a file named "...?synchronous=...".
        if any("?" in p.name for p in path.parent.iterdir()):
            raise NotApplicable("this build does not accept sqlite URL options (?synchronous=)")


@contextlib.contextmanager
def running(params: Params, clock: StepClock | None = None) -> Iterator[wayline.WorkflowRuntime]:
    with store_url(params) as url:
        try:
            runtime = build_runtime(url, clock, metrics=bool(params.get("metrics")))
            runtime.start()
        except Exception as exc:
            if url.endswith(NORMAL_SUFFIX):
                raise NotApplicable(f"{url}: {type(exc).__name__}: {exc}") from exc
            raise
        try:
            yield runtime
            if runtime.observer is not None:  # one scrape, untimed: the metrics work
                body, _ = runtime.observer.exposition()  # type: ignore[attr-defined]
                if b"dapr_runtime_workflow_activity_execution_count{" not in body:
                    raise RuntimeError("the metrics counted no activity")
        finally:
            runtime.shutdown()


def run_serial(
    client: wayline.WorkflowClient, workflows: int, steps: int, timeout: float = 600
) -> float:
    """Start and await ``workflows`` chains one at a time; returns seconds."""
    began = time.perf_counter()
    for _ in range(workflows):
        iid = client.start_workflow("chain", input=steps)
        state = client.wait_for_workflow_completion(iid, timeout=timeout)
        if state.output != steps:
            raise RuntimeError(f"chain {iid} ended {state.runtime_status} with {state.output!r}")
    return time.perf_counter() - began


def write_transactions(runtime: wayline.WorkflowRuntime) -> int | None:
    """The store's count of committed write transactions, where the store exposes it."""
    value = getattr(runtime.store, "write_transactions", None)
    return value if isinstance(value, int) else None


def serial(params: Params) -> Result:
    """Latency of one workflow at a time: ``workflows`` chains of ``steps`` steps, each
    started and awaited before the next (after ``warmup`` untimed ones). The cost of
    a step here is a full round trip through the store, so it shows commit cost."""
    workflows, steps = params["workflows"], params["steps"]
    with running(params) as runtime:
        client = runtime.client()
        run_serial(client, params.get("warmup", 0), steps)
        tx_before = write_transactions(runtime)
        cpu = time.process_time()
        elapsed = run_serial(client, workflows, steps)
        cpu = time.process_time() - cpu
        tx_after = write_transactions(runtime)
    tx = None if tx_before is None or tx_after is None else tx_after - tx_before
    return {
        "ms_per_step": per_step(elapsed, workflows * steps),
        # CPU time of the whole process (every thread) per step: what metrics add shows
        # here even when other load on the machine makes wall-clock figures noisy.
        "cpu_ms_per_step": per_step(cpu, workflows * steps),
        "workflows_per_s": workflows / elapsed,
        "tx_per_step": None if tx is None else tx / (workflows * steps),
    }


def concurrent(params: Params) -> Result:
    """Throughput: ``workflows`` chains started at once; steps/s until all are done."""
    workflows, steps = params["workflows"], params["steps"]
    with running(params) as runtime:
        client = runtime.client()
        run_serial(client, params.get("warmup", 0), steps)
        began, cpu = time.perf_counter(), time.process_time()
        ids = [client.start_workflow("chain", input=steps) for _ in range(workflows)]
        for iid in ids:
            state = client.wait_for_workflow_completion(iid, timeout=900)
            if state.output != steps:
                raise RuntimeError(f"chain {iid} ended {state.runtime_status}")
        elapsed = time.perf_counter() - began
        cpu = time.process_time() - cpu
    return {
        "steps_per_s": workflows * steps / elapsed,
        "seconds": elapsed,
        "cpu_ms_per_step": per_step(cpu, workflows * steps),
    }


def fanout(params: Params) -> Result:
    """Fan-out/fan-in: a workflow running ``width`` activities in parallel (``when_all``);
    ``rounds`` such workflows one after the other; ms per fan-out workflow."""
    width, rounds = params["width"], params["rounds"]
    with running(params) as runtime:
        client = runtime.client()

        def one() -> None:
            iid = client.start_workflow("fan", input=width)
            state = client.wait_for_workflow_completion(iid, timeout=600)
            if state.output != width * (width + 1) // 2:
                raise RuntimeError(f"fan {iid} ended {state.runtime_status}")

        for _ in range(params.get("warmup", 1)):
            one()
        began = time.perf_counter()
        for _ in range(rounds):
            one()
        elapsed = time.perf_counter() - began
    return {"ms_per_workflow": elapsed * 1000 / rounds}


def long(params: Params) -> Result:
    """Whether a step costs more as history grows: ms/step of short chains
    (``short_steps`` each, ``short_workflows`` of them) vs one chain of ``long_steps``,
    plus the mean step time over its first and last ``window`` steps."""
    clock = StepClock()
    short_steps, long_steps = params["short_steps"], params["long_steps"]
    with running(params, clock) as runtime:
        client = runtime.client()
        run_serial(client, 2, short_steps)
        short = run_serial(client, params["short_workflows"], short_steps)
        clock.times.clear()
        began = time.perf_counter()
        run_serial(client, 1, long_steps, timeout=3600)
        elapsed = time.perf_counter() - began
    first, last = clock.window_ms(params["window"])
    return {
        "short_ms_per_step": per_step(short, params["short_workflows"] * short_steps),
        "long_ms_per_step": per_step(elapsed, long_steps),
        "first_window_ms": first,
        "last_window_ms": last,
    }


def schema_digest(path: Path) -> str:
    """The schema of a SQLite file (``sqlite_master``), for comparing databases."""
    import hashlib

    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT type, name, tbl_name, COALESCE(sql, '') FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16]


def schema(params: Params) -> Result:
    """Create an empty store at ``db`` with the current code; return its schema digest."""
    path = Path(params["db"])
    wayline.WorkflowClient(store=f"sqlite:///{path}").close()
    return {"digest": schema_digest(path)}


def make_template(params: Params) -> Result:
    """``count`` finished ``chain`` instances of ``steps`` steps in ``db`` (aging's seed)."""
    path = Path(params["db"])
    runtime = build_runtime(f"sqlite:///{path}")
    with runtime:
        client = runtime.client()
        ids = []
        for n in range(params["count"]):
            iid = client.start_workflow("chain", input=params["steps"], instance_id=f"template-{n}")
            client.wait_for_workflow_completion(iid, timeout=120)
            ids.append(iid)
    return {"instance_ids": ids, "digest": schema_digest(path)}


def aged(params: Params) -> Result:
    """A running engine on a database holding many finished instances (``db``, a copy of
    the aged template) or none: its idle CPU over ``idle_seconds`` (as % of one core,
    after ``settle`` s), then serial ms/step. Also reports how long opening and
    starting took, and whether the schema afterwards is the current code's."""
    workflows, steps = params["workflows"], params["steps"]
    with store_url(params) as url:
        began = time.perf_counter()
        runtime = build_runtime(url)
        runtime.start()
        startup = time.perf_counter() - began
        try:
            time.sleep(params.get("settle", 2.0))
            idle = idle_cpu_percent(params["idle_seconds"])
            client = runtime.client()
            run_serial(client, params.get("warmup", 0), steps)
            elapsed = run_serial(client, workflows, steps)
        finally:
            runtime.shutdown()
        digest = schema_digest(Path(url[len("sqlite:///") :])) if params.get("db") else None
    return {
        "ms_per_step": per_step(elapsed, workflows * steps),
        "idle_cpu_percent": idle,
        "startup_s": startup,
        "schema_current": None if digest is None else digest == params.get("digest"),
    }


# ----- the HTTP server -----------------------------------------------------------------------


def http(params: Params) -> Result:
    """The server under load: ``connections`` clients POST ``.../chain/start`` (10-step
    chains, which the server then runs) for ``seconds``; meanwhile one more client
    reads one instance with ``GET /v1.0/workflows/dapr/{id}`` in a loop.
    Reports starts/s and the GET latency's p50 and p99."""
    seconds, connections, steps = params["seconds"], params["connections"], params["steps"]
    with tempfile.TemporaryDirectory(prefix="wayline-bench-") as tmp:
        store = f"sqlite:///{Path(tmp) / 'wayline.db'}"
        args = ["--app", str(CHAIN_APP), "--store", store, "--grpc-port", "0"]
        with serve([*args, "--log-level", "warning"], Path(tmp) / "server.log") as base:
            start_url = f"{base}/v1.0/workflows/dapr/chain/start"
            with httpx.Client(timeout=30) as c:
                first = c.post(start_url, json=steps)
                first.raise_for_status()
                probe_id = first.json()["instanceID"]
            stop = threading.Event()
            counts = [0] * connections
            errors: list[str] = []
            latencies: list[float] = []

            def starter(slot: int) -> None:
                with httpx.Client(timeout=30) as c:
                    while not stop.is_set():
                        response = c.post(start_url, json=steps)
                        if response.status_code == 202:
                            counts[slot] += 1
                        else:
                            errors.append(f"{response.status_code} {response.text[:200]}")

            def reader() -> None:
                with httpx.Client(timeout=30) as c:
                    while not stop.is_set():
                        t0 = time.perf_counter()
                        response = c.get(f"{base}/v1.0/workflows/dapr/{probe_id}")
                        latencies.append(time.perf_counter() - t0)
                        if response.status_code != 200:
                            errors.append(f"GET {response.status_code}")

            threads = [threading.Thread(target=starter, args=(n,)) for n in range(connections)]
            threads.append(threading.Thread(target=reader))
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            time.sleep(seconds)
            stop.set()
            for thread in threads:
                thread.join(60)
            elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return {
        "starts_per_s": sum(counts) / elapsed,
        "get_p50_ms": percentile(latencies, 0.5) * 1000,
        "get_p99_ms": percentile(latencies, 0.99) * 1000,
        "gets": len(latencies),
    }


# ----- several engine processes on PostgreSQL -------------------------------------------------


def node(params: Params) -> Result:
    """One engine process of the cluster scenario: serves until SIGTERM."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # taken by sigwait below
    runtime = build_runtime(params["store"])
    runtime.start()
    print("ready", file=sys.__stdout__, flush=True)
    signal.sigwait({signal.SIGTERM})
    runtime.shutdown()
    return {}


def cluster(params: Params) -> Result:
    """``nodes`` engine processes on one PostgreSQL database; one client starts
    ``workflows`` chains and waits until all are completed: workflows/s and steps/s."""
    workflows, steps, count = params["workflows"], params["steps"], params["nodes"]
    deadline = time.monotonic() + params.get("timeout", 600)
    procs: list[subprocess.Popen[str]] = []
    try:
        for n in range(count):
            node_params = json.dumps({"store": params["store"], "name": f"node{n}"})
            procs.append(
                subprocess.Popen(
                    [sys.executable, __file__, "node", node_params],
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
        for proc in procs:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            if not ready or proc.stdout.readline().strip() != "ready":
                raise RuntimeError("a node did not start within 60 s")
        client = wayline.WorkflowClient(store=params["store"])
        began = time.perf_counter()
        for n in range(workflows):
            client.start_workflow("chain", input=steps, instance_id=f"c{n:06d}")
        while client.count_workflows(status="COMPLETED") < workflows:
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not finish in time")
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
        client.close()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
    return {"workflows_per_s": workflows / elapsed, "steps_per_s": workflows * steps / elapsed}


SCENARIOS = {
    "serial": serial,
    "concurrent": concurrent,
    "fanout": fanout,
    "long": long,
    "schema": schema,
    "make_template": make_template,
    "aged": aged,
    "http": http,
    "node": node,
    "cluster": cluster,
}

if __name__ == "__main__":
    run_cli(SCENARIOS)
