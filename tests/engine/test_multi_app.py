"""Multi-app workflows: runtimes of several apps on one store, each running its own
instances and the activities and child workflows other apps send it (``app_id``)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

import wayline
from wayline.core.events import Router
from wayline.errors import InvalidAppIdError

from ._support import WAIT, completed, events_of, settings, wait_for_history
from .conftest import Runtimes


def _app(runtimes: Runtimes, app_id: str) -> wayline.WorkflowRuntime:
    return runtimes.new(settings=settings(app_id=app_id))


def test_calls_run_in_the_app_they_name_and_record_their_route(runtimes: Runtimes) -> None:
    orders, payments = _app(runtimes, "orders"), _app(runtimes, "payments")

    # The same activity name in both apps: the call's app_id decides which one runs.
    @orders.activity(name="price")
    def price_in_orders(ctx: wayline.WorkflowActivityContext, _: Any) -> str:
        return "orders"

    @payments.activity(name="price")
    def price_in_payments(ctx: wayline.WorkflowActivityContext, _: Any) -> str:
        return "payments"

    @payments.activity(name="charge")
    def charge(ctx: wayline.WorkflowActivityContext, amount: int) -> str:
        return f"charged {amount}"

    @payments.workflow(name="refund")
    def refund(ctx: wayline.WorkflowContext, amount: int) -> Any:
        charged = yield ctx.call_activity("charge", input=amount)  # its own app's
        return f"refund after {charged}"

    @orders.workflow(name="order")
    def order(ctx: wayline.WorkflowContext, _: Any) -> Any:
        here = yield ctx.call_activity("price")
        there = yield ctx.call_activity("price", app_id="payments")
        child = yield ctx.call_child_workflow(
            "refund", input=5, instance_id="order-1-refund", app_id="payments"
        )
        return [here, there, child]

    with payments, orders:
        client = orders.client()
        iid = client.start_workflow("order", instance_id="order-1")
        state = completed(client, iid)
        child_state = client.get_workflow("order-1-refund")
        history = client.get_history(iid)
        child_history = client.get_history("order-1-refund")

    assert state.output == ["orders", "payments", "refund after charged 5"]
    assert (state.app_id, child_state.app_id) == ("orders", "payments")
    routes = {type(event).__name__ + str(event.event_id): event.router for event in history}
    assert routes["ExecutionStarted-1"] == Router("orders")
    assert routes["TaskScheduled1"] == Router("orders")  # no app named: no target
    assert routes["TaskScheduled2"] == Router("orders", "payments")
    assert routes["ChildWorkflowCreated3"] == Router("orders", "payments")
    assert routes["ExecutionCompleted4"] == Router("orders")
    results = [
        e for e in history if type(e).__name__ in {"TaskCompleted", "ChildWorkflowCompleted"}
    ]
    assert [e.router for e in results] == [
        Router("orders"),
        Router("orders", "payments"),  # an activity's result keeps its call's route
        Router("payments", "orders"),  # a child's result comes from its app
    ]
    started = child_history[1]
    assert type(started).__name__ == "ExecutionStarted"
    assert started.router == Router("orders", "payments")
    assert started.parent is not None and started.parent.app_id == "orders"


def test_an_instance_runs_only_on_the_nodes_of_its_app(runtimes: Runtimes) -> None:
    ran: list[tuple[str, str]] = []
    lock = threading.Lock()
    apps = {name: _app(runtimes, name) for name in ("blue", "green")}
    for label, runtime in apps.items():

        def where(ctx: wayline.WorkflowActivityContext, _: Any, label: str = label) -> str:
            return label

        def who(ctx: wayline.WorkflowContext, _: Any, label: str = label) -> Any:
            if not ctx.is_replaying:
                with lock:
                    ran.append((ctx.instance_id, label))
            return (yield ctx.call_activity("where"))

        runtime.register_activity(where, name="where")
        runtime.register_workflow(who, name="who")

    with apps["blue"], apps["green"]:
        clients = {label: runtime.client() for label, runtime in apps.items()}
        started = {
            label: [client.start_workflow("who") for _ in range(6)]
            for label, client in clients.items()
        }
        for label, ids in started.items():
            for iid in ids:
                assert completed(clients[label], iid).output == label
    for label, ids in started.items():
        assert {app for iid, app in ran if iid in ids} == {label}


def test_a_call_to_an_app_that_is_not_running_fails_and_its_retry_policy_retries(
    runtimes: Runtimes,
) -> None:
    orders = _app(runtimes, "orders")
    retry = wayline.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=10), max_number_of_attempts=3
    )

    @orders.workflow(name="pay")
    def pay(ctx: wayline.WorkflowContext, _: Any) -> Any:
        try:
            yield ctx.call_activity("charge", app_id="payments", retry_policy=retry)
        except wayline.TaskFailedError as exc:
            return [exc.details.error_type, exc.details.message]
        return "charged"

    with orders:
        client = orders.client()
        state = completed(client, client.start_workflow("pay"))
        failures = events_of(client, state.instance_id, "TaskFailed")
    error_type, message = state.output
    assert error_type == "AppNotFoundError"
    assert "app 'payments' is not running" in message
    assert len(failures) == 3  # every attempt the policy allows


def test_a_call_waits_out_an_app_that_starts_within_its_retry_policy(runtimes: Runtimes) -> None:
    orders, payments = _app(runtimes, "orders"), _app(runtimes, "payments")
    retry = wayline.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=200), max_number_of_attempts=50
    )

    @payments.activity(name="charge")
    def charge(ctx: wayline.WorkflowActivityContext, _: Any) -> str:
        return "charged"

    @orders.workflow(name="pay")
    def pay(ctx: wayline.WorkflowContext, _: Any) -> Any:
        return (yield ctx.call_activity("charge", app_id="payments", retry_policy=retry))

    with orders:
        client = orders.client()
        iid = client.start_workflow("pay")
        wait_for_history(client, iid, "TaskFailed")
        with payments:
            state = completed(client, iid)
    assert state.output == "charged"


def test_a_name_a_running_app_does_not_register_fails_at_once(runtimes: Runtimes) -> None:
    orders, payments = _app(runtimes, "orders"), _app(runtimes, "payments")
    retry = wayline.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=10), max_number_of_attempts=5
    )

    @payments.activity(name="charge")
    def charge(ctx: wayline.WorkflowActivityContext, _: Any) -> str:
        return "charged"

    @orders.workflow(name="pay")
    def pay(ctx: wayline.WorkflowContext, _: Any) -> Any:
        errors = []
        for call in (
            lambda: ctx.call_activity("chrage", app_id="payments", retry_policy=retry),
            lambda: ctx.call_child_workflow("settle", app_id="payments", retry_policy=retry),
        ):
            try:
                yield call()
            except wayline.TaskFailedError as exc:
                errors.append([exc.details.error_type, exc.details.message])
        return errors

    with payments, orders:
        client = orders.client()
        state = completed(client, client.start_workflow("pay"))
        failures = events_of(client, state.instance_id, "TaskFailed")
    assert state.output == [
        [
            "ActivityNotRegisteredError",
            "activity 'chrage' is not registered by app 'payments': register it with "
            "runtime.register_activity (or @runtime.activity)",
        ],
        [
            "WorkflowNotRegisteredError",
            "workflow 'settle' is not registered by app 'payments': register it with "
            "runtime.register_workflow (or @runtime.workflow)",
        ],
    ]
    assert len(failures) == 1  # not retried: the app answered


def test_any_node_terminates_an_instance_of_an_app_that_is_not_running(
    runtimes: Runtimes,
) -> None:
    orders = _app(runtimes, "orders")

    @orders.workflow(name="order")
    def order(ctx: wayline.WorkflowContext, _: Any) -> None:
        return None

    with orders:
        ghost = wayline.WorkflowClient(orders.store, app_id="ghost")
        iid = ghost.start_workflow("haunt")
        assert ghost.get_workflow(iid).app_id == "ghost"
        orders.client().terminate_workflow(iid)
        state = orders.client().wait_for_workflow_completion(iid, timeout=WAIT)
    assert state.runtime_status == "TERMINATED"


def test_a_client_without_a_store_names_the_app_when_several_run_here(
    runtimes: Runtimes,
) -> None:
    orders, payments = _app(runtimes, "orders"), _app(runtimes, "payments")

    @payments.workflow(name="noop")
    def noop(ctx: wayline.WorkflowContext, _: Any) -> str:
        return "ran in payments"

    with orders, payments:
        with pytest.raises(ValueError, match="pass app_id="):
            wayline.DaprWorkflowClient()
        client = wayline.DaprWorkflowClient(app_id="payments")
        state = completed(client, client.schedule_new_workflow("noop"))
    assert (state.output, state.app_id) == ("ran in payments", "payments")


def test_app_ids_are_checked() -> None:
    with pytest.raises(InvalidAppIdError, match="'a/b' is invalid"):
        wayline.EngineSettings(app_id="a/b")
    with pytest.raises(InvalidAppIdError, match="it is empty"):
        wayline.WorkflowClient(":memory:", app_id="")
