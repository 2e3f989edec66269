"""A real Dapr SDK worker against ``wayline serve``: the server's side of the gRPC path.

    python bench/dapr_worker_scenarios.py <scenario> '{"sdk_python": ..., ...}'

Starts ``wayline serve`` with no ``--app`` (so every workflow and activity goes to the
remote worker) on a fresh SQLite store and free HTTP and gRPC ports, then runs
``bench/apps/dapr_sdk_app.py <scenario>`` in the pinned dapr-ext-workflow 1.18.3 venv
(``sdk_python``) pointed at it, and answers with that app's figures. The server is
stopped however the run ends. Scenarios: ``serial``, ``concurrent``, ``long`` (see
the app).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from scenario_support import NotApplicable, Params, Result, free_port, run_cli
from serve_support import serve

APP = Path(__file__).resolve().parent / "apps" / "dapr_sdk_app.py"


def run_app(scenario: str, params: Params) -> Result:
    python = params.get("sdk_python")
    if not python or not Path(python).exists():
        raise NotApplicable("no Dapr SDK venv (dapr-ext-workflow 1.18.3)")
    timeout = params.get("timeout", 3500)
    with tempfile.TemporaryDirectory(prefix="wayline-bench-") as tmp:
        grpc_port = free_port()
        args = [
            "--store", f"sqlite:///{Path(tmp) / 'wayline.db'}",
            "--grpc-port", str(grpc_port),
            "--log-level", "warning",
        ]  # fmt: skip
        with serve(args, Path(tmp) / "server.log"):
            app_params = {**params, "host": "127.0.0.1", "port": grpc_port}
            env = {k: v for k, v in os.environ.items() if not k.startswith("DAPR_")}
            env.pop("PYTHONPATH", None)
            result = subprocess.run(
                [python, str(APP), scenario, json.dumps(app_params)],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=env,
            )
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"the SDK app printed nothing:\n{result.stderr[-3000:]}")
    answer = json.loads(lines[-1])
    if not answer.get("ok"):
        print(result.stderr[-3000:], file=sys.stderr)
        raise RuntimeError(f"the SDK app failed: {answer.get('error')}")
    return dict(answer["result"])


def serial(params: Params) -> Result:
    return run_app("serial", params)


def concurrent(params: Params) -> Result:
    return run_app("concurrent", params)


def long(params: Params) -> Result:
    return run_app("long", params)


if __name__ == "__main__":
    run_cli({"serial": serial, "concurrent": concurrent, "long": long})
