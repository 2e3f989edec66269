"""A paused (SIGSTOP) node whose lease expired cannot commit stale work when it wakes.

A stopped process is what a network partition looks like from the database: the
node holds a lease, goes silent, and comes back later believing it still owns the
work. Fencing must refuse what it then tries to write.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

import wayline
from crash.histories import check_history
from support.wait import wait_until
from wayline.core.events import TaskCompleted, TaskScheduled

from .conftest import Node, effect_lines

pytestmark = [pytest.mark.cluster]

TIMEOUT = 30.0


def _kinds(client: wayline.WorkflowClient, iid: str, kind: type) -> int:
    return sum(isinstance(e, kind) for e in client.get_history(iid))


def test_paused_node_mid_turn_is_fenced_off_when_it_resumes(
    spawn: Callable[[str], Node], pg_url: str, effects: Path
) -> None:
    victim = spawn("victim")
    client = wayline.WorkflowClient(store=pg_url)
    iid = client.start_workflow("stall", input=21, instance_id="s1")
    # The victim claimed the turn and froze before committing it.
    wait_until(victim.is_stopped, timeout=TIMEOUT, what="the victim to stop mid-turn")
    rescuer = spawn("rescuer")
    state = client.wait_for_workflow_completion(iid, timeout=TIMEOUT)
    assert state.runtime_status == "COMPLETED" and state.output == 42

    victim.signal(signal.SIGCONT)
    wait_until(
        lambda: "'s1' was taken over by another node" in victim.log(),
        timeout=TIMEOUT,
        what="the victim's stale commit to be refused",
    )
    victim.terminate()
    rescuer.terminate()

    assert "ERROR" not in victim.log(), victim.log()  # refused and logged as a warning
    check_history(client, iid)
    assert _kinds(client, iid, TaskScheduled) == 1
    assert client.get_workflow(iid).output == 42
    # The victim's turn never became durable, so it never scheduled the activity.
    assert [row[0] for row in effect_lines(effects)] == ["rescuer"]
    client.close()


def test_paused_node_activity_result_is_refused_after_takeover(
    spawn: Callable[[str], Node], pg_url: str, effects: Path
) -> None:
    victim = spawn("victim")
    client = wayline.WorkflowClient(store=pg_url)
    iid = client.start_workflow("slow_flow", input=0.5, instance_id="a1")
    wait_until(
        lambda: any(row[0] == "victim" and row[3] == "start" for row in effect_lines(effects)),
        timeout=TIMEOUT,
        what="the victim to start the activity",
    )
    victim.signal(signal.SIGSTOP)
    rescuer = spawn("rescuer")
    # The activity lease (2 s) lapses; the rescuer re-runs the activity and completes.
    state = client.wait_for_workflow_completion(iid, timeout=TIMEOUT)
    assert state.runtime_status == "COMPLETED" and state.output == "rescuer"

    victim.signal(signal.SIGCONT)
    wait_until(
        lambda: any(row[0] == "victim" and row[3] == "end" for row in effect_lines(effects)),
        timeout=TIMEOUT,
        what="the victim to finish its stale activity",
    )
    victim.terminate()  # graceful: whatever it tried to record is settled by now
    assert victim.proc.returncode == 0, victim.log()
    rescuer.terminate()

    check_history(client, iid)
    assert _kinds(client, iid, TaskCompleted) == 1
    assert client.get_workflow(iid).output == "rescuer"  # the stale result was not applied
    ran = [(row[0], row[3]) for row in effect_lines(effects)]
    assert ran.count(("victim", "end")) == 1 and ran.count(("rescuer", "end")) == 1
    client.close()
