"""Fixtures of the gRPC tests (helpers in ``grpc_support``).

This directory has no ``__init__.py`` on purpose: as a package, ``tests/grpc``
would shadow the real ``grpc`` module once ``tests/`` is on ``sys.path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from grpc_support import DAPR_117, DAPR_EXT_118, Server, sdk_python, start_server


@pytest.fixture(scope="session")
def dapr_ext_python() -> Path:
    return sdk_python("dapr-ext-workflow-1.18.3", DAPR_EXT_118)


@pytest.fixture(scope="session")
def dapr_117_python() -> Path:
    return sdk_python("dapr-1.17.5", DAPR_117)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("grpc-server"))
    yield running
    assert running.stop() == 0, f"unclean exit:\n{running.log.read_text()[-3000:]}"


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("grpc-token"), api_token="s3cret-token")
    yield running
    assert running.stop() == 0, f"unclean exit:\n{running.log.read_text()[-3000:]}"
