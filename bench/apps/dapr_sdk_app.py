"""An unmodified dapr-ext-workflow 1.18.3 app (worker and client in one process),
run with the python of the cached Dapr SDK venv against ``wayline serve``.

    python bench/apps/dapr_sdk_app.py <scenario> '{"host": ..., "port": ..., ...}'

The workflows and activities are registered only here, so the server (started
without ``--app``) sends every turn and activity to this worker over the
``GetWorkItems`` stream; the SDK's ``DaprWorkflowClient`` starts and awaits them.
The workload is the benchmark's chain: ``inc`` returns ``x + 1``, ``chain`` calls
it ``n`` times in sequence. The durabletask worker replays the full history on
every turn, so the cost of a step grows with the workflow's length.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: scenario_support

import dapr.ext.workflow as wf
from scenario_support import Params, Result, StepClock, per_step, run_cli

CLOCK = StepClock()


def inc(ctx: wf.WorkflowActivityContext, x: int) -> int:
    CLOCK.tick()
    return x + 1


def chain(ctx: wf.DaprWorkflowContext, n: int) -> Any:
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(inc, input=x)
    return x


class App:
    """The SDK's worker (connected) and client, on the server at ``host:port``."""

    def __init__(self, params: Params) -> None:
        host, port = params["host"], str(params["port"])
        self.runtime = wf.WorkflowRuntime(host=host, port=port, worker_ready_timeout=60)
        self.runtime.register_workflow(chain, name="chain")
        self.runtime.register_activity(inc, name="inc")
        self.runtime.start()
        self.client = wf.DaprWorkflowClient(host=host, port=port)

    def start(self, steps: int) -> str:
        return str(self.client.schedule_new_workflow("chain", input=steps))

    def wait(self, instance_id: str, steps: int, timeout: int = 3600) -> None:
        state = self.client.wait_for_workflow_completion(instance_id, timeout_in_seconds=timeout)
        output = None if state is None else json.loads(state.serialized_output or "null")
        if output != steps:
            status = None if state is None else state.runtime_status
            raise RuntimeError(f"chain {instance_id} ended {status} with {output!r}")

    def serial(self, workflows: int, steps: int) -> float:
        began = time.perf_counter()
        for _ in range(workflows):
            self.wait(self.start(steps), steps)
        return time.perf_counter() - began

    def close(self) -> None:
        self.runtime.shutdown()


def serial(params: Params) -> Result:
    """Chains of ``steps`` steps started and awaited one at a time: ms/step."""
    app = App(params)
    try:
        app.serial(params.get("warmup", 0), params["steps"])
        elapsed = app.serial(params["workflows"], params["steps"])
    finally:
        app.close()
    return {"ms_per_step": per_step(elapsed, params["workflows"] * params["steps"])}


def concurrent(params: Params) -> Result:
    """``workflows`` chains started at once: steps/s until all are done."""
    workflows, steps = params["workflows"], params["steps"]
    app = App(params)
    try:
        app.serial(params.get("warmup", 0), steps)
        began = time.perf_counter()
        ids = [app.start(steps) for _ in range(workflows)]
        for iid in ids:
            app.wait(iid, steps)
        elapsed = time.perf_counter() - began
    finally:
        app.close()
    return {"steps_per_s": workflows * steps / elapsed}


def long(params: Params) -> Result:
    """One chain of ``steps`` steps: ms/step overall and over its first and last
    ``window`` steps (timestamps taken by the activity)."""
    app = App(params)
    try:
        app.serial(1, 2)
        CLOCK.times.clear()
        elapsed = app.serial(1, params["steps"])
    finally:
        app.close()
    first, last = CLOCK.window_ms(params["window"])
    return {
        "ms_per_step": per_step(elapsed, params["steps"]),
        "first_window_ms": first,
        "last_window_ms": last,
    }


if __name__ == "__main__":
    run_cli({"serial": serial, "concurrent": concurrent, "long": long})
