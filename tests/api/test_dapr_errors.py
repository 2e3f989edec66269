"""Every error of the Dapr workflow HTTP API: exact code and status, and no effect.

Runs on its own server holding a running, a suspended and a completed instance.
Each test compares a settled snapshot of every instance (state and history
length) with the one before it: an error must change nothing.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.http_api import dapr_get, settled_snapshot, wait_custom_status, wait_status

from .test_dapr_api import PREFIXES, assert_accepted, assert_error


def rotate(values: list[Any]) -> list[tuple[str, Any]]:
    """Pair each case with a prefix, cycling, so each code is seen on every prefix."""
    return list(zip(itertools.cycle(PREFIXES), values, strict=False))


@pytest.fixture(scope="module")
def fixed(http: httpx.Client) -> dict[str, str]:
    """Instances the error tests aim at: running, suspended, completed."""
    http.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=err-running", content=b"1")
    http.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=err-paused", content=b"2")
    http.post("/v1.0/workflows/dapr/echo/start?instanceID=err-done", content=b"3")
    wait_custom_status(http, "err-running", "waiting")
    wait_custom_status(http, "err-paused", "waiting")
    http.post("/v1.0/workflows/dapr/err-paused/pause")
    wait_status(http, "err-paused", "SUSPENDED")
    wait_status(http, "err-done", "COMPLETED")
    return {"running": "err-running", "paused": "err-paused", "done": "err-done"}


@pytest.fixture(scope="module")
def baseline(http: httpx.Client, fixed: dict[str, str]) -> dict[str, dict[str, Any]]:
    before = settled_snapshot(http)
    assert set(before) == set(fixed.values())
    return before


@pytest.fixture(autouse=True)
def unchanged(http: httpx.Client, baseline: dict[str, dict[str, Any]]) -> Iterator[None]:
    """Asserts that the test's requests left every instance and history as they were."""
    yield
    assert settled_snapshot(http) == baseline


def _start(http: httpx.Client, prefix: str, name: str, iid: str) -> httpx.Response:
    return http.post(
        f"/{prefix}/workflows/dapr/{name}/start", params={"instanceID": iid}, content=b"1"
    )


@pytest.mark.parametrize(
    ("prefix", "iid"),
    rotate(["has space", "dot.ted", "sla/sh", "semi;colon", "q?mark", "emoji😀", "tab\t", "a+b"]),
)
def test_invalid_instance_id(http: httpx.Client, prefix: str, iid: str) -> None:
    assert_error(_start(http, prefix, "echo", iid), 400, "ERR_INSTANCE_ID_INVALID")


@pytest.mark.parametrize(("prefix", "iid"), rotate(["a" * 65, "é" * 33, "é" * 32 + "a", "a" * 200]))
def test_too_long_instance_id(http: httpx.Client, prefix: str, iid: str) -> None:
    assert len(iid.encode()) > 64
    assert_error(_start(http, prefix, "echo", iid), 400, "ERR_INSTANCE_ID_TOO_LONG")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_missing_workflow_name(http: httpx.Client, prefix: str) -> None:
    response = http.post(f"/{prefix}/workflows/dapr//start", params={"instanceID": "noname"})
    assert_error(response, 400, "ERR_WORKFLOW_NAME_MISSING")


@pytest.mark.parametrize(
    ("prefix", "op"),
    rotate(["GET ", "POST /terminate", "POST /pause", "POST /resume", "POST /purge"])
    + rotate(["POST /raiseEvent/go"]),
)
def test_empty_instance_id(http: httpx.Client, prefix: str, op: str) -> None:
    method, tail = op.split(" ")
    response = http.request(method, f"/{prefix}/workflows/dapr/{tail}")
    assert_error(response, 400, "ERR_INSTANCE_ID_PROVIDED_MISSING")


@pytest.mark.parametrize(("prefix", "tail"), rotate(["raiseEvent/", "raiseEvent", "raiseEvent/"]))
def test_empty_event_name(http: httpx.Client, prefix: str, tail: str) -> None:
    response = http.post(f"/{prefix}/workflows/dapr/err-running/{tail}", content=b"1")
    assert_error(response, 400, "ERR_WORKFLOW_EVENT_NAME_MISSING")


@pytest.mark.parametrize(("prefix", "op"), rotate(["GET ", "POST /terminate", "POST /purge"]))
def test_unknown_instance(http: httpx.Client, prefix: str, op: str) -> None:
    method, tail = op.split(" ")
    response = http.request(method, f"/{prefix}/workflows/dapr/not-found{tail}")
    assert_error(response, 404, "ERR_INSTANCE_ID_NOT_FOUND")
    if method == "GET":
        assert response.json()["message"].endswith("not-found")


def test_event_for_unknown_instance_is_dropped(http: httpx.Client) -> None:
    assert_accepted(http.post("/v1.0/workflows/dapr/not-found/raiseEvent/go", content=b"1"))


def test_event_for_finished_instance_is_dropped(http: httpx.Client) -> None:
    assert_accepted(http.post("/v1.0/workflows/dapr/err-done/raiseEvent/go", content=b"1"))


@pytest.mark.parametrize(("prefix", "which"), rotate(["running", "paused", "running"]))
def test_purge_of_active_instance(
    http: httpx.Client, fixed: dict[str, str], prefix: str, which: str
) -> None:
    response = http.post(f"/{prefix}/workflows/dapr/{fixed[which]}/purge")
    assert_error(response, 500, "ERR_PURGE_WORKFLOW")


@pytest.mark.parametrize(
    ("prefix", "case"),
    rotate(["running wait_for_go", "paused wait_for_go", "running echo", "paused echo"]),
)
def test_duplicate_active_start(
    http: httpx.Client, fixed: dict[str, str], prefix: str, case: str
) -> None:
    which, name = case.split(" ")
    assert_error(_start(http, prefix, name, fixed[which]), 500, "ERR_START_WORKFLOW")


@pytest.mark.parametrize(
    ("prefix", "body"), rotate([b"{not json", b'{"output": ', b"[1, 2]", b'"text"'])
)
def test_malformed_terminate_body(http: httpx.Client, prefix: str, body: bytes) -> None:
    response = http.post(
        f"/{prefix}/workflows/dapr/err-running/terminate",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert_error(response, 400, "ERR_MALFORMED_REQUEST")
    assert dapr_get(http, "err-running")["runtimeStatus"] == "RUNNING"


def test_unknown_route_and_wrong_method(http: httpx.Client) -> None:
    assert http.get("/v1.0/workflows/dapr/err-running/pause").status_code == 405
    assert http.post("/v1.0/workflows/dapr/err-running").status_code == 405
    assert http.post("/v1.0/workflows/dapr/err-running/explode").status_code == 404
