"""What every scenario script shares: the command line, the JSON answer, small timers.

Standard library only: the DBOS and Dapr SDK scenario scripts import it from their
own venvs, where Wayline is not installed.

A scenario script is run as ``python <script> <scenario> '<json params>'`` and
prints exactly one JSON line on stdout: ``{"ok": true, "result": {...}}`` with the
scenario's figures, or ``{"ok": false, "error": "..."}`` (and exits 1). Anything
else it prints goes to stderr.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

Params = dict[str, Any]
Result = dict[str, Any]
Scenario = Callable[[Params], Result]


class NotApplicable(Exception):
    """The scenario cannot run on this build or machine; the figure is reported as n/a."""


def run_cli(scenarios: Mapping[str, Scenario]) -> None:
    """Run ``scenarios[argv[1]](json.loads(argv[2]))`` and print its one JSON line."""
    if len(sys.argv) < 2 or sys.argv[1] not in scenarios:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(scenarios)}}} '<json params>'")
    params: Params = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    stdout = sys.stdout
    sys.stdout = sys.stderr  # libraries that print must not corrupt the answer line
    try:
        answer: dict[str, Any] = {"ok": True, "result": scenarios[sys.argv[1]](params)}
        code = 0
    except NotApplicable as exc:
        answer = {"ok": False, "na": True, "error": str(exc)}
        code = 0
    except Exception as exc:
        traceback.print_exc()
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        code = 1
    stdout.write(json.dumps(answer) + "\n")
    stdout.flush()
    sys.stdout = stdout
    # Background threads of an engine that did not stop cleanly must not hold the exit.
    os._exit(code)


class StepClock:
    """Timestamps taken by the step itself, so per-step cost can be read anywhere in a run."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._lock = threading.Lock()

    def tick(self) -> None:
        with self._lock:
            self.times.append(time.perf_counter())

    def window_ms(self, window: int) -> tuple[float, float]:
        """Mean ms per step over the first and the last ``window`` steps."""
        t = sorted(self.times)
        if len(t) < 2 * window + 1:
            raise ValueError(f"{len(t)} steps recorded; need {2 * window + 1}")
        first = (t[window] - t[0]) * 1000 / window
        last = (t[-1] - t[-1 - window]) * 1000 / window
        return first, last


def cpu_seconds() -> float:
    """CPU time (user + system) used so far by this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def idle_cpu_percent(seconds: float) -> float:
    """This process's CPU use while the caller does nothing, as % of one core."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    return (cpu_seconds() - cpu) * 100 / (time.perf_counter() - wall)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def per_step(elapsed: float, steps: int) -> float:
    """Milliseconds per step."""
    return elapsed * 1000 / steps
