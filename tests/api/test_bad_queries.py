"""Query parameters and filters that parse but do not fit: 400, never 500 (issue 11,
items 6 and 7), on list, count and bulk, and from the CLI.

``createdFrom=9999-12-31T23:59:59-23:59`` is a valid RFC 3339 time that is in year
10000 in UTC; a continuation token may carry an integer beyond 64 bits.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.http_api import settled_snapshot, wait_custom_status, wait_status
from support.server import REPO, Server

from .test_dapr_api import assert_error

OUT_OF_RANGE = [
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:00:00-01:00",
    "0001-01-01T00:00:00+00:01",
    "0001-01-01T00:59:59.999999+01:00",
]
TIME_FILTERS = ["createdFrom", "createdTo", "completedFrom", "completedTo"]


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BAD_TOKENS = [
    _token(b"9" * 30 + b"|x"),  # over 64 bits: was OverflowError, a 500
    _token(b"-9223372036854775809|x"),
    _token(b"9223372036854775808|x"),
    _token(b"9" * 5000 + b"|x"),  # over the 4300-digit conversion limit
    _token(b"1|with\x00nul"),
    _token(b"\xff\xfe|x"),
    _token(b"no separator"),
    "%%%",
]


@pytest.fixture(scope="module")
def fixed(http: httpx.Client) -> None:
    http.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=q-waiting", content=b"1")
    http.post("/v1.0/workflows/dapr/echo/start?instanceID=q-done", content=b"2")
    http.post("/v1.0/workflows/dapr/echo/start?instanceID=q-done-2", content=b"3")
    wait_custom_status(http, "q-waiting", "waiting")
    wait_status(http, "q-done", "COMPLETED")
    wait_status(http, "q-done-2", "COMPLETED")


@pytest.fixture(autouse=True)
def unchanged(http: httpx.Client, fixed: None) -> Iterator[None]:
    before = settled_snapshot(http)
    yield
    assert settled_snapshot(http) == before


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("name", TIME_FILTERS)
def test_times_out_of_range_in_utc_are_400_on_list_and_count(
    http: httpx.Client, name: str, value: str
) -> None:
    response = http.get("/wayline/v1/instances", params={name: value})
    assert_error(response, 400, "ERR_MALFORMED_REQUEST")
    assert name in response.json()["message"] and "out of range" in response.json()["message"]
    if name.startswith("created"):  # count takes the created range only
        assert_error(
            http.get("/wayline/v1/instances/count", params={name: value}),
            400,
            "ERR_MALFORMED_REQUEST",
        )


@pytest.mark.parametrize("operation", ["terminate", "purge", "pause", "resume"])
@pytest.mark.parametrize("name", TIME_FILTERS)
def test_times_out_of_range_in_utc_are_400_on_bulk(
    http: httpx.Client, operation: str, name: str
) -> None:
    body: dict[str, Any] = {"status": ["RUNNING", "COMPLETED"], name: OUT_OF_RANGE[0]}
    response = http.post(f"/wayline/v1/instances/bulk/{operation}", json=body)
    assert_error(response, 400, "ERR_MALFORMED_REQUEST")


def test_the_edges_of_the_range_still_work(http: httpx.Client) -> None:
    everything = http.get("/wayline/v1/instances").json()["instances"]
    for params, expected in (
        ({"createdFrom": "0001-01-01T00:00:00Z"}, len(everything)),
        ({"createdFrom": "0001-01-01T00:00:00-23:59"}, len(everything)),
        ({"createdTo": "9999-12-31T23:59:59.999999Z"}, len(everything)),
        ({"createdTo": "9999-12-31T00:00:00+23:59"}, len(everything)),
        ({"createdFrom": "9999-12-31T23:59:59+23:59"}, 0),
    ):
        response = http.get("/wayline/v1/instances", params=params)
        assert response.status_code == 200, (params, response.text)
        assert len(response.json()["instances"]) == expected, params


@pytest.mark.parametrize("token", BAD_TOKENS)
def test_continuation_tokens_no_page_gave_are_400(http: httpx.Client, token: str) -> None:
    response = http.get("/wayline/v1/instances", params={"continuationToken": token})
    assert_error(response, 400, "ERR_MALFORMED_REQUEST")
    assert "continuation token" in response.json()["message"]


def test_real_tokens_still_page(http: httpx.Client) -> None:
    first = http.get("/wayline/v1/instances", params={"pageSize": 1}).json()
    second = http.get(
        "/wayline/v1/instances",
        params={"pageSize": 1, "continuationToken": first["continuationToken"]},
    ).json()
    assert first["instances"][0]["instanceID"] != second["instances"][0]["instanceID"]


def test_the_cli_reports_an_out_of_range_time(server: Server) -> None:
    """The CLI's list goes through the same route: a clear error, not a 500."""
    command = [sys.executable, "-m", "wayline", "list", "--url", server.url]
    result = subprocess.run(
        [*command, "--created-from", OUT_OF_RANGE[0]],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "out of range" in result.stderr
    assert "500" not in result.stderr and "Traceback" not in result.stderr
