"""A remote worker for ``wayline serve``: an unmodified dapr-ext-workflow==1.18.3 app whose
``WorkflowRuntime`` connects to ``DAPR_GRPC_ENDPOINT`` (and sends ``DAPR_API_TOKEN``).

None of these names is registered by ``tests/grpc/grpc_app.py`` (the server's ``--app``),
so the server dispatches them to this process over the ``GetWorkItems`` stream.

Usage (in the pinned venv): python worker_app.py [EFFECTS_LOG]

Prints "ready" once its stream is open (or "not-ready <ExceptionType>" and exits 3
when it has no stream after ``WORKER_READY_TIMEOUT`` seconds, e.g. without the API
token), then hosts the code until SIGTERM. Every activity execution appends one JSON
line ``{"pid", "instance", "activity", "event"}`` to EFFECTS_LOG, so tests can tell
which process ran what and how often.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from datetime import timedelta

import dapr.ext.workflow as wf

EFFECTS = sys.argv[1] if len(sys.argv) > 1 else None
READY_TIMEOUT = float(os.environ.get("WORKER_READY_TIMEOUT", "30"))
wfr = wf.WorkflowRuntime(worker_ready_timeout=READY_TIMEOUT)
_memory: list[dict[str, object]] = []  # the effects when no log file is given


def record(ctx: wf.WorkflowActivityContext, activity: str, event: str = "run") -> None:
    row = {"pid": os.getpid(), "instance": ctx.workflow_id, "activity": activity, "event": event}
    if EFFECTS is None:
        _memory.append(row)
        return
    # One O_APPEND write per line: concurrent activities (and processes) never interleave.
    fd = os.open(EFFECTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(row) + "\n").encode())
    finally:
        os.close(fd)


def recorded(instance: str, activity: str) -> int:
    """How many executions of ``activity`` for ``instance`` were recorded (by any process)."""
    if EFFECTS is None:
        rows = list(_memory)
    else:
        with open(EFFECTS) as log:
            rows = [json.loads(line) for line in log if line.strip()]
    return sum(1 for r in rows if r["instance"] == instance and r["activity"] == activity)


# ----- activities ----------------------------------------------------------------------------


@wfr.activity(name="remote_hello")
def remote_hello(ctx: wf.WorkflowActivityContext, name: str) -> str:
    record(ctx, "remote_hello")
    return f"Hello, {name}!"


@wfr.activity(name="remote_square")
def remote_square(ctx: wf.WorkflowActivityContext, n: int) -> int:
    record(ctx, "remote_square")
    return n * n


@wfr.activity(name="remote_pid")
def remote_pid(ctx: wf.WorkflowActivityContext, _: object) -> int:
    record(ctx, "remote_pid")
    return os.getpid()


@wfr.activity(name="remote_flaky")
def remote_flaky(ctx: wf.WorkflowActivityContext, _: object) -> str:
    """Fails on its first two attempts for an instance, succeeds on the third."""
    record(ctx, "remote_flaky")
    attempt = recorded(ctx.workflow_id, "remote_flaky")
    if attempt < 3:
        raise RuntimeError(f"attempt {attempt} fails")
    return f"ok after {attempt}"


@wfr.activity(name="remote_boom")
def remote_boom(ctx: wf.WorkflowActivityContext, message: str) -> None:
    record(ctx, "remote_boom")
    raise ValueError(message)


@wfr.activity(name="remote_slow")
def remote_slow(ctx: wf.WorkflowActivityContext, seconds: float) -> int:
    record(ctx, "remote_slow", "start")
    time.sleep(seconds)
    record(ctx, "remote_slow", "end")
    return os.getpid()


# ----- workflows -----------------------------------------------------------------------------


@wfr.workflow(name="remote_greet")
def remote_greet(ctx: wf.DaprWorkflowContext, name: str):  # type: ignore[no-untyped-def]
    """One activity; its result is the output."""
    return (yield ctx.call_activity(remote_hello, input=name))


@wfr.workflow(name="remote_timer")
def remote_timer(ctx: wf.DaprWorkflowContext, seconds: float):  # type: ignore[no-untyped-def]
    """A durable timer; returns the workflow clock's advance across it."""
    before = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(seconds=seconds))
    return {"elapsed": (ctx.current_utc_datetime - before).total_seconds()}


@wfr.workflow(name="remote_approval")
def remote_approval(ctx: wf.DaprWorkflowContext, name: str):  # type: ignore[no-untyped-def]
    """Greet, wait for "approve" (custom status says so), then report where it finished."""
    greeting = yield ctx.call_activity(remote_hello, input=name)
    ctx.set_custom_status("waiting-for-approval")
    approval = yield ctx.wait_for_external_event("approve")
    ctx.set_custom_status("approved")
    pid = yield ctx.call_activity(remote_pid, input=None)
    return {"greeting": greeting, "approval": approval, "pid": pid}


@wfr.workflow(name="remote_child")
def remote_child(ctx: wf.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    return (yield ctx.call_activity(remote_square, input=n))


@wfr.workflow(name="remote_parent")
def remote_parent(ctx: wf.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    """A child workflow with a chosen id, then one with the SDK's default id."""
    first = yield ctx.call_child_workflow(
        remote_child, input=n, instance_id=f"{ctx.instance_id}-child"
    )
    second = yield ctx.call_child_workflow(remote_child, input=n + 1)
    return {"first": first, "second": second}


@wfr.workflow(name="remote_waiter")
def remote_waiter(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    """Wait for an event nobody sends (terminated or purged around it)."""
    return (yield ctx.wait_for_external_event("never"))


@wfr.workflow(name="remote_holder")
def remote_holder(ctx: wf.DaprWorkflowContext, child_id: str):  # type: ignore[no-untyped-def]
    """Run ``remote_waiter`` as a child with the given id and wait for it."""
    return (yield ctx.call_child_workflow(remote_waiter, input=None, instance_id=child_id))


@wfr.workflow(name="remote_counter")
def remote_counter(ctx: wf.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    """Continue as new (after one activity each time) until n reaches 3."""
    if n >= 3:
        return n
    yield ctx.call_activity(remote_square, input=n)
    ctx.continue_as_new(n + 1)


@wfr.workflow(name="remote_fan")
def remote_fan(ctx: wf.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    """Fan out/in with when_all; then when_any twice: an event wins, then a timer wins."""
    squares = yield wf.when_all([ctx.call_activity(remote_square, input=i) for i in range(n)])
    go = ctx.wait_for_external_event("go")
    first = yield wf.when_any([go, ctx.create_timer(timedelta(seconds=60))])
    never = ctx.wait_for_external_event("never")
    second = yield wf.when_any([never, ctx.create_timer(timedelta(seconds=1))])
    return {
        "squares": squares,
        "first": "event" if first == go else "timer",
        "go": go.get_result() if first == go else None,
        "second": "event" if second == never else "timer",
    }


@wfr.workflow(name="remote_retry")
def remote_retry(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    policy = wf.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=3
    )
    return (yield ctx.call_activity(remote_flaky, input=None, retry_policy=policy))


@wfr.workflow(name="remote_fail")
def remote_fail(ctx: wf.DaprWorkflowContext, message: str):  # type: ignore[no-untyped-def]
    """Fails through an activity that always raises ValueError(message)."""
    yield ctx.call_activity(remote_boom, input=message)


@wfr.workflow(name="remote_crash")
def remote_crash(ctx: wf.DaprWorkflowContext, message: str):  # type: ignore[no-untyped-def]
    """Workflow code that raises by itself, after one activity."""
    yield ctx.call_activity(remote_hello, input="crash")
    raise KeyError(message)


@wfr.workflow(name="remote_slow_flow")
def remote_slow_flow(ctx: wf.DaprWorkflowContext, seconds: float):  # type: ignore[no-untyped-def]
    """One slow activity; returns the pid of the process that finished it."""
    return (yield ctx.call_activity(remote_slow, input=seconds))


if __name__ == "__main__":
    # SIGTERM is taken with sigwait in the main thread: blocked before any thread starts.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    # start() blocks until the stream is open; a refused worker (no API token: every
    # Hello answers UNAUTHENTICATED) retries forever, so the wait is bounded here.
    started = threading.Event()
    failed: list[BaseException] = []

    def start() -> None:
        try:
            wfr.start()
        except Exception as exc:
            failed.append(exc)
        finally:
            started.set()

    threading.Thread(target=start, daemon=True).start()
    if not started.wait(READY_TIMEOUT) or failed:
        print(f"not-ready {type(failed[0]).__name__ if failed else 'TimeoutError'}", flush=True)
        os._exit(3)
    print("ready", flush=True)
    signal.sigwait({signal.SIGTERM})
    wfr.shutdown()
