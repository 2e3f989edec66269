"""Child workflows: instance ids, inputs, results and failures."""

from __future__ import annotations

from typing import Any

from wayline.core.actions import CreateChildWorkflow, ScheduleTask
from wayline.core.context import WorkflowContext
from wayline.core.events import ParentInfo
from wayline.core.task import TaskFailedError, when_all

from ._harness import (
    Scenario,
    child_completed,
    child_failed,
    completed,
    failure_of,
    output,
)


def child(ctx: WorkflowContext, value: int) -> Any:
    return value * 2


def test_default_child_id_is_the_parent_id_and_the_step_number_in_hex() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_activity("setup")
        results = yield when_all([ctx.call_child_workflow(child, input=i) for i in range(15)])
        return sum(results)

    run = Scenario(wf, instance_id="order-42")
    run.start()
    actions = run.turn(completed(1)).actions
    assert actions[0] == CreateChildWorkflow(
        id=2, instance_id="order-42:0002", name="child", input="0"
    )
    assert actions[-1] == CreateChildWorkflow(
        id=16, instance_id="order-42:0010", name="child", input="14"
    )
    assert [a.instance_id for a in actions if isinstance(a, CreateChildWorkflow)][8:10] == [
        "order-42:000a",
        "order-42:000b",
    ]
    assert output(run.turn(*(child_completed(i, i) for i in range(2, 17)))) == sum(range(2, 17))


def test_explicit_child_id_and_child_output() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        result = yield ctx.call_child_workflow(
            "child", input={"n": 1}, instance_id="my-child", app_id="elsewhere"
        )
        return {"child said": result}

    run = Scenario(wf)
    assert run.start().actions == (
        CreateChildWorkflow(
            id=1, instance_id="my-child", name="child", input='{"n": 1}', app_id="elsewhere"
        ),
    )
    assert output(run.turn(child_completed(1, [1, 2]))) == {"child said": [1, 2]}


def test_child_failure_is_catchable() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        try:
            yield ctx.call_child_workflow("child")
        except TaskFailedError as exc:
            yield ctx.call_activity("compensate", input=exc.details.error_type)
            return str(exc)
        return "ok"

    run = Scenario(wf)
    run.start()
    assert run.turn(child_failed(1, "no stock")).actions == (
        ScheduleTask(id=2, name="compensate", input='"RuntimeError"'),
    )
    assert output(run.turn(completed(2))) == "child workflow #1 failed: no stock"


def test_uncaught_child_failure_fails_the_parent() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        yield ctx.call_child_workflow("child")

    run = Scenario(wf)
    run.start()
    details = failure_of(run.turn(child_failed(1, "no stock")))
    assert details.message == "child workflow #1 failed: no stock"
    assert details.error_type == "TaskFailedError"


def test_child_workflow_runs_with_its_parent_info_in_the_start_event() -> None:
    run = Scenario(child, instance_id="wf-1:0001")
    parent = ParentInfo(instance_id="wf-1", name="wf", task_scheduled_id=1)
    assert output(run.start(21, name="child", parent=parent)) == 42
