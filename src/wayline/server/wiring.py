"""``wayline serve``: store + engine + HTTP and gRPC APIs in one process.

The one place that wires the parts together. Whatever stops the server from
starting (a bad option, an unusable store, a port in use, a certificate that
cannot be loaded) is reported as one line that says what to do, never as a
traceback, and no line it prints holds a password or the API token.

The engine, uvicorn and the grpc.aio server share one asyncio loop; SIGINT/SIGTERM
stop the HTTP server first (no new requests), then the gRPC server (in-flight calls
get a grace period), then the engine (in-flight turns commit, running activities are
handed back).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import importlib
import importlib.util
import ipaddress
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from wayline.api.grpc import GrpcServer
from wayline.api.http import create_app
from wayline.api.http.app import DEFAULT_MAX_BODY_BYTES
from wayline.cli import CliError, apply_env_defaults, print_error, redact, url_secrets
from wayline.client import WorkflowClient
from wayline.core.registry import Registry
from wayline.engine.engine import Engine
from wayline.engine.feed import CommitFeed
from wayline.engine.observer import Observer, Observers
from wayline.engine.remote import WorkerHub
from wayline.engine.retention import RetentionPolicy, parse_duration
from wayline.engine.settings import EngineSettings
from wayline.errors import InvalidAppIdError, StoreError
from wayline.observability.logging import configure_logging
from wayline.observability.tracing_config import (
    TracingConfigError,
    tracing_from_environment,
    tracing_requested,
)
from wayline.runtime import WorkflowRuntime
from wayline.store import DEFAULT_STORE_URL, Store, open_store

if TYPE_CHECKING:
    from wayline.observability.tracing import Tracing

log = logging.getLogger("wayline.server")


class StartupError(Exception):
    """The server cannot start; the message says why and what to do."""


class AppLoadError(StartupError):
    """An ``--app`` module could not be imported or holds no ``WorkflowRuntime``."""


def load_app(spec: str) -> WorkflowRuntime:
    """Import ``path/to/app.py`` or ``package.module`` (optionally ``:attribute``).

    Returns the ``WorkflowRuntime`` named by the attribute, or the only one
    defined at the module's top level.
    """
    target, _, attribute = spec.partition(":")
    if target.endswith(".py") or "/" in target:
        path = Path(target).resolve()
        if not path.is_file():
            raise AppLoadError(f"--app {spec!r}: no such file {path}")
        module_name = f"wayline_app_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        if module_spec is None or module_spec.loader is None:
            raise AppLoadError(f"--app {spec!r}: cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        sys.path.insert(0, str(path.parent))
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise AppLoadError(f"--app {spec!r}: importing it failed: {exc!r}") from exc
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise AppLoadError(f"--app {spec!r}: importing it failed: {exc!r}") from exc
    if attribute:
        runtime = getattr(module, attribute, None)
        if not isinstance(runtime, WorkflowRuntime):
            raise AppLoadError(f"--app {spec!r}: {attribute!r} is not a WorkflowRuntime")
        return runtime
    found = [v for v in vars(module).values() if isinstance(v, WorkflowRuntime)]
    if len(found) != 1:
        what = "no WorkflowRuntime" if not found else f"{len(found)} WorkflowRuntimes"
        raise AppLoadError(
            f"--app {spec!r}: the module defines {what} at its top level; name one with "
            f"{target}:attribute"
        )
    return found[0]


def merge_registries(runtimes: list[WorkflowRuntime]) -> Registry:
    """One registry with every app's workflows and activities; a name clash is an error."""
    merged = Registry()
    for runtime in runtimes:
        for name, fn in runtime.registry.workflows.items():
            if name in merged.workflows and merged.workflows[name] is not fn:
                raise AppLoadError(f"two apps register a workflow named {name!r}")
            merged.workflows[name] = fn
        for name, fn in runtime.registry.activities.items():
            if name in merged.activities and merged.activities[name] is not fn:
                raise AppLoadError(f"two apps register an activity named {name!r}")
            merged.activities[name] = fn
    return merged


class _Uvicorn(uvicorn.Server):
    """uvicorn re-raises a caught SIGTERM/SIGINT as soon as it has stopped, which would
    kill the process before the gRPC server and the engine shut down; we finish the
    shutdown ourselves and exit normally instead."""

    #: Why the server stops (the signal's name), for the last log line.
    stop_reason: str | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        try:
            self.stop_reason = signal.Signals(sig).name
        except ValueError:
            self.stop_reason = f"signal {sig}"
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


@dataclass
class ServerConfig:
    """Everything ``wayline serve`` needs; the CLI maps flags and env vars onto it."""

    apps: list[str] = field(default_factory=list)
    store: str = DEFAULT_STORE_URL
    host: str = "127.0.0.1"
    port: int = 3500
    grpc_port: int = 50001  # 0: no gRPC server
    api_token: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    settings: EngineSettings = field(default_factory=EngineSettings)
    log_level: str = "info"
    log_format: str = "text"  # or "json": one object per line (wayline.observability.logging)
    ui: bool = True
    ui_read_only: bool = False
    tls_cert: str | None = None  # PEM certificate chain; with tls_key: HTTPS and gRPC over TLS
    tls_key: str | None = None
    metrics: bool = True  # Prometheus metrics at GET /metrics
    metrics_namespace: str = ""  # the namespace label of Dapr's metrics

    @property
    def secrets(self) -> list[str]:
        """What no log line or error message may show: the token, the store's password."""
        return [s for s in (self.api_token, *url_secrets(self.store)) if s]


class EngineThread:
    """The engine and the gRPC server on their own thread and event loop.

    The HTTP server keeps the main thread's loop to itself: the engine's loop runs
    whole batches of turns and group commits between two looks at its sockets,
    which would otherwise hold every HTTP request up for as long. The gRPC server
    shares the engine's loop because the ``WorkerHub`` between them lives there.
    """

    def __init__(
        self,
        engine: Engine,
        hub: WorkerHub | None,
        grpc_server: Callable[[], GrpcServer] | None,
    ) -> None:
        self.engine = engine
        self._hub = hub
        self._make_grpc_server = grpc_server  # made on the thread: grpc.aio binds to its loop
        self.grpc_server: GrpcServer | None = None
        self._thread = threading.Thread(target=self._run, name="wayline-engine", daemon=True)
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._engine_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the thread; returns once gRPC listens (or raises why it cannot)."""
        self._thread.start()
        self._started.wait()
        if self._failure is not None:
            self._thread.join()
            raise self._failure

    @property
    def running(self) -> bool:
        task = self._engine_task
        return task is not None and not task.done()

    def stop(self) -> None:
        """Stop gRPC (in-flight calls get a grace period), then the engine; wait."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        self._thread.join()

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start() if it happens before ready
            if not self._started.is_set():
                self._failure = exc
            else:
                log.exception("the engine thread stopped with an error")
        finally:
            self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._make_grpc_server is not None:
            self.grpc_server = self._make_grpc_server()
            await self.grpc_server.start()
        self._engine_task = asyncio.create_task(self.engine.run(), name="wayline-engine")
        self._started.set()
        try:
            await self._stop.wait()
        finally:
            if self.grpc_server is not None:
                assert self._hub is not None
                self._hub.close()  # end the workers' streams so the grace is not spent on them
                await self.grpc_server.stop(grace=5.0)
            self.engine.stop()
            await self._engine_task


def load_tls(cert: str | None, key: str | None) -> tuple[bytes, bytes] | None:
    """The certificate chain and key as PEM bytes, checked to load and to match.

    Raises:
        StartupError: one is missing, unreadable, not PEM, encrypted, or they do not pair.
    """
    if not cert or not key:
        return None
    pem: list[bytes] = []
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            pem.append(Path(path).read_bytes())
        except OSError as exc:
            raise StartupError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from None

    def encrypted() -> bytes:
        raise StartupError(
            f"--tls-key {key}: the key is encrypted; give an unencrypted PEM key (e.g. "
            f"openssl pkey -in {key} -out plain.key) and protect the file instead"
        )

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            cert, key, password=encrypted
        )
    except ssl.SSLError as exc:
        raise StartupError(
            f"--tls-cert {cert} / --tls-key {key}: cannot load them as a PEM certificate chain "
            f"and its private key ({exc.reason or exc}); check the files and that the key "
            "belongs to the certificate"
        ) from None
    return pem[0], pem[1]


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens to this machine (``localhost``, 127.x, ``::1``)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name that may resolve to any interface


def exposure_warning(config: ServerConfig) -> str | None:
    """What a server bound beyond this machine without an API token lets anyone do."""
    if is_loopback(config.host) or config.api_token:
        return None
    ports = f"HTTP port {config.port}"
    if config.grpc_port:
        ports += f" and gRPC port {config.grpc_port} (with the worker stream)"
    return (
        f"SECURITY: --host {config.host} opens the {ports} to the network with no API "
        "token: anyone who can reach them can start, terminate and purge workflows and "
        "take workers' tasks. Set --api-token (or DAPR_API_TOKEN), bind to 127.0.0.1, or "
        "firewall the ports" + ("" if config.tls_cert else "; add --tls-cert/--tls-key for TLS")
    )


def bind_http(host: str, port: int) -> socket.socket:
    """The HTTP listening socket, bound before anything else starts, so a port in use is
    a one-line error rather than a failure after the store and engine came up."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise StartupError(
            f"--host {host}: cannot listen there ({exc.strerror or exc}); give an address "
            "of this machine, 127.0.0.1 or 0.0.0.0"
        ) from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise StartupError(
            f"cannot listen for HTTP on {host}:{port} ({exc.strerror or exc}); stop what "
            "uses it or pick another port with --port"
        ) from None
    sock.set_inheritable(True)
    return sock


# Advice for what a store's own message does not explain, by a phrase of the driver's.
_STORE_HINTS = (
    (
        "too many clients",
        "PostgreSQL has no connection left for a new client: close idle clients or raise "
        "max_connections (each wayline serve holds up to 11)",
    ),
    (
        "too many connections",
        "PostgreSQL refuses more connections for this role or database: close idle "
        "clients or raise its CONNECTION LIMIT (each wayline serve holds up to 11)",
    ),
    (
        "password authentication failed",
        "check the user and password in --store (or WAYLINE_STORE, PGPASSWORD, ~/.pgpass)",
    ),
    (
        "unable to open database file",
        "check that the directory exists and that this user may write to it",
    ),
)
_GENERIC_ADVICE = "; check that the server runs"


def open_store_or_explain(url: str) -> Store:
    """``open_store``, with what went wrong and what to do as a ``StartupError``."""
    try:
        return open_store(url)
    except Exception as exc:  # any backend, any driver: all mean "cannot start"
        detail = " ".join(str(exc).split())
        if not isinstance(exc, StoreError):
            detail = f"cannot open the store {url}: {type(exc).__name__}: {detail}"
        cause = " ".join(f"{detail} {exc.__cause__ or ''}".split()).lower()
        hint = next((h for phrase, h in _STORE_HINTS if phrase in cause), None)
        if hint is None:
            raise StartupError(detail) from None
        # the store's catch-all advice ("is the server running?") misleads here
        detail = detail.split(_GENERIC_ADVICE)[0]
        raise StartupError(f"{detail}; {hint}" if hint not in detail else detail) from None


def check_grpc_port(host: str, port: int) -> None:
    """Fail early, in plain words, when the gRPC port is taken (grpc's own error comes
    after the store opened, with a C-level log line)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise StartupError(
            f"cannot listen for gRPC on {host}:{port} ({exc.strerror or exc}); stop what "
            "uses it or pick another port with --grpc-port (0 turns gRPC off)"
        ) from None


async def serve(config: ServerConfig) -> None:
    """Run the server until SIGINT/SIGTERM.

    Raises:
        StartupError: the server could not start; nothing is left running.
    """
    tls = load_tls(config.tls_cert, config.tls_key)
    http_socket = bind_http(config.host, config.port)
    try:
        if config.grpc_port:
            check_grpc_port(config.host, config.grpc_port)
        warning = exposure_warning(config)
        if warning:
            log.warning("%s", warning)
        registry = merge_registries([load_app(spec) for spec in config.apps])
        tracing = _tracing()
        store = open_store_or_explain(config.store)
    except BaseException:
        http_socket.close()
        raise
    feed = CommitFeed()
    # Workflows and activities no --app registers go to remote workers (Dapr SDK apps
    # on the gRPC port), if any connect.
    hub = WorkerHub() if config.grpc_port else None
    metrics = None
    if config.metrics:
        from wayline.observability.metrics import PrometheusMetrics  # only when wanted

        metrics = PrometheusMetrics(namespace=config.metrics_namespace)
    # Metrics and traces hear the same engine and client (either may be off).
    adapters = [a for a in (metrics, tracing[0] if tracing else None) if a is not None]
    observer: Observer | None = Observers(adapters) if adapters else None
    engine = Engine(
        store,
        registry,
        settings=config.settings,
        on_commit=feed.publish,
        remote=hub,
        observer=observer,
    )
    client = WorkflowClient(
        store,
        max_payload_bytes=config.max_body_bytes,
        app_id=config.settings.app_id,
        _on_change=engine.notify_turns,
        _feed=feed,
        _observer=observer,
    )
    grpc_server = None
    if hub is not None:
        grpc_server = functools.partial(
            GrpcServer,
            client,
            hub,
            host=config.host,
            port=config.grpc_port,
            api_token=config.api_token,
            tls=tls,
        )
    engine_thread = EngineThread(engine, hub, grpc_server)
    app = create_app(
        client,
        api_token=config.api_token,
        max_body_bytes=config.max_body_bytes,
        ready=lambda: engine_thread.running,
        ui=config.ui,
        ui_read_only=config.ui_read_only,
        metrics=metrics.exposition if metrics is not None else None,
    )
    server = _Uvicorn(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=config.log_level,
            log_config=None,  # uvicorn logs through ours, which masks secrets
            lifespan="off",
            ssl_certfile=config.tls_cert if tls else None,
            ssl_keyfile=config.tls_key if tls else None,
        )
    )
    started: float | None = None
    try:
        try:
            engine_thread.start()
        except OSError as exc:  # the gRPC port
            raise StartupError(str(exc)) from None
        started = time.monotonic()
        scheme = "https" if tls else "http"
        log.info(
            "serving %d workflows and %d activities on %s://%s:%d%s (store %s); API token "
            "%s, dashboard %s, request bodies up to %d bytes",
            len(registry.workflows),
            len(registry.activities),
            scheme,
            config.host,
            config.port,
            f" and grpc port {config.grpc_port}{' (TLS)' if tls else ''}" if grpc_server else "",
            redact(config.store, config.secrets),
            "required" if config.api_token else "off",
            ("read-only" if config.ui_read_only else "on") if config.ui else "off",
            config.max_body_bytes,
            extra={"node_id": engine.node_id, "app_id": config.settings.app_id},
        )
        await server.serve(sockets=[http_socket])
    finally:
        engine_thread.stop()
        store.close()
        http_socket.close()
        if tracing:
            tracing[1]()  # flush the spans still queued for the exporter
        if started is not None:
            log.info(
                "wayline serve stopped (%s) after %.1f s",
                server.stop_reason or "its HTTP server ended",
                time.monotonic() - started,
                extra={"node_id": engine.node_id, "app_id": config.settings.app_id},
            )


def _tracing() -> tuple[Tracing, Callable[[], None]] | None:
    """Tracing as the ``OTEL_*`` variables ask (``observability.tracing_config``), with
    the trace id on every handler's records; None when they do not."""
    if tracing_requested(os.environ) is None:
        return None
    try:
        tracing = tracing_from_environment(os.environ, make_global=True)
    except TracingConfigError as exc:
        raise StartupError(str(exc)) from None
    for handler in logging.getLogger().handlers:
        handler.addFilter(tracing[0].log_filter)
    log.info("tracing on: spans go to the exporter OTEL_TRACES_EXPORTER names (default otlp)")
    return tracing


def config_from_args(args: argparse.Namespace) -> ServerConfig:
    """The ``ServerConfig`` of parsed ``wayline serve`` options (env defaults applied).

    Raises:
        StartupError: an option's value is refused; the message names the option.
    """
    apps = args.app
    if apps is None:
        apps = [a for a in os.environ.get("WAYLINE_APP", "").split(",") if a]
    durations = {}
    for status in ("any_terminal", "completed", "failed", "terminated"):
        text = getattr(args, f"retention_{status}")
        try:
            durations[status] = parse_duration(text) if text else None
        except ValueError as exc:
            flag = f"--retention-{status.replace('_', '-')}"
            raise StartupError(f"{flag} (or WAYLINE_RETENTION_{status.upper()}): {exc}") from None
    try:
        settings = EngineSettings(
            turn_lease=timedelta(seconds=args.turn_lease),
            activity_lease=timedelta(seconds=args.activity_lease),
            poll_interval=timedelta(seconds=args.poll_interval),
            node_id=args.node_id or None,
            retention=RetentionPolicy(**durations),
            app_id=args.app_id,
        )
    except InvalidAppIdError as exc:
        raise StartupError(f"--app-id: {exc}") from None
    if bool(args.tls_cert) != bool(args.tls_key):
        flags = ("--tls-cert", "--tls-key")
        given, missing = flags if args.tls_cert else flags[::-1]
        raise StartupError(
            f"{given} needs {missing} too: the certificate chain and its private key "
            "(env WAYLINE_TLS_CERT, WAYLINE_TLS_KEY)"
        )
    return ServerConfig(
        apps=apps,
        store=args.store,
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        api_token=args.api_token or None,
        max_body_bytes=(
            DEFAULT_MAX_BODY_BYTES if args.max_body_bytes is None else args.max_body_bytes
        ),
        settings=settings,
        log_level=args.log_level,
        log_format=args.log_format,
        tls_cert=args.tls_cert or None,
        tls_key=args.tls_key or None,
        ui=args.ui,
        ui_read_only=args.ui_read_only,
        metrics=args.metrics,
        metrics_namespace=args.metrics_namespace or "",
    )


def main_serve(args: argparse.Namespace) -> int:
    """``wayline serve``: run until SIGINT/SIGTERM; returns the exit code (0: a clean
    stop, 2: an option refused, 1: could not start or stopped on an error)."""
    secrets = [s for s in (args.api_token, *url_secrets(args.store)) if s]
    try:
        apply_env_defaults(args)
        secrets = [s for s in (args.api_token, *url_secrets(args.store)) if s]
        config = config_from_args(args)
    except (CliError, StartupError) as exc:
        print_error(redact(str(exc), secrets))
        return 2
    # Every record, uvicorn's too, goes through one handler that masks the secrets.
    configure_logging(config.log_format, config.log_level, secrets=secrets)

    def report(message: str) -> None:
        if config.log_format == "json":  # one object per line, errors included
            log.error("%s", message)
        else:
            print_error(message)

    try:
        asyncio.run(serve(config))
    except StartupError as exc:
        report(redact(str(exc), secrets))
        return 2 if isinstance(exc, AppLoadError) else 1
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        log.debug("wayline serve stopped on an error", exc_info=True)
        report(
            redact(f"wayline serve stopped: {type(exc).__name__}: {exc}", secrets)
            + " (run with --log-level debug for the traceback)"
        )
        return 1
    return 0
