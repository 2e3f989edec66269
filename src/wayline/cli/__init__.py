"""The ``wayline`` command: manage instances on a running server over HTTP.

Every command is parsed here (``options``); ``wayline serve`` is run by
``wayline.server``, every other command talks to a server's HTTP API (``--url``,
default the local one; ``remote``), prints a table by default and JSON with
``--output json`` (``output``), and exits non-zero with a one-line error when
something fails.

Client commands must start in a blink, so this package imports the standard
library only, and the heavier parts of it (``http.client``, ``ssl``) when a
request is made: nothing of the engine, the store or the servers.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from wayline.cli.errors import CliError, redact, url_secrets
from wayline.cli.options import DESTRUCTIVE, apply_env_defaults, build_parser
from wayline.cli.output import (
    FAILURE_COLOUR,
    emit,
    paint,
    print_error,
    render_history,
    render_instance,
    render_instances,
)
from wayline.cli.remote import Api


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


def _confirmed(verb: str, instances: list[dict[str, Any]]) -> bool:
    """Ask on the terminal before a bulk terminate or purge; anything but yes is no."""
    shown = 10
    print(f"{verb} would affect {len(instances)} instances:", file=sys.stderr)
    for item in instances[:shown]:
        print(
            f"  {item['instanceID']}  {item.get('workflowName', '')}  "
            f"{item.get('runtimeStatus', '')}",
            file=sys.stderr,
        )
    if len(instances) > shown:
        print(f"  ... and {len(instances) - shown} more (see --dry-run)", file=sys.stderr)
    print(f"{verb} {len(instances)} instances? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        print(file=sys.stderr)  # end of input: finish the prompt's line
    return answer.strip().lower() in ("y", "yes")


#: Instance ids per bulk request (the server takes up to 1,000): progress is shown per batch.
BULK_BATCH = 100


def _one_or_bulk(api: Api, args: argparse.Namespace, verb: str) -> int:
    params = _filter_params(args)
    if args.instance_id:
        if params:
            raise CliError("give an instance id or filters, not both")
        if args.dry_run:
            item = api.call("GET", f"/wayline/v1/instances/{_segment(args.instance_id)}")
            return _dry_run(args, verb, [item])
        body: dict[str, Any] | None = None
        if verb == "terminate" and args.output_value is not None:
            body = {"output": _json_text(args.output_value, "--output-value")}
        api.call("POST", _operation_path(args, verb, args.instance_id), json_body=body)
        emit(
            args,
            {"instanceID": args.instance_id, "operation": verb},
            lambda d, _: f"{verb}: {d['instanceID']}",
        )
        return 0
    if not params:
        raise CliError(f"give an instance id, or filters (--status, --name, ...) to {verb} many")
    matches = list(_instances(api, params, page_size=500))
    if args.dry_run:
        return _dry_run(args, verb, matches)
    ask = matches and verb in DESTRUCTIVE and not args.yes and sys.stdin.isatty()
    if ask and not _confirmed(verb, matches):
        print(f"{verb}: not confirmed; nothing was changed", file=sys.stderr)
        return 1
    # The server's bulk route, in batches of ids, so progress can be shown.
    show_progress = args.output != "json" and sys.stderr.isatty()
    ids = [item["instanceID"] for item in matches]
    options = {"force": True} if verb == "purge" and args.force else {}
    result: dict[str, Any] = {"operation": verb, "affected": 0, "failed": []}
    for start in range(0, len(ids), BULK_BATCH):
        batch = ids[start : start + BULK_BATCH]
        outcome = api.call(
            "POST",
            f"/wayline/v1/instances/bulk/{verb}",
            json_body={"instanceIDs": batch, **options},
        )
        result["affected"] += outcome["affected"]
        result["failed"] += outcome["failed"]
        if show_progress:
            done = start + len(batch)
            print(f"\r{verb}: {done}/{len(ids)}", end="", file=sys.stderr, flush=True)
    if show_progress:
        print(file=sys.stderr)
    emit(
        args,
        result,
        lambda d, colour: (
            f"{verb}: {d['affected']} affected, {len(d['failed'])} refused"
            + "".join(
                f"\n  {f['instanceID']}: {paint(f['message'], FAILURE_COLOUR, colour)}"
                for f in d["failed"]
            )
        ),
    )
    return 0


def _dry_run(args: argparse.Namespace, verb: str, instances: list[dict[str, Any]]) -> int:
    def render(d: dict[str, Any], colour: bool) -> str:
        if not d["instances"]:
            return f"{verb}: no instances match (dry run: nothing was changed)"
        return (
            render_instances(d["instances"], colour)
            + f"\n{verb} would affect {len(d['instances'])} instances "
            "(dry run: nothing was changed)"
        )

    emit(args, {"operation": verb, "dryRun": True, "instances": instances}, render)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run a client command; returns the exit code."""
    api = Api(args.url, args.api_token, args.ca_file)
    try:
        return _run(api, args)
    finally:
        api.close()


def _run(api: Api, args: argparse.Namespace) -> int:
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
        emit(args, result, lambda d, _: d["instanceID"])
    elif command == "get":
        result = api.call("GET", f"/wayline/v1/instances/{_segment(args.instance_id)}")
        emit(args, result, render_instance)
    elif command == "history":
        path = f"/wayline/v1/instances/{_segment(args.instance_id)}/history"
        emit(args, api.call("GET", path), render_history)
    elif command == "list":
        matches = _instances(api, _filter_params(args), page_size=min(args.limit, 1000))
        instances = list(matches if args.all else itertools.islice(matches, args.limit))
        emit(args, {"instances": instances}, lambda d, c: render_instances(d["instances"], c))
    elif command == "rerun":
        request: dict[str, Any] = {"eventID": args.event}
        if args.new_id:
            request["newInstanceID"] = args.new_id
        if args.new_child_id:
            request["newChildWorkflowInstanceID"] = args.new_child_id
        if args.input is not None:
            request["input"] = json.loads(_json_text(args.input, "--input"))
        path = f"/wayline/v1/instances/{_segment(args.instance_id)}/rerun"
        result = api.call("POST", path, json_body=request)
        emit(args, result, lambda d, _: d["newInstanceID"])
    elif command == "raise-event":
        body = _json_text(args.data, "--data")
        api.call(
            "POST",
            f"/v1.0/workflows/dapr/{_segment(args.instance_id)}/raiseEvent/"
            f"{_segment(args.event_name)}",
            content=body.encode(),
        )
        emit(
            args,
            {"instanceID": args.instance_id, "event": args.event_name},
            lambda d, _: f"raised {d['event']} on {d['instanceID']}",
        )
    else:
        return _one_or_bulk(api, args, command)
    return 0


def main_client(args: argparse.Namespace) -> int:
    try:
        apply_env_defaults(args)
        return run(args)
    except CliError as exc:
        print_error(str(exc))
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:  # `wayline list | head`: the reader has all it wants
        # Python would complain again when it flushes stdout at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


__all__ = [
    "CliError",
    "apply_env_defaults",
    "build_parser",
    "main_client",
    "print_error",
    "redact",
    "run",
    "url_secrets",
]
