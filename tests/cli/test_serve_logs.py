"""``wayline serve --log-format json``: every line a JSON object, the lifecycle of
instances and the node's start and stop in it with their fields, no secret anywhere;
the text format as it was. Every case is a real ``wayline serve`` process."""

from __future__ import annotations

import json
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from support.http_api import wait_status
from support.server import Server, free_port

from .test_cli import WAYLINE
from .test_serve_startup import POSTGRES_URL, _with, clean_env

LOGS_APP = Path(__file__).with_name("logs_app.py")


@pytest.fixture()
def password_url() -> Iterator[tuple[str, str]]:
    """A PostgreSQL store URL with a throwaway role's password, and that password."""
    if not POSTGRES_URL:
        pytest.skip("set WAYLINE_TEST_POSTGRES_URL=postgresql://... to test PostgreSQL stores")
    name, password = f"wayline_logs_{uuid.uuid4().hex[:8]}", f"pw-{secrets.token_hex(8)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{password}'")
        try:
            yield _with(POSTGRES_URL, user=name, password=password), password
        finally:
            admin.execute(f"REASSIGN OWNED BY {name} TO CURRENT_USER")
            admin.execute(f"DROP OWNED BY {name}")
            admin.execute(f"DROP ROLE {name}")


def _exercise(server: Server, token: str, run: str) -> dict[str, str]:
    """A failing workflow (its activity retried), a terminated and purged one, and a
    refused request; returns the instance ids by what happened to them."""
    ids = {"failed": f"fail-{run}", "terminated": f"stop-{run}"}
    with server.client(headers={"dapr-api-token": token}) as http:
        started = http.post(
            "/v1.0/workflows/dapr/logs_checkout/start",
            params={"instanceID": ids["failed"]},
            json=f"4111-{token}",  # an app's error message that quotes a secret
        )
        assert started.status_code == 202, started.text
        started = http.post(
            "/v1.0/workflows/dapr/logs_waits/start", params={"instanceID": ids["terminated"]}
        )
        assert started.status_code == 202, started.text
        wait_status(http, ids["failed"], "FAILED")
        wait_status(http, ids["terminated"], "RUNNING")
        assert http.post(f"/v1.0/workflows/dapr/{ids['terminated']}/terminate").status_code == 202
        wait_status(http, ids["terminated"], "TERMINATED")
        assert http.post(f"/v1.0/workflows/dapr/{ids['terminated']}/purge").status_code == 202
        assert (
            http.get("/v1.0/workflows/dapr/x", headers={"dapr-api-token": "no"}).status_code == 401
        )
    return ids


def _json_lines(output: str) -> list[dict[str, Any]]:
    """Every line of the output as a JSON object (failing on the first that is not)."""
    entries = []
    for line in output.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
        assert isinstance(entry, dict), line
        assert {"time", "level", "logger", "message"} <= set(entry), line
        entries.append(entry)
    return entries


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_json_logs_tell_what_happened_to_each_instance_without_a_secret(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    token = f"tok-{secrets.token_hex(12)}"
    run = uuid.uuid4().hex[:8]
    hidden = [token]
    if store == "postgres":
        url, password = request.getfixturevalue("password_url")
        hidden.append(password)
        # the flag, with gRPC on
        server = Server(
            tmp_path / "pg",
            store=url,
            apps=[LOGS_APP],
            api_token=token,
            with_grpc=True,
            extra_args=["--log-level", "info", "--log-format", "json", "--node-id", "n-pg"],
        )
    else:  # the environment variable
        server = Server(
            tmp_path / "lite",
            apps=[LOGS_APP],
            api_token=token,
            env={"WAYLINE_LOG_FORMAT": "json", "WAYLINE_NODE_ID": "n-lite"},
            extra_args=["--log-level", "info"],
        )
    server.start()
    try:
        ids = _exercise(server, token, run)
    finally:
        assert server.stop() == 0
    output = server.output()
    for secret in hidden:
        assert secret not in output
    entries = _json_lines(output)

    def about(iid: str) -> list[tuple[str, str]]:
        found = [e for e in entries if e.get("instance_id") == iid]
        assert all(e["workflow_name"] for e in found), found
        return [(e["level"], e["message"]) for e in found]

    failed, stopped = ids["failed"], ids["terminated"]
    declined = "ValueError: card 4111-*** was declined"
    lines = about(failed)
    retry = next(m for _, m in lines if " retries its failed activity at " in m)
    workflow_failed = next(m for _, m in lines if "(logs_checkout) failed" in m)
    assert lines == [
        ("INFO", f"workflow instance '{failed}' (logs_checkout) started"),
        ("WARNING", f"activity 'logs_charge' of workflow instance '{failed}' failed: {declined}"),
        ("WARNING", retry),
        ("WARNING", f"activity 'logs_charge' of workflow instance '{failed}' failed: {declined}"),
        ("WARNING", workflow_failed),
    ]
    assert workflow_failed.startswith(
        f"workflow instance '{failed}' (logs_checkout) failed: TaskFailedError: activity task #"
    )
    assert workflow_failed.endswith(" failed: card 4111-*** was declined")
    activity = [e for e in entries if e.get("activity_name") == "logs_charge"]
    assert len(activity) == 2
    assert all(e["workflow_name"] == "logs_checkout" for e in activity)
    assert all(e["error_type"] == "ValueError" for e in activity)
    assert about(stopped) == [
        ("INFO", f"workflow instance '{stopped}' (logs_waits) started"),
        ("INFO", f"workflow instance '{stopped}' (logs_waits) terminated"),
        ("INFO", f"workflow instance '{stopped}' (logs_waits) purged"),
    ]
    ends = {e["status"] for e in entries if e.get("instance_id") in ids.values() and "status" in e}
    assert ends == {"RUNNING", "FAILED", "TERMINATED"}

    node = "n-pg" if store == "postgres" else "n-lite"
    nodes = [e for e in entries if e.get("node_id") == node]
    shown = [(e["logger"], e["message"].split(" ", 3)[:3]) for e in nodes]
    # the server's line and the engine's (on its own thread) come in either order
    assert sorted(shown[:2]) == [
        ("wayline.engine", ["node", node, "of"]),
        ("wayline.server", ["serving", "2", "workflows"]),
    ]
    assert shown[2:] == [
        ("wayline.engine", ["node", node, "stopped"]),
        ("wayline.server", ["wayline", "serve", "stopped"]),
    ]
    serving = next(e["message"] for e in nodes if e["logger"] == "wayline.server")
    started = next(e["message"] for e in nodes if e["logger"] == "wayline.engine")
    assert "API token required" in serving
    if store == "postgres":
        shown = _with(POSTGRES_URL, user=url.split("//")[1].split(":")[0], password="***")
        assert f"(store {shown})" in serving and f"store {shown};" in started
    assert nodes[3]["message"].startswith("wayline serve stopped (SIGTERM) after ")
    assert {e["logger"] for e in entries} >= {"uvicorn.error", "uvicorn.access"}


def test_the_text_format_is_the_default_and_unchanged(tmp_path: Path) -> None:
    server = Server(tmp_path / "text", apps=[LOGS_APP], extra_args=["--log-level", "info"])
    server.start()
    try:
        with server.client() as http:
            started = http.post("/v1.0/workflows/dapr/logs_checkout/start?instanceID=t-1", json="1")
            assert started.status_code == 202
            wait_status(http, "t-1", "FAILED")
    finally:
        assert server.stop() == 0
    lines = server.output().splitlines()
    assert not [line for line in lines if line.startswith("{")]
    for line in (
        "INFO wayline.engine: workflow instance 't-1' (logs_checkout) started",
        "WARNING wayline.engine: activity 'logs_charge' of workflow instance 't-1' failed: "
        "ValueError: card 1 was declined",
    ):
        assert line in lines, server.output()
    assert any(line.startswith("INFO wayline.server: serving 2 workflows") for line in lines)


def test_a_bad_log_format_and_a_start_up_failure_in_json(tmp_path: Path) -> None:
    env = clean_env(WAYLINE_LOG_FORMAT="xml")
    base = [WAYLINE, "serve", "--port", str(free_port()), "--grpc-port", "0"]
    base += ["--store", f"sqlite:///{tmp_path / 'x.db'}"]
    bad = subprocess.run(base, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert bad.returncode == 2
    assert "WAYLINE_LOG_FORMAT: 'xml' is not a log format; use one of text, json" in bad.stderr

    env = clean_env(WAYLINE_LOG_FORMAT="json")
    missing = [*base, "--tls-cert", str(tmp_path / "no.pem"), "--tls-key", str(tmp_path / "no")]
    failed = subprocess.run(missing, env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    (line,) = failed.stderr.splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "wayline.server"
    assert entry["message"].startswith("--tls-cert ") and "cannot read it" in entry["message"]
    assert not (tmp_path / "x.db").exists()
