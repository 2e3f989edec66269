"""The API token (``--api-token`` / ``DAPR_API_TOKEN``) and the request body limit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from support.http_api import settled_snapshot, wait_custom_status, wait_status
from support.server import Server

TOKEN = "s3cret-token"
OPEN_PATHS = [
    "/v1.0/healthz",
    "/v1.0/healthz/outbound",
    "/wayline/v1/healthz",
    "/wayline/v1/readyz",
]
GUARDED = [
    ("POST", "/v1.0/workflows/dapr/wait_for_go/start?instanceID=sneaky"),
    ("POST", "/v1.0-alpha1/workflows/dapr/wait_for_go/start"),
    ("GET", "/v1.0/workflows/dapr/tok-running"),
    ("POST", "/v1.0-beta1/workflows/dapr/tok-running/pause"),
    ("POST", "/v1.0/workflows/dapr/tok-running/terminate"),
    ("POST", "/v1.0/workflows/dapr/tok-running/raiseEvent/go"),
    ("POST", "/v1.0/workflows/dapr/tok-done/purge"),
    ("GET", "/wayline/v1/instances"),
    ("GET", "/wayline/v1/instances/count"),
    ("GET", "/wayline/v1/instances/tok-running/history"),
    ("POST", "/wayline/v1/instances/bulk/terminate"),
    ("GET", "/wayline/v1/openapi.json"),
]


@pytest.fixture(scope="module", params=["flag", "env"])
def token_server(
    request: pytest.FixtureRequest, make_server: Callable[..., Server]
) -> Iterator[tuple[Server, httpx.Client]]:
    if request.param == "flag":
        server = make_server(extra_args=["--api-token", TOKEN])
    else:
        server = make_server(env={"DAPR_API_TOKEN": TOKEN})
    with server.client(headers={"dapr-api-token": TOKEN}) as authed:
        assert (
            authed.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=tok-running").status_code
            == 202
        )
        assert authed.post("/v1.0/workflows/dapr/echo/start?instanceID=tok-done").status_code == 202
        wait_custom_status(authed, "tok-running", "waiting")
        wait_status(authed, "tok-done", "COMPLETED")
        yield server, authed
    server.stop()


@pytest.mark.parametrize("headers", [{}, {"dapr-api-token": "wrong"}, {"dapr-api-token": ""}])
def test_requests_without_the_token_get_401_and_change_nothing(
    token_server: tuple[Server, httpx.Client], headers: dict[str, str]
) -> None:
    server, authed = token_server
    before = settled_snapshot(authed)
    with server.client(headers=headers) as anonymous:
        for method, path in GUARDED:
            body = json.dumps({"status": ["RUNNING"]}).encode() if "bulk" in path else b"1"
            response = anonymous.request(method, path, content=body if method == "POST" else None)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["errorCode"] == "ERR_API_TOKEN"
    assert settled_snapshot(authed) == before
    assert before["tok-running"]["runtimeStatus"] == "RUNNING"
    assert "sneaky" not in before


def test_the_token_opens_every_route(token_server: tuple[Server, httpx.Client]) -> None:
    _, authed = token_server
    assert authed.get("/v1.0/workflows/dapr/tok-running").json()["runtimeStatus"] == "RUNNING"
    assert authed.get("/wayline/v1/instances/count").json() == {"count": 2}
    assert authed.get("/wayline/v1/openapi.json").status_code == 200
    assert authed.post("/v1.0/workflows/dapr/tok-running/pause").status_code == 202
    wait_status(authed, "tok-running", "SUSPENDED")
    assert authed.post("/v1.0/workflows/dapr/tok-running/resume").status_code == 202
    assert (
        authed.post("/v1.0/workflows/dapr/tok-running/raiseEvent/go", content=b"7").status_code
        == 202
    )
    wait_status(authed, "tok-running", "COMPLETED")


@pytest.mark.parametrize("path", OPEN_PATHS)
def test_health_stays_open(token_server: tuple[Server, httpx.Client], path: str) -> None:
    server, _ = token_server
    with server.client() as anonymous:
        assert anonymous.get(path).status_code in (200, 204)


# ----- body limit ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_server(make_server: Callable[..., Server]) -> Iterator[httpx.Client]:
    server = make_server(extra_args=["--max-body-bytes", "1024"])
    with server.client() as http:
        yield http


def _payload(size: int) -> bytes:
    body = json.dumps({"pad": "x" * size})
    body = json.dumps({"pad": "x" * (size - (len(body) - size))})
    assert len(body) == size
    return body.encode()


def test_body_at_the_limit_is_accepted(small_server: httpx.Client) -> None:
    http = small_server
    response = http.post("/v1.0/workflows/dapr/echo/start?instanceID=fits", content=_payload(1024))
    assert response.status_code == 202
    wait_status(http, "fits", "COMPLETED")


@pytest.mark.parametrize("size", [1025, 64 * 1024])
@pytest.mark.parametrize("chunked", [False, True])
def test_bigger_start_body_gets_413_and_creates_nothing(
    small_server: httpx.Client, size: int, chunked: bool
) -> None:
    http = small_server
    before = settled_snapshot(http)
    payload = _payload(size)
    content: bytes | Iterator[bytes] = (
        iter([payload[i : i + 256] for i in range(0, size, 256)]) if chunked else payload
    )
    response = http.post(
        "/v1.0/workflows/dapr/echo/start", params={"instanceID": "too-big"}, content=content
    )
    assert response.status_code == 413
    assert response.json()["errorCode"] == "ERR_REQUEST_TOO_LARGE"
    assert "1024" in response.json()["message"]
    assert http.get("/v1.0/workflows/dapr/too-big").status_code == 404
    assert settled_snapshot(http) == before


def test_bigger_event_gets_413_and_is_not_delivered(small_server: httpx.Client) -> None:
    http = small_server
    http.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=waits-small")
    wait_custom_status(http, "waits-small", "waiting")
    before = settled_snapshot(http)
    response = http.post("/v1.0/workflows/dapr/waits-small/raiseEvent/go", content=_payload(2048))
    assert response.status_code == 413
    assert settled_snapshot(http) == before
    assert (
        http.post("/v1.0/workflows/dapr/waits-small/raiseEvent/go", content=b"1").status_code == 202
    )
    wait_status(http, "waits-small", "COMPLETED")


@pytest.mark.parametrize("configured", ["default", "env"])
def test_the_body_limit_is_4_mib_unless_configured(
    make_server: Callable[..., Server], configured: str
) -> None:
    """One constant sets the default (4 MiB) for the HTTP body and the payloads behind it;
    WAYLINE_MAX_BODY_BYTES replaces it, as --max-body-bytes does."""
    limit = 4 * 1024 * 1024 if configured == "default" else 2048
    env = {"WAYLINE_MAX_BODY_BYTES": "2048"} if configured == "env" else {}
    server = make_server(env=env)
    with server.client() as http:
        response = http.post(
            "/v1.0/workflows/dapr/echo/start?instanceID=over", content=_payload(limit + 1)
        )
        assert response.status_code == 413
        assert str(limit) in response.json()["message"]
        assert http.get("/v1.0/workflows/dapr/over").status_code == 404
        fits = http.post("/v1.0/workflows/dapr/echo/start?instanceID=fits", content=_payload(limit))
        assert fits.status_code == 202, fits.text
        wait_status(http, "fits", "COMPLETED")
    server.stop()


# ----- tokens and header bytes beyond ASCII (issue 11, item 4) ------------------------------

UNICODE_TOKEN = "tökén-ß-✓"


@pytest.fixture(scope="module", params=["flag", "env"])
def unicode_token_server(
    request: pytest.FixtureRequest, make_server: Callable[..., Server]
) -> Iterator[Server]:
    if request.param == "flag":
        server = make_server(extra_args=["--api-token", UNICODE_TOKEN])
    else:
        server = make_server(env={"DAPR_API_TOKEN": UNICODE_TOKEN})
    yield server
    server.stop()


def test_a_token_beyond_ascii_works_compared_as_utf8_bytes(unicode_token_server: Server) -> None:
    """A non-ASCII --api-token made every request a 500 (str compare_digest raised)."""
    with unicode_token_server.client() as http:  # one keep-alive connection throughout
        token = {"dapr-api-token": UNICODE_TOKEN.encode()}
        for headers in ({}, {"dapr-api-token": b"wrong"}, {"dapr-api-token": b"t\xf6k\xe9n"}):
            response = http.get("/wayline/v1/instances/count", headers=headers)
            assert response.status_code == 401, response.text
            assert response.json()["errorCode"] == "ERR_API_TOKEN"
        response = http.get("/wayline/v1/instances/count", headers=token)
        assert response.status_code == 200, response.text
        started = http.post(
            "/v1.0/workflows/dapr/echo/start?instanceID=uni", headers=token, content=b"1"
        )
        assert started.status_code == 202
        assert http.get("/v1.0/workflows/dapr/uni", headers={}).status_code == 401


@pytest.mark.parametrize(
    "value", [b"\xff", b"s3cret-token\xff", b"\xc3\xa9", "s3cret-tökén".encode(), b"\x80" * 64]
)
def test_header_bytes_beyond_ascii_are_401_not_500(
    token_server: tuple[Server, httpx.Client], value: bytes
) -> None:
    server, authed = token_server
    before = settled_snapshot(authed)
    with server.client(headers={"dapr-api-token": value}) as http:
        for method, path in GUARDED:
            response = http.request(method, path, content=b"1" if method == "POST" else None)
            assert response.status_code == 401, (path, response.text)
            assert response.json()["errorCode"] == "ERR_API_TOKEN"
    assert settled_snapshot(authed) == before
