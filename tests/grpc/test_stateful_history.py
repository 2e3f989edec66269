"""A worker that keeps history between turns (dapr 1.19's STATEFUL_HISTORY) gets only
the events it lacks: the real dapr 1.19.0 SDK in its own venv against ``wayline serve``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from grpc_support import SDK_DIR, GrpcServer, sdk_python

DAPR_119 = ("dapr==1.19.0",)
STEPS = 30


@pytest.fixture(scope="module")
def dapr_119_python() -> Path:
    return sdk_python("dapr-1.19.0", DAPR_119)


def _run(python: Path, server: GrpcServer, *args: int) -> dict[str, Any]:
    result = subprocess.run(
        [
            str(python),
            str(SDK_DIR / "stateful_history_app.py"),
            "127.0.0.1",
            str(server.grpc_port),
            *map(str, args),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def test_each_turn_sends_only_the_history_the_worker_does_not_hold(
    server: GrpcServer, dapr_119_python: Path
) -> None:
    report = _run(dapr_119_python, server, STEPS)
    assert report["outputs"] == [STEPS]
    turns = report["turns"]
    assert len(turns) == STEPS + 1  # the start, then one turn per activity result
    first, second, *later = turns
    # The worker holds nothing before its first turns: those carry all the history.
    assert not first["cached"] and first["sent"] == first["replayed"] == 0
    assert not second["cached"] and second["sent"] == second["replayed"] > 0
    replayed = second["replayed"]
    for turn in later:
        # The worker holds what the previous turn replayed; the item carries the rest
        # (that turn's new events and actions: the same few events every step).
        assert turn["cached"], turn
        assert turn["held"] == replayed, turn
        assert turn["had_copy"] and turn["replayed"] == turn["held"] + turn["sent"], turn
        assert turn["sent"] == later[0]["sent"], turn
        replayed = turn["replayed"]
    assert replayed > 20 * later[0]["sent"]  # a full send would have carried all of it


def test_a_worker_that_lost_its_copy_fetches_the_history_and_goes_on(
    server: GrpcServer, dapr_119_python: Path
) -> None:
    # Three chains at once, the worker caching one instance's history: it keeps
    # evicting, so items name prefixes it no longer holds and it falls back on
    # GetInstanceHistory, whose answer must let it replay correctly.
    report = _run(dapr_119_python, server, 15, 3, 1)
    assert report["outputs"] == [15, 15, 15]
    fetched = [t for t in report["turns"] if t["cached"] and not t["had_copy"]]
    assert fetched, "the worker never had to fetch a history"
    assert all(t["replayed"] == t["held"] + t["sent"] for t in fetched)  # the whole history
