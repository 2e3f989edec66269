"""The ``wayline`` command against a running server, as a user runs it in a shell.

Each command is a real ``wayline`` subprocess with ``WAYLINE_URL`` set; commands
that do not depend on each other run concurrently to keep the suite quick.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from support.http_api import wait_custom_status, wait_status
from support.server import Server, free_port

WAYLINE = shutil.which("wayline") or str(Path(sys.executable).with_name("wayline"))
Result = subprocess.CompletedProcess[str]


def run(url: str, *args: str, ok: bool = True) -> Result:
    env = {**os.environ, "WAYLINE_URL": url}
    env.pop("DAPR_API_TOKEN", None)
    result = subprocess.run([WAYLINE, *args], env=env, capture_output=True, text=True, timeout=60)
    if ok:
        assert result.returncode == 0, result.stderr
    return result


def run_many(url: str, *commands: tuple[str, ...], ok: bool = True) -> list[Result]:
    """Run independent commands concurrently; results in the given order."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: run(url, *args, ok=ok), commands))


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def assert_one_line_error(result: Result, *needles: str) -> None:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_full_lifecycle_table_and_json(server: Server) -> None:
    url = server.url
    j = ("--output", "json")
    start_table, start_json, _ = run_many(
        url,
        ("start", "wait_for_go", "--instance-id", "cli-1", "--input", '{"n": 1}'),
        ("start", "wait_for_go", "--instance-id", "cli-2", *j),
        ("start", "wait_for_go", "--instance-id", "cli-3"),
    )
    assert start_table.stdout.strip() == "cli-1"
    assert as_json(start_json) == {"instanceID": "cli-2"}
    with server.client() as http:
        for iid in ("cli-1", "cli-2", "cli-3"):
            wait_custom_status(http, iid, "waiting")

    get_table, get_json, list_table, list_json, list_one = run_many(
        url,
        ("get", "cli-1"),
        ("get", "cli-1", *j),
        ("list",),
        ("list", "--status", "RUNNING", *j),
        ("list", "--limit", "1", *j),
    )
    assert "cli-1" in get_table.stdout and "RUNNING" in get_table.stdout
    assert "wait_for_go" in get_table.stdout
    got = as_json(get_json)
    assert got["instanceID"] == "cli-1"
    assert got["runtimeStatus"] == "RUNNING"
    assert got["input"] == '{"n": 1}'
    lines = list_table.stdout.splitlines()
    assert lines[0].split()[:3] == ["INSTANCE", "ID", "WORKFLOW"]
    assert {line.split()[0] for line in lines[1:]} == {"cli-1", "cli-2", "cli-3"}
    running = as_json(list_json)["instances"]
    assert {i["instanceID"] for i in running} == {"cli-1", "cli-2", "cli-3"}
    newest = max(running, key=lambda i: (i["createdAt"], i["instanceID"]))
    assert as_json(list_one)["instances"] == [newest]

    pause_table, pause_json = run_many(url, ("pause", "cli-1"), ("pause", "cli-2", *j))
    assert pause_table.stdout.strip() == "pause: cli-1"
    assert as_json(pause_json) == {"instanceID": "cli-2", "operation": "pause"}
    with server.client() as http:
        wait_status(http, "cli-1", "SUSPENDED")
        wait_status(http, "cli-2", "SUSPENDED")
    resume_table, resume_json = run_many(url, ("resume", "cli-2"), ("resume", "cli-1", *j))
    assert resume_table.stdout.strip() == "resume: cli-2"
    assert as_json(resume_json) == {"instanceID": "cli-1", "operation": "resume"}

    raise_json, raise_table = run_many(
        url,
        ("raise-event", "cli-1", "go", "--data", '{"ok": true}', *j),
        ("raise-event", "cli-2", "go"),
    )
    assert as_json(raise_json) == {"instanceID": "cli-1", "event": "go"}
    assert raise_table.stdout.strip() == "raised go on cli-2"
    with server.client() as http:
        wait_status(http, "cli-1", "COMPLETED")
        wait_status(http, "cli-2", "COMPLETED")

    history_table, history_json, terminate_table = run_many(
        url, ("history", "cli-1"), ("history", "cli-1", *j), ("terminate", "cli-3")
    )
    assert history_table.stdout.splitlines()[0].split() == [
        "ID",
        "TIMESTAMP",
        "KIND",
        "NAME",
        "DETAIL",
    ]
    assert "EventRaised" in history_table.stdout and '{"ok": true}' in history_table.stdout
    events = as_json(history_json)["events"]
    assert events[-1]["kind"] == "ExecutionCompleted"
    assert terminate_table.stdout.strip() == "terminate: cli-3"
    with server.client() as http:
        wait_status(http, "cli-3", "TERMINATED")

    purge_table, purge_json, _ = run_many(
        url, ("purge", "cli-3"), ("purge", "cli-1", *j), ("purge", "cli-2")
    )
    assert purge_table.stdout.strip() == "purge: cli-3"
    assert as_json(purge_json) == {"instanceID": "cli-1", "operation": "purge"}
    assert as_json(run(url, "list", *j)) == {"instances": []}


def test_bulk_terminate_by_status(server: Server) -> None:
    url = server.url
    ids = [f"bulk-{i}" for i in range(4)]
    with server.client() as http:
        for iid in ids:
            http.post(f"/v1.0/workflows/dapr/wait_for_go/start?instanceID={iid}")
        http.post("/v1.0/workflows/dapr/echo/start?instanceID=bulk-done")
        for iid in ids:
            wait_custom_status(http, iid, "waiting")
        wait_status(http, "bulk-done", "COMPLETED")
        result = as_json(run(url, "terminate", "--status", "RUNNING", "--output", "json"))
        assert result["affected"] == len(ids)
        assert result["failed"] == []
        for iid in ids:
            wait_status(http, iid, "TERMINATED")
        assert http.get("/v1.0/workflows/dapr/bulk-done").json()["runtimeStatus"] == "COMPLETED"
    table = run(url, "purge", "--status", "TERMINATED", "--name", "wait_for_go")
    assert table.stdout.strip() == "purge: 4 affected, 0 refused"
    remaining = as_json(run(url, "list", "--output", "json"))["instances"]
    assert [i["instanceID"] for i in remaining] == ["bulk-done"]


def test_bulk_purge_force_goes_to_the_server_in_batches(server: Server) -> None:
    ids = [f"many-{i:03d}" for i in range(230)]  # three batches of the CLI's 100
    with server.client() as http:
        for iid in ids:
            http.post(f"/v1.0/workflows/dapr/wait_for_go/start?instanceID={iid}")
        for iid in ids:
            wait_custom_status(http, iid, "waiting")
    refused = as_json(run(server.url, "purge", "--name", "wait_for_go", "--output", "json"))
    assert refused["affected"] == 0 and len(refused["failed"]) == len(ids)
    assert "is RUNNING" in refused["failed"][0]["message"]
    forced = as_json(
        run(server.url, "purge", "--name", "wait_for_go", "--force", "--output", "json")
    )
    assert forced == {"operation": "purge", "affected": len(ids), "failed": []}
    left = as_json(run(server.url, "list", "--name", "wait_for_go", "--output", "json"))
    assert left["instances"] == []


def test_errors_are_one_line_with_nonzero_exit(server: Server) -> None:
    with server.client() as http:
        http.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=still-running")
        wait_custom_status(http, "still-running", "waiting")
    cases: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
        (("get", "nobody"), ("ERR_INSTANCE_ID_NOT_FOUND", "404")),
        (("get", "nobody", "--output", "json"), ("ERR_INSTANCE_ID_NOT_FOUND",)),
        (("history", "nobody"), ("ERR_INSTANCE_ID_NOT_FOUND",)),
        (("terminate", "nobody"), ("ERR_INSTANCE_ID_NOT_FOUND",)),
        (("purge", "nobody"), ("ERR_INSTANCE_ID_NOT_FOUND",)),
        (("purge", "still-running"), ("ERR_PURGE_WORKFLOW", "500")),
        (("start", "wait_for_go", "--instance-id", "still-running"), ("ERR_START_WORKFLOW",)),
        (("start", "echo", "--instance-id", "bad id"), ("ERR_INSTANCE_ID_INVALID", "400")),
        (("start", "echo", "--input", "not json"), ("--input",)),
        (("terminate",), ("filters",)),
    ]
    results = run_many(server.url, *(args for args, _ in cases), ok=False)
    for (args, needles), result in zip(cases, results, strict=True):
        assert result.returncode != 0, args
        assert_one_line_error(result, *needles)
    with server.client() as http:
        assert http.get("/v1.0/workflows/dapr/nobody").status_code == 404
        assert http.get("/v1.0/workflows/dapr/still-running").json()["runtimeStatus"] == "RUNNING"
        http.post("/v1.0/workflows/dapr/still-running/terminate")


def test_purge_force_deletes_an_unfinished_instance(server: Server) -> None:
    with server.client() as http:
        http.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=forced")
        wait_custom_status(http, "forced", "waiting")
        (forced,) = run_many(server.url, ("purge", "forced", "--force"))
        assert forced.stdout.strip() == "purge: forced"
        assert http.get("/v1.0/workflows/dapr/forced").status_code == 404
        # the Wayline route takes the flags; a bad one is a 400 that changes nothing
        http.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=kept")
        bad = http.post("/wayline/v1/instances/kept/purge?force=maybe")
        assert bad.status_code == 400 and bad.json()["errorCode"] == "ERR_MALFORMED_REQUEST"
        refused = http.post("/wayline/v1/instances/kept/purge")  # as Dapr's route answers
        assert refused.status_code == 500 and refused.json()["errorCode"] == "ERR_PURGE_WORKFLOW"
        assert http.get("/v1.0/workflows/dapr/kept").status_code == 200
        done = http.post("/wayline/v1/instances/kept/purge?force=true&recursive=false")
        assert done.status_code == 200 and done.json() == {"deletedInstanceCount": 1}


def test_rerun_from_an_activity(server: Server) -> None:
    order = '{"item_name": "Paperclips", "total_cost": 99.95, "quantity": 1}'
    run(
        server.url,
        "start",
        "order_processing_workflow",
        "--instance-id",
        "cli-src",
        "--input",
        order,
    )
    with server.client() as http:
        wait_status(http, "cli-src", "COMPLETED")
    history = as_json(run(server.url, "history", "cli-src", "--output", "json"))["events"]
    [payment] = [
        e
        for e in history
        if e["kind"] == "TaskScheduled" and e["name"] == "process_payment_activity"
    ]
    rerun = run(
        server.url, "rerun", "cli-src", "--event", str(payment["event_id"]), "--new-id", "cli-again"
    )
    assert rerun.stdout.strip() == "cli-again"
    with server.client() as http:
        wait_status(http, "cli-again", "COMPLETED")
    again = as_json(run(server.url, "history", "cli-again", "--output", "json"))["events"]
    [rerun_payment] = [e for e in again if e.get("rerun_parent_instance_id") == "cli-src"]
    assert rerun_payment["name"] == "process_payment_activity"
    bad = run(server.url, "rerun", "cli-src", "--event", "999", ok=False)
    assert_one_line_error(bad, "ERR_RERUN_WORKFLOW", "has no event 999")


def test_unreachable_server(server: Server) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    listed, started, overridden = run_many(
        url,
        ("list",),
        ("start", "echo", "--output", "json"),
        ("list", "--url", server.url, "--output", "json"),
        ok=False,
    )
    assert_one_line_error(listed, "cannot reach", url)
    assert_one_line_error(started, "cannot reach", url)
    # --url wins over WAYLINE_URL.
    assert overridden.returncode == 0
    assert "instances" in as_json(overridden)


def test_ids_and_event_names_reach_the_server_as_themselves(server: Server) -> None:
    """Every path segment is percent-encoded: an id cannot address another instance
    ('mine/../victim'), an event name keeps its '#', a '?' is not a query."""
    with server.client() as http:
        for iid in ("victim", "mine"):
            http.post(f"/v1.0/workflows/dapr/wait_for_go/start?instanceID={iid}")
            wait_custom_status(http, iid, "waiting")
        results = run_many(
            server.url,
            ("terminate", "mine/../victim"),
            ("get", "?x"),
            ("history", "../victim"),
            ("pause", "victim/.."),
            ("raise-event", "mine", "approval#2", "--data", '"sent"'),
            ok=False,
        )
        for result in results[:4]:
            # an id with '/' matches no route once the server decodes it: a 404 either way
            assert_one_line_error(result, "404")
        assert results[4].returncode == 0, results[4].stderr
        assert http.get("/v1.0/workflows/dapr/victim").json()["runtimeStatus"] == "RUNNING"
        events = http.get("/wayline/v1/instances/mine/history").json()["events"]
        assert [e["name"] for e in events if e["kind"] == "EventRaised"] == ["approval#2"]
        for iid in ("victim", "mine"):
            http.post(f"/v1.0/workflows/dapr/{iid}/terminate")
