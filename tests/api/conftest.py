"""Fixtures: real ``wayline serve`` subprocesses, one per test module."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from support.server import Server, stop_all


@pytest.fixture(scope="module")
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Start servers on fresh SQLite files; every one is stopped after the module."""
    started: list[Server] = []

    def make(**kwargs: object) -> Server:
        db = tmp_path_factory.mktemp("server") / "wayline.db"
        server = Server(db, **kwargs)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield make
    stop_all(started)


@pytest.fixture(scope="module")
def server(make_server: Callable[..., Server]) -> Server:
    """The module's shared server with the order-processing and test apps."""
    return make_server()


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client
