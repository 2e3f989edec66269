"""The ``wayline`` command line: every command, option and environment variable."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, NoReturn

from wayline.cli.errors import CliError

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
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
LOG_FORMATS = ("text", "json")


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are one line (the usage of ``serve`` alone is a screenful)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Version(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> NoReturn:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("wayline")
        except PackageNotFoundError:  # run from a source tree without installing
            text = "unknown (not installed)"
        print(f"wayline {text}")
        parser.exit(0)


def _integer(text: str, *, low: int, high: int | None = None, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
    if value < low or (high is not None and value > high):
        bounds = f"{low}-{high}" if high is not None else f"at least {low}"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what} ({bounds})")
    return value


def _port(text: str) -> int:
    return _integer(text, low=1, high=65535, what="a port number")


def _port_or_off(text: str) -> int:
    return _integer(text, low=0, high=65535, what="a port number or 0 (off)")


def _positive_int(text: str) -> int:
    return _integer(text, low=1, what="a whole number")


def _event_id(text: str) -> int:
    return _integer(text, low=0, what="an event id")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of seconds above 0")
    return value


def _log_level(text: str) -> str:
    if text.lower() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a log level; use one of {', '.join(LOG_LEVELS)}"
        )
    return text.lower()


def _log_format(text: str) -> str:
    if text.lower() not in LOG_FORMATS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a log format; use one of {', '.join(LOG_FORMATS)}"
        )
    return text.lower()


class _EnvDefault(NamedTuple):
    dest: str
    env: str
    parse: Callable[[str], Any]
    default: Any


def _env_option(
    cmd: argparse.ArgumentParser,
    flag: str,
    *,
    env: str,
    parse: Callable[[str], Any] = str,
    default: Any = None,
    **kwargs: Any,
) -> None:
    """An option whose default comes from ``env``, read only when the command runs (a
    bad ``WAYLINE_PORT`` must not break ``wayline list``), and checked like the flag."""
    action = cmd.add_argument(flag, type=parse, default=None, **kwargs)
    defaults: list[_EnvDefault] = cmd.get_default("env_defaults") or []
    cmd.set_defaults(env_defaults=[*defaults, _EnvDefault(action.dest, env, parse, default)])


def _boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a yes/no value; use 1/0, true/false")


def _env_flag(
    cmd: argparse.ArgumentParser, flag: str, *, dest: str, value: bool, env: str, help: str
) -> None:
    """A flag that sets ``dest`` to ``value``; unset, ``dest`` comes from ``env`` (a
    yes/no value, checked when the command runs), else ``not value``."""
    cmd.add_argument(flag, dest=dest, action="store_const", const=value, default=None, help=help)
    defaults: list[_EnvDefault] = cmd.get_default("env_defaults") or []
    cmd.set_defaults(env_defaults=[*defaults, _EnvDefault(dest, env, _boolean, not value)])


def apply_env_defaults(args: argparse.Namespace) -> None:
    """Fill the options not given on the command line from their environment variables.

    Raises:
        CliError: a variable holds a value the option would refuse; names the variable.
    """
    for dest, env, parse, default in getattr(args, "env_defaults", None) or ():
        if getattr(args, dest) is not None:
            continue
        raw = os.environ.get(env, "")
        value = default
        if raw:
            try:
                value = parse(raw)
            except (argparse.ArgumentTypeError, ValueError) as exc:
                raise CliError(f"{env}: {exc}; fix the variable or unset it") from None
        setattr(args, dest, value)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wayline", description="Durable workflows that speak Dapr Workflow's APIs."
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
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
    _env_option(
        serve,
        "--store",
        env="WAYLINE_STORE",
        default="sqlite:///wayline.db",
        metavar="URL",
        help=(
            "store URL (env WAYLINE_STORE; default sqlite:///wayline.db, fsync-durable; "
            "sqlite:///x.db?synchronous=normal survives a killed process only; "
            "postgresql://...)"
        ),
    )
    _env_option(
        serve,
        "--host",
        env="WAYLINE_HOST",
        default="127.0.0.1",
        help="bind address of HTTP and gRPC (env WAYLINE_HOST; default 127.0.0.1; any other "
        "address opens both to the network: set --api-token and --tls-cert)",
    )
    _env_option(
        serve,
        "--port",
        env="WAYLINE_PORT",
        parse=_port,
        default=3500,
        help="HTTP port (env WAYLINE_PORT; default 3500, Dapr's)",
    )
    _env_option(
        serve,
        "--grpc-port",
        env="WAYLINE_GRPC_PORT",
        parse=_port_or_off,
        default=50001,
        help="gRPC port for the Dapr SDKs and remote workers, on the --host address "
        "(env WAYLINE_GRPC_PORT; default 50001, Dapr's; 0 turns gRPC off)",
    )
    _env_option(
        serve,
        "--api-token",
        env="DAPR_API_TOKEN",
        metavar="TOKEN",
        help="require this dapr-api-token header on HTTP and gRPC (env DAPR_API_TOKEN)",
    )
    _env_option(
        serve,
        "--tls-cert",
        env="WAYLINE_TLS_CERT",
        metavar="PEM",
        help="serve HTTP and gRPC over TLS with this certificate chain (PEM file; "
        "env WAYLINE_TLS_CERT; needs --tls-key)",
    )
    _env_option(
        serve,
        "--tls-key",
        env="WAYLINE_TLS_KEY",
        metavar="PEM",
        help="the certificate's private key (unencrypted PEM file; env WAYLINE_TLS_KEY)",
    )
    _env_option(
        serve,
        "--max-body-bytes",
        env="WAYLINE_MAX_BODY_BYTES",
        parse=_positive_int,
        default=None,  # the server's own default (4 MiB): defined once, there
        help="largest request body (env WAYLINE_MAX_BODY_BYTES; default 4 MiB)",
    )
    _env_option(
        serve,
        "--log-level",
        env="WAYLINE_LOG_LEVEL",
        parse=_log_level,
        default="info",
        help=f"one of {', '.join(LOG_LEVELS)} (env WAYLINE_LOG_LEVEL; default info)",
    )
    _env_option(
        serve,
        "--log-format",
        env="WAYLINE_LOG_FORMAT",
        parse=_log_format,
        default="text",
        help="text (one line per record) or json (one object per line, with instance_id, "
        "workflow_name, ... as fields) (env WAYLINE_LOG_FORMAT; default text)",
    )
    # The web dashboard at /ui/ (docs/dashboard.md).
    _env_flag(
        serve,
        "--ui-read-only",
        dest="ui_read_only",
        value=True,
        env="WAYLINE_UI_READ_ONLY",
        help="serve the dashboard without its actions (env WAYLINE_UI_READ_ONLY=1)",
    )
    _env_flag(
        serve,
        "--no-ui",
        dest="ui",
        value=False,
        env="WAYLINE_UI",
        help="do not serve the dashboard (env WAYLINE_UI=0)",
    )
    # Prometheus metrics at GET /metrics (docs/observability.md).
    _env_flag(
        serve,
        "--no-metrics",
        dest="metrics",
        value=False,
        env="WAYLINE_METRICS",
        help="do not serve Prometheus metrics at /metrics (env WAYLINE_METRICS=0)",
    )
    _env_option(
        serve,
        "--metrics-namespace",
        env="NAMESPACE",
        default="",
        help="the namespace label of Dapr's workflow metrics (env NAMESPACE, as daprd "
        "reads it; default empty)",
    )
    _env_option(
        serve,
        "--app-id",
        env="WAYLINE_APP_ID",
        default="wayline",
        help="the app this server is the sidecar of: servers of several apps on one store "
        "run each other's activities and child workflows called with app_id "
        "(env WAYLINE_APP_ID; default wayline)",
    )
    # Engine tuning, mostly for several nodes on PostgreSQL (docs/deployment.md).
    _env_option(
        serve,
        "--node-id",
        env="WAYLINE_NODE_ID",
        help="this node's name in leases and logs (env WAYLINE_NODE_ID; default host-pid-random)",
    )
    _env_option(
        serve,
        "--turn-lease",
        env="WAYLINE_TURN_LEASE",
        parse=_positive_seconds,
        default=30.0,
        metavar="SECONDS",
        help="how long a dead node's workflow turns wait before another node takes them "
        "(env WAYLINE_TURN_LEASE; default 30)",
    )
    _env_option(
        serve,
        "--activity-lease",
        env="WAYLINE_ACTIVITY_LEASE",
        parse=_positive_seconds,
        default=60.0,
        metavar="SECONDS",
        help="how long a dead node's activities wait before another node takes them "
        "(env WAYLINE_ACTIVITY_LEASE; default 60)",
    )
    for status in ("any-terminal", "completed", "failed", "terminated"):
        env = f"WAYLINE_RETENTION_{status.upper().replace('-', '_')}"
        _env_option(
            serve,
            f"--retention-{status}",
            env=env,
            metavar="DURATION",
            help=f"delete instances that finish {status.replace('-', ' ')} this long after "
            f"(e.g. 24h, 7d, 1h30m; env {env}; default: keep)"
            + ("; a status's own setting beats it" if status == "any-terminal" else ""),
        )
    _env_option(
        serve,
        "--poll-interval",
        env="WAYLINE_POLL_INTERVAL",
        parse=_positive_seconds,
        default=0.25,
        metavar="SECONDS",
        help=(
            "how often to check whether another process wrote to the store "
            "(env WAYLINE_POLL_INTERVAL; default 0.25)"
        ),
    )

    def client_command(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        _env_option(
            cmd,
            "--url",
            env="WAYLINE_URL",
            default=DEFAULT_URL,
            help=f"server URL, http:// or https:// (env WAYLINE_URL; default {DEFAULT_URL})",
        )
        _env_option(
            cmd,
            "--api-token",
            env="DAPR_API_TOKEN",
            metavar="TOKEN",
            help="dapr-api-token to send (env DAPR_API_TOKEN)",
        )
        _env_option(
            cmd,
            "--ca-file",
            env="WAYLINE_CA_FILE",
            metavar="PEM",
            help="trust the CA certificates in this file for an https:// --url "
            "(env WAYLINE_CA_FILE; default the system's, or SSL_CERT_FILE)",
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
    lst.add_argument(
        "--limit", type=_positive_int, default=50, help="at most this many (default 50)"
    )
    lst.add_argument("--all", action="store_true", help="every match, page after page")

    rerun = client_command(
        "rerun", "run a finished instance again, as a new one, from one of its activities"
    )
    rerun.add_argument("instance_id", help="the finished instance to rerun")
    rerun.add_argument(
        "--event",
        type=_event_id,
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
        cmd.add_argument(
            "--dry-run",
            action="store_true",
            help="show the instances that would be affected; change nothing",
        )
        if name in DESTRUCTIVE:
            cmd.add_argument(
                "--yes",
                "-y",
                action="store_true",
                help="do not ask for confirmation (asked on a terminal when filters match "
                "instances)",
            )
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
    replay = sub.add_parser(
        "replay",
        help="check that recorded histories still replay on the current code (for CI)",
        description="Replay recorded histories against the workflows of --app and report, "
        "per instance, whether they still replay; exits 1 on any divergence. Histories "
        "come from files (`wayline history ID -o json`, Dapr's GetInstanceHistory JSON) "
        "or directories of them, and/or from a store (--store, with filters).",
    )
    replay.add_argument(
        "--app",
        action="append",
        required=True,
        metavar="MODULE",
        help="file path or package.module[:attribute] with the WorkflowRuntime whose "
        "workflows to check (repeatable)",
    )
    replay.add_argument(
        "paths", nargs="*", metavar="HISTORY", help="history JSON files or directories"
    )
    replay.add_argument("--store", help="also replay instances of this store (URL or path)")
    replay.add_argument("--name", help="with --store: only this workflow")
    replay.add_argument(
        "--status", action="append", help="with --store: only this status (repeatable)"
    )
    replay.add_argument("--created-from", help="with --store: created at or after (RFC 3339)")
    replay.add_argument("--created-to", help="with --store: created before (RFC 3339)")
    replay.add_argument(
        "--limit",
        type=_positive_int,
        default=1000,
        help="with --store: at most this many, newest first (default 1000)",
    )
    replay.add_argument(
        "--sample",
        type=_positive_int,
        help="with --store: a random sample of this many of the matches instead",
    )
    replay.add_argument("--seed", type=int, help="with --sample: repeat the same sample")
    replay.add_argument("--output", "-o", choices=["table", "json"], default="table")
    return parser


DESTRUCTIVE = ("terminate", "purge")
