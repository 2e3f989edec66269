"""Three engine processes on one PostgreSQL database; two of them are SIGKILLed mid-run.

1,000 ``order`` workflows (an activity, an external event, a durable timer, a fan-out
of three activities and a child workflow each: 2,000 instances, 5,000 activity
tasks) are started while the nodes run. One node is killed at 25 % completed,
a second at 60 %; the last node takes over their expired leases and finishes.
Then every instance must be COMPLETED with the right output and a valid history
(no step recorded twice, every task, timer and child resolved exactly once), every
activity task must have run at least once, and the store's own invariants must hold
in the database: no inbox rows, tasks or leases left, gap-free history sequences.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

import wayline
from crash.histories import check_history
from support.wait import wait_until

from .cluster_app import expected_order_output
from .conftest import Node, effect_lines

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

COUNT = 1000


def _scalar(client: wayline.WorkflowClient, sql: str) -> int:
    with client.store.read() as cur:  # type: ignore[attr-defined]
        cur.execute(sql)
        return int(cur.fetchone()[0])


def test_three_nodes_two_sigkills_every_workflow_completes_once(
    spawn: Callable[[str], Node], pg_url: str, effects: Path
) -> None:
    nodes = {name: spawn(name) for name in ("n1", "n2", "n3")}
    client = wayline.WorkflowClient(store=pg_url)
    began = time.monotonic()
    ids = [client.start_workflow("order", input=n, instance_id=f"o{n:04d}") for n in range(COUNT)]
    for n, iid in enumerate(ids):
        client.raise_event(iid, "go", n)

    def done() -> int:
        return client.count_workflows(status="COMPLETED", name="order")

    kills: list[tuple[str, int, float]] = []
    for victim, fraction in (("n1", 0.25), ("n2", 0.6)):
        wait_until(lambda f=fraction: done() >= COUNT * f, timeout=120, what=f"{fraction:.0%} done")
        nodes[victim].signal(signal.SIGKILL)
        nodes[victim].proc.wait()
        kills.append((victim, done(), time.monotonic() - began))
    wait_until(lambda: done() == COUNT, timeout=150, what="every workflow to complete")
    duration = time.monotonic() - began

    for n, iid in enumerate(ids):
        state = client.get_workflow(iid)
        assert state.runtime_status == "COMPLETED", (iid, state.failure_details)
        assert state.output == expected_order_output(n, n)
        check_history(client, iid, events_raised=1)
        check_history(client, f"{iid}:0006")

    # At-least-once: every task ran somewhere; re-runs only after a kill.
    lines = effect_lines(effects)
    runs = Counter((row[1], row[2]) for row in lines)
    assert len(runs) == COUNT * 5  # 4 tasks in each parent, 1 in each child
    by_node = Counter(row[0] for row in lines)
    assert by_node["n1"] > 0 and by_node["n2"] > 0 and by_node["n3"] > 0, by_node

    # The engine's invariants, read from the database itself.
    assert _scalar(client, "SELECT COUNT(*) FROM instances") == 2 * COUNT
    assert _scalar(client, "SELECT COUNT(*) FROM instances WHERE status <> 'COMPLETED'") == 0
    assert _scalar(client, "SELECT COUNT(*) FROM instances WHERE lease_owner IS NOT NULL") == 0
    assert _scalar(client, "SELECT COUNT(*) FROM instances WHERE completed_at IS NULL") == 0
    assert _scalar(client, "SELECT COUNT(*) FROM inbox") == 0
    assert _scalar(client, "SELECT COUNT(*) FROM tasks") == 0
    gaps = (
        "SELECT COUNT(*) FROM (SELECT instance_id, COUNT(*) AS n, MIN(seq) AS lo, "
        "MAX(seq) AS hi FROM history GROUP BY instance_id) h WHERE lo <> 0 OR hi <> n - 1"
    )
    assert _scalar(client, gaps) == 0

    survivor = nodes["n3"].log()
    assert "ERROR" not in survivor and "Traceback" not in survivor, survivor[-3000:]
    print(
        f"\ncluster: {COUNT} workflows ({2 * COUNT} instances, {len(runs)} tasks, "
        f"{sum(runs.values())} activity executions, by node {dict(by_node)}); "
        f"kills {kills}; all completed in {duration:.1f} s"
    )
    client.close()
