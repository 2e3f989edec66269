"""Polling and snapshots over a server's HTTP API (the Dapr routes and Wayline's)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from support.wait import wait_until


def dapr_get(http: httpx.Client, iid: str, prefix: str = "v1.0") -> dict[str, Any]:
    response = http.get(f"/{prefix}/workflows/dapr/{iid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_status(
    http: httpx.Client, iid: str, *statuses: str, timeout: float = 10.0, prefix: str = "v1.0"
) -> dict[str, Any]:
    """Poll the Dapr GET until the instance reaches one of ``statuses``; returns it."""
    last: dict[str, Any] = {}

    def reached() -> bool:
        nonlocal last
        last = dapr_get(http, iid, prefix)
        return last["runtimeStatus"] in statuses

    try:
        wait_until(reached, timeout, f"{iid} to be {statuses}")
    except AssertionError as exc:
        raise AssertionError(f"{iid} stuck at {last}") from exc
    return last


def wait_custom_status(
    http: httpx.Client, iid: str, value: str, timeout: float = 10.0
) -> dict[str, Any]:
    """Poll until the instance exists (a child may not yet) and shows this custom
    status; returns it."""

    def reached() -> dict[str, Any] | None:
        response = http.get(f"/v1.0/workflows/dapr/{iid}")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        shown = body.get("properties", {}).get("dapr.workflow.custom_status")
        return body if shown == value else None

    return wait_until(reached, timeout, f"{iid} custom status {value}")


def all_instances(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every instance from ``/wayline/v1/instances``, following continuation tokens."""
    found: list[dict[str, Any]] = []
    query = {"pageSize": 1000, **params}
    while True:
        response = http.get("/wayline/v1/instances", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["instances"]
        if "continuationToken" not in page:
            return found
        query["continuationToken"] = page["continuationToken"]


def snapshot(http: httpx.Client) -> dict[str, dict[str, Any]]:
    """Every instance with its history length: compare before and after a request."""
    state: dict[str, dict[str, Any]] = {}
    for instance in all_instances(http):
        history = http.get(f"/wayline/v1/instances/{instance['instanceID']}/history")
        state[instance["instanceID"]] = {**instance, "events": len(history.json()["events"])}
    return state


def settled_snapshot(http: httpx.Client) -> dict[str, dict[str, Any]]:
    """A snapshot taken once two in a row, 30 ms apart, agree (nothing is mid-turn)."""
    previous = snapshot(http)
    deadline = time.monotonic() + 10
    while True:
        time.sleep(0.03)
        current = snapshot(http)
        if current == previous:
            return current
        if time.monotonic() > deadline:
            raise AssertionError("the server never settled")
        previous = current
