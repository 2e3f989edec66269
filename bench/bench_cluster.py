"""Throughput of 1, 2 and 3 engine processes sharing one PostgreSQL database.

Each round empties the database, starts N node processes (``WorkflowRuntime``s
on the same ``postgresql://`` store), then starts W workflows of three sequential
activities (four turns each) from one client and times until all completed.
Prints workflows/s per node count and the ratio to one node.

    WAYLINE_BENCH_POSTGRES_URL=postgresql://user:pw@host/db \\
        python bench/bench_cluster.py [--workflows 2000] [--nodes 1 2 3]

The database is wiped: point it at a scratch database. Figures depend on the
machine (cores shared by the nodes *and* the PostgreSQL server on one host).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import wayline
from wayline.store import open_store

URL_VARS = ("WAYLINE_BENCH_POSTGRES_URL", "WAYLINE_TEST_POSTGRES_URL")


def node_main(url: str, name: str) -> None:
    settings = wayline.EngineSettings(node_id=name, poll_interval=timedelta(seconds=1))
    runtime = wayline.WorkflowRuntime(store=url, settings=settings)

    @runtime.activity(name="inc")
    def inc(ctx: wayline.WorkflowActivityContext, x: int) -> int:
        return x + 1

    @runtime.workflow(name="chain")
    def chain(ctx: wayline.WorkflowContext, x: int) -> Any:
        for _ in range(3):
            x = yield ctx.call_activity(inc, input=x)
        return x

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # taken by sigwait below
    runtime.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM})
    runtime.shutdown()


def wipe(url: str) -> None:
    store = open_store(url)
    with store.transaction() as cur:  # type: ignore[attr-defined]
        for table in ("history", "inbox", "tasks", "instances", "nodes"):
            cur.execute(f"DELETE FROM {table}")
    store.close()


def round_(url: str, nodes: int, workflows: int) -> float:
    wipe(url)
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--node", url, f"node{n}"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(nodes)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        client = wayline.WorkflowClient(store=url)
        began = time.perf_counter()
        for n in range(workflows):
            client.start_workflow("chain", input=n, instance_id=f"b{n:06d}")
        while client.count_workflows(status="COMPLETED") < workflows:
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
        client.close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()
    return workflows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workflows", type=int, default=2000)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--node", nargs=2, metavar=("URL", "NAME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.node:
        node_main(*args.node)
        return
    url = next((os.environ[v] for v in URL_VARS if os.environ.get(v)), "")
    if not url:
        sys.exit(f"set {URL_VARS[0]}=postgresql://... (a scratch database: it is wiped)")
    print(f"{args.workflows} workflows x (3 activities, 4 turns); {os.cpu_count()} CPUs")
    rates = {n: round_(url, n, args.workflows) for n in args.nodes}
    base = rates[args.nodes[0]]
    print(f"{'nodes':>5}  {'workflows/s':>11}  {'ratio':>5}")
    for n, rate in rates.items():
        print(f"{n:>5}  {rate:>11.0f}  {rate / base:>5.2f}")


if __name__ == "__main__":
    main()
