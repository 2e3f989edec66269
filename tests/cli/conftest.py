"""Fixtures: one ``wayline serve`` subprocess for the CLI tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.server import ORDER_APP, TEST_APP, Server

CLI_APP = Path(__file__).with_name("cli_app.py")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db: Path = tmp_path_factory.mktemp("cli") / "wayline.db"
    server = Server(db, apps=(ORDER_APP, TEST_APP, CLI_APP)).start()
    yield server
    server.stop()
