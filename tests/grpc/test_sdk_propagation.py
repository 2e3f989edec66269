"""History propagation through a real dapr-ext-workflow 1.18.3 worker: a child workflow
and activities receive their callers' history as their scope says."""

from __future__ import annotations

from pathlib import Path

from grpc_support import GrpcServer


def test_children_and_activities_receive_the_history_their_call_propagates(
    server: GrpcServer, dapr_ext_python: Path
) -> None:
    seen = server.run_sdk(dapr_ext_python, "propagation_app.py")
    child = seen["child"]
    # OWN_HISTORY: the order's history up to the call, which includes validate's result
    assert child["received"] == {
        "scope": "OWN_HISTORY",
        "app_ids": ["wayline"],
        "workflows": [["order", "prop-order"]],
    }
    # LINEAGE from the child: what the child received, then the child's own chunk
    assert child["audit"] == {
        "scope": "LINEAGE",
        "app_ids": ["wayline"],
        "workflows": [["order", "prop-order"], ["payment", "prop-order-pay"]],
        "validate": [True, '{"merchant": "m-42", "valid": true}'],
    }
    assert seen["plain"] is None  # no scope, nothing propagated
