"""Graceful shutdown: SIGTERM while workflows wait, then a restart on the same database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from support.http_api import dapr_get, wait_custom_status, wait_status
from support.server import Server


def test_sigterm_then_restart_continues_waiting_workflows(
    make_server: Callable[..., Server],
) -> None:
    server = make_server()
    with server.client() as http:
        order = {"item_name": "Paperclips", "total_cost": 6000, "quantity": 2}
        started = http.post(
            "/v1.0/workflows/dapr/order_processing_workflow/start?instanceID=order-1",
            content=json.dumps(order),
        )
        assert started.status_code == 202
        assert (
            http.post(
                "/v1.0/workflows/dapr/wait_for_go/start?instanceID=waiter-1", content=b'"w"'
            ).status_code
            == 202
        )
        wait_custom_status(http, "order-1", "waiting-for-approval")
        wait_custom_status(http, "waiter-1", "waiting")
        before = {iid: dapr_get(http, iid) for iid in ("order-1", "waiter-1")}

    began = time.monotonic()
    assert server.stop(timeout=15) == 0, server.output()
    assert time.monotonic() - began < 5, "shutdown was not prompt"
    assert "Traceback" not in server.output()

    server.start()  # same database file, new port
    with server.client() as http:
        for iid, state in before.items():
            after = dapr_get(http, iid)
            assert after["runtimeStatus"] == "RUNNING"
            assert after["createdAt"] == state["createdAt"]
            assert after["properties"] == state["properties"]
        assert (
            http.post(
                "/v1.0/workflows/dapr/order-1/raiseEvent/approval_event",
                content=b'{"approved": true}',
            ).status_code
            == 202
        )
        assert (
            http.post("/v1.0/workflows/dapr/waiter-1/raiseEvent/go", content=b"42").status_code
            == 202
        )
        order_done = wait_status(http, "order-1", "COMPLETED", "FAILED")
        assert order_done["runtimeStatus"] == "COMPLETED", order_done
        assert json.loads(order_done["properties"]["dapr.workflow.output"]) == {"processed": True}
        waiter_done = wait_status(http, "waiter-1", "COMPLETED")
        assert json.loads(waiter_done["properties"]["dapr.workflow.output"]) == {
            "input": "w",
            "got": 42,
        }
    assert server.stop(timeout=15) == 0
