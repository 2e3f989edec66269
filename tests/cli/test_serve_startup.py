"""``wayline serve`` that cannot start says why in one line (issue 11, item 9), warns
when it is open to the network without a token (item 10), and never shows a password
or the API token (item 11). Every case is a real ``wayline`` process."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from support.server import Server, free_port

from .conftest import CLI_APP
from .test_cli import WAYLINE, run

POSTGRES_URL = os.environ.get("WAYLINE_TEST_POSTGRES_URL", "").strip()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAYLINE_", "DAPR_"))}
    return {**env, **extra}


def wayline(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run ``wayline`` expecting a one-line error; returns that line."""
    result = subprocess.run(
        [WAYLINE, *args],
        env=env or clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0, (args, result.stdout, result.stderr)
    assert result.stdout == "", result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "error: " in lines[0]
    return lines[0]


def serve_fails(tmp_path: Path, *args: str, **env: str) -> str:
    base = ["serve", "--port", str(free_port()), "--grpc-port", "0"]
    if "--store" not in args:
        base += ["--store", f"sqlite:///{tmp_path / 'ok.db'}"]
    return wayline(*base, *args, env=clean_env(**env), cwd=tmp_path)


# ----- item 9: one line, what is wrong and what to do -----------------------------------------


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (("--store", "mysql://root@db/x"), ("unknown store URL", "sqlite:///", "postgresql://")),
        (("--store", "sqlite:////no/such/dir/x.db"), ("/no/such/dir/x.db", "directory exists")),
        (("--log-level", "loud"), ("--log-level", "'loud'", "debug")),
        (("--port", "70000"), ("--port", "1-65535")),
        (("--port", "http"), ("--port", "not a port number")),
        (("--grpc-port", "-1"), ("--grpc-port", "0 (off)")),
        (("--max-body-bytes", "0"), ("--max-body-bytes", "at least 1")),
        (("--turn-lease", "0"), ("--turn-lease", "above 0")),
        (("--poll-interval", "inf"), ("--poll-interval",)),
        (("--retention-failed", "soon"), ("--retention-failed", "24h")),
        (("--app-id", "bad app id!"), ("--app-id",)),
        (("--app", "no_such_module_here"), ("--app", "No module named")),
        (("--host", "no-such-host.invalid"), ("--host", "cannot listen")),
        (("--host", "192.0.2.77"), ("192.0.2.77", "cannot listen")),
        (("--tls-cert", "cert.pem"), ("--tls-cert needs --tls-key",)),
        (("--no-such-flag",), ("unrecognized arguments",)),
    ],
)
def test_serve_refuses_bad_options_in_one_line(
    tmp_path: Path, args: tuple[str, ...], needles: tuple[str, ...]
) -> None:
    line = serve_fails(tmp_path, *args)
    for needle in needles:
        assert needle in line, line
    assert "Traceback" not in line


def test_a_file_that_is_no_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_text("this is not a database\n" * 100)
    line = serve_fails(tmp_path, "--store", f"sqlite:///{junk}")
    assert "not a database" in line and str(junk) in line


@pytest.mark.parametrize(
    ("variable", "value", "needle"),
    [
        ("WAYLINE_PORT", "abc", "not a port number"),
        ("WAYLINE_GRPC_PORT", "5e4", "not a port number"),
        ("WAYLINE_MAX_BODY_BYTES", "4MiB", "not a whole number"),
        ("WAYLINE_TURN_LEASE", "soon", "not a number of seconds"),
        ("WAYLINE_ACTIVITY_LEASE", "-5", "above 0"),
        ("WAYLINE_POLL_INTERVAL", "nan", "above 0"),
        ("WAYLINE_LOG_LEVEL", "verbose", "not a log level"),
        ("WAYLINE_RETENTION_ANY_TERMINAL", "forever", "not a duration"),
    ],
)
def test_bad_environment_variables_are_named(
    tmp_path: Path, variable: str, value: str, needle: str
) -> None:
    result = subprocess.run(
        [WAYLINE, "serve", "--store", f"sqlite:///{tmp_path / 'x.db'}"],
        env=clean_env(**{variable: value}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and variable in lines[0] and needle in lines[0]
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


def test_client_commands_ignore_the_servers_variables(server: Server) -> None:
    """``WAYLINE_PORT=abc wayline list`` used to die in a traceback parsing serve's options."""
    env = clean_env(
        WAYLINE_URL=server.url,
        WAYLINE_PORT="abc",
        WAYLINE_GRPC_PORT="x",
        WAYLINE_TURN_LEASE="y",
        WAYLINE_LOG_LEVEL="z",
    )
    result = subprocess.run(
        [WAYLINE, "list", "-o", "json"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert "instances" in result.stdout
    for args, needle in (
        (("list", "--limit", "-1"), "--limit"),
        (("list", "--url", "localhost:3500"), "not an http:// or https:// URL"),
        (("rerun", "x", "--event", "-2"), "--event"),
        ((), "COMMAND"),
    ):
        assert needle in wayline(*args, env=clean_env(WAYLINE_URL=server.url))


def test_ports_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        http_line = serve_fails(tmp_path, "--port", port)
        assert f"127.0.0.1:{port}" in http_line and "--port" in http_line
        grpc_line = wayline(
            "serve", "--port", str(free_port()), "--grpc-port", port,
            "--store", f"sqlite:///{tmp_path / 'g.db'}",
            env=clean_env(), cwd=tmp_path,
        )  # fmt: skip
        assert f"gRPC on 127.0.0.1:{port}" in grpc_line and "--grpc-port" in grpc_line
    assert not (tmp_path / "g.db").exists()  # the port is checked before the store opens


# ----- PostgreSQL: wrong password, no connection left, no such database -----------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    if not POSTGRES_URL:
        pytest.skip("set WAYLINE_TEST_POSTGRES_URL=postgresql://... to test PostgreSQL stores")
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        yield conn


def _with(url: str, *, user: str, password: str, dbname: str | None = None) -> str:
    parts = psycopg.conninfo.conninfo_to_dict(url)
    host, port = parts.get("host", "localhost"), parts.get("port", "5432")
    return f"postgresql://{user}:{password}@{host}:{port}/{dbname or parts['dbname']}"


@pytest.fixture()
def role(postgres: psycopg.Connection[tuple[object, ...]]) -> Iterator[tuple[str, str]]:
    """A throwaway superuser with a password no other string contains."""
    name = f"wayline_cli_{uuid.uuid4().hex[:8]}"
    password = f"pw-{secrets.token_hex(8)}"
    postgres.execute(f"CREATE ROLE {name} LOGIN SUPERUSER PASSWORD '{password}'")
    yield name, password
    postgres.execute(f"REASSIGN OWNED BY {name} TO CURRENT_USER")
    postgres.execute(f"DROP OWNED BY {name}")
    postgres.execute(f"DROP ROLE {name}")


def test_postgres_wrong_password(tmp_path: Path, role: tuple[str, str]) -> None:
    name, password = role
    url = _with(POSTGRES_URL, user=name, password=f"{password}-wrong")
    line = serve_fails(tmp_path, "--store", url)
    assert "password authentication failed" in line and "--store" in line
    assert password not in line and f"{name}:***@" in line


def test_postgres_no_connection_left(
    tmp_path: Path, postgres: psycopg.Connection[tuple[object, ...]]
) -> None:
    name, password = f"wayline_cli_{uuid.uuid4().hex[:8]}", f"pw-{secrets.token_hex(8)}"
    postgres.execute(f"CREATE ROLE {name} LOGIN CONNECTION LIMIT 0 PASSWORD '{password}'")
    try:
        line = serve_fails(tmp_path, "--store", _with(POSTGRES_URL, user=name, password=password))
    finally:
        postgres.execute(f"DROP ROLE {name}")
    assert "too many connections" in line and "CONNECTION LIMIT" in line
    assert "check that the server runs" not in line  # the catch-all would mislead
    assert password not in line


def test_postgres_no_such_database(tmp_path: Path, role: tuple[str, str]) -> None:
    name, password = role
    url = _with(POSTGRES_URL, user=name, password=password, dbname="wayline_no_such_db")
    line = serve_fails(tmp_path, "--store", url)
    assert "wayline_no_such_db" in line and "does not exist" in line
    assert password not in line


# ----- item 11: no secret in logs, errors or --help -------------------------------------------


def test_the_start_up_log_masks_the_store_password(tmp_path: Path, role: tuple[str, str]) -> None:
    name, password = role
    url = _with(POSTGRES_URL, user=name, password=password)
    server = Server(tmp_path / "pg", store=url, extra_args=["--log-level", "info"]).start()
    try:
        assert run(server.url, "list").returncode == 0
    finally:
        assert server.stop() == 0
    log = server.output()
    assert f"(store postgresql://{name}:***@" in log, log
    assert password not in log


def test_secrets_never_show_in_logs_errors_or_help(tmp_path: Path) -> None:
    token = f"tok-{secrets.token_hex(12)}"
    store_password = f"pw-{secrets.token_hex(8)}"
    env = clean_env(
        DAPR_API_TOKEN=token,
        WAYLINE_STORE=f"postgresql://someone:{store_password}@127.0.0.1:1/db",
    )
    shown = ""
    for argv in (["--help"], ["serve", "--help"], ["get", "--help"], ["terminate", "--help"]):
        result = subprocess.run([WAYLINE, *argv], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        shown += result.stdout + result.stderr
    # an unreachable store and URLs with passwords, in error messages
    shown += wayline("serve", "--port", str(free_port()), "--grpc-port", "0", env=env)
    shown += wayline(
        "serve", "--port", str(free_port()), "--grpc-port", "0",
        "--store", f"oracle://someone:{store_password}@db/x", env=env,
    )  # fmt: skip
    shown += wayline("list", "--url", f"http://someone:{store_password}@127.0.0.1:1", env=env)
    assert "someone:***@" in shown
    assert token not in shown and store_password not in shown

    # a server with a token, at debug level, answering right and wrong tokens
    server = Server(
        tmp_path / "tok",
        env={"DAPR_API_TOKEN": token},
        extra_args=["--log-level", "debug"],
        apps=[CLI_APP],
        with_grpc=True,
    )
    server.start()
    try:
        with server.client() as http:
            assert http.get("/wayline/v1/instances").status_code == 401
            ok = http.get("/wayline/v1/instances", headers={"dapr-api-token": token})
            assert ok.status_code == 200
            bad = http.get("/wayline/v1/instances", headers={"dapr-api-token": token + "x"})
            assert bad.status_code == 401 and token not in bad.text
    finally:
        assert server.stop() == 0
    assert "DEBUG" in server.output()
    assert token not in server.output()


# ----- item 10: a network-wide bind without a token -------------------------------------------


def test_a_bind_beyond_loopback_without_a_token_warns(tmp_path: Path) -> None:
    exposed = Server(
        tmp_path / "open", extra_args=["--host", "0.0.0.0"], apps=[], with_grpc=True
    ).start()
    try:
        assert httpx.get(f"{exposed.url}/v1.0/healthz").status_code == 204
    finally:
        exposed.stop()
    [warning] = [line for line in exposed.output().splitlines() if "SECURITY" in line]
    assert warning.startswith("WARNING ")
    for needle in ("0.0.0.0", "HTTP", "gRPC", "worker stream", "no API token", "--api-token"):
        assert needle in warning, warning

    for name, args, env in (
        ("token", ["--host", "0.0.0.0"], {"DAPR_API_TOKEN": "a-token"}),
        ("loopback", ["--host", "127.0.0.1"], {}),
        ("localhost", ["--host", "localhost"], {}),
    ):
        quiet = Server(tmp_path / name, extra_args=args, env=env, apps=[]).start()
        quiet.stop()
        assert "SECURITY" not in quiet.output(), (name, quiet.output())
