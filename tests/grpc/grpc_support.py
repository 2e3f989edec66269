"""Helpers of the gRPC tests: a real ``wayline serve`` and pinned Dapr SDK venvs.

The Dapr SDKs run in their own virtual environments (created once, cached under
``.test-venvs/`` at the repository root, which git ignores), because
``dapr-ext-workflow`` 1.18.3 and ``dapr`` <= 1.17 cannot share one environment,
and neither belongs in Wayline's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import venv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("grpc_app.py")
SDK_DIR = Path(__file__).with_name("sdk")
VENV_CACHE = Path(os.environ.get("WAYLINE_TEST_VENVS", ROOT / ".test-venvs"))

# Pinned: dapr-ext-workflow 1.18.3 with an unpinned dapr would pull 1.19 (spec §9).
DAPR_EXT_118 = ("dapr-ext-workflow==1.18.3", "dapr==1.18.3")
# The last dapr with DaprClient.start_workflow & co. (removed in 1.18.0).
DAPR_117 = ("dapr==1.17.5",)


def unavailable(reason: str) -> None:
    """Skip a test whose tools or packages this machine lacks; under CI=true, fail it."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


def install_failed(what: str, target: Path, output: str) -> None:
    """An install from the package registries failed: offline machines skip (outside
    CI) with the reason; the installer's own words follow."""
    last = output.strip().splitlines()[-1] if output.strip() else "no output"
    unavailable(
        f"cannot install {what} into {target}: the SDK tests need the package registries "
        f"(PyPI, npm); installer said: {last}"
    )


def sdk_python(name: str, requirements: tuple[str, ...]) -> Path:
    """The python of a cached venv with exactly ``requirements`` installed."""
    target = VENV_CACHE / name
    marker = target / ".ready"
    wanted = "\n".join(requirements)
    python = target / "bin" / "python"
    if marker.is_file() and marker.read_text() == wanted and python.exists():
        return python
    VENV_CACHE.mkdir(parents=True, exist_ok=True)
    venv.EnvBuilder(clear=True, with_pip=True).create(target)
    result = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            *requirements,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        install_failed(" ".join(requirements), target, result.stderr)
    marker.write_text(wanted)
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


@dataclass
class Server:
    """A running ``wayline serve`` subprocess."""

    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    api_token: str | None
    log: Path

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def http_headers(self) -> dict[str, str]:
        return {"dapr-api-token": self.api_token} if self.api_token else {}

    def instance(self, instance_id: str) -> httpx.Response:
        """Wayline's own view: ``GET /wayline/v1/instances/{id}``."""
        return httpx.get(
            f"{self.http_url}/wayline/v1/instances/{instance_id}",
            headers=self.http_headers(),
            timeout=10,
        )

    def sdk_env(self) -> dict[str, str]:
        """Environment pointing a Dapr SDK at this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}
        env.pop("PYTHONPATH", None)
        env.update(
            DAPR_GRPC_ENDPOINT=self.grpc_target,
            DAPR_HTTP_PORT=str(self.http_port),
            DAPR_RUNTIME_HOST="127.0.0.1",
            DAPR_HEALTH_TIMEOUT="30",
        )
        if self.api_token:
            env["DAPR_API_TOKEN"] = self.api_token
        return env

    def run_sdk(self, python: Path, script: str, *args: str, timeout: float = 120) -> Any:
        """Run ``tests/grpc/sdk/<script>`` in an SDK venv; returns its JSON stdout."""
        result = subprocess.run(
            [str(python), str(SDK_DIR / script), *args],
            env=self.sdk_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"{script} failed ({result.returncode}):\n{result.stderr[-4000:]}\n"
                f"server log:\n{self.log.read_text()[-3000:]}"
            )
        return json.loads(result.stdout.strip().splitlines()[-1])

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("wayline serve did not stop within 20 s of SIGTERM") from None
        return self.process.returncode


def start_server(
    tmp: Path,
    *,
    api_token: str | None = None,
    app_id: str | None = None,
    store: Path | None = None,
    app: Path | None = APP,
) -> Server:
    """``wayline serve`` on free ports: with the test app module (``app``; None for a
    pure sidecar), on ``store`` (default a new database in ``tmp``)."""
    http_port, grpc_port = free_port(), free_port()
    log = tmp / "server.log"
    command = [
        sys.executable, "-m", "wayline", "serve",
        "--store", f"sqlite:///{store or tmp / 'wayline.db'}",
        "--port", str(http_port),
        "--grpc-port", str(grpc_port),
        "--log-level", "warning",
    ]  # fmt: skip
    if app is not None:
        command += ["--app", str(app)]
    if api_token:
        command += ["--api-token", api_token]
    if app_id:
        command += ["--app-id", app_id]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "WAYLINE_"))}
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(process, http_port, grpc_port, api_token, log)

    def http_ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"wayline serve exited early:\n{log.read_text()}")
        try:
            return httpx.get(f"{server.http_url}/v1.0/healthz", timeout=1).status_code == 204
        except httpx.HTTPError:
            return False

    try:
        wait_until(http_ready, 30, "the HTTP port")
        with grpc.insecure_channel(server.grpc_target) as channel:
            grpc.channel_ready_future(channel).result(timeout=30)
    except BaseException:
        server.stop()
        raise
    return server
