"""Runs in the dapr-ext-workflow==1.18.3 venv: the real ``DaprWorkflowClient`` against
``wayline serve`` (``DAPR_GRPC_ENDPOINT``, ``DAPR_API_TOKEN``), driven step by step.

One process serves a whole test module (an SDK process costs about a second to
start): it prints ``{"ready": true}``, then reads one JSON command per line on stdin,
``{"op": "...", ...arguments}``, and answers each with one JSON line on stdout:
``{"result": ...}`` or ``{"error": {"type", "code", "message"}}`` (``code`` is the gRPC
status name of an ``RpcError``). It exits at end of input.

Ops: schedule(name, input?, instance_id?) -> id; state(instance_id, fetch_payloads?);
wait_start / wait(instance_id, timeout); raise_event(instance_id, event, data?);
pause / resume / purge(instance_id); terminate(instance_id, output?, recursive?).
States are ``{"instance_id", "name", "runtime_status", "created_at", "last_updated_at",
"serialized_input", "serialized_output", "serialized_custom_status", "failure"}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import grpc
from dapr.ext.workflow import DaprWorkflowClient
from sdk_states import state_json

client = DaprWorkflowClient()


def run(op: str, args: dict[str, Any]) -> Any:
    iid = args.get("instance_id")
    if op == "schedule":
        return client.schedule_new_workflow(args["name"], input=args.get("input"), instance_id=iid)
    if op == "state":
        return state_json(
            client.get_workflow_state(iid, fetch_payloads=args.get("fetch_payloads", True))
        )
    if op == "wait_start":
        return state_json(client.wait_for_workflow_start(iid, timeout_in_seconds=args["timeout"]))
    if op == "wait":
        return state_json(
            client.wait_for_workflow_completion(iid, timeout_in_seconds=args["timeout"])
        )
    if op == "raise_event":
        return client.raise_workflow_event(iid, args["event"], data=args.get("data"))
    if op == "pause":
        return client.pause_workflow(iid)
    if op == "resume":
        return client.resume_workflow(iid)
    if op == "terminate":
        return client.terminate_workflow(
            iid, output=args.get("output"), recursive=args.get("recursive", True)
        )
    if op == "purge":
        return client.purge_workflow(iid, recursive=args.get("recursive", True))
    raise ValueError(f"unknown op {op!r}")


def main() -> None:
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        op = command.pop("op")
        try:
            answer: dict[str, Any] = {"result": run(op, command)}
        except Exception as exc:
            code = exc.code().name if isinstance(exc, grpc.RpcError) else None  # type: ignore[attr-defined]
            answer = {"error": {"type": type(exc).__name__, "code": code, "message": str(exc)}}
        print(json.dumps(answer), flush=True)
    client.close()


if __name__ == "__main__":
    main()
