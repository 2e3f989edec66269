"""Versioning through a real dapr-ext-workflow 1.18.3 worker whose code changes between
runs: a missing version and a dropped patch stall the instance (STALLED), and the
fixed code finishes it, as under Dapr 1.17+."""

from __future__ import annotations

import json
from pathlib import Path

from grpc_support import GrpcServer


def test_changed_code_stalls_instances_until_code_that_matches_connects(
    server: GrpcServer, dapr_ext_python: Path
) -> None:
    started = server.run_sdk(dapr_ext_python, "versioning_app.py", "ver", "start")
    assert {s["runtime_status"] for s in started.values()} == {"RUNNING"}

    changed = server.run_sdk(dapr_ext_python, "versioning_app.py", "ver", "changed")
    shipping, patched = changed["ver-shipping"], changed["ver-patched"]
    assert shipping["runtime_status"] == "STALLED"
    assert shipping["failure"]["error_type"] == "VERSION_NOT_AVAILABLE"
    assert patched["runtime_status"] == "STALLED"
    assert patched["failure"]["message"] == (
        "Patch mismatch. History patches: [p1], current patches: []"
    )
    history = server.instance("ver-shipping/history").json()["events"]
    assert [e["kind"] for e in history].count("ExecutionStalled") == 1

    fixed = server.run_sdk(dapr_ext_python, "versioning_app.py", "ver", "fixed")
    outputs = {iid: json.loads(s["serialized_output"]) for iid, s in fixed.items()}
    assert outputs == {"ver-shipping": "v1", "ver-patched": "patched=True"}
