"""``wayline serve``: store + engine + HTTP and gRPC APIs in one process.

The one place that wires the parts together. The engine, uvicorn and the grpc.aio
server share one asyncio loop; SIGINT/SIGTERM stop the HTTP server first (no new
requests), then the gRPC server (in-flight calls get a grace period), then the
engine (in-flight turns commit, running activities are handed back).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import FrameType

import uvicorn

from wayline.api.grpc import GrpcServer
from wayline.api.http import create_app
from wayline.api.http.app import DEFAULT_MAX_BODY_BYTES
from wayline.cli import build_parser, main_client
from wayline.client import WorkflowClient
from wayline.core.registry import Registry
from wayline.engine.engine import Engine
from wayline.engine.feed import CommitFeed
from wayline.engine.remote import WorkerHub
from wayline.engine.retention import RetentionPolicy, parse_duration
from wayline.engine.settings import EngineSettings
from wayline.errors import InvalidAppIdError
from wayline.runtime import WorkflowRuntime
from wayline.store import DEFAULT_STORE_URL, open_store

log = logging.getLogger("wayline.server")


class AppLoadError(Exception):
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

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
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
    ui: bool = True
    ui_read_only: bool = False


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


async def serve(config: ServerConfig) -> None:
    """Run the server until SIGINT/SIGTERM."""
    registry = merge_registries([load_app(spec) for spec in config.apps])
    store = open_store(config.store)
    feed = CommitFeed()
    # Workflows and activities no --app registers go to remote workers (Dapr SDK apps
    # on the gRPC port), if any connect.
    hub = WorkerHub() if config.grpc_port else None
    engine = Engine(store, registry, settings=config.settings, on_commit=feed.publish, remote=hub)
    client = WorkflowClient(
        store,
        max_payload_bytes=config.max_body_bytes,
        app_id=config.settings.app_id,
        _on_change=engine.notify_turns,
        _feed=feed,
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
        )
    engine_thread = EngineThread(engine, hub, grpc_server)
    app = create_app(
        client,
        api_token=config.api_token,
        max_body_bytes=config.max_body_bytes,
        ready=lambda: engine_thread.running,
        ui=config.ui,
        ui_read_only=config.ui_read_only,
    )
    server = _Uvicorn(
        uvicorn.Config(
            app, host=config.host, port=config.port, log_level=config.log_level, lifespan="off"
        )
    )
    log.info(
        "serving %d workflows and %d activities on http://%s:%d%s (store %s)",
        len(registry.workflows),
        len(registry.activities),
        config.host,
        config.port,
        f" and grpc port {config.grpc_port}" if grpc_server else "",
        config.store,
    )
    try:
        engine_thread.start()
        await server.serve()
    finally:
        engine_thread.stop()
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    """The ``wayline`` console script: ``serve`` runs here, the rest in ``wayline.cli``."""
    args = build_parser().parse_args(argv)
    if args.command != "serve":
        return main_client(args)
    apps = args.app
    if apps is None:
        apps = [a for a in os.environ.get("WAYLINE_APP", "").split(",") if a]
    try:
        retention = RetentionPolicy(
            **{
                status: parse_duration(text) if text else None
                for status, text in (
                    ("any_terminal", args.retention_any_terminal),
                    ("completed", args.retention_completed),
                    ("failed", args.retention_failed),
                    ("terminated", args.retention_terminated),
                )
            }
        )
    except ValueError as exc:
        print(f"error: retention: {exc}", file=sys.stderr)
        return 2
    try:
        settings = EngineSettings(
            turn_lease=timedelta(seconds=args.turn_lease),
            activity_lease=timedelta(seconds=args.activity_lease),
            poll_interval=timedelta(seconds=args.poll_interval),
            node_id=args.node_id or None,
            retention=retention,
            app_id=args.app_id,
        )
    except InvalidAppIdError as exc:
        print(f"error: --app-id: {exc}", file=sys.stderr)
        return 2
    config = ServerConfig(
        apps=apps,
        store=args.store,
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        api_token=args.api_token or None,
        max_body_bytes=args.max_body_bytes,
        settings=settings,
        log_level=args.log_level,
        ui=args.ui,
        ui_read_only=args.ui_read_only,
    )
    logging.basicConfig(
        level=config.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(serve(config))
    except AppLoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
