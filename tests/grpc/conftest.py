"""Fixtures of the gRPC tests (helpers in ``grpc_support``).

This directory has no ``__init__.py`` on purpose: as a package, ``tests/grpc``
would shadow the real ``grpc`` module once ``tests/`` is on ``sys.path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc_support import DAPR_117, DAPR_EXT_118, GrpcServer, sdk_python


@pytest.fixture(scope="session")
def dapr_ext_python() -> Path:
    return sdk_python("dapr-ext-workflow-1.18.3", DAPR_EXT_118)


@pytest.fixture(scope="session")
def dapr_117_python() -> Path:
    return sdk_python("dapr-1.17.5", DAPR_117)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    running = GrpcServer(tmp_path_factory.mktemp("grpc-server") / "wayline.db").start()
    yield running
    assert running.stop() == 0, f"unclean exit:\n{running.output()[-3000:]}"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GrpcServer]:
    db = tmp_path_factory.mktemp("grpc-token") / "wayline.db"
    running = GrpcServer(db, api_token="s3cret-token").start()
    yield running
    assert running.stop() == 0, f"unclean exit:\n{running.output()[-3000:]}"
