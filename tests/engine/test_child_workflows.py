"""Child workflows: own ids, results and failures to the parent, recursive terminate/purge."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

import wayline
from support.wait import wait_until
from wayline.errors import InstanceNotFoundError, InstanceNotTerminalError

from ._support import WAIT, completed, events_of, wait_for_history, wait_for_status


def test_child_runs_as_its_own_instance_and_returns_to_the_parent(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.activity
    def square(ctx: wayline.WorkflowActivityContext, n: int) -> int:
        return n * n

    @runtime.workflow
    def child(ctx: wayline.WorkflowContext, n: int) -> Any:
        value = yield ctx.call_activity(square, input=n)
        return {"id": ctx.instance_id, "value": value}

    @runtime.workflow
    def parent(ctx: wayline.WorkflowContext) -> Any:
        named = yield ctx.call_child_workflow(child, input=3, instance_id="child-named")
        generated = yield ctx.call_child_workflow("child", input=4)
        return [named, generated]

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(parent, instance_id="parent-1")
        state = completed(client, iid)
        named, generated = state.output
        assert named == {"id": "child-named", "value": 9}
        assert generated["value"] == 16
        assert generated["id"] not in ("parent-1", "child-named")

        for child_id in (named["id"], generated["id"]):
            child_state = client.get_workflow(child_id)
            assert child_state.runtime_status == "COMPLETED"
            assert child_state.name == "child"
            assert child_state.parent_instance_id == "parent-1"
        created = events_of(client, iid, "ChildWorkflowCreated")
        assert [c.instance_id for c in created] == [named["id"], generated["id"]]
        children = client.list_workflows(parent_instance_id="parent-1").workflows
        assert {c.instance_id for c in children} == {named["id"], generated["id"]}


def test_child_failure_surfaces_in_the_parent_as_task_failed_error(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def doomed(ctx: wayline.WorkflowContext, reason: str) -> Any:
        yield ctx.create_timer(timedelta(0))
        raise RuntimeError(reason)

    @runtime.workflow
    def supervisor(ctx: wayline.WorkflowContext) -> Any:
        try:
            yield ctx.call_child_workflow(doomed, input="out of stock", instance_id="doomed-1")
        except wayline.TaskFailedError as exc:
            return {"type": exc.details.error_type, "message": exc.details.message}
        return "ok"

    @runtime.workflow
    def careless_parent(ctx: wayline.WorkflowContext) -> Any:
        yield ctx.call_child_workflow(doomed, input="boom", instance_id="doomed-2")

    with runtime:
        client = runtime.client()
        caught = completed(client, client.start_workflow(supervisor))
        assert caught.output == {"type": "RuntimeError", "message": "out of stock"}
        assert client.get_workflow("doomed-1").runtime_status == "FAILED"

        uncaught = client.wait_for_workflow_completion(
            client.start_workflow(careless_parent), timeout=WAIT
        )
        assert uncaught.runtime_status == "FAILED"
        assert uncaught.failure_details is not None
        assert uncaught.failure_details.error_type == "TaskFailedError"
        assert "boom" in uncaught.failure_details.message


def test_child_workflow_retry_policy_restarts_the_child(runtime: wayline.WorkflowRuntime) -> None:
    runs: list[str] = []

    @runtime.activity
    def record(ctx: wayline.WorkflowActivityContext, who: str) -> int:
        runs.append(who)
        return len(runs)

    @runtime.workflow
    def shaky_child(ctx: wayline.WorkflowContext) -> Any:
        count = yield ctx.call_activity(record, input=ctx.instance_id)
        if count < 3:
            raise ValueError(f"run {count} failed")
        return count

    policy = wayline.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=5), max_number_of_attempts=3
    )

    @runtime.workflow
    def persistent_parent(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.call_child_workflow(shaky_child, retry_policy=policy))

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(persistent_parent)
        state = completed(client, iid)
        retry_timers = [t.origin for t in events_of(client, iid, "TimerCreated")]

    assert state.output == 3
    assert len(runs) == 3
    assert retry_timers == ["child_workflow_retry"] * 2


def test_child_with_an_active_instance_id_fails_in_the_parent(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def blocker(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.wait_for_external_event("never"))

    @runtime.workflow
    def clashing(ctx: wayline.WorkflowContext) -> Any:
        try:
            yield ctx.call_child_workflow(blocker, instance_id="taken")
        except wayline.TaskFailedError as exc:
            return exc.details.error_type
        return "started"

    with runtime:
        client = runtime.client()
        client.start_workflow(blocker, instance_id="taken")
        wait_for_status(client, "taken", "RUNNING")
        state = completed(client, client.start_workflow(clashing))
        assert state.output == "InstanceAlreadyExistsError"
        assert client.get_workflow("taken").parent_instance_id is None


@pytest.mark.parametrize(
    ("child_id", "why"),
    [("c/x", "character '/' is not allowed"), ("c" * 300, "exceeds the max length"), ("", "")],
)
def test_a_child_id_start_would_refuse_fails_the_child_task(
    runtime: wayline.WorkflowRuntime, child_id: str, why: str
) -> None:
    @runtime.workflow
    def leaf(ctx: wayline.WorkflowContext) -> Any:
        return "ran"

    @runtime.workflow
    def parent(ctx: wayline.WorkflowContext) -> Any:
        try:
            yield ctx.call_child_workflow(leaf, instance_id=child_id)
        except wayline.TaskFailedError as exc:
            return [exc.details.error_type, str(exc)]
        return "started"

    with runtime:
        client = runtime.client()
        state = completed(client, client.start_workflow(parent, instance_id="p"))
        if not child_id:  # no id given: the default one, "<parent>:<step>"
            assert state.output == "started"
            assert client.get_workflow("p:0001").runtime_status == "COMPLETED"
            return
        error_type, message = state.output
        assert error_type == "InvalidInstanceIdError"
        assert "cannot start child workflow 'leaf'" in message and why in message
        assert [s.instance_id for s in client.list_workflows().workflows] == ["p"]


def _tree(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def leaf(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.wait_for_external_event("finish"))

    @runtime.workflow
    def middle(ctx: wayline.WorkflowContext, name: str) -> Any:
        return (yield ctx.call_child_workflow(leaf, instance_id=f"{name}-leaf"))

    @runtime.workflow
    def root(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.call_child_workflow(middle, input="root", instance_id="root-middle"))


def test_terminate_is_recursive_by_default(runtime: wayline.WorkflowRuntime) -> None:
    _tree(runtime)
    with runtime:
        client = runtime.client()
        client.start_workflow("root", instance_id="root")
        wait_for_status(client, "root-leaf", "RUNNING")
        client.terminate_workflow("root", output={"reason": "cancelled by user"})
        for iid in ("root", "root-middle", "root-leaf"):
            state = client.wait_for_workflow_completion(iid, timeout=WAIT)
            assert state.runtime_status == "TERMINATED", iid
        assert client.get_workflow("root").output == {"reason": "cancelled by user"}


def test_terminate_not_recursive_leaves_children_running(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _tree(runtime)
    with runtime:
        client = runtime.client()
        client.start_workflow("root", instance_id="root")
        wait_for_status(client, "root-leaf", "RUNNING")
        client.terminate_workflow("root", recursive=False)
        assert client.wait_for_workflow_completion("root", timeout=WAIT).runtime_status == (
            "TERMINATED"
        )
        runtime.wait_idle()  # everything that can happen now has happened
        assert client.get_workflow("root-middle").runtime_status == "RUNNING"
        assert client.get_workflow("root-leaf").runtime_status == "RUNNING"

        # purging the parent would take the running children along: refused, nothing removed
        with pytest.raises(InstanceNotTerminalError) as refused:
            client.purge_workflow("root")
        assert refused.value.error_code == "ERR_PURGE_WORKFLOW"
        assert client.get_workflow("root").runtime_status == "TERMINATED"
        assert client.get_history("root")

        # non-recursive purge removes only the parent
        assert client.purge_workflow("root", recursive=False) == 1
        with pytest.raises(InstanceNotFoundError):
            client.get_workflow("root")
        # the orphaned children still finish normally
        client.raise_event("root-leaf", "finish", "late")
        assert completed(client, "root-middle").output == "late"


def test_purge_is_recursive_by_default(runtime: wayline.WorkflowRuntime) -> None:
    _tree(runtime)
    with runtime:
        client = runtime.client()
        client.start_workflow("root", instance_id="root")
        wait_for_status(client, "root-leaf", "RUNNING")
        client.raise_event("root-leaf", "finish", 7)
        assert completed(client, "root").output == 7
        wait_until(
            lambda: all(
                client.get_workflow(i).runtime_status == "COMPLETED"
                for i in ("root-middle", "root-leaf")
            ),
            what="children to complete",
        )
        assert client.purge_workflow("root") == 3
        for iid in ("root", "root-middle", "root-leaf"):
            with pytest.raises(InstanceNotFoundError):
                client.get_workflow(iid)
        assert client.list_workflows().workflows == []


def test_terminating_a_child_fails_the_waiting_parent(runtime: wayline.WorkflowRuntime) -> None:
    _tree(runtime)

    @runtime.workflow
    def watcher(ctx: wayline.WorkflowContext) -> Any:
        try:
            yield ctx.call_child_workflow("leaf", instance_id="watched")
        except wayline.TaskFailedError as exc:
            return exc.details.error_type
        return "finished"

    with runtime:
        client = runtime.client()
        iid = client.start_workflow(watcher)
        wait_for_status(client, "watched", "RUNNING")
        wait_for_history(client, iid, "ChildWorkflowCreated")
        client.terminate_workflow("watched")
        assert completed(client, iid).output == "ChildWorkflowTerminated"
