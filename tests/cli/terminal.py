"""Run the ``wayline`` command on a pseudo-terminal, as a person at a keyboard does."""

from __future__ import annotations

import os
import select
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class TerminalRun:
    returncode: int
    output: str  # what the terminal showed (stdout and stderr), with \r\n made \n
    prompted: bool  # whether the answer was typed at a "[y/N]" prompt


def run_on_terminal(
    argv: Sequence[str], env: dict[str, str], *, answer: str | None = None, timeout: float = 60
) -> TerminalRun:
    """Run ``argv`` with stdin, stdout and stderr on a new pseudo-terminal; type
    ``answer`` and Enter when a ``[y/N]`` prompt shows."""
    master, slave = os.openpty()
    try:
        process = subprocess.Popen(
            list(argv), stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
        )
    finally:
        os.close(slave)
    output = b""
    prompted = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every holder of the terminal closed it
                    chunk = b""
                if not chunk:
                    break
                output += chunk
                if answer is not None and not prompted and b"[y/N]" in output:
                    os.write(master, answer.encode() + b"\r")
                    prompted = True
            elif process.poll() is not None:
                break
        else:
            raise TimeoutError(f"{argv} did not finish on the terminal: {output!r}")
        returncode = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
    return TerminalRun(returncode, output.decode(errors="replace").replace("\r\n", "\n"), prompted)
