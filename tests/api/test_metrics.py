"""``GET /metrics`` of a real ``wayline serve``: Dapr's workflow metrics with Dapr's
names, types, labels and buckets, Wayline's own, the API token rule, ``--no-metrics``;
and the shipped Grafana dashboard and alert rules use only metrics a scrape has."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from support.http_api import wait_custom_status, wait_status
from support.metrics import DAPR_FAMILIES, Scrape, check_dapr_exposition
from support.server import REPO, Server

TOKEN = "metrics-token"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DAPR = "dapr_runtime_workflow_"


def _start(http: httpx.Client, name: str, iid: str, data: Any = None) -> None:
    response = http.post(f"/v1.0/workflows/dapr/{name}/start?instanceID={iid}", json=data)
    assert response.status_code == 202, response.text


@pytest.fixture(scope="module")
def scrape(make_server: Callable[..., Server]) -> Scrape:
    """A server that ran a few workflows; scraped once they ended (and once while one
    still waited, checked too)."""
    server = make_server()
    with server.client() as http:
        _start(http, "echo", "ok-1", {"a": 1})
        _start(http, "fail", "bad-1", "boom")
        _start(http, "activity_returns", "act-ok", "1.5")
        _start(http, "activity_returns", "act-bad", "nan")
        _start(http, "wait_for_go", "stopped")
        wait_custom_status(http, "stopped", "waiting")
        during = http.get("/metrics")
        assert during.status_code == 200
        check_dapr_exposition(Scrape(during.text), app_id="wayline")
        assert http.post("/v1.0/workflows/dapr/stopped/terminate").status_code == 202
        for iid, status in [
            ("ok-1", "COMPLETED"),
            ("bad-1", "FAILED"),
            ("act-ok", "COMPLETED"),
            ("act-bad", "FAILED"),
            ("stopped", "TERMINATED"),
        ]:
            wait_status(http, iid, status)
        purge = http.post("/v1.0/workflows/dapr/stopped/purge?force=false")
        assert http.post("/v1.0/workflows/dapr/ok-1/purge").status_code == 202
        response = http.get("/metrics")
    assert purge.status_code == 202, purge.text
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE
    return Scrape(response.text)


def test_daprs_workflow_metrics_have_daprs_names_labels_and_buckets(scrape: Scrape) -> None:
    check_dapr_exposition(scrape, app_id="wayline", namespace="")
    assert set(DAPR_FAMILIES) <= set(scrape.families)


def test_daprs_counters_count_what_ran(scrape: Scrape) -> None:
    op = f'{DAPR}operation_count{{app_id="wayline",namespace="",operation='
    assert scrape.raw_value(f'{op}"create_workflow",status="success"}}') == 5
    assert scrape.raw_value(f'{op}"add_event",status="success"}}') == 1  # the terminate
    assert scrape.raw_value(f'{op}"purge_workflow",status="success"}}') == 2
    assert scrape.raw_value(f'{op}"get_workflow",status="success"}}') >= 5  # the polls
    executions = f"{DAPR}execution_count_total"  # the parser's name for the samples
    assert scrape.value(executions, workflow_name="echo", status="success") == 1
    assert scrape.value(executions, workflow_name="fail", status="failed") == 1
    assert scrape.value(executions, workflow_name="activity_returns", status="success") == 1
    assert scrape.value(executions, workflow_name="activity_returns", status="failed") == 1
    assert scrape.value(executions, workflow_name="wait_for_go", status="failed") == 1
    runs = f"{DAPR}activity_execution_count_total"
    assert scrape.value(runs, activity_name="not_a_number", status="success") == 1
    assert scrape.value(runs, activity_name="not_a_number", status="failed") == 1
    started = f"{DAPR}activity_operation_count_total"
    assert scrape.value(started, activity_name="not_a_number", status="success") == 2
    latency = f"{DAPR}execution_latency_count"
    assert scrape.value(latency, workflow_name="activity_returns", status="failed") == 1
    assert scrape.value(f"{DAPR}scheduling_latency_count", workflow_name="echo") == 1


def test_waylines_own_metrics_are_served_too(scrape: Scrape) -> None:
    for name, kind in {
        "wayline_turn_latency_seconds": "histogram",
        "wayline_commit_latency_seconds": "histogram",
        "wayline_payload_size_bytes": "histogram",
        "wayline_instances": "gauge",
        "wayline_runnable_turns": "gauge",
        "wayline_runnable_activity_tasks": "gauge",
        "wayline_due_timers": "gauge",
        "wayline_oldest_runnable_age_seconds": "gauge",
        "wayline_remote_workers": "gauge",
        "wayline_replay_cache_entries": "gauge",
        "wayline_store_transactions": "counter",
        "wayline_store_fsyncs": "counter",
        "wayline_store_write_conflicts": "counter",
        "wayline_replay_cache_hits": "counter",
        "wayline_replay_cache_misses": "counter",
        "wayline_lease_takeovers": "counter",
        "wayline_leases_lost": "counter",
        "wayline_activity_results_discarded": "counter",
    }.items():
        assert scrape.type_of(name) == kind, name
    # Counts by status are re-read every 10 s at most: the scrape while one workflow
    # still waited is what this one reuses (all five had started).
    by_status = {s.labels["status"]: s.value for s in scrape.samples("wayline_instances")}
    assert set(by_status) >= {"PENDING", "RUNNING", "COMPLETED", "FAILED", "TERMINATED"}
    assert sum(by_status.values()) == 5
    # A durable SQLite store (synchronous=FULL): every write transaction is an fsync.
    transactions = scrape.value("wayline_store_transactions_total")
    assert transactions > 0
    assert scrape.value("wayline_store_fsyncs_total") == transactions
    assert scrape.value("wayline_oldest_runnable_age_seconds", kind="turn") == 0
    assert scrape.value("wayline_leases_lost_total") == 0


def test_metrics_take_the_api_token_as_a_header_or_a_bearer_token(
    make_server: Callable[..., Server],
) -> None:
    server = make_server(api_token=TOKEN, env={"NAMESPACE": "prod"})
    with server.client() as http:
        assert http.get("/metrics").status_code == 401
        assert http.get("/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert http.get("/metrics", headers={"authorization": f"Basic {TOKEN}"}).status_code == 401
        # The bearer form is for scrapers only: the API itself still wants its header.
        bearer = {"authorization": f"Bearer {TOKEN}"}
        assert http.get("/wayline/v1/instances", headers=bearer).status_code == 401
        http.headers["dapr-api-token"] = TOKEN
        _start(http, "echo", "tok-1")
        wait_status(http, "tok-1", "COMPLETED")
        by_header = http.get("/metrics")
        del http.headers["dapr-api-token"]
        by_bearer = http.get("/metrics", headers=bearer)
    assert by_header.status_code == by_bearer.status_code == 200
    scrape = Scrape(by_bearer.text)
    check_dapr_exposition(scrape, app_id="wayline", namespace="prod")  # env NAMESPACE
    assert scrape.value(f"{DAPR}execution_count_total", workflow_name="echo") == 1


def test_namespace_label_comes_from_the_flag(make_server: Callable[..., Server]) -> None:
    server = make_server(extra_args=["--metrics-namespace", "team-a"])
    with server.client() as http:
        _start(http, "echo", "ns-1")
        wait_status(http, "ns-1", "COMPLETED")
        scrape = Scrape(http.get("/metrics").text)
    check_dapr_exposition(scrape, app_id="wayline", namespace="team-a")
    assert scrape.value(f"{DAPR}execution_count_total", namespace="team-a") == 1


def test_no_metrics_turns_the_route_off(make_server: Callable[..., Server]) -> None:
    server = make_server(extra_args=["--no-metrics"])
    with server.client() as http:
        assert http.get("/metrics").status_code == 404
        assert http.get("/v1.0/healthz").status_code == 204


# ----- the shipped dashboard and alert rules ---------------------------------------------

DASHBOARD = REPO / "docs" / "grafana" / "wayline-dashboard.json"
ALERTS = REPO / "docs" / "prometheus" / "wayline-alerts.yml"
_METRIC = re.compile(r"\b(?:dapr_runtime_workflow|wayline)_[a-z_]+\b")


def _exprs(node: Any) -> list[str]:
    """Every PromQL expression in a dashboard or rule file (``expr`` values)."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k == "expr" and isinstance(v, str)]
        return found + [e for v in node.values() for e in _exprs(v)]
    if isinstance(node, list):
        return [e for v in node for e in _exprs(v)]
    return []


def _served_names(scrape: Scrape) -> set[str]:
    """Every series name a query may use: the raw sample names and TYPE names, plus the
    _bucket/_sum/_count series of each histogram."""
    names = {
        line.split("{")[0].split(" ")[0]
        for line in scrape.text.splitlines()
        if line and not line.startswith("#")
    }
    for line in scrape.text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            names.add(name)
            if kind == "histogram":
                names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
    return names


@pytest.mark.parametrize("path", [DASHBOARD, ALERTS], ids=["dashboard", "alerts"])
def test_the_dashboard_and_alert_rules_use_only_served_metrics(scrape: Scrape, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    exprs = _exprs(document)
    assert exprs, f"no expressions in {path.name}"
    used = {name for expr in exprs for name in _METRIC.findall(expr)}
    assert used, path
    missing = used - _served_names(scrape)
    assert not missing, f"{path.name} uses metrics /metrics does not serve: {sorted(missing)}"


def test_the_dashboard_is_a_grafana_dashboard_with_the_promised_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["__inputs"][0]["name"] == "DS_PROMETHEUS"
    titles = " | ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("throughput", "latency", "backlog", "fail", "lease"):
        assert topic in titles, (topic, titles)
    for panel in dashboard["panels"]:
        if panel.get("type") != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    assert any("histogram_quantile" in e for e in _exprs(dashboard))


def test_the_alert_rules_are_a_prometheus_rule_file() -> None:
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    alerts = [r for group in rules["groups"] for r in group["rules"]]
    names = {r["alert"] for r in alerts}
    assert {"WaylineBacklogGrowing", "WaylineOldestRunnableItemTooOld"} <= names
    assert any("Failure" in name for name in names)
    for rule in alerts:
        assert rule["expr"] and rule["labels"]["severity"] and rule["annotations"]["summary"]
