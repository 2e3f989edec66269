"""Fixtures for the dashboard tests: an embedded runtime behind the ASGI app (HTTP
tests), and real ``wayline serve`` processes with headless Chromium (browser tests)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import wayline
from support.ci import unavailable
from wayline.api.http import create_app

from . import ui_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).with_name("artifacts")


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[wayline.WorkflowRuntime]:
    rt = ui_app.register(wayline.WorkflowRuntime(store=f"sqlite:///{tmp_path / 'ui.db'}"))
    with rt:
        yield rt


@pytest.fixture
def make_http(
    runtime: wayline.WorkflowRuntime,
) -> Iterator[Callable[..., TestClient]]:
    """A TestClient over ``create_app`` on the runtime's client (same origin headers
    as a browser on the page would send)."""
    opened: list[TestClient] = []

    def make(**app_args: Any) -> TestClient:
        app = create_app(runtime.client(), **app_args)
        http = TestClient(app, base_url="http://testserver", follow_redirects=False)
        http.headers["origin"] = "http://testserver"
        opened.append(http)
        return http

    yield make
    for http in opened:
        http.close()


@pytest.fixture
def http(make_http: Callable[..., TestClient]) -> TestClient:
    return make_http()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium (``.ci/run`` installs it); without it the browser tests
    skip, and under CI=true they fail."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed (pip install -e '.[dev]')"
    if problem is None and not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        problem = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if problem is not None:
        unavailable(f"the browser tests need Chromium: {problem}")
    return CHROMIUM if os.path.exists(CHROMIUM) else str(shutil.which("chromium"))
