"""``wayline replay`` and ``wayline.Replayer``: histories recorded by a real server
(exported with ``wayline history -o json``, read over gRPC as Dapr's
``GetInstanceHistory`` JSON, or straight from the store) replayed against the
recorded code, a renamed step and a changed result."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

import wayline
from support.server import Server
from support.wait import wait_until
from wayline._proto.dt import orchestrator_service_pb2 as pb

WAYLINE = [sys.executable, "-m", "wayline"]

APP = """
import wayline

runtime = wayline.WorkflowRuntime()

@runtime.activity
def reserve(ctx, item):
    return f"reserved {{item}}"

@runtime.activity
def {charge}(ctx, item):
    return 10

@runtime.workflow
def order(ctx, item):
    note = yield ctx.call_activity(reserve, input=item)
    amount = yield ctx.call_activity({charge}, input=item)
    approved = yield ctx.wait_for_external_event("approve")
    return {{"note": note, "amount": amount {change}, "approved": approved}}
"""


def _app(folder: Path, name: str, *, charge: str = "charge", change: str = "") -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(APP.format(charge=charge, change=change)))
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WAYLINE, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two orders run by a real server on v1 (one finished, one waiting for approval),
    their histories exported as Wayline JSON and as Dapr's gRPC JSON (new and old
    field names)."""
    folder = tmp_path_factory.mktemp("replay")
    v1 = _app(folder, "v1")
    server = Server(folder / "wayline.db", apps=(v1,), with_grpc=True).start()
    try:
        with server.client() as http:
            for iid in ("done-1", "waiting-1"):
                started = http.post(
                    f"/v1.0/workflows/dapr/order/start?instanceID={iid}", json="book"
                )
                assert started.status_code == 202, started.text

            def status(iid: str) -> str:
                return http.get(f"/v1.0/workflows/dapr/{iid}").json()["runtimeStatus"]

            wait_until(lambda: status("waiting-1") == "RUNNING", what="waiting-1 to run")
            wait_until(lambda: status("done-1") == "RUNNING", what="done-1 to run")
            http.post("/v1.0/workflows/dapr/done-1/raiseEvent/approve", json=True)
            wait_until(lambda: status("done-1") == "COMPLETED", what="done-1 to complete")
            wait_until(
                lambda: (
                    len(http.get("/wayline/v1/instances/waiting-1/history").json()["events"]) >= 8
                ),
                what="waiting-1 to wait for its approval",
            )
        files = {}
        for iid in ("done-1", "waiting-1"):
            exported = _run("history", iid, "-o", "json", "--url", server.url)
            assert exported.returncode == 0, exported.stderr
            files[iid] = folder / f"{iid}.json"
            files[iid].write_text(exported.stdout)
        with grpc.insecure_channel(server.grpc_target) as channel:
            history = channel.unary_unary(
                "/TaskHubSidecarService/GetInstanceHistory",
                request_serializer=pb.GetInstanceHistoryRequest.SerializeToString,
                response_deserializer=pb.GetInstanceHistoryResponse.FromString,
            )(pb.GetInstanceHistoryRequest(instanceId="done-1"))
        dapr = json_format.MessageToJson(history)
        files["dapr"] = folder / "dapr" / "done-1.json"
        files["dapr"].parent.mkdir()
        files["dapr"].write_text(dapr)
        old_names = (
            dapr.replace('"workflowStarted"', '"orchestratorStarted"')
            .replace('"workflowInstance"', '"orchestrationInstance"')
            .replace('"workflowStatus"', '"orchestrationStatus"')
        )
        assert old_names != dapr
        files["dapr-old"] = folder / "dapr" / "done-1-old-names.json"
        files["dapr-old"].write_text(old_names)
    finally:
        server.stop()
    return {"folder": folder, "v1": v1, "files": files, "store": f"sqlite:///{server.db}"}


def test_the_recorded_code_replays_every_history(recorded: dict[str, Any]) -> None:
    files = recorded["files"]
    result = _run("replay", "--app", str(recorded["v1"]), str(files["done-1"]),
                  str(files["waiting-1"]), str(files["dapr"].parent))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok ") == 4
    assert result.stdout.strip().endswith("4 histories: 4 replay, 0 diverge")


def test_a_renamed_activity_diverges_at_its_step(recorded: dict[str, Any]) -> None:
    v2 = _app(recorded["folder"], "v2", charge="bill")
    files = recorded["files"]
    result = _run("replay", "--app", str(v2), str(files["done-1"]), str(files["waiting-1"]))
    assert result.returncode == 1
    assert result.stdout.count("DIVERGED") == 2
    assert "history: TaskScheduled 'charge'" in result.stdout
    assert "code now: ScheduleTask 'bill'" in result.stdout
    assert "step #2" in result.stdout


def test_a_changed_result_diverges_at_the_end_only_where_it_ended(
    recorded: dict[str, Any],
) -> None:
    v3 = _app(recorded["folder"], "v3", change="* 2")
    result = _run("replay", "--app", str(v3), "-o", "json", *map(str, recorded["files"].values()))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    verdicts = {(r["source"].rsplit("/", 1)[-1], r["ok"]) for r in report["results"]}
    assert verdicts == {
        ("done-1.json", False),
        ("waiting-1.json", True),
        ("done-1-old-names.json", False),
    }
    ended = next(r for r in report["results"] if not r["ok"])
    assert ended["recorded"].startswith("COMPLETED with output")
    assert '"amount": 10' in ended["recorded"] and '"amount": 20' in ended["current"]


def test_histories_straight_from_the_store_with_a_sample(recorded: dict[str, Any]) -> None:
    v2 = _app(recorded["folder"], "v2b", charge="bill")
    result = _run("replay", "--app", str(v2), "--store", recorded["store"], "-o", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert (report["replayed"], report["diverged"]) == (0, 2)
    sampled = _run(
        "replay", "--app", str(recorded["v1"]), "--store", recorded["store"],
        "--sample", "1", "--seed", "7", "--status", "COMPLETED",
    )  # fmt: skip
    assert sampled.returncode == 0, sampled.stdout + sampled.stderr
    assert "done-1" in sampled.stdout and "1 histories: 1 replay" in sampled.stdout


def test_usage_mistakes_exit_2(recorded: dict[str, Any]) -> None:
    nothing = _run("replay", "--app", str(recorded["v1"]))
    assert nothing.returncode == 2 and "nothing to replay" in nothing.stderr
    bad_app = _run("replay", "--app", str(recorded["folder"] / "missing.py"), "x.json")
    assert bad_app.returncode == 2 and "no such file" in bad_app.stderr


def test_the_replayer_api(recorded: dict[str, Any]) -> None:
    runtime = wayline.WorkflowRuntime(store=recorded["store"])

    @runtime.workflow(name="order")
    def order(ctx: wayline.WorkflowContext, item: str) -> Any:
        note = yield ctx.call_activity("reserve", input=item)
        yield ctx.create_timer(ctx.current_utc_datetime)  # a step the history lacks
        return note

    replayer = wayline.Replayer(runtime)
    results = replayer.replay_store(recorded["store"], name="order")
    assert len(results) == 2 and not any(r.ok for r in results)
    (waiting,) = [r for r in results if r.instance_id == "waiting-1"]
    assert (waiting.step, waiting.recorded, waiting.current) == (
        2,
        "TaskScheduled 'charge'",
        "CreateTimer",
    )
    unknown = wayline.Replayer([]).replay_paths([recorded["files"]["done-1"]])
    assert [r.message for r in unknown] == [
        "workflow 'order' is not registered in the code under test"
    ]
