"""The CLI as a person uses it (issue 11, item 14): ``--version``, bulk terminate and
purge that ask first on a terminal (``--dry-run``, ``--yes``), a history table that
names every step and shows failures, colour on a terminal only, and a quick start.

Interactive behaviour runs the real ``wayline`` on a pseudo-terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
from importlib.metadata import version

from support.http_api import wait_custom_status, wait_status
from support.server import Server

from .terminal import run_on_terminal
from .test_cli import WAYLINE, as_json, run, run_many

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def terminal_env(url: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "WAYLINE_URL": url, "TERM": "xterm", **extra}
    env.pop("DAPR_API_TOKEN", None)
    if "NO_COLOR" not in extra:
        env.pop("NO_COLOR", None)
    return env


def start_waiting(server: Server, *ids: str) -> None:
    with server.client() as http:
        for iid in ids:
            response = http.post(f"/v1.0/workflows/dapr/wait_for_go/start?instanceID={iid}")
            assert response.status_code == 202, response.text
        for iid in ids:
            wait_custom_status(http, iid, "waiting")


def statuses(server: Server, *ids: str) -> dict[str, str]:
    with server.client() as http:
        return {iid: http.get(f"/v1.0/workflows/dapr/{iid}").json()["runtimeStatus"] for iid in ids}


def test_version_matches_the_installed_package() -> None:
    for argv in ([WAYLINE, "--version"], [WAYLINE, "--version", "list"]):
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"wayline {version('wayline')}\n"


def test_bulk_terminate_on_a_terminal_asks_first(server: Server) -> None:
    ids = ("ask-1", "ask-2", "ask-3")
    start_waiting(server, *ids)
    argv = [WAYLINE, "terminate", "--name", "wait_for_go", "--status", "RUNNING"]
    env = terminal_env(server.url)

    for answer in ("n", "", "whatever"):
        refused = run_on_terminal(argv, env, answer=answer)
        assert refused.prompted, refused.output
        assert "terminate would affect 3 instances" in refused.output
        assert all(iid in refused.output for iid in ids)
        assert "nothing was changed" in refused.output
        assert refused.returncode == 1
        assert statuses(server, *ids) == dict.fromkeys(ids, "RUNNING")

    confirmed = run_on_terminal(argv, env, answer="y")
    assert confirmed.prompted and confirmed.returncode == 0, confirmed.output
    assert "terminate: 3 affected, 0 refused" in confirmed.output
    with server.client() as http:
        for iid in ids:
            wait_status(http, iid, "TERMINATED")

    # purge asks too; --yes does not
    purge = [WAYLINE, "purge", "--name", "wait_for_go", "--status", "TERMINATED"]
    kept = run_on_terminal(purge, env, answer="no")
    assert kept.prompted and kept.returncode == 1
    assert statuses(server, *ids) == dict.fromkeys(ids, "TERMINATED")
    purged = run_on_terminal([*purge, "--yes"], env)
    assert not purged.prompted and purged.returncode == 0, purged.output
    assert "[y/N]" not in purged.output
    assert "purge: 3 affected" in purged.output
    with server.client() as http:
        assert all(http.get(f"/v1.0/workflows/dapr/{i}").status_code == 404 for i in ids)


def test_single_id_and_pause_do_not_ask(server: Server) -> None:
    start_waiting(server, "noask-1", "noask-2")
    env = terminal_env(server.url)
    paused = run_on_terminal([WAYLINE, "pause", "--name", "wait_for_go"], env)
    assert not paused.prompted and paused.returncode == 0, paused.output
    one = run_on_terminal([WAYLINE, "terminate", "noask-1"], env)
    assert not one.prompted and one.returncode == 0, one.output
    with server.client() as http:
        wait_status(http, "noask-1", "TERMINATED")
        wait_status(http, "noask-2", "SUSPENDED")
        http.post("/v1.0/workflows/dapr/noask-2/terminate")
        wait_status(http, "noask-2", "TERMINATED")
    run(server.url, "purge", "--name", "wait_for_go", "--status", "TERMINATED")


def test_dry_run_shows_what_would_change_and_changes_nothing(server: Server) -> None:
    ids = ("dry-1", "dry-2")
    start_waiting(server, *ids)
    table, as_json_result, single, nothing = run_many(
        server.url,
        ("terminate", "--name", "wait_for_go", "--dry-run"),
        ("purge", "--status", "RUNNING", "--force", "--dry-run", "-o", "json"),
        ("terminate", "dry-1", "--dry-run"),
        ("purge", "--name", "no_such_workflow", "--dry-run"),
    )
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["INSTANCE", "ID", "WORKFLOW"]
    assert {line.split()[0] for line in lines[1:-1]} == set(ids)
    assert lines[-1] == "terminate would affect 2 instances (dry run: nothing was changed)"
    body = as_json(as_json_result)
    assert body["operation"] == "purge" and body["dryRun"] is True
    assert {i["instanceID"] for i in body["instances"]} >= set(ids)
    assert "dry-1" in single.stdout and "terminate would affect 1 instances" in single.stdout
    assert "no instances match" in nothing.stdout
    # a dry run never asks, even on a terminal
    on_terminal = run_on_terminal(
        [WAYLINE, "terminate", "--name", "wait_for_go", "--dry-run"], terminal_env(server.url)
    )
    assert not on_terminal.prompted and on_terminal.returncode == 0, on_terminal.output
    assert statuses(server, *ids) == dict.fromkeys(ids, "RUNNING")
    run(server.url, "terminate", "--name", "wait_for_go", "--yes")


def test_history_names_every_step_and_shows_failures(server: Server) -> None:
    with server.client() as http:
        for iid, amount in (("steps-ok", "2"), ("steps-bad", "-5")):
            http.post(f"/v1.0/workflows/dapr/cli_steps/start?instanceID={iid}", content=amount)
        wait_status(http, "steps-ok", "COMPLETED")
        wait_status(http, "steps-bad", "FAILED")
    ok, bad, bad_json = run_many(
        server.url,
        ("history", "steps-ok"),
        ("history", "steps-bad"),
        ("history", "steps-bad", "-o", "json"),
    )

    def rows(text: str) -> list[list[str]]:
        header, *body = text.splitlines()
        assert header.split() == ["ID", "TIMESTAMP", "KIND", "NAME", "DETAIL"]
        starts = [header.index(title) for title in ("KIND", "NAME", "DETAIL")]
        return [
            [line[starts[0] : starts[1]].strip(), line[starts[1] : starts[2]].strip(),
             line[starts[2] :].strip()]
            for line in body
        ]  # fmt: skip

    named = {(kind, name) for kind, name, _ in rows(ok.stdout)}
    assert ("TaskCompleted", "cli_charge") in named
    assert ("TimerFired", "timer") in named
    assert ("ChildWorkflowCompleted", "cli_child (steps-ok-child)") in named
    assert all(name for kind, name, _ in rows(ok.stdout) if kind.endswith(("Completed", "Fired"))
               and kind != "ExecutionCompleted")  # fmt: skip
    failed = [row for row in rows(bad.stdout) if row[0] == "TaskFailed"]
    assert failed == [["TaskFailed", "cli_charge", "ValueError: cannot charge -5"]]
    [end] = [row for row in rows(bad.stdout) if row[0] == "ExecutionCompleted"]
    assert end[2].startswith("FAILED: ") and "cannot charge -5" in end[2]
    # JSON is the server's events, unchanged
    events = as_json(bad_json)["events"]
    assert "detail" not in events[0]
    assert any(e["kind"] == "TaskFailed" and "name" not in e for e in events)


def test_colour_on_a_terminal_plain_when_piped_or_no_color(server: Server) -> None:
    with server.client() as http:
        http.post("/v1.0/workflows/dapr/fail/start?instanceID=colour-fail", content='"boom"')
        wait_status(http, "colour-fail", "FAILED")
    for command in (["list", "--status", "FAILED"], ["get", "colour-fail"]):
        coloured = run_on_terminal([WAYLINE, *command], terminal_env(server.url))
        assert coloured.returncode == 0, coloured.output
        assert "\x1b[31mFAILED\x1b[0m" in coloured.output
        plain = run_on_terminal([WAYLINE, *command], terminal_env(server.url, NO_COLOR="1"))
        assert plain.returncode == 0 and "FAILED" in plain.output
        assert not ANSI.search(plain.output)
        piped = run(server.url, *command)
        assert "FAILED" in piped.stdout and not ANSI.search(piped.stdout + piped.stderr)
    # the error prefix too
    error = run_on_terminal([WAYLINE, "get", "nobody"], terminal_env(server.url))
    assert error.returncode == 1 and "\x1b[31merror:\x1b[0m" in error.output
    assert not ANSI.search(run(server.url, "get", "nobody", ok=False).stderr)


def test_client_commands_do_not_import_the_server(server: Server) -> None:
    """``wayline get`` loads neither the engine, the store nor any server library
    (it starts in about 0.1 s; that figure is measured, not asserted)."""
    env = {**os.environ, "WAYLINE_URL": server.url, "PYTHONPROFILEIMPORTTIME": "1"}
    env.pop("DAPR_API_TOKEN", None)
    result = subprocess.run(
        [WAYLINE, "get", "nobody"], env=env, capture_output=True, text=True, timeout=30
    )
    assert "ERR_INSTANCE_ID_NOT_FOUND" in result.stderr
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "wayline.cli" in imported
    heavy = {
        name
        for name in imported
        if name.split(".")[0] in {"uvicorn", "starlette", "grpc", "httpx", "psycopg", "sqlite3"}
        or name.startswith(("wayline.engine", "wayline.store", "wayline.api", "wayline.core"))
        or name in {"wayline.client", "wayline.runtime", "wayline.server.wiring"}
    }
    assert heavy == set()
