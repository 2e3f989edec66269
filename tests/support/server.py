"""``python -m wayline serve`` as a real subprocess on free ports, for every test
folder that talks to a server (api, cli, grpc, ui, cluster)."""

from __future__ import annotations

import os
import resource
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self

import grpc
import httpx

from support.wait import wait_until

REPO = Path(__file__).resolve().parents[2]
ORDER_APP = REPO / "examples" / "order_processing.py"
TEST_APP = REPO / "tests" / "api" / "server_app.py"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0


def free_port() -> int:
    """A port nothing listens on right now (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One ``wayline serve`` process: HTTP on a free port, gRPC on another when
    ``with_grpc`` (else ``--grpc-port 0``, off), its output in ``log``.

    ``db`` is the SQLite file of the store unless ``store`` names one (a URL); the
    log is written beside it (``db`` with the suffix ``.log``, appended to across
    restarts) and the process runs in its folder. Inherited ``DAPR_*`` and
    ``WAYLINE_*`` variables are dropped (``PYTHONPATH`` is kept); ``env`` is applied
    on top. ``file_size_limit`` is the process's RLIMIT_FSIZE in bytes (a disk that
    fills up at that size for every file it writes). ``tls_ca``: the server is given
    a certificate (through ``extra_args`` or ``env``) issued by this CA; its URL is
    https and the readiness checks and ``client()`` trust the CA.
    """

    def __init__(
        self,
        db: Path,
        *,
        store: str | None = None,
        apps: Sequence[Path] = (ORDER_APP, TEST_APP),
        api_token: str | None = None,
        app_id: str | None = None,
        with_grpc: bool = False,
        extra_args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        file_size_limit: int | None = None,
        tls_ca: Path | None = None,
    ) -> None:
        self.db = db
        self.store = store or f"sqlite:///{db}"
        self.apps = list(apps)
        self.api_token = api_token
        self.app_id = app_id
        self.with_grpc = with_grpc
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self.file_size_limit = file_size_limit
        self.tls_ca = tls_ca
        self.log = db.with_suffix(".log")
        self.port = 0
        self.grpc_port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls_ca else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def grpc_target(self) -> str:
        assert self.grpc_port, "this server has no gRPC port (with_grpc=False)"
        return f"127.0.0.1:{self.grpc_port}"

    def verify(self) -> ssl.SSLContext | bool:
        """What httpx should verify this server's certificate with."""
        return ssl.create_default_context(cafile=str(self.tls_ca)) if self.tls_ca else True

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "wayline", "serve", "--store", self.store]
        for app in self.apps:
            args += ["--app", str(app)]
        args += ["--port", str(self.port), "--grpc-port", str(self.grpc_port)]
        args += ["--log-level", "warning"]
        if self.api_token:
            args += ["--api-token", self.api_token]
        if self.app_id:
            args += ["--app-id", self.app_id]
        return args + self.extra_args

    def start(self) -> Self:
        """Start the process; return once ``/v1.0/healthz/outbound`` answers 204 and,
        with gRPC, a channel to the gRPC port is ready."""
        self.port = free_port()
        self.grpc_port = free_port() if self.with_grpc else 0
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DAPR_", "WAYLINE_"))}
        env.update(self.env)
        limits = self._limits if self.file_size_limit is not None else None
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.db.parent,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=limits,
            )
        try:
            wait_until(self._healthy, STARTUP_TIMEOUT, f"wayline serve to answer on {self.url}")
            if self.with_grpc:
                self._wait_for_grpc()
        except BaseException as exc:
            self.kill()
            if isinstance(exc, AssertionError):
                raise AssertionError(f"{exc}; its log:\n{self.output()[-3000:]}") from None
            raise
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"wayline serve exited with {self.proc.returncode}")
        try:
            health = httpx.get(f"{self.url}/v1.0/healthz/outbound", timeout=1, verify=self.verify())
        except httpx.HTTPError:
            return False
        return health.status_code == 204

    def _wait_for_grpc(self) -> None:
        if self.tls_ca:
            credentials = grpc.ssl_channel_credentials(self.tls_ca.read_bytes())
            channel = grpc.secure_channel(self.grpc_target, credentials)
        else:
            channel = grpc.insecure_channel(self.grpc_target)
        with channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=STARTUP_TIMEOUT)
            except grpc.FutureTimeoutError:
                raise AssertionError(f"gRPC on {self.grpc_target} not ready in time") from None

    def _limits(self) -> None:
        assert self.file_size_limit is not None
        limit = self.file_size_limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    def output(self) -> str:
        """Everything the server wrote so far (stdout and stderr)."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM and wait; returns the exit code (None if never started). A server
        still running ``timeout`` s after SIGTERM is killed and the test fails."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"wayline serve did not stop within {timeout} s of SIGTERM; its log:\n"
                    f"{self.output()[-3000:]}"
                ) from None
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL (no clean shutdown) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on this server's URL."""
        kwargs.setdefault("verify", self.verify())
        return httpx.Client(base_url=self.url, timeout=10.0, **kwargs)


def stop_all(servers: Iterable[Server]) -> None:
    """Stop every server, even after one fails to stop; then fail if any did."""
    failures: list[str] = []
    for server in servers:
        try:
            server.stop()
        except AssertionError as exc:
            failures.append(str(exc))
    assert not failures, "\n".join(failures)
