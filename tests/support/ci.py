"""Tests that need something this machine may lack (a PostgreSQL server, Chromium,
an SDK from the package registries): they skip and say why, except under
``CI=true``, where a skip would let CI go green without running them."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


def unavailable(reason: str) -> NoReturn:
    """Skip the test for ``reason``; under ``CI=true`` (or ``CI=1``) fail it instead.
    Called at a module's top level it skips (or fails) the whole module."""
    if running_in_ci():
        pytest.fail(f"{reason} (CI=true: this test may not be skipped)")
    pytest.skip(reason, allow_module_level=True)
