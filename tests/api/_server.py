"""Run ``python -m wayline serve`` as a real subprocess for the HTTP and CLI tests."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
ORDER_APP = REPO / "examples" / "order_processing.py"
TEST_APP = Path(__file__).with_name("server_app.py")
STARTUP_TIMEOUT = 20.0


def free_port() -> int:
    """A port nothing listens on right now (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Poll ``condition`` until it returns something truthy; raise on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what or condition}")
        time.sleep(0.02)


class Server:
    """One ``wayline serve`` process on a free port and a SQLite file (or ``store``)."""

    def __init__(
        self,
        db: Path,
        *,
        store: str | None = None,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        apps: Sequence[Path] = (ORDER_APP, TEST_APP),
        file_size_limit: int | None = None,
    ) -> None:
        """``file_size_limit``: RLIMIT_FSIZE of the server process (bytes), a disk that
        fills up at that size for every file it writes."""
        self.db = db
        self.store = store or f"sqlite:///{db}"
        self.extra_args = list(extra_args)
        self.env = env or {}
        self.apps = list(apps)
        self.file_size_limit = file_size_limit
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = db.with_suffix(".log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.port = free_port()
        args = [sys.executable, "-m", "wayline", "serve", "--store", self.store]
        for app in self.apps:
            args += ["--app", str(app)]
        args += ["--port", str(self.port), "--grpc-port", "0", "--log-level", "warning"]
        args += self.extra_args
        env = {**os.environ, **self.env}
        if "DAPR_API_TOKEN" not in self.env:
            env.pop("DAPR_API_TOKEN", None)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                args, cwd=REPO, env=env, stdout=log, stderr=log, preexec_fn=self._limits
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.output()}")
            try:
                if httpx.get(f"{self.url}/v1.0/healthz/outbound", timeout=1).status_code == 204:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError(f"server not healthy in time: {self.output()}")
            time.sleep(0.02)

    def _limits(self) -> None:
        if self.file_size_limit is not None:
            limit = self.file_size_limit
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.terminate()
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)


# ----- helpers over the HTTP API -------------------------------------------------------------


def dapr_get(http: httpx.Client, iid: str, prefix: str = "v1.0") -> dict[str, Any]:
    response = http.get(f"/{prefix}/workflows/dapr/{iid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_status(
    http: httpx.Client, iid: str, *statuses: str, timeout: float = 10.0, prefix: str = "v1.0"
) -> dict[str, Any]:
    """Poll the Dapr GET until the instance reaches one of ``statuses``."""
    last: dict[str, Any] = {}

    def reached() -> bool:
        nonlocal last
        last = dapr_get(http, iid, prefix)
        return last["runtimeStatus"] in statuses

    try:
        wait_until(reached, timeout, f"{iid} to be {statuses}")
    except TimeoutError as exc:
        raise AssertionError(f"{iid} stuck at {last}") from exc
    return last


def wait_custom_status(http: httpx.Client, iid: str, value: str) -> None:
    """Poll until the instance exists (a child may not yet) and shows this custom status."""

    def reached() -> bool:
        response = http.get(f"/v1.0/workflows/dapr/{iid}")
        if response.status_code == 404:
            return False
        assert response.status_code == 200, response.text
        properties = response.json().get("properties", {})
        return bool(properties.get("dapr.workflow.custom_status") == value)

    wait_until(reached, what=f"{iid} custom status {value}")


def all_instances(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every instance from ``/wayline/v1/instances``, following continuation tokens."""
    found: list[dict[str, Any]] = []
    query = {"pageSize": 1000, **params}
    while True:
        response = http.get("/wayline/v1/instances", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["instances"]
        if "continuationToken" not in page:
            return found
        query["continuationToken"] = page["continuationToken"]


def snapshot(http: httpx.Client) -> dict[str, dict[str, Any]]:
    """Every instance with its history length: compare before and after a request."""
    state: dict[str, dict[str, Any]] = {}
    for instance in all_instances(http):
        history = http.get(f"/wayline/v1/instances/{instance['instanceID']}/history")
        state[instance["instanceID"]] = {**instance, "events": len(history.json()["events"])}
    return state


def settled_snapshot(http: httpx.Client) -> dict[str, dict[str, Any]]:
    """A snapshot taken once two in a row agree (nothing is mid-turn)."""
    previous = snapshot(http)
    deadline = time.monotonic() + 10
    while True:
        time.sleep(0.03)
        current = snapshot(http)
        if current == previous:
            return current
        if time.monotonic() > deadline:
            raise TimeoutError("the server never settled")
        previous = current
