"""when_all / when_any, custom status and the deterministic context helpers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import wayline
from support.wait import wait_until

from ._support import WAIT, completed, wait_for_history


def test_when_all_gathers_results_in_order(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.activity
    def shout(ctx: wayline.WorkflowActivityContext, word: str) -> str:
        return word.upper()

    @runtime.workflow
    def gather(ctx: wayline.WorkflowContext, words: list[str]) -> Any:
        results = yield wayline.when_all([ctx.call_activity(shout, input=w) for w in words])
        nothing = yield wayline.when_all([])
        return {"results": results, "empty": nothing}

    with runtime:
        client = runtime.client()
        words = [f"w{i}" for i in range(20)]
        state = completed(client, client.start_workflow(gather, input=words))
    assert state.output == {"results": [w.upper() for w in words], "empty": []}


def test_when_all_fails_with_the_first_failure(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.activity
    def maybe(ctx: wayline.WorkflowActivityContext, n: int) -> int:
        if n == 2:
            raise ValueError("two is not allowed")
        return n

    @runtime.workflow
    def strict_gather(ctx: wayline.WorkflowContext) -> Any:
        try:
            yield wayline.when_all([ctx.call_activity(maybe, input=n) for n in (1, 2, 3)])
        except wayline.TaskFailedError as exc:
            return exc.details.message
        return "all good"

    with runtime:
        client = runtime.client()
        state = completed(client, client.start_workflow(strict_gather))
    assert state.output == "two is not allowed"


def test_when_any_returns_the_first_task_to_finish(runtime: wayline.WorkflowRuntime) -> None:
    release = threading.Event()

    @runtime.activity
    def slow(ctx: wayline.WorkflowActivityContext) -> str:
        release.wait(WAIT)
        return "slow"

    @runtime.activity
    def fast(ctx: wayline.WorkflowActivityContext) -> str:
        return "fast"

    @runtime.workflow
    def race(ctx: wayline.WorkflowContext) -> Any:
        slow_task = ctx.call_activity(slow)
        fast_task = ctx.call_activity(fast)
        winner = yield wayline.when_any([slow_task, fast_task])
        first = winner.get_result()
        assert winner is fast_task
        rest = yield slow_task  # the loser can still be awaited
        return [first, rest]

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(race)
        wait_for_history(client, iid, "TaskCompleted")
        release.set()
        state = completed(client, iid)
    assert state.output == ["fast", "slow"]


def test_when_any_with_timer_and_child(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def never_ends(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.wait_for_external_event("never"))

    @runtime.workflow
    def bounded(ctx: wayline.WorkflowContext) -> Any:
        child = ctx.call_child_workflow(never_ends, instance_id="endless")
        timer = ctx.create_timer(timedelta(milliseconds=30))
        winner = yield wayline.when_any([child, timer])
        return "timer" if winner is timer else "child"

    with runtime:
        client = runtime.client()
        assert completed(client, client.start_workflow(bounded)).output == "timer"
        assert client.get_workflow("endless").runtime_status == "RUNNING"
        client.terminate_workflow("endless")


def test_custom_status_is_visible_while_running_and_after(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def progress(ctx: wayline.WorkflowContext) -> Any:
        ctx.set_custom_status({"step": 1, "of": 2})
        yield ctx.wait_for_external_event("continue")
        ctx.set_custom_status("almost done")
        yield ctx.create_timer(timedelta(0))
        return "done"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(progress)
        running = wait_until(
            lambda: (s := client.get_workflow(iid)).serialized_custom_status and s,
            what="a custom status",
        )
        assert running.runtime_status == "RUNNING"
        assert running.serialized_custom_status == '{"step": 1, "of": 2}'
        assert running.custom_status == {"step": 1, "of": 2}
        client.raise_event(iid, "continue")
        state = completed(client, iid)
    assert state.serialized_custom_status == "almost done"  # strings are stored as-is


def test_context_helpers_are_deterministic_across_turns(
    runtime: wayline.WorkflowRuntime,
) -> None:
    replays: list[bool] = []

    @runtime.workflow
    def stable(ctx: wayline.WorkflowContext) -> Any:
        first_uuid = ctx.new_uuid()
        started_at = ctx.current_utc_datetime.isoformat()
        replays.append(ctx.is_replaying)
        ctx.set_custom_status({"uuid": first_uuid, "at": started_at})
        yield ctx.wait_for_external_event("go")
        return {"uuid": first_uuid, "at": started_at, "again": ctx.new_uuid()}

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(stable)
        before = wait_until(lambda: client.get_workflow(iid).custom_status, what="custom status")
        client.raise_event(iid, "go")
        state = completed(client, iid)
        history = client.get_history(iid)

    assert state.output["uuid"] == before["uuid"]
    assert state.output["at"] == before["at"]
    assert state.output["at"] == history[0].timestamp.isoformat()
    assert state.output["again"] != before["uuid"]
    assert replays[0] is False
    # always_replay re-runs the code from the history: those runs report is_replaying
    assert True in replays[1:]
