"""Fixtures for the cluster tests: a fresh PostgreSQL database and node processes.

The tests need ``WAYLINE_TEST_POSTGRES_URL`` (a database they may wipe); without it
they skip, and under ``CI=true`` a server that does not answer fails them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from store.conftest import POSTGRES_URL_VAR, open_postgres_for_tests

APP = Path(__file__).with_name("cluster_app.py")


@pytest.fixture
def pg_url() -> str:
    """The test database's URL, every table emptied."""
    open_postgres_for_tests().close()
    return os.environ[POSTGRES_URL_VAR]


class Node:
    """One engine process of the cluster; its stderr (the engine's log) goes to a file."""

    def __init__(self, name: str, url: str, effects: Path, logs: Path) -> None:
        self.name = name
        self.stderr_path = logs / f"{name}.stderr"
        self._stderr: IO[str] = self.stderr_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), url, str(effects), name],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        assert line == "ready", f"node {name} did not start: {self.log()}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: signal.Signals) -> None:
        os.kill(self.proc.pid, sig)

    def is_stopped(self) -> bool:
        """True while the process is stopped (SIGSTOP): state ``T`` in /proc."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] in {"T", "t"}

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def terminate(self, timeout: float = 20.0) -> None:
        """Graceful stop (SIGTERM, as ``wayline serve`` gets); kill if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGUSR1)  # its stacks, into its log
                time.sleep(0.5)
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(encoding="utf-8")

    def close(self) -> None:
        self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


@pytest.fixture
def effects(tmp_path: Path) -> Path:
    """The side-effect log all nodes append to (one line per activity execution)."""
    path = tmp_path / "effects.log"
    path.touch()
    return path


@pytest.fixture
def spawn(pg_url: str, effects: Path, tmp_path: Path) -> Iterator[Callable[[str], Node]]:
    """Starts a named node on the test database; every node is killed at teardown."""
    started: list[Node] = []

    def start(name: str) -> Node:
        node = Node(name, pg_url, effects, tmp_path)
        started.append(node)
        return node

    yield start
    for node in started:
        node.close()


def effect_lines(effects: Path) -> list[list[str]]:
    """The side-effect log as ``[node, instance, task, what...]`` rows."""
    return [line.split() for line in effects.read_text(encoding="utf-8").splitlines()]
