"""The real Dapr Python SDKs, in their own pinned venvs, against ``wayline serve``.

(a) ``DaprWorkflowClient`` from dapr-ext-workflow==1.18.3 + dapr==1.18.3 (the
durabletask ``TaskHubSidecarService``); (b) ``DaprClient.*_workflow`` from
dapr==1.17.5 (the ``dapr.proto.runtime.v1.Dapr`` ``*Beta1`` RPCs). Whatever the SDK
sees must agree with Wayline's own HTTP API.
"""

from __future__ import annotations

import json
from pathlib import Path

from grpc_support import GrpcServer
from views import agrees, dapr_state, same_moment, wayline_state


def test_dapr_workflow_client_1_18_3(server: GrpcServer, dapr_ext_python: Path) -> None:
    seen = server.run_sdk(dapr_ext_python, "dapr_ext_workflow_client.py", "ext")

    assert seen["scheduled_id"] == "ext-greet"
    assert seen["started"]["runtime_status"] == "RUNNING"
    assert seen["started"]["serialized_input"] is None  # fetch_payloads=False by default
    assert seen["waiting"]["serialized_input"] == '{"name": "ada"}'  # stored verbatim
    assert seen["waiting"]["serialized_custom_status"] == "waiting-for-approval"
    assert seen["paused"]["runtime_status"] == "SUSPENDED"
    assert seen["paused_after_event"]["runtime_status"] == "SUSPENDED"
    # RUNNING at once (or already COMPLETED: the held event finishes it)
    assert seen["resumed"]["runtime_status"] in {"RUNNING", "COMPLETED"}
    completed = seen["completed"]
    assert completed["runtime_status"] == "COMPLETED"
    assert json.loads(completed["serialized_output"]) == {
        "greeting": "Hello, ada!",
        "approval": {"ok": True},
    }
    assert seen["no_payloads"]["runtime_status"] == "COMPLETED"
    assert seen["no_payloads"]["serialized_input"] is None
    assert seen["no_payloads"]["serialized_output"] is None

    assert seen["duplicate"] == "ALREADY_EXISTS"
    assert seen["wait_timeout"] == "TimeoutError"
    assert 0.9 <= seen["wait_timeout_seconds"] < 10

    assert seen["terminated"]["runtime_status"] == "TERMINATED"
    assert seen["terminated"]["serialized_output"] == '"stopped"'
    assert seen["parent_terminated"]["runtime_status"] == "TERMINATED"
    assert seen["child_terminated"]["runtime_status"] == "TERMINATED"

    failed = seen["failed"]
    assert failed["runtime_status"] == "FAILED"
    assert failed["failure"] is not None
    assert "kaboom" in failed["failure"]["message"]
    assert failed["failure"]["error_type"] == "TaskFailedError"  # as durabletask reports it

    assert seen["purged"] is None
    assert seen["unknown"] is None
    assert seen["purge_unknown"] == "NOT_FOUND"
    assert server.instance("ext-greet").status_code == 404

    for key in ("terminated", "parent_terminated", "child_terminated", "failed"):
        agrees(server, seen[key])


def test_dapr_client_1_17_workflow_methods(server: GrpcServer, dapr_117_python: Path) -> None:
    seen = server.run_sdk(dapr_117_python, "dapr_client_117.py", "legacy")

    assert seen["instance_id"] == "legacy-greet"
    running = seen["running"]
    assert running["workflow_name"] == "greet_wf"
    assert running["runtime_status"] == "Running"
    assert running["properties"]["dapr.workflow.input"] == '{"name": "bob"}'
    assert seen["paused"]["runtime_status"] == "Suspended"
    assert seen["resumed"]["runtime_status"] in {"Running", "Completed"}
    completed = seen["completed"]
    assert completed["runtime_status"] == "Completed"
    assert json.loads(completed["properties"]["dapr.workflow.output"]) == {
        "greeting": "Hello, bob!",
        "approval": {"ok": 1},
    }
    assert completed["properties"]["dapr.workflow.custom_status"] == "waiting-for-approval"
    assert "ERR_PURGE_WORKFLOW" in seen["purge_running"]
    assert seen["terminated"]["runtime_status"] == "Terminated"
    assert seen["after_purge"] == "no such instance exists"

    http = wayline_state(server, "legacy-wait")
    assert http["runtimeStatus"] == "TERMINATED"
    assert http["workflowName"] == seen["terminated"]["workflow_name"] == "wait_wf"
    assert same_moment(seen["terminated"]["created_at"], http["createdAt"])
    # The Dapr HTTP API shows the same document as the gRPC GetWorkflowBeta1.
    dapr_http = dapr_state(server, "legacy-wait")
    assert dapr_http["runtimeStatus"] == "TERMINATED"
    assert dapr_http.get("properties", {}) == seen["terminated"]["properties"]
