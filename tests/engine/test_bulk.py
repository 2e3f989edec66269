"""``WorkflowClient.bulk``: one operation on many instances, by filters or by ids."""

from __future__ import annotations

from typing import Any

import pytest

import wayline

from ._support import wait_for_status


def _workflows(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.workflow
    def waiter(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.wait_for_external_event("go"))

    @runtime.workflow
    def parent(ctx: wayline.WorkflowContext) -> Any:
        return (yield ctx.call_child_workflow(waiter, instance_id=f"{ctx.instance_id}-child"))


def test_bulk_by_filters_reports_refusals_and_skips_what_is_gone(
    runtime: wayline.WorkflowRuntime,
) -> None:
    _workflows(runtime)
    with runtime:
        client = runtime.client()
        for iid in ("w1", "w2", "p1"):
            client.start_workflow("parent" if iid == "p1" else "waiter", instance_id=iid)
        wait_for_status(client, "p1-child", "RUNNING")
        client.terminate_workflow("w1")
        wait_for_status(client, "w1", "TERMINATED")

        purged = client.bulk("purge", name="waiter")  # w1 finished; w2, p1-child run
        assert purged.affected == 1
        assert set(purged.failed) == {"w2", "p1-child"}
        assert purged.failed["w2"].startswith("workflow instance 'w2' is RUNNING; only COMPLETED")

        stopped = client.bulk("terminate", status="RUNNING")  # p1 takes p1-child along
        assert stopped.affected == 3 and not stopped.failed
        for iid in ("w2", "p1", "p1-child"):
            wait_for_status(client, iid, "TERMINATED")
        # The parent's purge removes its child too; the child's own turn finds it gone.
        removed = client.bulk("purge", status="TERMINATED")
        assert removed.affected == 3 and not removed.failed
        assert client.list_workflows().workflows == []


def test_bulk_by_ids_and_its_bad_arguments(runtime: wayline.WorkflowRuntime) -> None:
    _workflows(runtime)
    with runtime:
        client = runtime.client()
        for iid in ("a", "b", "c"):
            client.start_workflow("waiter", instance_id=iid)
        seen: list[int] = []
        paused = client.bulk("pause", instance_ids=["a", "c", "missing"], progress=seen.append)
        assert (paused.affected, paused.failed, seen) == (2, {}, [1, 2])
        wait_for_status(client, "a", "SUSPENDED")
        wait_for_status(client, "c", "SUSPENDED")
        assert client.get_workflow("b").runtime_status == "RUNNING"

        forced = client.bulk("purge", instance_ids=["a", "b"], force=True)
        assert forced.affected == 2
        with pytest.raises(ValueError, match="not both"):
            client.bulk("pause", instance_ids=["c"], name="waiter")
        with pytest.raises(ValueError, match="unknown bulk operation"):
            client.bulk("explode", name="waiter")
        assert [s.instance_id for s in client.list_workflows().workflows] == ["c"]
