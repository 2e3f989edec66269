"""Run the Dapr Python SDK's own workflow checks against a sidecar-less `wayline serve`.

What issue 10 is checked with: dapr-ext-workflow's durabletask end-to-end tests and
the mechanical-markdown steps of its workflow examples, unmodified, with the SDK's
sidecar address (DAPR_GRPC_PORT) pointing at Wayline. Needs a checkout of
dapr/python-sdk (GitHub is not reachable from CI, so this is a manual check):

    git -C python-sdk archive v1.18.3 ext/dapr-ext-workflow/tests examples/workflow | tar -x -C sdk
    python -m venv sdk-venv && sdk-venv/bin/pip install dapr-ext-workflow==1.18.3 \
        dapr==1.18.3 pytest pytest-asyncio pyyaml pydantic
    python scripts/upstream_sdk_check.py sdk sdk-venv/bin/python

Older SDKs work the same way (their READMEs' cross-app steps too; e.g. v1.16.3 with
durabletask-dapr==0.2.0a9). Before 1.17 the end-to-end tests live in durabletask-python:
extract its ``tests`` directory to ``sdk/ext/dapr-ext-workflow/tests/durabletask``.

Prints each suite's counts; the exit status is the number of failed steps and tests.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml


def _serve(
    tmp: Path, grpc_port: int, http_port: int, app_id: str = "wayline", db: str = "wayline.db"
) -> subprocess.Popen[bytes]:
    wayline = shutil.which("wayline") or "wayline"
    command = [wayline, "serve", "--store", f"sqlite:///{tmp / db}", "--app-id", app_id]
    command += ["--port", str(http_port), "--grpc-port", str(grpc_port), "--log-level", "error"]
    server = subprocess.Popen(command, cwd=tmp)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{http_port}/v1.0/healthz").status_code == 204:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("wayline serve did not start")
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _e2e(sdk: Path, python: str, env: dict[str, str]) -> int:
    tests = sdk / "ext" / "dapr-ext-workflow"
    files = sorted(
        str(p) for p in (tests / "tests" / "durabletask").glob("test_orchestration_e2e*.py")
    )
    if not files:  # before 1.17 they live in durabletask-python
        print("durabletask e2e: not in this checkout (examples only)")
        return 0
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files],
        cwd=tests,
        env=env,
        capture_output=True,
        text=True,
    )
    summary = [line for line in done.stdout.splitlines() if " passed" in line or " failed" in line]
    print("durabletask e2e:", summary[-1] if summary else done.stdout[-2000:])
    return 0 if done.returncode == 0 else 1


def _run(line: str) -> tuple[dict[str, str], str] | None:
    """A `dapr run [--option value]... [--] command` line's options and command."""
    tokens = line.split()
    options: dict[str, str] = {}
    while len(tokens) > 1 and tokens[0].startswith("--") and tokens[0] != "--":
        options[tokens[0]] = tokens[1]
        tokens = tokens[2:]
    if tokens[:1] == ["--"]:
        tokens = tokens[1:]
    return (options, " ".join(tokens)) if tokens else None


def _examples(sdk: Path, python: str, env: dict[str, str], tmp: Path) -> int:
    """Each README step's `dapr run` commands. A step of several apps (`--app-id`s) gets
    one `wayline serve --app-id` per app on a store of its own, as each app would get
    its own daprd on one state store; `export` lines set the step's environment."""
    folder = sdk / "examples" / "workflow"
    readme = (folder / "README.md").read_text()
    failed = 0
    for number, (meta, body) in enumerate(
        re.findall(r"<!--\s*STEP(.*?)-->(.*?)<!--\s*END_STEP\s*-->", readme, re.S)
    ):
        spec = yaml.safe_load(meta)
        runs = [run for line in re.findall(r"^dapr run (.*)$", body, re.M) if (run := _run(line))]
        step_env = {**env, **dict(re.findall(r"^export (\w+)=(\S+)", body, re.M))}
        apps = sorted({options["--app-id"] for options, _ in runs if "--app-id" in options})
        servers: list[subprocess.Popen[bytes]] = []
        app_env: dict[str, dict[str, str]] = {}
        if len(apps) > 1:
            for app in apps:
                grpc_port, http_port = _free_port(), _free_port()
                servers.append(_serve(tmp, grpc_port, http_port, app, f"step{number}.db"))
                ports = {"DAPR_GRPC_PORT": str(grpc_port), "DAPR_HTTP_PORT": str(http_port)}
                app_env[app] = {**step_env, **ports}
        output: list[str] = []
        background: list[subprocess.Popen[str]] = []
        for options, command in runs:
            run_env = app_env.get(options.get("--app-id", ""), step_env)
            args = [python, *command.rstrip("& ").split()[1:]]
            if command.rstrip().endswith("&"):
                background.append(
                    subprocess.Popen(
                        args,
                        cwd=folder,
                        env=run_env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                    )
                )
                continue
            run = subprocess.run(
                args,
                cwd=folder,
                env=run_env,
                capture_output=True,
                text=True,
                timeout=spec.get("timeout_seconds", 60) + 30,
            )
            output.append(run.stdout + run.stderr)
        for process in background:
            process.terminate()
            output.append(process.communicate()[0])
        for server in servers:
            server.terminate()
            server.wait(30)
        text = "\n".join(output)
        # Older READMEs expect the Dapr CLI's "== APP == " prefix on the app's lines.
        lines = spec.get("expected_stdout_lines", [])
        expected = [line.removeprefix("== APP == ") for line in lines]
        missing = [line for line in expected if line not in text]
        failed += bool(missing)
        verdict = f"FAIL (missing {missing[:3]})" if missing else "PASS"
        print(f"example {spec.get('name')!r} {[c for _, c in runs]}: {verdict}")
    return failed


def main() -> int:
    sdk, python = Path(sys.argv[1]).resolve(), sys.argv[2]
    grpc_port, http_port = 4001, 3599
    env = {**os.environ, "DAPR_GRPC_PORT": str(grpc_port), "DAPR_HTTP_PORT": str(http_port)}
    with tempfile.TemporaryDirectory() as tmp:
        server = _serve(Path(tmp), grpc_port, http_port)
        try:
            return _e2e(sdk, python, env) + _examples(sdk, python, env, Path(tmp))
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    sys.exit(main())
