"""Wayline's own API under ``/wayline/v1``: list, count, history, bulk, health, OpenAPI."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from support.http_api import all_instances, settled_snapshot, wait_custom_status, wait_status
from support.wait import wait_until

N_DONE = 125
N_WAITING = 6
N_FAILED = 3


def _start(http: httpx.Client, name: str, iid: str, body: bytes = b"") -> None:
    response = http.post(f"/v1.0/workflows/dapr/{name}/start?instanceID={iid}", content=body)
    assert response.status_code == 202, response.text


@pytest.fixture(scope="module")
def population(http: httpx.Client) -> dict[str, list[str]]:
    """125 completed echo runs, 6 waiting runs, 3 failures, and one finished event run."""
    done = [f"done-{i:03d}" for i in range(N_DONE)]
    waiting = [f"wait-{i}" for i in range(N_WAITING)]
    failed = [f"fail-{i}" for i in range(N_FAILED)]
    for iid in done:
        _start(http, "echo", iid, json.dumps(iid).encode())
    for iid in waiting:
        _start(http, "wait_for_go", iid)
    for iid in failed:
        _start(http, "fail", iid, b'"nope"')
    _start(http, "wait_for_go", "hist-1", b'{"order": 1}')
    wait_custom_status(http, "hist-1", "waiting")
    http.post("/v1.0/workflows/dapr/hist-1/raiseEvent/go", content=b'{"ok": true}')
    wait_status(http, "hist-1", "COMPLETED")
    wait_until(
        lambda: (
            http.get("/wayline/v1/instances/count", params={"status": "COMPLETED"}).json()["count"]
            == N_DONE + 1
            and http.get("/wayline/v1/instances/count", params={"status": "FAILED"}).json()["count"]
            == N_FAILED
        ),
        what="the population to finish",
    )
    for iid in waiting:
        wait_custom_status(http, iid, "waiting")
    return {"done": done, "waiting": waiting, "failed": failed}


def _ids(http: httpx.Client, **params: Any) -> list[str]:
    return [i["instanceID"] for i in all_instances(http, **params)]


def test_list_filters_by_status_repeated_and_comma(
    http: httpx.Client, population: dict[str, list[str]]
) -> None:
    expected = set(population["waiting"]) | set(population["failed"])
    repeated = http.get(
        "/wayline/v1/instances", params=[("status", "RUNNING"), ("status", "FAILED")]
    )
    comma = http.get("/wayline/v1/instances", params={"status": "RUNNING,FAILED"})
    assert repeated.status_code == comma.status_code == 200
    assert {i["instanceID"] for i in repeated.json()["instances"]} == expected
    assert repeated.json() == comma.json()
    for instance in repeated.json()["instances"]:
        assert instance["runtimeStatus"] in ("RUNNING", "FAILED")
    failed = http.get("/wayline/v1/instances", params={"status": "FAILED"}).json()["instances"]
    assert failed[0]["failure"]["errorType"] == "ValueError"
    assert failed[0]["failure"]["message"] == "nope"


def test_list_filters_by_name(http: httpx.Client, population: dict[str, list[str]]) -> None:
    names = set(_ids(http, name="wait_for_go"))
    assert names == set(population["waiting"]) | {"hist-1"}
    assert _ids(http, name="no_such_workflow") == []


def test_list_filters_by_created_range(
    http: httpx.Client, population: dict[str, list[str]]
) -> None:
    everything = all_instances(http)
    by_id = {i["instanceID"]: i for i in everything}
    low = by_id["done-010"]["createdAt"]
    high = by_id["done-020"]["createdAt"]
    expected = {i["instanceID"] for i in everything if low <= i["createdAt"] < high}
    assert expected == {f"done-{i:03d}" for i in range(10, 20)}
    assert set(_ids(http, createdFrom=low, createdTo=high)) == expected
    count = http.get("/wayline/v1/instances/count", params={"createdFrom": low, "createdTo": high})
    assert count.json() == {"count": 10}
    # Offsets other than Z mean the same instant.
    later = set(_ids(http, createdFrom=low.replace("Z", "+00:00")))
    assert later == {i["instanceID"] for i in everything if i["createdAt"] >= low}


def test_paging_with_continuation_token(
    http: httpx.Client, population: dict[str, list[str]]
) -> None:
    total = N_DONE + N_WAITING + N_FAILED + 1
    seen: list[str] = []
    params: dict[str, Any] = {"pageSize": 7}
    pages = 0
    while True:
        page = http.get("/wayline/v1/instances", params=params).json()
        pages += 1
        assert len(page["instances"]) <= 7
        seen += [i["instanceID"] for i in page["instances"]]
        if "continuationToken" not in page:
            break
        params["continuationToken"] = page["continuationToken"]
    assert pages >= total // 7
    assert len(seen) == len(set(seen)) == total, "duplicates or missing instances across pages"
    assert seen == _ids(http)  # the same order as one big page: newest first
    everything = all_instances(http)
    created = [i["createdAt"] for i in everything]
    assert created == sorted(created, reverse=True)

    # Paging a filtered list.
    done_pages: list[str] = []
    params = {"pageSize": 50, "status": "COMPLETED", "name": "echo"}
    while True:
        page = http.get("/wayline/v1/instances", params=params).json()
        done_pages += [i["instanceID"] for i in page["instances"]]
        if "continuationToken" not in page:
            break
        params["continuationToken"] = page["continuationToken"]
    assert sorted(done_pages) == sorted(population["done"])


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": "0"},
        {"pageSize": "1001"},
        {"pageSize": "ten"},
        {"status": "SLEEPING"},
        {"createdFrom": "yesterday"},
        {"continuationToken": "not-a-token"},
    ],
)
def test_list_rejects_bad_parameters(
    http: httpx.Client, population: dict[str, list[str]], params: dict[str, str]
) -> None:
    response = http.get("/wayline/v1/instances", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == "ERR_MALFORMED_REQUEST"


def test_count(http: httpx.Client, population: dict[str, list[str]]) -> None:
    def count(**params: Any) -> int:
        response = http.get("/wayline/v1/instances/count", params=params)
        assert response.status_code == 200
        value: int = response.json()["count"]
        return value

    assert count() == N_DONE + N_WAITING + N_FAILED + 1
    assert count(status="RUNNING") == N_WAITING
    assert count(status="RUNNING,FAILED") == N_WAITING + N_FAILED
    assert count(name="echo") == N_DONE
    assert count(status="TERMINATED") == 0


def test_get_instance(http: httpx.Client, population: dict[str, list[str]]) -> None:
    body = http.get("/wayline/v1/instances/hist-1").json()
    assert body["instanceID"] == "hist-1"
    assert body["runtimeStatus"] == "COMPLETED"
    assert body["input"] == '{"order": 1}'
    assert json.loads(body["output"]) == {"input": {"order": 1}, "got": {"ok": True}}
    assert body["completedAt"].endswith("Z")
    missing = http.get("/wayline/v1/instances/nobody")
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND"


def test_history_with_payloads(http: httpx.Client, population: dict[str, list[str]]) -> None:
    response = http.get("/wayline/v1/instances/hist-1/history")
    assert response.status_code == 200
    events = response.json()["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[0] in ("ExecutionStarted", "WorkflowStarted")
    assert "ExecutionStarted" in kinds and kinds[-1] == "ExecutionCompleted"
    for event in events:
        assert event["timestamp"]
    started = next(e for e in events if e["kind"] == "ExecutionStarted")
    assert started["name"] == "wait_for_go"
    assert started["input"] == '{"order": 1}'
    raised = next(e for e in events if e["kind"] == "EventRaised")
    assert raised["name"] == "go"
    assert raised["input"] == '{"ok": true}'
    completed = events[-1]
    assert completed["status"] == "COMPLETED"
    assert json.loads(completed["result"])["got"] == {"ok": True}
    missing = http.get("/wayline/v1/instances/nobody/history")
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND"


@pytest.mark.parametrize("body", [b"", b"{}", b'{"status": []}'])
def test_bulk_without_filters_is_refused(
    http: httpx.Client, population: dict[str, list[str]], body: bytes
) -> None:
    before = settled_snapshot(http)
    for operation in ("terminate", "purge", "pause", "resume"):
        response = http.post(f"/wayline/v1/instances/bulk/{operation}", content=body)
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == "ERR_MALFORMED_REQUEST"
    assert settled_snapshot(http) == before


def test_bulk_bad_requests(http: httpx.Client, population: dict[str, list[str]]) -> None:
    before = settled_snapshot(http)
    assert (
        http.post("/wayline/v1/instances/bulk/explode", json={"status": ["RUNNING"]}).status_code
        == 404
    )
    for body in (
        b"{not json",
        b"[1]",
        b'{"status": ["SLEEPING"]}',
        b'{"status": "RUNNING"}',
        b'{"createdFrom": "x"}',
        b'{"instanceIDs": []}',
        b'{"instanceIDs": null, "status": ["RUNNING"]}',
        b'{"instanceIDs": "wait-0"}',
        b'{"instanceIDs": ["wait-0", ""]}',
        b'{"instanceIDs": ["wait-0", 7]}',
        b'{"instanceIDs": ["wait-0"], "status": ["RUNNING"]}',
        b'{"instanceIDs": ["wait-0"], "force": true}',
        b'{"status": ["RUNNING"], "force": "yes"}',
        b'{"status": ["RUNNING"], "recursive": false}',
        b'{"force": false}',
        b'{"instanceIDs": [' + b",".join([b'"x"'] * 1001) + b"]}",
    ):
        response = http.post("/wayline/v1/instances/bulk/terminate", content=body)
        assert response.status_code == 400, body
        assert response.json()["errorCode"] == "ERR_MALFORMED_REQUEST"
    assert settled_snapshot(http) == before


def test_bulk_operations_report_affected_counts(
    http: httpx.Client, population: dict[str, list[str]]
) -> None:
    """Runs last in the module: it changes the population."""
    waiting = population["waiting"]

    # Purge refuses running instances one by one and reports them.
    result = http.post("/wayline/v1/instances/bulk/purge", json={"status": ["RUNNING"]}).json()
    assert result["operation"] == "purge"
    assert result["affected"] == 0
    assert sorted(f["instanceID"] for f in result["failed"]) == sorted(waiting)

    result = http.post(
        "/wayline/v1/instances/bulk/pause", json={"status": ["RUNNING"], "name": "wait_for_go"}
    ).json()
    assert result == {"operation": "pause", "affected": N_WAITING, "failed": []}
    for iid in waiting:
        wait_status(http, iid, "SUSPENDED")
    result = http.post("/wayline/v1/instances/bulk/resume", json={"status": ["SUSPENDED"]}).json()
    assert result["affected"] == N_WAITING
    for iid in waiting:
        wait_status(http, iid, "RUNNING")

    result = http.post(
        "/wayline/v1/instances/bulk/terminate", json={"status": ["RUNNING"], "name": "wait_for_go"}
    ).json()
    assert result == {"operation": "terminate", "affected": N_WAITING, "failed": []}
    for iid in waiting:
        wait_status(http, iid, "TERMINATED")

    result = http.post(
        "/wayline/v1/instances/bulk/purge", json={"status": ["TERMINATED", "FAILED"]}
    ).json()
    assert result == {"operation": "purge", "affected": N_WAITING + N_FAILED, "failed": []}
    remaining = set(_ids(http))
    assert remaining == set(population["done"]) | {"hist-1"}

    # Named instances instead of filters; force purges what is still running.
    result = http.post(
        "/wayline/v1/instances/bulk/pause", json={"instanceIDs": ["hist-1", "done-010", "nobody"]}
    ).json()
    assert result["affected"] == 0 and len(result["failed"]) == 2  # finished: cannot pause
    _start(http, "wait_for_go", "forced-1")
    wait_custom_status(http, "forced-1", "waiting")
    refused = http.post("/wayline/v1/instances/bulk/purge", json={"instanceIDs": ["forced-1"]})
    assert refused.json()["affected"] == 0
    forced = http.post(
        "/wayline/v1/instances/bulk/purge", json={"instanceIDs": ["forced-1"], "force": True}
    ).json()
    assert forced == {"operation": "purge", "affected": 1, "failed": []}
    assert http.get("/wayline/v1/instances/forced-1").status_code == 404

    # The created-range filter alone is enough for a bulk operation.
    everything = {i["instanceID"]: i for i in all_instances(http)}
    result = http.post(
        "/wayline/v1/instances/bulk/purge",
        json={
            "createdFrom": everything["done-000"]["createdAt"],
            "createdTo": everything["done-005"]["createdAt"],
        },
    ).json()
    assert result["affected"] == 5
    assert http.get("/wayline/v1/instances/count").json()["count"] == N_DONE + 1 - 5


def test_health_and_readiness(http: httpx.Client) -> None:
    assert http.get("/wayline/v1/healthz").status_code == 200
    ready = http.get("/wayline/v1/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_openapi_document_is_valid_openapi_3_1(http: httpx.Client) -> None:
    import openapi_spec_validator as validator  # a dev dependency

    response = http.get("/wayline/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    validator.validate(document)
    paths = set(document["paths"])
    for path in (
        "/wayline/v1/instances",
        "/wayline/v1/instances/count",
        "/wayline/v1/instances/{instance_id}",
        "/wayline/v1/instances/{instance_id}/history",
    ):
        assert any(p.endswith(path.removeprefix("/wayline/v1")) for p in paths), path


def test_rerun_route_refuses_bad_bodies_and_changes_nothing(http: httpx.Client) -> None:
    http.post("/v1.0/workflows/dapr/echo/start?instanceID=rerun-src", json="x")
    wait_status(http, "rerun-src", "COMPLETED")
    before = http.get("/wayline/v1/instances/count").json()["count"]
    cases = [
        (b"[1]", 400, "ERR_MALFORMED_REQUEST"),
        (b"{", 400, "ERR_MALFORMED_REQUEST"),
        (b'{"eventID": "1"}', 400, "ERR_MALFORMED_REQUEST"),
        (b'{"eventID": -1}', 400, "ERR_MALFORMED_REQUEST"),
        (b'{"eventID": 1, "color": "red"}', 400, "ERR_MALFORMED_REQUEST"),
        (b'{"eventID": 1, "overwriteInput": "yes"}', 400, "ERR_MALFORMED_REQUEST"),
        (b'{"eventID": 1, "newInstanceID": 7}', 400, "ERR_MALFORMED_REQUEST"),
        (b"[" * 100_000, 400, "ERR_MALFORMED_REQUEST"),
        (b'{"eventID": 42}', 400, "ERR_RERUN_WORKFLOW"),
    ]
    for body, status, code in cases:
        answer = http.post("/wayline/v1/instances/rerun-src/rerun", content=body)
        assert (answer.status_code, answer.json()["errorCode"]) == (status, code), body[:40]
    missing = http.post("/wayline/v1/instances/nobody/rerun", json={"eventID": 1})
    assert missing.status_code == 404
    assert http.get("/wayline/v1/instances/count").json()["count"] == before


@pytest.mark.parametrize("query", ["status=", "status=RUNNING,", "status=RUNNING&status="])
def test_an_empty_status_filter_is_refused_not_ignored(http: httpx.Client, query: str) -> None:
    for path in ("/wayline/v1/instances", "/wayline/v1/instances/count"):
        answer = http.get(f"{path}?{query}")
        assert answer.status_code == 400, (path, query)
        assert answer.json()["errorCode"] == "ERR_MALFORMED_REQUEST"
