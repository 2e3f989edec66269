"""Helpers of the gRPC tests: ``GrpcServer`` (the shared ``Server`` with gRPC on and
the SDK-facing extras) and pinned Dapr SDK venvs.

The Dapr SDKs run in their own virtual environments (created once, cached under
``.test-venvs/`` at the repository root, which git ignores), because
``dapr-ext-workflow`` 1.18.3 and ``dapr`` <= 1.17 cannot share one environment,
and neither belongs in Wayline's.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from support.ci import unavailable
from support.server import Server

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).with_name("grpc_app.py")
SDK_DIR = Path(__file__).with_name("sdk")
VENV_CACHE = Path(os.environ.get("WAYLINE_TEST_VENVS", ROOT / ".test-venvs"))

# Pinned: dapr-ext-workflow 1.18.3 with an unpinned dapr would pull 1.19 (spec §9).
DAPR_EXT_118 = ("dapr-ext-workflow==1.18.3", "dapr==1.18.3")
# The last dapr with DaprClient.start_workflow & co. (removed in 1.18.0).
DAPR_117 = ("dapr==1.17.5",)


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


class GrpcServer(Server):
    """``wayline serve`` with gRPC on a free port, by default with the gRPC test app
    (``apps=()`` for a pure sidecar), and what the SDK tests need of it."""

    def __init__(self, db: Path, *, apps: Sequence[Path] = (APP,), **options: Any) -> None:
        super().__init__(db, apps=apps, with_grpc=True, **options)

    def http_headers(self) -> dict[str, str]:
        return {"dapr-api-token": self.api_token} if self.api_token else {}

    def instance(self, instance_id: str) -> httpx.Response:
        """Wayline's own view: ``GET /wayline/v1/instances/{id}``."""
        return httpx.get(
            f"{self.url}/wayline/v1/instances/{instance_id}",
            headers=self.http_headers(),
            timeout=10,
        )

    def sdk_env(self) -> dict[str, str]:
        """Environment pointing a Dapr SDK at this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}
        env.pop("PYTHONPATH", None)
        env.update(
            DAPR_GRPC_ENDPOINT=self.grpc_target,
            DAPR_HTTP_PORT=str(self.port),
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
                f"server log:\n{self.output()[-3000:]}"
            )
        return json.loads(result.stdout.strip().splitlines()[-1])
