"""Replay cache vs full replay on every turn (the durabletask worker's model).

A workflow of N sequential activities runs once with Wayline's executor cache
and once with ``cache_size=0``, where every turn replays the whole history, as
the Dapr/durabletask workers do. Prints wall time per run and the ratio.

    python bench/bench_replay_cache.py [N ...]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import wayline


def run(steps: int, cache_size: int, db: Path) -> float:
    settings = wayline.EngineSettings(cache_size=cache_size, poll_interval=timedelta(seconds=1))
    runtime = wayline.WorkflowRuntime(store=f"sqlite:///{db}", settings=settings)

    @runtime.activity(name="inc")
    def inc(ctx: wayline.WorkflowActivityContext, x: int) -> int:
        return x + 1

    @runtime.workflow(name="chain")
    def chain(ctx: wayline.WorkflowContext, n: int):  # type: ignore[no-untyped-def]
        total = 0
        for _ in range(n):
            total = yield ctx.call_activity(inc, input=total)
        return total

    with runtime:
        client = runtime.client()
        started = time.perf_counter()
        iid = client.start_workflow(chain, input=steps)
        state = client.wait_for_workflow_completion(iid, timeout=600)
        elapsed = time.perf_counter() - started
    assert state.output == steps, state
    return elapsed


def main(sizes: list[int]) -> None:
    print(f"{'steps':>6} {'cached s':>10} {'full replay s':>14} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            cached = run(n, 10_000, Path(tmp) / f"cached-{n}.db")
            replay = run(n, 0, Path(tmp) / f"replay-{n}.db")
            print(f"{n:>6} {cached:>10.3f} {replay:>14.3f} {replay / cached:>6.1f}x")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 300, 1000])
