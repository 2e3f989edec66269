"""A node of the test cluster: ``python cluster_app.py POSTGRES_URL EFFECTS_LOG NODE``.

Hosts the cluster tests' workflows on a ``WorkflowRuntime`` and runs until killed
(SIGTERM shuts it down gracefully). Short leases so a dead or paused node's work
moves on within seconds. Each activity execution appends ``NODE INSTANCE TASK`` to
the side-effect log in one ``write`` on an ``O_APPEND`` descriptor, so lines of
several nodes never interleave and a SIGKILL loses none that were written.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
import time
from datetime import timedelta
from typing import Any

import wayline

SETTINGS = wayline.EngineSettings(
    turn_lease=timedelta(seconds=1),
    activity_lease=timedelta(seconds=2),
    poll_interval=timedelta(milliseconds=500),  # a fallback: NOTIFY wakes the nodes
    always_replay=True,
)
#: The node that stops itself (SIGSTOP) in the middle of a ``stall`` turn.
STALLING_NODE = "victim"


def make_runtime(url: str, log_path: str, node: str) -> wayline.WorkflowRuntime:
    settings = wayline.EngineSettings(**{**SETTINGS.__dict__, "node_id": node})
    runtime = wayline.WorkflowRuntime(store=url, settings=settings)
    effects = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    stalled = threading.Event()

    def record(ctx: wayline.WorkflowActivityContext, what: str = "") -> None:
        os.write(effects, f"{node} {ctx.workflow_id} {ctx.task_id} {what}\n".encode())

    @runtime.activity(name="work")
    def work(ctx: wayline.WorkflowActivityContext, x: int) -> int:
        record(ctx)
        return x * 2

    @runtime.activity(name="slow")
    def slow(ctx: wayline.WorkflowActivityContext, seconds: float) -> str:
        record(ctx, "start")
        time.sleep(seconds)
        record(ctx, "end")
        return node

    @runtime.workflow(name="order")
    def order(ctx: wayline.WorkflowContext, n: int) -> Any:
        total = yield ctx.call_activity(work, input=n)
        go = yield ctx.wait_for_external_event("go")
        yield ctx.create_timer(timedelta(milliseconds=200))
        parts = yield wayline.when_all([ctx.call_activity(work, input=i) for i in range(3)])
        child = yield ctx.call_child_workflow(leaf, input=n)
        return total + go + sum(parts) + child

    @runtime.workflow(name="leaf")
    def leaf(ctx: wayline.WorkflowContext, n: int) -> Any:
        return (yield ctx.call_activity(work, input=n + 1))

    @runtime.workflow(name="stall")
    def stall(ctx: wayline.WorkflowContext, n: int) -> Any:
        # The stalling node freezes itself mid-turn (claimed, not yet committed), as
        # a partitioned or swapped-out node would; only once, and never in replay.
        if node == STALLING_NODE and not ctx.is_replaying and not stalled.is_set():
            stalled.set()
            os.kill(os.getpid(), signal.SIGSTOP)
        doubled = yield ctx.call_activity(work, input=n)
        return doubled

    @runtime.workflow(name="slow_flow")
    def slow_flow(ctx: wayline.WorkflowContext, seconds: float) -> Any:
        return (yield ctx.call_activity(slow, input=seconds))

    return runtime


def expected_order_output(n: int, go: int) -> int:
    return n * 2 + go + (0 + 2 + 4) + (n + 1) * 2


if __name__ == "__main__":
    faulthandler.register(signal.SIGUSR1)  # the tests dump a hung node's stacks
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rt = make_runtime(sys.argv[1], sys.argv[2], sys.argv[3])
    # SIGTERM is blocked in every thread (they inherit the mask) and taken here with
    # sigwait: no handler racing the main thread's wait.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    rt.start()
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM})
    rt.shutdown()
