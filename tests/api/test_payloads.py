"""Payloads keep their type and encoding, or are refused (issue 11, items 3 and 5).

Bodies are passed through as Dapr passes them (valid UTF-8 text that is not JSON
reaches the workflow as a string), but what cannot survive a round trip through
a JSON parser is a 400 that changes nothing: bytes that are not UTF-8, integers
Python will not convert (over 4300 digits), NaN and Infinity (and ``1e999``),
unpaired surrogates, nesting too deep to parse. On the way out, a workflow or an
activity returning NaN or Infinity fails with a SerializationError instead of
writing JSON that JavaScript and Go reject.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.http_api import settled_snapshot, wait_custom_status, wait_status

from .test_dapr_api import PREFIXES, assert_error

DEEP = b"[" * 200_000
# Bodies that must never be stored: (what, bytes).
UNROUNDTRIPPABLE = [
    ("an integer of 5000 digits", b"1" * 5000),
    ("a big integer inside", b'{"n": ' + b"7" * 4301 + b"}"),
    ("NaN", b"NaN"),
    ("Infinity", b'{"x": [1, -Infinity]}'),
    ("1e999", b"1e999"),
    ("not UTF-8", b'"caf\xe9"'),
    ("not UTF-8, not JSON", b"\xff\xfe\x00"),
    ("an unpaired surrogate", b'{"s": "\\ud800"}'),
    ("deep nesting", DEEP),
]


@pytest.fixture(scope="module")
def fixed(http: httpx.Client) -> dict[str, str]:
    http.post("/v1.0/workflows/dapr/wait_for_go/start?instanceID=pl-waiting", content=b"1")
    http.post("/v1.0/workflows/dapr/echo/start?instanceID=pl-done", content=b"2")
    wait_custom_status(http, "pl-waiting", "waiting")
    wait_status(http, "pl-done", "COMPLETED")
    return {"waiting": "pl-waiting", "done": "pl-done"}


@pytest.fixture
def unchanged(http: httpx.Client, fixed: dict[str, str]) -> Iterator[None]:
    """The test's requests leave every instance and history as they were."""
    before = settled_snapshot(http)
    yield
    assert settled_snapshot(http) == before


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("prefix", "case"), list(zip(itertools.cycle(PREFIXES), UNROUNDTRIPPABLE, strict=False))
)
def test_a_start_body_that_would_change_is_refused(
    http: httpx.Client, prefix: str, case: tuple[str, bytes]
) -> None:
    _, body = case
    response = http.post(f"/{prefix}/workflows/dapr/describe/start?instanceID=pl-new", content=body)
    assert_error(response, 400, "ERR_MALFORMED_REQUEST")
    assert http.get("/v1.0/workflows/dapr/pl-new").status_code == 404


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(("what", "body"), UNROUNDTRIPPABLE)
def test_event_data_that_would_change_is_refused(
    http: httpx.Client, what: str, body: bytes
) -> None:
    response = http.post("/v1.0/workflows/dapr/pl-waiting/raiseEvent/go", content=body)
    assert_error(response, 400, "ERR_MALFORMED_REQUEST")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    "body",
    [
        b'{"output": NaN}',
        b'{"output": 1e999}',
        b'{"output": ' + b"1" * 5000 + b"}",
        b'{"output": "NaN"}',  # a string output is passed through raw, so checked as such
        b'{"output": "\\udc00"}',
        b'{"output": "x"}\xff',
        DEEP,
        b'{"output": ' + DEEP + b"}",
    ],
)
def test_a_terminate_body_that_would_change_is_refused(http: httpx.Client, body: bytes) -> None:
    response = http.post("/v1.0/workflows/dapr/pl-waiting/terminate", content=body)
    assert_error(response, 400, "ERR_MALFORMED_REQUEST")


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/v1.0/workflows/dapr/{}/pause", "waiting"),
        ("/v1.0-beta1/workflows/dapr/{}/resume", "waiting"),
        ("/v1.0-alpha1/workflows/dapr/{}/purge", "done"),
        ("/v1.0/workflows/dapr/{}/terminate", "waiting"),
        ("/wayline/v1/instances/bulk/terminate", ""),
        ("/wayline/v1/instances/bulk/purge", ""),
        ("/wayline/v1/instances/{}/rerun", "done"),
    ],
)
@pytest.mark.parametrize(
    "body", [DEEP, b'{"a":' * 100_000, b'{"status": ["RUNNING"]}\xff', b'{"status": NaN}']
)
def test_malformed_json_bodies_are_400_everywhere(
    http: httpx.Client, fixed: dict[str, str], path: str, target: str, body: bytes
) -> None:
    """Item 5: 200 KB of '[' (RecursionError in the parser) was a 500."""
    response = http.post(path.format(fixed.get(target, "")), content=body)
    assert_error(response, 400, "ERR_MALFORMED_REQUEST")


def test_the_rejection_says_what_is_wrong(http: httpx.Client) -> None:
    def message(body: bytes) -> str:
        response = http.post("/v1.0/workflows/dapr/describe/start", content=body)
        assert response.status_code == 400
        return str(response.json()["message"])

    assert "4300 digits" in message(b"1" * 5000)
    assert "NaN" in message(b"[NaN]")
    assert "1e999" in message(b"1e999")
    assert "not UTF-8" in message(b"\xff")
    assert "0xe9" in message(b'"caf\xe9"')
    assert "nested too deeply" in message(DEEP)
    assert "surrogate" in message(b'"\\ud800"')


def _run(http: httpx.Client, name: str, iid: str, body: bytes) -> dict[str, Any]:
    response = http.post(f"/v1.0/workflows/dapr/{name}/start?instanceID={iid}", content=body)
    assert response.status_code == 202, response.text
    wait_status(http, iid, "COMPLETED", "FAILED")
    state: dict[str, Any] = http.get(f"/wayline/v1/instances/{iid}").json()
    return state


@pytest.mark.parametrize(
    ("body", "arrives_as"),
    [
        (b"NaN is a word", "str"),  # UTF-8 text that is not JSON: a string, as Dapr does
        ("naïve text 😀".encode(), "str"),
        (b"Infinity and beyond", "str"),
        (b"[1, 2", "str"),
        (b"9" * 4300, "int"),  # as many digits as round-trip
        (b"1.5e308", "float"),
        (b'"\\ud83d\\ude00"', "str"),  # a surrogate pair is one character
        (b"[" * 500 + b"]" * 500, "list"),
    ],
)
def test_what_round_trips_is_accepted_unchanged(
    http: httpx.Client, body: bytes, arrives_as: str
) -> None:
    iid = f"pl-ok-{abs(hash(body)) % 10**8}"
    state = _run(http, "describe", iid, body)
    assert state["runtimeStatus"] == "COMPLETED"
    assert state["input"] == body.decode()  # stored verbatim
    assert json.loads(state["output"])["type"] == arrives_as


@pytest.mark.parametrize("kind", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("where", ["returns", "activity_returns"])
def test_nan_and_infinity_outputs_fail_clearly(http: httpx.Client, where: str, kind: str) -> None:
    state = _run(http, where, f"pl-{where}-{kind}", json.dumps(kind).encode())
    assert state["runtimeStatus"] == "FAILED"
    assert "output" not in state
    failure = state["failure"]
    assert "Out of range float values are not JSON compliant" in failure["message"]
    if where == "returns":
        assert failure["errorType"] == "SerializationError"
    else:  # the activity failed with it, and so did the workflow that awaited it
        assert failure["message"].startswith("activity task #1 failed: cannot serialize")
        assert "wayline.errors.SerializationError" in failure["stackTrace"]
    history = http.get(f"/wayline/v1/instances/{state['instanceID']}/history").json()["events"]
    assert "NaN" not in json.dumps(history) and "Infinity" not in json.dumps(history)
