"""Kill the engine process with SIGKILL mid-run; a restart completes everything.

Checks: every instance completes with the right output; each history is valid
(no step recorded twice, every scheduled task and timer resolved exactly once,
exactly one completion); activities ran at least once per scheduled task.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import wayline
from support.wait import wait_until

from .crash_app import expected_output
from .histories import check_history

APP = Path(__file__).with_name("crash_app.py")
COUNT = 300


def _spawn(db: Path, log: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(APP), str(db), str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.slow
def test_sigkill_mid_run_loses_nothing_and_applies_nothing_twice(tmp_path: Path) -> None:
    db, log = tmp_path / "crash.db", tmp_path / "effects.log"
    log.touch()
    client = wayline.WorkflowClient(store=f"sqlite:///{db}")
    ids = [client.start_workflow("crashy", input=n, instance_id=f"c{n}") for n in range(COUNT)]
    proc = _spawn(db, log)
    kills = 0
    try:
        # Send the events while the engine runs, then kill it twice mid-run.
        for n, iid in enumerate(ids):
            client.raise_event(iid, "go", n)
        for fraction in (0.25, 0.6):
            wait_until(
                lambda f=fraction: (
                    client.count_workflows(status="COMPLETED", name="crashy") >= COUNT * f
                ),
                timeout=120,
                what=f"{fraction:.0%} of the workflows to complete",
            )
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            proc = _spawn(db, log)
        wait_until(
            lambda: client.count_workflows(status="COMPLETED", name="crashy") == COUNT,
            timeout=120,
            what="every workflow to complete",
        )
    finally:
        proc.kill()
        proc.wait()
    assert kills == 2
    for n, iid in enumerate(ids):
        state = client.get_workflow(iid)
        assert state.runtime_status == "COMPLETED", (iid, state.failure_details)
        assert state.output == expected_output(n, n)
        check_history(client, iid, events_raised=1)  # each parent waited for one event
        check_history(client, f"{iid}:0006")
    # At-least-once: every scheduled task ran; re-runs after a kill are allowed.
    runs = Counter(tuple(line.split()) for line in log.read_text().splitlines())
    assert len(runs) == COUNT * 5  # 4 tasks in each parent, 1 in each child
    print(f"activity executions: {sum(runs.values())} for {len(runs)} tasks")
    assert client.count_workflows(status=["RUNNING", "PENDING", "FAILED"]) == 0


@pytest.mark.slow
def test_sigkill_between_an_activity_and_its_commit_runs_it_again_and_applies_it_once(
    tmp_path: Path,
) -> None:
    # The step's fast path commits an activity's result together with the turn it
    # unblocks; a death after the activity ran and before that commit loses only the
    # run: the activity runs again (at least once) and its result is applied once.
    db, log = tmp_path / "crash.db", tmp_path / "effects.log"
    log.touch()
    client = wayline.WorkflowClient(store=f"sqlite:///{db}")
    iid = client.start_workflow("steps_then_dies", input=5, instance_id="dies")
    proc = subprocess.Popen(
        [sys.executable, str(APP), str(db), str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.wait(timeout=60) == -signal.SIGKILL  # the activity killed its process
        assert client.get_workflow(iid).runtime_status == "RUNNING"
        proc = _spawn(db, log)
        state = client.wait_for_workflow_completion(iid, timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert state.runtime_status == "COMPLETED", state.failure_details
    assert state.output == (5 * 2 + 1) * 2
    runs = Counter(tuple(line.split()) for line in log.read_text().splitlines())
    assert runs == {("dies", "1"): 1, ("dies", "2"): 2, ("dies", "3"): 1}
    check_history(client, iid)
    completions = [e for e in client.get_history(iid) if type(e).__name__ == "TaskCompleted"]
    assert [e.task_scheduled_id for e in completions] == [1, 2, 3]
