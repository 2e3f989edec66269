"""Prometheus metrics in embedded mode: ``WorkflowRuntime(observer=PrometheusMetrics())``
counts what ran, under Dapr's names, labels and status values, and Wayline's own;
a claim that takes over an expired lease is counted and logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

import wayline
from support.metrics import Scrape, check_dapr_exposition
from support.server import free_port
from support.wait import wait_until
from wayline.errors import InstanceNotFoundError
from wayline.observability.metrics import CONTENT_TYPE, PrometheusMetrics

from ._support import settings, wait_for_status
from .conftest import Runtimes

DAPR = "dapr_runtime_workflow_"


def _register(runtime: wayline.WorkflowRuntime) -> None:
    calls = {"n": 0}

    @runtime.activity(name="flaky")
    def flaky(ctx: wayline.WorkflowActivityContext, x: int) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("not yet")
        return "é" * x  # two UTF-8 bytes each

    @runtime.activity(name="broken")
    def broken(ctx: wayline.WorkflowActivityContext) -> None:
        raise RuntimeError("always")

    @runtime.workflow(name="flow")
    def flow(ctx: wayline.WorkflowContext, x: int) -> Any:
        policy = wayline.RetryPolicy(
            first_retry_interval=timedelta(milliseconds=10), max_number_of_attempts=3
        )
        return (yield ctx.call_activity(flaky, input=x, retry_policy=policy))

    @runtime.workflow(name="doomed")
    def doomed(ctx: wayline.WorkflowContext, _: Any) -> Any:
        return (yield ctx.call_activity(broken))

    @runtime.workflow(name="waiter")
    def waiter(ctx: wayline.WorkflowContext, _: Any) -> Any:
        return (yield ctx.wait_for_external_event("go"))


def test_embedded_metrics_count_what_ran_under_daprs_names(runtimes: Runtimes) -> None:
    metrics = PrometheusMetrics(namespace="prod")
    runtime = runtimes.new(observer=metrics, app_id="shop")
    _register(runtime)
    with runtime:
        client = runtime.client()
        client.start_workflow("flow", input=3, instance_id="m-ok")
        client.start_workflow("doomed", instance_id="m-fail")
        client.start_workflow("waiter", instance_id="m-wait")
        wait_for_status(client, "m-ok", "COMPLETED")
        wait_for_status(client, "m-fail", "FAILED")
        wait_for_status(client, "m-wait", "RUNNING")
        client.terminate_workflow("m-wait")
        wait_for_status(client, "m-wait", "TERMINATED")
        assert client.get_workflow("m-ok").runtime_status == "COMPLETED"
        with pytest.raises(InstanceNotFoundError):
            client.raise_event("nobody", "go")
        client.purge_workflow("m-fail")

        body, content_type = metrics.exposition()
        port = free_port()
        server = metrics.serve(port)
        try:
            served = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        finally:
            server.shutdown()
            server.server_close()
    assert content_type == CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
    assert served.status_code == 200 and served.headers["content-type"] == CONTENT_TYPE
    scrape = Scrape(body.decode())
    check_dapr_exposition(scrape, app_id="shop", namespace="prod")
    assert "# TYPE wayline_turn_latency_seconds histogram" in served.text

    op = f'{DAPR}operation_count{{app_id="shop",namespace="prod",operation='
    assert scrape.raw_value(f'{op}"create_workflow",status="success"}}') == 3
    assert scrape.raw_value(f'{op}"get_workflow",status="success"}}') == 1
    assert scrape.raw_value(f'{op}"add_event",status="success"}}') == 1  # the terminate
    assert scrape.raw_value(f'{op}"add_event",status="failed"}}') == 1  # unknown instance
    assert scrape.raw_value(f'{op}"purge_workflow",status="success"}}') == 1
    latency = f"{DAPR}operation_latency_count"
    assert scrape.value(latency, operation="create_workflow", status="success") == 3

    executions = f"{DAPR}execution_count_total"  # the parser names counter samples so
    assert scrape.value(executions, workflow_name="flow", status="success") == 1
    assert scrape.value(executions, workflow_name="doomed", status="failed") == 1
    assert scrape.value(executions, workflow_name="waiter", status="failed") == 1
    for name in ("flow", "doomed", "waiter"):
        assert scrape.value(f"{DAPR}scheduling_latency_count", workflow_name=name) == 1
    assert scrape.value(f"{DAPR}execution_latency_count", workflow_name="flow") == 1

    activity_runs = f"{DAPR}activity_execution_count_total"
    assert scrape.value(activity_runs, activity_name="flaky", status="failed") == 1
    assert scrape.value(activity_runs, activity_name="flaky", status="success") == 1
    assert scrape.value(activity_runs, activity_name="broken", status="failed") == 1
    started = f"{DAPR}activity_operation_count_total"
    assert scrape.value(started, activity_name="flaky", status="success") == 2
    assert scrape.value(f"{DAPR}activity_operation_latency_count", activity_name="flaky") == 2

    turns = scrape.value("wayline_turn_latency_seconds_count")
    assert turns >= 7  # first turns, retries, results, the terminate
    assert scrape.value("wayline_commit_latency_seconds_count") == turns
    assert scrape.value("wayline_payload_size_bytes_sum", kind="workflow_input") == 1  # "3"
    assert scrape.value("wayline_payload_size_bytes_sum", kind="activity_result") == 8  # '"ééé"'
    assert scrape.value("wayline_store_transactions_total") > 0
    hits = scrape.value("wayline_replay_cache_hits_total")
    misses = scrape.value("wayline_replay_cache_misses_total")
    assert hits > 0 and misses >= 3  # every first turn replays (an empty history)
    assert scrape.value("wayline_instances", status="COMPLETED") == 1
    assert scrape.value("wayline_instances", status="TERMINATED") == 1
    assert scrape.value("wayline_instances", status="FAILED") == 0  # purged
    assert scrape.value("wayline_runnable_activity_tasks") == 0
    assert scrape.value("wayline_due_timers") == 0
    assert scrape.value("wayline_remote_workers") == 0
    assert scrape.type_of("wayline_store_transactions") == "counter"
    assert "# TYPE wayline_store_transactions_total counter\n" in scrape.text


def test_a_claim_of_an_expired_lease_is_counted_and_logged(
    runtimes: Runtimes, caplog: pytest.LogCaptureFixture
) -> None:
    """A node that claimed a turn and died (its lease is never released) leaves the
    turn to another node once the lease expires: a takeover, counted for that node."""
    metrics = PrometheusMetrics()
    runtime = runtimes.new(observer=metrics, settings=settings(node_id="survivor"))
    _register(runtime)
    starter = wayline.WorkflowClient(store=runtimes.url)
    try:
        starter.start_workflow("waiter", instance_id="orphan")
        [claimed] = starter.store.claim_turns(
            owner="dead-node",
            workflow_names=None,
            now=datetime.now(UTC),
            lease=timedelta(milliseconds=300),
            limit=10,
        )
        assert claimed.instance.instance_id == "orphan"
        with runtime:
            client = runtime.client()
            wait_for_status(client, "orphan", "RUNNING")

            def takeovers() -> float:
                return Scrape(metrics.exposition()[0].decode()).value(
                    "wayline_lease_takeovers_total",
                    kind="turn",
                    node="survivor",
                    previous_node="dead-node",
                )

            wait_until(lambda: takeovers() == 1, what="the takeover to be counted")
            client.raise_event("orphan", "go", data=1)
            assert client.wait_for_workflow_completion("orphan", timeout=10).output == 1
    finally:
        starter.close()
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and "took over the turn lease" in r.getMessage()
    ]
    assert len(warnings) == 1
    assert "'orphan'" in warnings[0].getMessage() and "'dead-node'" in warnings[0].getMessage()
    assert warnings[0].instance_id == "orphan"  # type: ignore[attr-defined]
