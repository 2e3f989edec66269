"""Remote workers: an unmodified Dapr Python SDK app runs its workflows on ``wayline serve``.

``sdk/worker_app.py`` is a real dapr-ext-workflow==1.18.3 ``WorkflowRuntime`` (pinned venv)
pointed at the server by ``DAPR_GRPC_ENDPOINT``; it holds workflows and activities the
server's ``--app`` module does not register, so the server dispatches them over the
``GetWorkItems`` stream. ``sdk/remote_driver.py`` is the SDK's ``DaprWorkflowClient``,
driven command by command. What the SDK sees must agree with Wayline's HTTP API, the Dapr
HTTP API and the CLI; the worker's effects log says which process ran each activity.

Three servers: ``server`` with one worker for the whole module (the workflow features),
``bare_server`` whose tests start and kill their own workers (queueing, re-dispatch), and
``token_server`` (API token).
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from grpc_support import SDK_DIR, GrpcServer
from views import agrees, cli_state, dapr_http, dapr_state, history, kinds, of_kind, wayline_state

from support.wait import wait_until

WAIT = 60  # seconds: every wait for a workflow to get somewhere


# ----- SDK processes -------------------------------------------------------------------------


class _Lines:
    """The stdout lines of a subprocess, read on a thread so reads can time out."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert process.stdout is not None
        stdout = process.stdout

        def pump() -> None:
            for raw in stdout:
                self._lines.put(raw.decode().rstrip("\n"))
            self._lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def next(self, timeout: float, what: str) -> str | None:
        """The next line; None at end of output."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s from {what}") from None


def _sdk_env(server: GrpcServer, token: bool) -> dict[str, str]:
    env = server.sdk_env()
    if not token:
        env.pop("DAPR_API_TOKEN", None)
    return env


class Worker:
    """``worker_app.py``: the app's workflow code on a work-item stream until stopped."""

    def __init__(
        self,
        python: Path,
        server: GrpcServer,
        effects: Path,
        *,
        token: bool = True,
        ready_timeout: float = 30,
    ) -> None:
        env = {**_sdk_env(server, token), "WORKER_READY_TIMEOUT": str(ready_timeout)}
        self.log = effects.parent / f"worker-{time.monotonic_ns()}.log"
        with self.log.open("wb") as err:
            self.process = subprocess.Popen(
                [str(python), str(SDK_DIR / "worker_app.py"), str(effects)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        self.pid = self.process.pid
        # "ready" once the stream is open; "not-ready <error>" when it gave up.
        try:
            self.first_line = _Lines(self.process).next(ready_timeout + 60, "worker_app.py")
        except BaseException:
            self.kill()  # never leave a silent worker behind
            raise

    def kill(self) -> None:
        """SIGKILL: the stream drops with whatever the worker had not answered."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()


class SdkError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error['type']} ({error['code']}): {error['message']}")
        self.type: str = error["type"]
        self.code: str | None = error["code"]
        self.message: str = error["message"]


class SdkClient:
    """``remote_driver.py``: one long-lived ``DaprWorkflowClient``, one JSON line per call."""

    def __init__(self, python: Path, server: GrpcServer, log: Path, *, token: bool = True) -> None:
        self.log = log
        with log.open("wb") as err:
            self.process = subprocess.Popen(
                [str(python), str(SDK_DIR / "remote_driver.py")],
                env=_sdk_env(server, token),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        self._lines = _Lines(self.process)
        try:
            assert self._read(60) == {"ready": True}
        except BaseException:
            self.process.kill()
            self.process.wait()
            raise

    def _read(self, timeout: float) -> Any:
        line = self._lines.next(timeout, "remote_driver.py")
        if line is None:
            raise AssertionError(f"remote_driver.py exited:\n{self.log.read_text()[-3000:]}")
        return json.loads(line)

    def call(self, op: str, **args: Any) -> Any:
        """Run one client method; raises ``SdkError`` with what the SDK raised."""
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"op": op, **args}) + "\n").encode())
        self.process.stdin.flush()
        answer = self._read(float(args.get("timeout", 0)) + 60)
        if "error" in answer:
            raise SdkError(answer["error"])
        return answer["result"]

    def schedule(self, name: str, instance_id: str, data: Any = None) -> str:
        started: str = self.call("schedule", name=name, instance_id=instance_id, input=data)
        assert started == instance_id
        return started

    def state(self, instance_id: str) -> dict[str, Any] | None:
        state: dict[str, Any] | None = self.call("state", instance_id=instance_id)
        return state

    def wait(self, instance_id: str, timeout: float = WAIT) -> dict[str, Any]:
        state: dict[str, Any] = self.call("wait", instance_id=instance_id, timeout=timeout)
        return state

    def wait_status(self, instance_id: str, status: str) -> dict[str, Any]:
        found: dict[str, Any] = wait_until(
            lambda: (s := self.state(instance_id)) and s["runtime_status"] == status and s,
            WAIT,
            f"{instance_id} to be {status}",
        )
        return found

    def wait_custom_status(self, instance_id: str, custom: str) -> dict[str, Any]:
        found: dict[str, Any] = wait_until(
            lambda: (
                (s := self.state(instance_id)) and s["serialized_custom_status"] == custom and s
            ),
            WAIT,
            f"{instance_id} to set the custom status {custom!r}",
        )
        return found

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def effects_of(path: Path, instance_id: str, activity: str | None = None) -> list[dict[str, Any]]:
    """The worker's effects log rows for one instance (optionally one activity)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        row
        for row in rows
        if row["instance"] == instance_id and activity in (None, row["activity"])
    ]


def stays(client: SdkClient, instance_id: str, seconds: float = 1) -> None:
    """Nothing finishes ``instance_id`` for a while (the completion wait times out)."""
    with pytest.raises(SdkError) as waited:
        client.wait(instance_id, timeout=seconds)
    assert waited.value.type == "TimeoutError", waited.value


# ----- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def effects(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("remote-effects") / "effects.log"
    path.touch()
    return path


@pytest.fixture(scope="module")
def worker(server: GrpcServer, dapr_ext_python: Path, effects: Path) -> Iterator[Worker]:
    """The one worker of ``server``, for the whole module."""
    running = Worker(dapr_ext_python, server, effects)
    assert running.first_line == "ready", running.log.read_text()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def sdk(server: GrpcServer, dapr_ext_python: Path, worker: Worker) -> Iterator[SdkClient]:
    """A ``DaprWorkflowClient`` on ``server`` (whose worker is connected)."""
    client = SdkClient(dapr_ext_python, server, worker.log.with_name("driver.log"))
    yield client
    client.close()


@pytest.fixture(scope="module")
def bare_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    """A server whose tests connect (and kill) their own workers."""
    running = GrpcServer(tmp_path_factory.mktemp("grpc-bare") / "wayline.db").start()
    yield running
    assert running.stop() == 0, f"unclean exit:\n{running.output()[-3000:]}"


@pytest.fixture(scope="module")
def bare_sdk(bare_server: GrpcServer, dapr_ext_python: Path) -> Iterator[SdkClient]:
    client = SdkClient(dapr_ext_python, bare_server, bare_server.log.with_name("driver.log"))
    yield client
    client.close()


Spawn = Callable[..., Worker]


@pytest.fixture
def spawn(dapr_ext_python: Path, tmp_path: Path) -> Iterator[Spawn]:
    """Start workers (``spawn(server, token=..., ready_timeout=...)``); all stopped at the end.

    ``spawn.effects`` is this test's effects log."""
    started: list[Worker] = []
    log = tmp_path / "effects.log"
    log.touch()

    def start(server: GrpcServer, **options: Any) -> Worker:
        running = Worker(dapr_ext_python, server, log, **options)
        started.append(running)
        return running

    start.effects = log  # type: ignore[attr-defined]
    yield start
    for running in started:
        running.stop()


# ----- one worker: the workflow features -----------------------------------------------------


def test_activity(server: GrpcServer, sdk: SdkClient, worker: Worker, effects: Path) -> None:
    sdk.schedule("remote_greet", "rw-greet", "ada")
    done = sdk.wait("rw-greet")

    assert done["runtime_status"] == "COMPLETED"
    assert done["name"] == "remote_greet"
    assert done["serialized_input"] == '"ada"'
    assert done["serialized_output"] == '"Hello, ada!"'
    assert done["failure"] is None
    agrees(server, done)

    events = history(server, "rw-greet")
    assert kinds(events)[:2] == ["WorkflowStarted", "ExecutionStarted"]
    (scheduled,) = of_kind(events, "TaskScheduled")
    assert (scheduled["name"], scheduled["input"], scheduled["event_id"]) == (
        "remote_hello",
        '"ada"',
        1,
    )
    (completed,) = of_kind(events, "TaskCompleted")
    assert (completed["task_scheduled_id"], completed["result"]) == (1, '"Hello, ada!"')
    (finished,) = of_kind(events, "ExecutionCompleted")
    assert (finished["status"], finished["result"]) == ("COMPLETED", '"Hello, ada!"')
    # The activity ran once, in the worker process.
    assert [row["pid"] for row in effects_of(effects, "rw-greet")] == [worker.pid]


def test_durable_timer(server: GrpcServer, sdk: SdkClient) -> None:
    sdk.schedule("remote_timer", "rw-timer", 1.0)
    done = sdk.wait("rw-timer")

    assert done["runtime_status"] == "COMPLETED"
    # The workflow clock (the turns' WorkflowStarted stamps) moved past the due time.
    assert json.loads(done["serialized_output"])["elapsed"] >= 1.0
    agrees(server, done)
    events = history(server, "rw-timer")
    (created,) = of_kind(events, "TimerCreated")
    (fired,) = of_kind(events, "TimerFired")
    assert created["origin"] == "create_timer"
    assert fired["timer_id"] == created["event_id"]
    assert datetime.fromisoformat(fired["fire_at"]) == datetime.fromisoformat(created["fire_at"])
    assert datetime.fromisoformat(fired["timestamp"]) >= datetime.fromisoformat(created["fire_at"])


def test_custom_status_and_an_external_event(
    server: GrpcServer, sdk: SdkClient, worker: Worker
) -> None:
    sdk.schedule("remote_approval", "rw-approval", "bob")
    waiting = sdk.wait_custom_status("rw-approval", "waiting-for-approval")

    assert waiting["runtime_status"] == "RUNNING"
    assert waiting["serialized_output"] is None
    # Every view shows the custom status the remote workflow set.
    agrees(server, waiting)
    assert wayline_state(server, "rw-approval")["customStatus"] == "waiting-for-approval"
    assert cli_state(server, "rw-approval")["customStatus"] == "waiting-for-approval"
    assert (
        dapr_state(server, "rw-approval")["properties"]["dapr.workflow.custom_status"]
        == "waiting-for-approval"
    )

    sdk.call("raise_event", instance_id="rw-approval", event="approve", data={"ok": True})
    done = sdk.wait("rw-approval")

    assert done["runtime_status"] == "COMPLETED"
    assert json.loads(done["serialized_output"]) == {
        "greeting": "Hello, bob!",
        "approval": {"ok": True},
        "pid": worker.pid,
    }
    assert done["serialized_custom_status"] == "approved"  # the last one set
    agrees(server, done)
    (raised,) = of_kind(history(server, "rw-approval"), "EventRaised")
    assert (raised["name"], raised["input"]) == ("approve", '{"ok": true}')


def test_an_event_raised_while_paused_is_delivered_after_resume(
    server: GrpcServer, sdk: SdkClient, effects: Path
) -> None:
    sdk.schedule("remote_approval", "rw-paused", "cy")
    sdk.wait_custom_status("rw-paused", "waiting-for-approval")

    sdk.call("pause", instance_id="rw-paused")
    paused = sdk.wait_status("rw-paused", "SUSPENDED")
    agrees(server, paused)
    sdk.call("raise_event", instance_id="rw-paused", event="approve", data="yes")
    stays(sdk, "rw-paused")  # held: the workflow does not go on while paused
    held = sdk.state("rw-paused")
    assert held is not None
    assert held["runtime_status"] == "SUSPENDED"
    assert held["serialized_custom_status"] == "waiting-for-approval"
    assert effects_of(effects, "rw-paused", "remote_pid") == []
    agrees(server, held)

    sdk.call("resume", instance_id="rw-paused")
    done = sdk.wait("rw-paused")

    assert done["runtime_status"] == "COMPLETED"
    assert json.loads(done["serialized_output"])["approval"] == "yes"
    agrees(server, done)
    event_kinds = kinds(history(server, "rw-paused"))
    assert event_kinds.count("ExecutionSuspended") == event_kinds.count("ExecutionResumed") == 1
    assert event_kinds.index("ExecutionSuspended") < event_kinds.index("ExecutionResumed")
    assert event_kinds.count("EventRaised") == 1


def test_a_timer_due_while_paused_fires_after_resume(server: GrpcServer, sdk: SdkClient) -> None:
    sdk.schedule("remote_timer", "rw-paused-timer", 2.0)
    sdk.wait_status("rw-paused-timer", "RUNNING")
    sdk.call("pause", instance_id="rw-paused-timer")
    sdk.wait_status("rw-paused-timer", "SUSPENDED")
    (created,) = of_kind(history(server, "rw-paused-timer"), "TimerCreated")
    due = datetime.fromisoformat(created["fire_at"]).timestamp()
    time.sleep(max(0.0, due - time.time()) + 0.5)

    stays(sdk, "rw-paused-timer")
    assert wayline_state(server, "rw-paused-timer")["runtimeStatus"] == "SUSPENDED"

    sdk.call("resume", instance_id="rw-paused-timer")
    done = sdk.wait("rw-paused-timer")
    assert done["runtime_status"] == "COMPLETED"
    assert json.loads(done["serialized_output"])["elapsed"] >= 2.0
    agrees(server, done)


def test_terminate_reaches_the_running_child(server: GrpcServer, sdk: SdkClient) -> None:
    sdk.schedule("remote_holder", "rw-holder", "rw-held")
    sdk.wait_status("rw-held", "RUNNING")

    sdk.call("terminate", instance_id="rw-holder", output="stopped")  # recursive by default
    parent = sdk.wait("rw-holder")
    child = sdk.wait("rw-held")

    assert parent["runtime_status"] == "TERMINATED"
    assert parent["serialized_output"] == '"stopped"'
    assert child["runtime_status"] == "TERMINATED"
    assert child["name"] == "remote_waiter"
    agrees(server, parent)
    agrees(server, child)
    assert wayline_state(server, "rw-held")["parentInstanceID"] == "rw-holder"
    (terminated,) = of_kind(history(server, "rw-holder"), "ExecutionTerminated")
    assert terminated["input"] == '"stopped"'


def test_a_child_id_start_would_refuse_fails_the_parent(server: GrpcServer, sdk: SdkClient) -> None:
    sdk.schedule("remote_holder", "rw-bad-child", "c/x")
    done = sdk.wait("rw-bad-child")

    assert done["runtime_status"] == "FAILED"
    failure = done["failure"]
    assert "cannot start child workflow 'remote_waiter'" in failure["message"]
    assert "'/' is not allowed" in failure["message"]
    assert sdk.state("c/x") is None
    (failed,) = of_kind(history(server, "rw-bad-child"), "ChildWorkflowFailed")
    assert failed["failure"]["error_type"] == "InvalidInstanceIdError"


def test_child_workflows(server: GrpcServer, sdk: SdkClient) -> None:
    sdk.schedule("remote_parent", "rw-parent", 4)
    done = sdk.wait("rw-parent")

    assert done["runtime_status"] == "COMPLETED"
    assert json.loads(done["serialized_output"]) == {"first": 16, "second": 25}
    agrees(server, done)
    events = history(server, "rw-parent")
    created = of_kind(events, "ChildWorkflowCreated")
    assert [c["name"] for c in created] == ["remote_child", "remote_child"]
    assert created[0]["instance_id"] == "rw-parent-child"
    completed = of_kind(events, "ChildWorkflowCompleted")
    assert [(c["task_scheduled_id"], c["result"]) for c in completed] == [
        (created[0]["event_id"], "16"),
        (created[1]["event_id"], "25"),
    ]
    for child_id, result in ((created[0]["instance_id"], "16"), (created[1]["instance_id"], "25")):
        child = sdk.state(child_id)
        assert child is not None
        assert (child["runtime_status"], child["serialized_output"]) == ("COMPLETED", result)
        agrees(server, child)
        assert wayline_state(server, child_id)["parentInstanceID"] == "rw-parent"


def test_purge(server: GrpcServer, sdk: SdkClient) -> None:
    sdk.schedule("remote_parent", "rw-purge", 2)
    assert sdk.wait("rw-purge")["runtime_status"] == "COMPLETED"
    children = [
        c["instance_id"] for c in of_kind(history(server, "rw-purge"), "ChildWorkflowCreated")
    ]
    assert len(children) == 2

    sdk.call("purge", instance_id="rw-purge")  # recursive: the children go too

    for gone in ("rw-purge", *children):
        assert sdk.state(gone) is None
        assert server.instance(gone).status_code == 404
        assert dapr_http(server, gone).status_code == 404

    # A running instance is not purged.
    sdk.schedule("remote_waiter", "rw-purge-running")
    sdk.wait_status("rw-purge-running", "RUNNING")
    with pytest.raises(SdkError):
        sdk.call("purge", instance_id="rw-purge-running")
    still = sdk.state("rw-purge-running")
    assert still is not None and still["runtime_status"] == "RUNNING"
    sdk.call("terminate", instance_id="rw-purge-running")
    assert sdk.wait("rw-purge-running")["runtime_status"] == "TERMINATED"


def test_continue_as_new(server: GrpcServer, sdk: SdkClient, effects: Path) -> None:
    sdk.schedule("remote_counter", "rw-counter", 0)
    done = sdk.wait("rw-counter")

    assert done["runtime_status"] == "COMPLETED"
    assert (done["serialized_input"], done["serialized_output"]) == ("3", "3")
    agrees(server, done)
    # The last generation started a fresh history.
    event_kinds = kinds(history(server, "rw-counter"))
    assert event_kinds[:2] == ["WorkflowStarted", "ExecutionStarted"]
    assert event_kinds.count("ExecutionStarted") == 1
    assert "TaskScheduled" not in event_kinds
    # One activity per earlier generation (n = 0, 1, 2).
    assert len(effects_of(effects, "rw-counter", "remote_square")) == 3


def test_when_all_and_when_any(server: GrpcServer, sdk: SdkClient) -> None:
    sdk.schedule("remote_fan", "rw-fan", 4)
    sdk.wait_status("rw-fan", "RUNNING")
    sdk.call("raise_event", instance_id="rw-fan", event="go", data="first!")
    done = sdk.wait("rw-fan")

    assert done["runtime_status"] == "COMPLETED"
    assert json.loads(done["serialized_output"]) == {
        "squares": [0, 1, 4, 9],  # in call order, whatever order they finished in
        "first": "event",  # the event beat the 60 s timer
        "go": "first!",
        "second": "timer",  # the 1 s timer beat an event nobody sends
    }
    agrees(server, done)
    events = history(server, "rw-fan")
    assert len(of_kind(events, "TaskScheduled")) == len(of_kind(events, "TaskCompleted")) == 4
    timers = [t for t in of_kind(events, "TimerCreated") if t["origin"] == "create_timer"]
    assert len(timers) == 2  # 60 s, then 1 s
    (fired,) = of_kind(events, "TimerFired")  # only the 1 s timer
    assert fired["timer_id"] == timers[1]["event_id"]


def test_retry_policy(server: GrpcServer, sdk: SdkClient, worker: Worker, effects: Path) -> None:
    sdk.schedule("remote_retry", "rw-retry")
    done = sdk.wait("rw-retry")

    assert done["runtime_status"] == "COMPLETED"
    assert done["serialized_output"] == '"ok after 3"'
    agrees(server, done)
    attempts = effects_of(effects, "rw-retry", "remote_flaky")
    assert [row["pid"] for row in attempts] == [worker.pid] * 3

    events = history(server, "rw-retry")
    scheduled = of_kind(events, "TaskScheduled")
    assert [s["name"] for s in scheduled] == ["remote_flaky"] * 3
    assert len({s["event_id"] for s in scheduled}) == 3
    failed = of_kind(events, "TaskFailed")
    assert [(f["failure"]["error_type"], f["failure"]["message"]) for f in failed] == [
        ("RuntimeError", "attempt 1 fails"),
        ("RuntimeError", "attempt 2 fails"),
    ]
    assert [f["task_scheduled_id"] for f in failed] == [s["event_id"] for s in scheduled[:2]]
    (completed,) = of_kind(events, "TaskCompleted")
    assert completed["task_scheduled_id"] == scheduled[2]["event_id"]
    retry_timers = [t for t in of_kind(events, "TimerCreated") if t["origin"] == "activity_retry"]
    assert len(retry_timers) == 2


def test_an_activity_that_always_fails(server: GrpcServer, sdk: SdkClient) -> None:
    sdk.schedule("remote_fail", "rw-fail", "kaboom")
    done = sdk.wait("rw-fail")

    assert done["runtime_status"] == "FAILED"
    assert done["serialized_output"] is None
    failure = done["failure"]
    assert failure["error_type"] == "TaskFailedError"  # as durabletask reports it
    assert "kaboom" in failure["message"]
    agrees(server, done)  # the same error type and message over HTTP, CLI and Dapr HTTP

    events = history(server, "rw-fail")
    (task_failed,) = of_kind(events, "TaskFailed")
    assert task_failed["failure"]["error_type"] == "ValueError"
    assert task_failed["failure"]["message"] == "kaboom"
    assert "remote_boom" in (task_failed["failure"]["stack_trace"] or "")
    (finished,) = of_kind(events, "ExecutionCompleted")
    assert finished["status"] == "FAILED"
    assert finished["failure"]["error_type"] == failure["error_type"]
    assert finished["failure"]["message"] == failure["message"]


def test_workflow_code_that_raises(server: GrpcServer, sdk: SdkClient) -> None:
    sdk.schedule("remote_crash", "rw-crash", "no-such-key")
    done = sdk.wait("rw-crash")

    assert done["runtime_status"] == "FAILED"
    assert done["failure"]["error_type"] == "KeyError"
    assert "no-such-key" in done["failure"]["message"]
    agrees(server, done)


def test_app_and_remote_workflows_side_by_side(
    server: GrpcServer, sdk: SdkClient, worker: Worker, effects: Path
) -> None:
    # greet_wf and its activity "greet" are the server's own (--app grpc_app.py).
    sdk.schedule("greet_wf", "rw-mixed-app", {"name": "dee"})
    sdk.schedule("remote_approval", "rw-mixed-remote", "eve")
    sdk.wait_custom_status("rw-mixed-app", "waiting-for-approval")
    sdk.wait_custom_status("rw-mixed-remote", "waiting-for-approval")
    for iid in ("rw-mixed-app", "rw-mixed-remote"):
        sdk.call("raise_event", instance_id=iid, event="approve", data=iid)

    app, remote = sdk.wait("rw-mixed-app"), sdk.wait("rw-mixed-remote")

    assert app["runtime_status"] == remote["runtime_status"] == "COMPLETED"
    assert json.loads(app["serialized_output"]) == {
        "greeting": "Hello, dee!",
        "approval": "rw-mixed-app",
    }
    assert json.loads(remote["serialized_output"]) == {
        "greeting": "Hello, eve!",
        "approval": "rw-mixed-remote",
        "pid": worker.pid,
    }
    agrees(server, app)
    agrees(server, remote)
    assert effects_of(effects, "rw-mixed-app") == []  # the server ran it, not the worker
    assert len(effects_of(effects, "rw-mixed-remote")) == 2


# ----- workers coming and going --------------------------------------------------------------


def test_work_is_queued_until_a_worker_connects(
    bare_server: GrpcServer, bare_sdk: SdkClient, spawn: Spawn
) -> None:
    """Runs first on ``bare_server``: no worker has connected yet."""
    effects: Path = spawn.effects  # type: ignore[attr-defined]
    bare_sdk.schedule("remote_greet", "q-greet", "queued")
    bare_sdk.schedule("remote_parent", "q-parent", 5)
    bare_sdk.schedule("echo_wf", "q-local", {"x": 1})  # the server's own: needs no worker

    local = bare_sdk.wait("q-local")
    assert (local["runtime_status"], local["serialized_output"]) == ("COMPLETED", '{"x": 1}')
    stays(bare_sdk, "q-greet")
    for iid in ("q-greet", "q-parent"):
        pending = bare_sdk.state(iid)
        assert pending is not None and pending["runtime_status"] == "PENDING"
        assert wayline_state(bare_server, iid)["runtimeStatus"] == "PENDING"
        assert dapr_state(bare_server, iid)["runtimeStatus"] == "PENDING"

    late = spawn(bare_server)
    assert late.first_line == "ready", late.log.read_text()

    greet, parent = bare_sdk.wait("q-greet"), bare_sdk.wait("q-parent")
    assert (greet["runtime_status"], greet["serialized_output"]) == (
        "COMPLETED",
        '"Hello, queued!"',
    )
    assert parent["runtime_status"] == "COMPLETED"
    assert json.loads(parent["serialized_output"]) == {"first": 25, "second": 36}
    agrees(bare_server, greet)
    agrees(bare_server, parent)
    assert {row["pid"] for row in effects_of(effects, "q-greet")} == {late.pid}


def test_a_worker_killed_mid_activity_is_replaced(
    bare_server: GrpcServer, bare_sdk: SdkClient, spawn: Spawn
) -> None:
    effects: Path = spawn.effects  # type: ignore[attr-defined]
    first = spawn(bare_server)
    assert first.first_line == "ready", first.log.read_text()
    bare_sdk.schedule("remote_slow_flow", "k-activity", 3.0)
    wait_until(
        lambda: effects_of(effects, "k-activity", "remote_slow"),
        WAIT,
        "the first worker to start the slow activity",
    )
    first.kill()  # mid-activity: its stream drops with the activity unanswered

    stays(bare_sdk, "k-activity")  # no worker, no progress
    assert wayline_state(bare_server, "k-activity")["runtimeStatus"] == "RUNNING"

    second = spawn(bare_server)
    assert second.first_line == "ready", second.log.read_text()
    done = bare_sdk.wait("k-activity")

    assert done["runtime_status"] == "COMPLETED"
    assert done["serialized_output"] == str(second.pid)  # re-dispatched to the new worker
    agrees(bare_server, done)
    rows = [(r["pid"], r["event"]) for r in effects_of(effects, "k-activity", "remote_slow")]
    assert rows == [(first.pid, "start"), (second.pid, "start"), (second.pid, "end")]
    event_kinds = kinds(history(bare_server, "k-activity"))
    assert event_kinds.count("TaskScheduled") == event_kinds.count("TaskCompleted") == 1


def test_a_worker_killed_while_waiting_for_an_event_is_replaced(
    bare_server: GrpcServer, bare_sdk: SdkClient, spawn: Spawn
) -> None:
    effects: Path = spawn.effects  # type: ignore[attr-defined]
    first = spawn(bare_server)
    assert first.first_line == "ready", first.log.read_text()
    bare_sdk.schedule("remote_approval", "k-event", "kim")
    bare_sdk.wait_custom_status("k-event", "waiting-for-approval")
    first.kill()

    # Raised while no worker is connected: kept until one is.
    bare_sdk.call("raise_event", instance_id="k-event", event="approve", data="late")
    stays(bare_sdk, "k-event")
    second = spawn(bare_server)
    assert second.first_line == "ready", second.log.read_text()
    done = bare_sdk.wait("k-event")

    assert done["runtime_status"] == "COMPLETED"
    assert json.loads(done["serialized_output"]) == {
        "greeting": "Hello, kim!",
        "approval": "late",
        "pid": second.pid,
    }
    agrees(bare_server, done)
    assert [r["pid"] for r in effects_of(effects, "k-event", "remote_hello")] == [first.pid]
    assert [r["pid"] for r in effects_of(effects, "k-event", "remote_pid")] == [second.pid]


def test_workers_need_the_api_token(
    token_server: GrpcServer, dapr_ext_python: Path, spawn: Spawn, tmp_path: Path
) -> None:
    client = SdkClient(dapr_ext_python, token_server, tmp_path / "driver.log")
    anonymous = SdkClient(dapr_ext_python, token_server, tmp_path / "anon.log", token=False)
    try:
        with pytest.raises(SdkError) as refused:
            anonymous.schedule("remote_greet", "t-anonymous", "nobody")
        assert refused.value.code == "UNAUTHENTICATED"

        client.schedule("remote_greet", "t-greet", "tok")
        # Without the token the worker is refused (it retries on its own; the app gives up).
        rejected = spawn(token_server, token=False, ready_timeout=3)
        assert rejected.first_line == "not-ready TimeoutError", rejected.log.read_text()
        assert rejected.process.wait(timeout=30) == 3
        assert "StatusCode.UNAUTHENTICATED" in rejected.log.read_text()
        pending = client.state("t-greet")
        assert pending is not None and pending["runtime_status"] == "PENDING"  # nobody ran it

        accepted = spawn(token_server)
        assert accepted.first_line == "ready", accepted.log.read_text()
        done = client.wait("t-greet")
        assert (done["runtime_status"], done["serialized_output"]) == ("COMPLETED", '"Hello, tok!"')
        agrees(token_server, done)
        assert client.state("t-anonymous") is None
    finally:
        client.close()
        anonymous.close()
