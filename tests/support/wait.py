"""Polling a condition with a timeout, in place of ``sleep``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, TypeVar

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | Literal[False] | None],
    timeout: float = 10.0,
    what: str = "condition",
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that value;
    after ``timeout`` seconds fail with an ``AssertionError`` naming ``what``."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
