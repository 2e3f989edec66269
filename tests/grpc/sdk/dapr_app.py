"""An unmodified Dapr workflow app (dapr-ext-workflow==1.18.3): its own workflows and
activities in a ``WorkflowRuntime`` that connects to ``DAPR_GRPC_ENDPOINT`` (here
``wayline serve``, no sidecar), driven by its own ``DaprWorkflowClient``.

Usage (in the pinned venv):
  python dapr_app.py scenarios PREFIX      run every scenario, print one JSON line
  python dapr_app.py worker EFFECTS_LOG    only host the code until SIGTERM; every
                                           activity start/end is appended to the log;
                                           prints "ready", or "not-ready" and exits 3
                                           if its stream is not open within
                                           APP_READY_TIMEOUT seconds (default 30)
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

wfr = wf.WorkflowRuntime()
EFFECTS = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "worker" else None
attempts: dict[str, int] = {}


def record(what: str, instance: str) -> None:
    if EFFECTS:
        fd = os.open(EFFECTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{os.getpid()} {instance} {what}\n".encode())
        finally:
            os.close(fd)


@wfr.activity(name="app_hello")
def app_hello(ctx: wf.WorkflowActivityContext, name: str) -> str:
    return f"Hello, {name}!"


@wfr.activity(name="app_square")
def app_square(ctx: wf.WorkflowActivityContext, n: int) -> int:
    return n * n


@wfr.activity(name="app_flaky")
def app_flaky(ctx: wf.WorkflowActivityContext, key: str) -> str:
    attempts[key] = attempts.get(key, 0) + 1
    if attempts[key] < 3:
        raise RuntimeError(f"attempt {attempts[key]} fails")
    return f"ok after {attempts[key]}"


@wfr.activity(name="app_boom")
def app_boom(ctx: wf.WorkflowActivityContext, message: str) -> None:
    raise ValueError(message)


@wfr.activity(name="app_slow")
def app_slow(ctx: wf.WorkflowActivityContext, seconds: float) -> int:
    record("start", ctx.workflow_id)
    time.sleep(seconds)
    record("end", ctx.workflow_id)
    return os.getpid()


@wfr.workflow(name="app_order")
def app_order(ctx: wf.DaprWorkflowContext, name: str):  # type: ignore[no-untyped-def]
    greeting = yield ctx.call_activity(app_hello, input=name)
    yield ctx.create_timer(timedelta(seconds=1))
    ctx.set_custom_status("waiting-for-approval")
    approval = yield ctx.wait_for_external_event("approve")
    return {"greeting": greeting, "approval": approval}


@wfr.workflow(name="app_child")
def app_child(ctx: wf.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    return (yield ctx.call_activity(app_square, input=n))


@wfr.workflow(name="app_parent")
def app_parent(ctx: wf.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    first = yield ctx.call_child_workflow(app_child, input=n)
    second = yield ctx.call_child_workflow(
        app_child, input=n + 1, instance_id=f"{ctx.instance_id}-c2"
    )
    return [first, second]


@wfr.workflow(name="app_waiter")
def app_waiter(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    return (yield ctx.wait_for_external_event("never"))


@wfr.workflow(name="app_holder")
def app_holder(ctx: wf.DaprWorkflowContext, child_id: str):  # type: ignore[no-untyped-def]
    return (yield ctx.call_child_workflow(app_waiter, input=None, instance_id=child_id))


@wfr.workflow(name="app_counter")
def app_counter(ctx: wf.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    if n < 3:
        yield ctx.create_timer(timedelta(milliseconds=10))
        ctx.continue_as_new(n + 1)
        return None
    return n


@wfr.workflow(name="app_fan")
def app_fan(ctx: wf.DaprWorkflowContext, n: int):  # type: ignore[no-untyped-def]
    squares = yield wf.when_all([ctx.call_activity(app_square, input=i) for i in range(n)])
    fast = ctx.wait_for_external_event("fast")
    slow = ctx.create_timer(timedelta(seconds=60))
    winner = yield wf.when_any([fast, slow])
    return {"sum": sum(squares), "winner": "event" if winner == fast else "timer",
            "event": fast.get_result() if winner == fast else None}  # fmt: skip


@wfr.workflow(name="app_retry")
def app_retry(ctx: wf.DaprWorkflowContext, key: str):  # type: ignore[no-untyped-def]
    policy = wf.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=200), max_number_of_attempts=3
    )
    return (yield ctx.call_activity(app_flaky, input=key, retry_policy=policy))


@wfr.workflow(name="app_fail")
def app_fail(ctx: wf.DaprWorkflowContext, message: str):  # type: ignore[no-untyped-def]
    yield ctx.call_activity(app_boom, input=message)


@wfr.workflow(name="app_slow_flow")
def app_slow_flow(ctx: wf.DaprWorkflowContext, seconds: float):  # type: ignore[no-untyped-def]
    pid = yield ctx.call_activity(app_slow, input=seconds)
    return pid


def state_json(state):  # type: ignore[no-untyped-def]
    if state is None:
        return None
    failure = state.failure_details
    return {
        "instance_id": state.instance_id,
        "name": state.name,
        "runtime_status": state.runtime_status.name,
        "created_at": state.created_at.isoformat(),
        "last_updated_at": state.last_updated_at.isoformat(),
        "serialized_input": state.serialized_input,
        "serialized_output": state.serialized_output,
        "serialized_custom_status": state.serialized_custom_status,
        "failure": None
        if failure is None
        else {"error_type": failure.error_type, "message": failure.message},
    }


def wait_for(condition, what, timeout=60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def scenarios(prefix: str) -> dict[str, object]:
    client = wf.DaprWorkflowClient()
    seen: dict[str, object] = {}

    def done(iid: str):  # type: ignore[no-untyped-def]
        return state_json(client.wait_for_workflow_completion(iid, timeout_in_seconds=60))

    def status(iid: str) -> str | None:
        state = client.get_workflow_state(iid)
        return None if state is None else state.runtime_status.name

    # Start everything first: the scenarios run side by side on one worker.
    order = client.schedule_new_workflow(app_order, input="ada", instance_id=f"{prefix}-order")
    parent = client.schedule_new_workflow(app_parent, input=3, instance_id=f"{prefix}-parent")
    holder = client.schedule_new_workflow(
        app_holder, input=f"{prefix}-held", instance_id=f"{prefix}-holder"
    )
    counter = client.schedule_new_workflow(app_counter, input=0, instance_id=f"{prefix}-counter")
    fan = client.schedule_new_workflow(app_fan, input=4, instance_id=f"{prefix}-fan")
    retry = client.schedule_new_workflow(app_retry, input=prefix, instance_id=f"{prefix}-retry")
    fail = client.schedule_new_workflow(app_fail, input="boom", instance_id=f"{prefix}-fail")
    # A workflow of the server's own --app module, beside this app's.
    local = client.schedule_new_workflow("echo_wf", input={"x": 1}, instance_id=f"{prefix}-local")

    # Activity, timer, custom status; pause, an event while paused, resume.
    seen["order_waiting"] = state_json(
        wait_for(
            lambda: (s := client.get_workflow_state(order)) and s.serialized_custom_status and s,
            "the custom status",
        )
    )
    client.pause_workflow(order)
    wait_for(lambda: status(order) == "SUSPENDED", "SUSPENDED")
    seen["order_paused"] = state_json(client.get_workflow_state(order))
    client.raise_workflow_event(order, "approve", data={"ok": True})
    time.sleep(0.5)
    seen["order_paused_after_event"] = state_json(client.get_workflow_state(order))
    client.resume_workflow(order)
    seen["order"] = done(order)

    seen["parent"] = done(parent)
    seen["parent_second_child"] = state_json(client.get_workflow_state(f"{prefix}-parent-c2"))

    wait_for(lambda: status(f"{prefix}-held") == "RUNNING", "the held child to run")
    client.terminate_workflow(holder)
    seen["holder"] = done(holder)
    seen["held"] = done(f"{prefix}-held")

    seen["counter"] = done(counter)

    wait_for(lambda: status(fan) == "RUNNING", "the fan-out to run")
    time.sleep(0.5)
    client.raise_workflow_event(fan, "fast", data="first!")
    seen["fan"] = done(fan)

    seen["retry"] = done(retry)
    seen["retry_attempts"] = attempts.get(prefix)
    seen["fail"] = done(fail)
    seen["local"] = done(local)

    client.purge_workflow(order)
    seen["order_purged"] = state_json(client.get_workflow_state(order))
    client.close()
    return seen


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "worker":
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        # start() may retry forever (a refused token): give it a deadline of our own.
        starter = threading.Thread(target=wfr.start, daemon=True)
        starter.start()
        starter.join(timeout=float(os.environ.get("APP_READY_TIMEOUT", "30")))
        if starter.is_alive():
            print("not-ready", flush=True)
            os._exit(3)
        print("ready", flush=True)
        stop.wait()
        wfr.shutdown()
    else:
        wfr.start()
        try:
            result = scenarios(sys.argv[2])
        finally:
            stopper = threading.Thread(target=wfr.shutdown, daemon=True)
            stopper.start()
            stopper.join(timeout=15)
        print(json.dumps(result))
