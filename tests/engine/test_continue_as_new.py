"""continue_as_new: the history restarts; save_events carries unprocessed events over."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import wayline
from support.wait import wait_until

from ._support import WAIT, completed, events_of, wait_for_history


def test_continue_as_new_restarts_the_history_with_the_new_input(
    runtime: wayline.WorkflowRuntime,
) -> None:
    seen: list[int] = []

    @runtime.activity
    def note(ctx: wayline.WorkflowActivityContext, n: int) -> int:
        seen.append(n)
        return n

    @runtime.workflow
    def counter(ctx: wayline.WorkflowContext, n: int) -> Any:
        yield ctx.call_activity(note, input=n)
        if n < 4:
            ctx.continue_as_new(n + 1)
            return None
        return f"stopped at {n}"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(counter, input=0, instance_id="counter")
        state = completed(client, iid)
        history = client.get_history(iid)

    assert state.output == "stopped at 4"
    assert state.input == 4
    assert seen == [0, 1, 2, 3, 4]
    started = [e for e in history if type(e).__name__ == "ExecutionStarted"]
    assert [e.input for e in started] == ["4"]
    assert [type(e).__name__ for e in history].count("TaskScheduled") == 1
    assert state.generation == 5  # the first execution, then four continue-as-new
    assert state.to_json()["generation"] == 5


def test_save_events_carries_unprocessed_events_to_the_next_execution(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def drain(ctx: wayline.WorkflowContext, state: dict[str, Any]) -> Any:
        if not state["started"]:
            yield ctx.wait_for_external_event("go")
        item = yield ctx.wait_for_external_event("item")
        taken = [*state["taken"], item]
        if len(taken) < 3:
            ctx.continue_as_new({"started": True, "taken": taken}, save_events=True)
            return None
        return taken

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(drain, input={"started": False, "taken": []})
        for n in (1, 2, 3):
            client.raise_event(iid, "item", n)
        wait_for_history(client, iid, "EventRaised", 3)
        client.raise_event(iid, "go")
        state = completed(client, iid)
        # the last execution's history starts with the event carried over to it
        carried = events_of(client, iid, "EventRaised")

    assert state.output == [1, 2, 3]
    assert [(e.name, e.input) for e in carried] == [("item", "3")]


def test_without_save_events_unprocessed_events_are_dropped(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def forgetful(ctx: wayline.WorkflowContext, generation: int) -> Any:
        if generation == 0:
            yield ctx.wait_for_external_event("go")
            ctx.continue_as_new(1)
            return None
        try:
            leftover = yield ctx.wait_for_external_event("item", timeout=timedelta(milliseconds=50))
        except TimeoutError:
            return "nothing carried over"
        return leftover

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(forgetful, input=0)
        client.raise_event(iid, "item", "lost")
        wait_for_history(client, iid, "EventRaised")
        client.raise_event(iid, "go")
        assert completed(client, iid).output == "nothing carried over"


def test_continued_instance_keeps_its_id_status_and_custom_status(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def looping(ctx: wayline.WorkflowContext, n: int) -> Any:
        ctx.set_custom_status({"generation": n})
        yield ctx.wait_for_external_event("next")
        if n < 2:
            ctx.continue_as_new(n + 1)
            return None
        return n

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(looping, input=0)
        for generation in (0, 1, 2):
            # raise "next" only once this generation waits for it (unsaved events are dropped)
            wait_until(
                lambda g=generation: client.get_workflow(iid).custom_status == {"generation": g},
                what=f"generation {generation}",
            )
            assert client.get_workflow(iid).runtime_status == "RUNNING"
            client.raise_event(iid, "next")
        state = completed(client, iid)

    assert state.instance_id == iid
    assert state.output == 2
    assert state.custom_status == {"generation": 2}


def test_carried_events_keep_their_order_ahead_of_events_raised_during_the_turn(
    runtime: wayline.WorkflowRuntime, db_url: str
) -> None:
    """Events carried over come first, in their order; events raised meanwhile follow."""
    first_turn, collecting = threading.Event(), threading.Event()
    release_first, release_collecting = threading.Event(), threading.Event()

    @runtime.workflow
    def collect(ctx: wayline.WorkflowContext, results: list[int]) -> Any:
        if not results and not ctx.is_replaying:
            first_turn.set()
            release_first.wait(WAIT)
        value = yield ctx.wait_for_external_event("n")
        results = [*results, value]
        if len(results) == 1 and not ctx.is_replaying:
            # the turn that continues as new is still running: 4 and 5 arrive now
            collecting.set()
            release_collecting.wait(WAIT)
        if len(results) < 5:
            ctx.continue_as_new(results, save_events=True)
            return None
        return results

    # A client with its own store connection: the engine's thread is held by the gates.
    with runtime, wayline.WorkflowClient(db_url) as outside:
        client = runtime.client()
        iid = client.start_workflow(collect, input=[])
        assert first_turn.wait(WAIT)
        for n in (1, 2, 3):
            outside.raise_event(iid, "n", n)
        release_first.set()
        assert collecting.wait(WAIT)
        for n in (4, 5):
            outside.raise_event(iid, "n", n)
        release_collecting.set()
        assert completed(client, iid).output == [1, 2, 3, 4, 5]
