"""The ``wayline`` command: manage instances on a running server over HTTP.

``wayline serve`` is parsed here and run by ``wayline.server``; every other
command talks to a server's HTTP API (``--url``, default the local one), prints
a table by default and JSON with ``--output json``, and exits non-zero with a
one-line error when something fails.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

DEFAULT_URL = "http://127.0.0.1:3500"
STATUSES = [
    "RUNNING",
    "COMPLETED",
    "FAILED",
    "TERMINATED",
    "PENDING",
    "SUSPENDED",
    "STALLED",
    "CONTINUED_AS_NEW",
    "CANCELED",
]


class CliError(Exception):
    """A failure to report on one line with a non-zero exit code."""


N = TypeVar("N", int, float)


def _env_number(name: str, default: N, kind: Callable[[str], N]) -> N:
    value = os.environ.get(name)
    return kind(value) if value else default


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wayline", description="Durable workflows that speak Dapr Workflow's APIs."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser(
        "serve", help="run the server (Dapr workflow HTTP and gRPC APIs + engine)"
    )
    serve.add_argument(
        "--app",
        action="append",
        default=None,
        metavar="MODULE",
        help="file path or package.module[:attribute] with a WorkflowRuntime "
        "(repeatable; env WAYLINE_APP, comma-separated)",
    )
    serve.add_argument(
        "--store",
        default=os.environ.get("WAYLINE_STORE", "sqlite:///wayline.db"),
        help=(
            "store URL (env WAYLINE_STORE; default sqlite:///wayline.db, fsync-durable; "
            "sqlite:///x.db?synchronous=normal survives a killed process only; "
            "postgresql://...)"
        ),
    )
    serve.add_argument(
        "--host",
        default=os.environ.get("WAYLINE_HOST", "127.0.0.1"),
        help="HTTP bind address (env WAYLINE_HOST; default 127.0.0.1)",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=_env_number("WAYLINE_PORT", 3500, int),
        help="HTTP port (env WAYLINE_PORT; default 3500, Dapr's)",
    )
    serve.add_argument(
        "--grpc-port",
        type=int,
        default=_env_number("WAYLINE_GRPC_PORT", 50001, int),
        help="gRPC port for the Dapr SDKs, on the --host address (env WAYLINE_GRPC_PORT; "
        "default 50001, Dapr's; 0 turns gRPC off)",
    )
    serve.add_argument(
        "--api-token",
        default=os.environ.get("DAPR_API_TOKEN"),
        help="require this dapr-api-token header (env DAPR_API_TOKEN)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=_env_number("WAYLINE_MAX_BODY_BYTES", 4 * 1024 * 1024, int),
        help="largest request body (env WAYLINE_MAX_BODY_BYTES; default 4 MiB)",
    )
    serve.add_argument("--log-level", default=os.environ.get("WAYLINE_LOG_LEVEL", "info"))
    # The web dashboard at /ui/ (docs/dashboard.md).
    serve.add_argument(
        "--ui-read-only",
        action="store_true",
        default=os.environ.get("WAYLINE_UI_READ_ONLY", "").lower() in ("1", "true", "yes"),
        help="serve the dashboard without its actions (env WAYLINE_UI_READ_ONLY)",
    )
    serve.add_argument(
        "--no-ui",
        dest="ui",
        action="store_false",
        default=os.environ.get("WAYLINE_UI", "1").lower() not in ("0", "false", "no"),
        help="do not serve the dashboard (env WAYLINE_UI=0)",
    )
    serve.add_argument(
        "--app-id",
        default=os.environ.get("WAYLINE_APP_ID", "wayline"),
        help="the app this server is the sidecar of: servers of several apps on one store "
        "run each other's activities and child workflows called with app_id "
        "(env WAYLINE_APP_ID; default wayline)",
    )
    # Engine tuning, mostly for several nodes on PostgreSQL (docs/deployment.md).
    serve.add_argument(
        "--node-id",
        default=os.environ.get("WAYLINE_NODE_ID"),
        help="this node's name in leases and logs (env WAYLINE_NODE_ID; default host-pid-random)",
    )
    serve.add_argument(
        "--turn-lease",
        type=_positive_seconds,
        default=_env_number("WAYLINE_TURN_LEASE", 30.0, float),
        metavar="SECONDS",
        help="how long a dead node's workflow turns wait before another node takes them "
        "(env WAYLINE_TURN_LEASE; default 30)",
    )
    serve.add_argument(
        "--activity-lease",
        type=_positive_seconds,
        default=_env_number("WAYLINE_ACTIVITY_LEASE", 60.0, float),
        metavar="SECONDS",
        help="how long a dead node's activities wait before another node takes them "
        "(env WAYLINE_ACTIVITY_LEASE; default 60)",
    )
    for status in ("any-terminal", "completed", "failed", "terminated"):
        env = f"WAYLINE_RETENTION_{status.upper().replace('-', '_')}"
        serve.add_argument(
            f"--retention-{status}",
            default=os.environ.get(env),
            metavar="DURATION",
            help=f"delete instances that finish {status.replace('-', ' ')} this long after "
            f"(e.g. 24h, 7d, 1h30m; env {env}; default: keep)"
            + ("; a status's own setting beats it" if status == "any-terminal" else ""),
        )
    serve.add_argument(
        "--poll-interval",
        type=_positive_seconds,
        default=_env_number("WAYLINE_POLL_INTERVAL", 0.25, float),
        metavar="SECONDS",
        help=(
            "how often to check whether another process wrote to the store "
            "(env WAYLINE_POLL_INTERVAL; default 0.25)"
        ),
    )

    def client_command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument(
            "--url",
            default=os.environ.get("WAYLINE_URL", DEFAULT_URL),
            help=f"server URL (env WAYLINE_URL; default {DEFAULT_URL})",
        )
        cmd.add_argument(
            "--api-token",
            default=os.environ.get("DAPR_API_TOKEN"),
            help="dapr-api-token to send (env DAPR_API_TOKEN)",
        )
        cmd.add_argument("--output", "-o", choices=["table", "json"], default="table")
        return cmd

    def filters(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "--status",
            action="append",
            choices=STATUSES,
            type=str.upper,
            help="filter by status (repeatable)",
        )
        cmd.add_argument("--name", help="filter by workflow name")
        cmd.add_argument("--created-from", help="created at or after (RFC 3339)")
        cmd.add_argument("--created-to", help="created before (RFC 3339)")

    start = client_command("start", "start a workflow")
    start.add_argument("workflow", help="workflow name")
    start.add_argument("--input", help="input as JSON text")
    start.add_argument("--instance-id", help="instance id (default: a new UUID)")

    for name, text in (("get", "show an instance"), ("history", "show an instance's history")):
        client_command(name, text).add_argument("instance_id")

    lst = client_command("list", "list instances, newest first")
    filters(lst)
    lst.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    lst.add_argument("--all", action="store_true", help="every match, page after page")

    rerun = client_command(
        "rerun", "run a finished instance again, as a new one, from one of its activities"
    )
    rerun.add_argument("instance_id", help="the finished instance to rerun")
    rerun.add_argument(
        "--event",
        type=int,
        required=True,
        help="the event id of the activity (TaskScheduled) or child workflow to rerun from "
        "(see `wayline history`)",
    )
    rerun.add_argument("--new-id", help="the new instance's id (default: a new UUID)")
    rerun.add_argument("--input", help="the activity's new input as JSON text")
    rerun.add_argument("--new-child-id", help="the rerun child workflow's instance id")

    raise_event = client_command("raise-event", "send an external event to an instance")
    raise_event.add_argument("instance_id")
    raise_event.add_argument("event_name")
    raise_event.add_argument("--data", help="event data as JSON text")

    for name, text in (
        ("pause", "suspend instances"),
        ("resume", "resume suspended instances"),
        ("terminate", "terminate instances (and their children)"),
        ("purge", "delete finished instances and their history"),
    ):
        cmd = client_command(name, f"{text}: one by id, or every match of the filters")
        cmd.add_argument("instance_id", nargs="?")
        filters(cmd)
        if name == "terminate":
            cmd.add_argument(
                "--output-value", dest="output_value", help="terminate output as JSON text"
            )
        if name == "purge":
            cmd.add_argument(
                "--force",
                action="store_true",
                help="also delete instances that have not finished (their work is dropped)",
            )
    return parser


class Api:
    """A thin HTTP client for the server's Dapr and Wayline routes."""

    def __init__(self, url: str, api_token: str | None) -> None:
        headers = {"dapr-api-token": api_token} if api_token else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60.0)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach the server at {self._http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            try:
                body = response.json()
                message = f"{body.get('errorCode', 'ERROR')}: {body.get('message', '')}"
            except ValueError:
                message = response.text.strip() or response.reason_phrase
            raise CliError(f"{message} (HTTP {response.status_code})")
        if not response.content:
            return {}
        return response.json()


def _json_text(value: str | None, what: str) -> str:
    if value is None:
        return ""
    try:
        json.loads(value)
    except ValueError as exc:
        raise CliError(f"{what} must be JSON text (quote strings: '\"text\"'): {exc}") from exc
    return value


def _filter_params(args: argparse.Namespace) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if args.status:
        params["status"] = args.status
    if args.name:
        params["name"] = args.name
    if args.created_from:
        params["createdFrom"] = args.created_from
    if args.created_to:
        params["createdTo"] = args.created_to
    return params


def _table(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    cells = [[str(row.get(key, "") or "") for key, _ in columns] for row in rows]
    widths = [
        max([len(title)] + [len(c[i]) for c in cells]) for i, (_, title) in enumerate(columns)
    ]
    lines = ["  ".join(title.ljust(w) for (_, title), w in zip(columns, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    return "\n".join(line.rstrip() for line in lines)


_INSTANCE_COLUMNS = (
    ("instanceID", "INSTANCE ID"),
    ("workflowName", "WORKFLOW"),
    ("runtimeStatus", "STATUS"),
    ("createdAt", "CREATED"),
    ("lastUpdatedAt", "UPDATED"),
)


def _emit(args: argparse.Namespace, data: Any, render: Callable[[Any], str]) -> None:
    print(json.dumps(data, indent=2) if args.output == "json" else render(data))


def _render_instance(body: dict[str, Any]) -> str:
    lines = [f"{key:16} {body[key]}" for key in body if key != "failure"]
    failure = body.get("failure")
    if failure:
        lines.append(f"{'failure':16} {failure.get('errorType')}: {failure.get('message')}")
    return "\n".join(lines)


def _instances(api: Api, params: dict[str, Any], *, page_size: int) -> Iterator[dict[str, Any]]:
    """Every instance matching ``params``, fetched page by page as the caller reads on."""
    page_params: dict[str, Any] = {**params, "pageSize": page_size}
    while True:
        page = api.call("GET", "/wayline/v1/instances", params=page_params)
        yield from page["instances"]
        token = page.get("continuationToken")
        if not token:
            return
        page_params["continuationToken"] = token


def _segment(text: str) -> str:
    """``text`` as one URL path segment: an id or name that holds ``/``, ``?``, ``#``
    or dots reaches the server as itself (and is found, or not found), never as
    another path."""
    return quote(text, safe="").replace(".", "%2E")


def _operation_path(args: argparse.Namespace, verb: str, instance_id: str) -> str:
    if verb == "purge" and args.force:  # Dapr's route has no force: Wayline's has
        return f"/wayline/v1/instances/{_segment(instance_id)}/purge?force=true"
    return f"/v1.0/workflows/dapr/{_segment(instance_id)}/{verb}"


def _one_or_bulk(api: Api, args: argparse.Namespace, verb: str) -> None:
    params = _filter_params(args)
    if args.instance_id:
        if params:
            raise CliError("give an instance id or filters, not both")
        body: dict[str, Any] = {}
        if verb == "terminate" and args.output_value is not None:
            body = {"output": _json_text(args.output_value, "--output-value")}
        api.call("POST", _operation_path(args, verb, args.instance_id), json=body if body else None)
        _emit(
            args,
            {"instanceID": args.instance_id, "operation": verb},
            lambda d: f"{verb}: {d['instanceID']}",
        )
        return
    if not params:
        raise CliError(f"give an instance id, or filters (--status, --name, ...) to {verb} many")
    # One call per instance rather than the server's bulk route, so progress can be shown.
    ids = [item["instanceID"] for item in _instances(api, params, page_size=500)]
    show_progress = args.output != "json" and sys.stderr.isatty()
    result: dict[str, Any] = {"operation": verb, "affected": 0, "failed": []}
    for done, instance_id in enumerate(ids, 1):
        try:
            api.call("POST", _operation_path(args, verb, instance_id))
            result["affected"] += 1
        except CliError as exc:
            if "ERR_INSTANCE_ID_NOT_FOUND" not in str(exc):  # purged with its parent
                result["failed"].append({"instanceID": instance_id, "message": str(exc)})
        if show_progress:
            print(f"\r{verb}: {done}/{len(ids)}", end="", file=sys.stderr, flush=True)
    if show_progress:
        print(file=sys.stderr)
    _emit(
        args,
        result,
        lambda d: (
            f"{verb}: {d['affected']} affected, {len(d['failed'])} refused"
            + "".join(f"\n  {f['instanceID']}: {f['message']}" for f in d["failed"])
        ),
    )


def run(args: argparse.Namespace) -> int:
    """Run a client command; returns the exit code."""
    api = Api(args.url, args.api_token)
    command = args.command
    if command == "start":
        params = {"instanceID": args.instance_id} if args.instance_id else {}
        body = _json_text(args.input, "--input")
        result = api.call(
            "POST",
            f"/v1.0/workflows/dapr/{_segment(args.workflow)}/start",
            params=params,
            content=body.encode(),
        )
        _emit(args, result, lambda d: d["instanceID"])
    elif command == "get":
        result = api.call("GET", f"/wayline/v1/instances/{_segment(args.instance_id)}")
        _emit(args, result, _render_instance)
    elif command == "history":
        path = f"/wayline/v1/instances/{_segment(args.instance_id)}/history"
        result = api.call("GET", path)
        columns = (
            ("event_id", "ID"),
            ("timestamp", "TIMESTAMP"),
            ("kind", "KIND"),
            ("name", "NAME"),
            ("detail", "PAYLOAD"),
        )
        for event in result["events"]:
            event["detail"] = next((event[k] for k in ("input", "result") if event.get(k)), "")
        _emit(args, result, lambda d: _table(d["events"], columns))
    elif command == "list":
        matches = _instances(api, _filter_params(args), page_size=min(max(args.limit, 1), 1000))
        instances = list(matches if args.all else itertools.islice(matches, args.limit))
        _emit(args, {"instances": instances}, lambda d: _table(d["instances"], _INSTANCE_COLUMNS))
    elif command == "rerun":
        request: dict[str, Any] = {"eventID": args.event}
        if args.new_id:
            request["newInstanceID"] = args.new_id
        if args.new_child_id:
            request["newChildWorkflowInstanceID"] = args.new_child_id
        if args.input is not None:
            request["input"] = json.loads(_json_text(args.input, "--input"))
        path = f"/wayline/v1/instances/{_segment(args.instance_id)}/rerun"
        result = api.call("POST", path, json=request)
        _emit(args, result, lambda d: d["newInstanceID"])
    elif command == "raise-event":
        body = _json_text(args.data, "--data")
        api.call(
            "POST",
            f"/v1.0/workflows/dapr/{_segment(args.instance_id)}/raiseEvent/"
            f"{_segment(args.event_name)}",
            content=body.encode(),
        )
        _emit(
            args,
            {"instanceID": args.instance_id, "event": args.event_name},
            lambda d: f"raised {d['event']} on {d['instanceID']}",
        )
    else:
        _one_or_bulk(api, args, command)
    return 0


def main_client(args: argparse.Namespace) -> int:
    try:
        return run(args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
