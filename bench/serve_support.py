"""Run ``wayline serve`` as a subprocess for a scenario, and always stop it.

Does not import Wayline: the server is the CLI of the interpreter running this
module (``python -m wayline serve``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from scenario_support import free_port


@contextlib.contextmanager
def serve(args: list[str], log: Path, ready_timeout: float = 60) -> Iterator[str]:
    """``wayline serve <args>`` on a free HTTP port; yields its base URL once
    ``/v1.0/healthz`` answers (and the ``--grpc-port``, if any, accepts connections);
    stops it with SIGTERM (then SIGKILL) however the block ends."""
    port = free_port()
    command = [sys.executable, "-m", "wayline", "serve", "--port", str(port), *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "WAYLINE_"))}
    grpc_port = int(args[args.index("--grpc-port") + 1]) if "--grpc-port" in args else 0
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while not _ready(base, grpc_port):
            if process.poll() is not None:
                raise RuntimeError(f"wayline serve exited early:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"wayline serve not ready after {ready_timeout} s")
            time.sleep(0.1)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _ready(base: str, grpc_port: int) -> bool:
    try:
        if httpx.get(f"{base}/v1.0/healthz", timeout=1).status_code != 204:
            return False
    except httpx.HTTPError:
        return False
    if grpc_port:
        try:
            socket.create_connection(("127.0.0.1", grpc_port), timeout=1).close()
        except OSError:
            return False
    return True
