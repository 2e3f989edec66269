"""What a step costs, counted exactly: write transactions, not seconds.

A step's fast path: the turn that schedules an activity leases its task to this
node in the same commit, the activity runs at once, and its result and the next
turn commit together. So a workflow of N sequential activities costs N + 3 write
transactions: the start, the claim of its first turn, the first turn, then one per
step (the last also completes the workflow). No claim finds nothing.

These tests use their own SQLite database whatever backend the suite runs on: the
count is a property of the engine's protocol with the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import wayline

from ._support import settings

STEPS = 10


def _runtime(tmp_path: Path, **overrides: Any) -> wayline.WorkflowRuntime:
    runtime = wayline.WorkflowRuntime(
        store=f"sqlite:///{tmp_path / 'cost.db'}", settings=settings(**overrides)
    )

    @runtime.activity(name="inc")
    def inc(ctx: wayline.WorkflowActivityContext, x: int) -> int:
        return x + 1

    @runtime.activity(name="ainc")
    async def ainc(ctx: wayline.WorkflowActivityContext, x: int) -> int:
        return x + 1

    @runtime.workflow(name="chain")
    def chain(ctx: wayline.WorkflowContext, activity: str) -> Any:
        x = 0
        for _ in range(STEPS):
            x = yield ctx.call_activity(activity, input=x)
        return x

    @runtime.workflow(name="noop")
    def noop(ctx: wayline.WorkflowContext) -> Any:
        return None
        yield  # a generator: a workflow

    @runtime.workflow(name="fan")
    def fan(ctx: wayline.WorkflowContext, width: int) -> Any:
        results = yield wayline.when_all([ctx.call_activity(inc, input=n) for n in range(width)])
        return sum(results)

    return runtime


@contextmanager
def _started(runtime: wayline.WorkflowRuntime) -> Iterator[wayline.WorkflowRuntime]:
    """The running runtime, once its start-up claims (recovery) are done."""
    with runtime:
        client = runtime.client()
        client.wait_for_workflow_completion(client.start_workflow("noop"), timeout=30)
        yield runtime


def _transactions(runtime: wayline.WorkflowRuntime, workflow: str, arg: Any) -> tuple[int, Any]:
    client = runtime.client()
    before = runtime.store.write_transactions
    iid = client.start_workflow(workflow, input=arg)
    state = client.wait_for_workflow_completion(iid, timeout=30)
    assert state.runtime_status == "COMPLETED", state.failure_details
    return runtime.store.write_transactions - before, state.output


@pytest.mark.parametrize("activity", ["inc", "ainc"], ids=["thread activity", "async activity"])
def test_a_sequential_workflow_costs_one_write_transaction_per_step(
    tmp_path: Path, activity: str
) -> None:
    with _started(_runtime(tmp_path)) as runtime:
        transactions, output = _transactions(runtime, "chain", activity)
    assert output == STEPS
    assert transactions == STEPS + 3


def test_the_count_does_not_depend_on_what_ran_before(tmp_path: Path) -> None:
    with _started(_runtime(tmp_path)) as runtime:
        counts = [_transactions(runtime, "chain", "inc")[0] for _ in range(3)]
    assert counts == [STEPS + 3] * 3


def test_without_the_cache_every_result_goes_through_the_inbox(tmp_path: Path) -> None:
    # cache_size=0 turns the fast path off: each step is then a task claim, a result
    # in the inbox and a claimed turn (still no claim that finds nothing).
    with _started(_runtime(tmp_path, cache_size=0)) as runtime:
        transactions, output = _transactions(runtime, "chain", "inc")
    assert output == STEPS
    assert transactions == 3 + STEPS * 3


def test_a_fan_out_leases_what_fits_and_queues_the_rest(tmp_path: Path) -> None:
    with _started(_runtime(tmp_path, max_concurrent_activities=4)) as runtime:
        transactions, output = _transactions(runtime, "fan", 12)
    assert output == sum(range(1, 13))
    # start, claim, first turn (4 tasks leased, 8 queued), then results and claims of
    # the queued tasks, grouped as they come: never more than a few per task.
    assert transactions <= 3 + 12 * 2
