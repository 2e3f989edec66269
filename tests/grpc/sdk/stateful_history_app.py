"""A dapr 1.19.0 app (its bundled dapr.ext.workflow keeps history between turns and
advertises WORKER_CAPABILITY_STATEFUL_HISTORY) against ``wayline serve``.

    python stateful_history_app.py HOST PORT STEPS [WORKFLOWS [CACHED_INSTANCES]]

Runs WORKFLOWS (default 1) chains of STEPS activities at once, the worker caching the
history of at most CACHED_INSTANCES instances (the SDK's default when omitted), and
prints one JSON line: the workflows' outputs and, for every turn the worker ran,
what its work item carried (whether it named a cached prefix, that prefix's
length, how many past events it sent), whether the worker held that prefix, and
how long the history it replayed was. Recording wraps the SDK's own history resolution;
nothing else of the SDK is touched.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import dapr.ext.workflow as wf
from dapr.ext.workflow._durabletask import worker as durable_worker

HOST, PORT, STEPS = sys.argv[1], sys.argv[2], int(sys.argv[3])
WORKFLOWS = int(sys.argv[4]) if len(sys.argv) > 4 else 1
CACHED = int(sys.argv[5]) if len(sys.argv) > 5 else None
turns: list[dict[str, Any]] = []
_resolve = durable_worker.TaskHubGrpcWorker._resolve_history


def _recording_resolve(self: Any, req: Any) -> Any:
    copy = self._history_cache.get(req.instanceId)
    history = _resolve(self, req)
    turns.append(
        {
            "cached": req.HasField("cachedHistory"),
            "held": req.cachedHistory.eventCount,
            "sent": len(req.pastEvents),
            "had_copy": copy is not None and len(copy) == req.cachedHistory.eventCount,
            "replayed": len(history),
        }
    )
    return history


durable_worker.TaskHubGrpcWorker._resolve_history = _recording_resolve  # type: ignore[method-assign]


def inc(ctx: wf.WorkflowActivityContext, x: int) -> int:
    return x + 1


def chain(ctx: wf.DaprWorkflowContext, n: int) -> Any:
    x = 0
    for _ in range(n):
        x = yield ctx.call_activity(inc, input=x)
    return x


runtime = wf.WorkflowRuntime(
    host=HOST, port=PORT, worker_ready_timeout=60, history_cache_max_instances=CACHED
)
runtime.register_workflow(chain, name="chain")
runtime.register_activity(inc, name="inc")
runtime.start()
try:
    client = wf.DaprWorkflowClient(host=HOST, port=PORT)
    ids = [client.schedule_new_workflow("chain", input=STEPS) for _ in range(WORKFLOWS)]
    outputs = []
    for iid in ids:
        state = client.wait_for_workflow_completion(iid, timeout_in_seconds=120)
        outputs.append(None if state is None else json.loads(state.serialized_output or "null"))
    print(json.dumps({"outputs": outputs, "turns": turns}), flush=True)
finally:
    runtime.shutdown()
