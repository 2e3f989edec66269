"""Every answer is JSON in Dapr's error shape, and an error never drops the connection.

Unmatched routes and wrong methods were Starlette's plain text; an exception no
handler expected (here: a row corrupted behind the server's back) was a plain-text
500 after which uvicorn closed the keep-alive connection.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
from collections.abc import Iterator
from typing import Any

import pytest

from support.http_api import wait_status
from support.server import Server


@pytest.fixture
def conn(server: Server) -> Iterator[http.client.HTTPConnection]:
    """One keep-alive connection: every request of a test reuses it."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    yield connection
    connection.close()


def request(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, Any], http.client.HTTPResponse]:
    conn.request(method, path, body=body)
    response = conn.getresponse()
    payload = response.read()
    assert response.getheader("content-type") == "application/json", payload
    return response.status, json.loads(payload), response


def assert_shape(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"errorCode", "message"} and body["errorCode"] == code
    assert body["message"]


def assert_alive(conn: http.client.HTTPConnection) -> None:
    """The same connection still serves requests (it was not closed by the server)."""
    sock = conn.sock
    status, body, _ = request(conn, "GET", "/wayline/v1/healthz")
    assert (status, body) == (200, {"status": "ok"})
    assert conn.sock is sock and sock is not None


@pytest.mark.parametrize(
    "path",
    [
        "/wayline/v1/nothing",
        "/wayline/v1/instances/x/y/z",
        "/wayline/v2/instances",
        "/nothing",
        "/v1.0",
        "/v1.0/workflows/",
        "/v1.0/nothing",
        "/v2.0/workflows/dapr/x",
        "/v1.0/workflows/dapr/x/unknownOperation",
    ],
)
def test_unmatched_paths_are_json_404(conn: http.client.HTTPConnection, path: str) -> None:
    status, body, _ = request(conn, "GET", path)
    assert status == 404
    assert_shape(body, "ERR_NOT_FOUND")
    assert_alive(conn)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/wayline/v1/instances", {"GET"}),
        ("DELETE", "/wayline/v1/instances/x", {"GET"}),
        ("GET", "/wayline/v1/instances/bulk/terminate", {"POST"}),
        ("PUT", "/v1.0/workflows/dapr/x", {"GET", "POST"}),
        ("POST", "/v1.0/healthz", {"GET"}),
    ],
)
def test_wrong_methods_are_json_405_with_allow(
    conn: http.client.HTTPConnection, method: str, path: str, allowed: set[str]
) -> None:
    status, body, response = request(conn, method, path)
    assert status == 405
    assert_shape(body, "ERR_METHOD_NOT_ALLOWED")
    assert allowed <= set((response.getheader("allow") or "").replace(" ", "").split(","))
    assert_alive(conn)


def test_an_unexpected_exception_is_a_json_500_and_the_connection_survives(
    server: Server, conn: http.client.HTTPConnection
) -> None:
    status, _, _ = request(conn, "POST", "/v1.0/workflows/dapr/echo/start?instanceID=rot", b"1")
    assert status == 202
    with server.client() as http:
        wait_status(http, "rot", "COMPLETED")
    # Corrupt the stored row behind the server's back (another process, as bad disks and
    # hand edits do): reading it raises inside the handler.
    with sqlite3.connect(server.db) as db:
        db.execute("UPDATE instances SET failure = '{not json' WHERE instance_id = 'rot'")
    for path in ("/v1.0/workflows/dapr/rot", "/wayline/v1/instances/rot"):
        status, body, _ = request(conn, "GET", path)
        assert status == 500, body
        assert_shape(body, "ERR_INTERNAL")
        assert "JSONDecodeError" in body["message"]
        assert_alive(conn)
    assert "JSONDecodeError" in server.output()  # logged with its traceback
