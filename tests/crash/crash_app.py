"""A workflow app for the crash tests; run as ``python crash_app.py DB SIDE_EFFECT_LOG``.

It runs until killed. Activities append a line per execution to the side-effect
log (flushed and fsynced), so the test can count executions across crashes.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from datetime import timedelta

import wayline

SETTINGS = wayline.EngineSettings(
    turn_lease=timedelta(seconds=1),
    activity_lease=timedelta(seconds=2),
    poll_interval=timedelta(milliseconds=50),
    always_replay=True,
)


def make_runtime(db: str, log_path: str) -> wayline.WorkflowRuntime:
    runtime = wayline.WorkflowRuntime(store=f"sqlite:///{db}", settings=SETTINGS)
    lock = threading.Lock()

    @runtime.activity(name="step")
    def step(ctx: wayline.WorkflowActivityContext, x: int) -> int:
        with lock, open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{ctx.workflow_id} {ctx.task_id}\n")
            log.flush()
            os.fsync(log.fileno())
        return x * 2

    @runtime.workflow(name="crashy")
    def crashy(ctx: wayline.WorkflowContext, n: int):  # type: ignore[no-untyped-def]
        total = yield ctx.call_activity(step, input=n)
        go = yield ctx.wait_for_external_event("go")
        yield ctx.create_timer(timedelta(milliseconds=20))
        parts = yield wayline.when_all([ctx.call_activity(step, input=i) for i in range(3)])
        child = yield ctx.call_child_workflow(leaf, input=n)
        return total + go + sum(parts) + child

    @runtime.activity(name="dies_once")
    def dies_once(ctx: wayline.WorkflowActivityContext, x: int) -> int:
        """Does its work, then (first time only) kills the process before the result
        can be committed: the crash window between an activity and its commit."""
        marker = f"{log_path}.{ctx.workflow_id}.{ctx.task_id}.ran"
        with lock, open(log_path, "a", encoding="utf-8") as log:
            log.write(f"{ctx.workflow_id} {ctx.task_id}\n")
            log.flush()
            os.fsync(log.fileno())
        if not os.path.exists(marker):
            with open(marker, "w", encoding="utf-8") as done:
                done.flush()
                os.fsync(done.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        return x + 1

    @runtime.workflow(name="steps_then_dies")
    def steps_then_dies(ctx: wayline.WorkflowContext, n: int):  # type: ignore[no-untyped-def]
        total = yield ctx.call_activity(step, input=n)
        total = yield ctx.call_activity(dies_once, input=total)
        return (yield ctx.call_activity(step, input=total))

    @runtime.workflow(name="leaf")
    def leaf(ctx: wayline.WorkflowContext, n: int):  # type: ignore[no-untyped-def]
        return (yield ctx.call_activity(step, input=n + 1))

    return runtime


def expected_output(n: int, go: int) -> int:
    return n * 2 + go + (0 + 2 + 4) + (n + 1) * 2


if __name__ == "__main__":
    rt = make_runtime(sys.argv[1], sys.argv[2])
    rt.start()
    print("ready", flush=True)
    threading.Event().wait()
