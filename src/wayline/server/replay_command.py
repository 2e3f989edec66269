"""``wayline replay``: the replay checker (``wayline.replay``) on the command line.

Exit codes, for CI: 0 when every history replays, 1 when any diverges (or cannot be
read), 2 for a usage mistake (nothing to replay, an app that does not load).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from wayline.cli import print_error
from wayline.cli.output import FAILURE_COLOUR, paint, use_colour
from wayline.core.registry import Registry
from wayline.replay import Replayer, ReplayResult
from wayline.server.wiring import StartupError, load_app, merge_registries


def main_replay(args: argparse.Namespace) -> int:
    if not args.paths and not args.store:
        print_error("nothing to replay: name history files or directories, or a --store")
        return 2
    try:
        registry: Registry = merge_registries([load_app(spec) for spec in args.app])
        created_from = _moment(args.created_from, "--created-from")
        created_to = _moment(args.created_to, "--created-to")
    except (StartupError, ValueError) as exc:
        print_error(str(exc))
        return 2
    replayer = Replayer(registry)
    results = replayer.replay_paths(args.paths)
    if args.store:
        results += replayer.replay_store(
            args.store,
            name=args.name,
            status=args.status,
            created_after=created_from,
            created_before=created_to,
            limit=args.limit,
            sample=args.sample,
            seed=args.seed,
        )
    diverged = [r for r in results if not r.ok]
    if args.output == "json":
        print(
            json.dumps(
                {
                    "replayed": len(results) - len(diverged),
                    "diverged": len(diverged),
                    "results": [r.to_json() for r in results],
                },
                indent=2,
            )
        )
    else:
        print(_table(results, use_colour(sys.stdout)))
    return 1 if diverged else 0


def _moment(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{option} must be an RFC 3339 time, got {text!r}") from None


def _table(results: list[ReplayResult], colour: bool) -> str:
    lines = []
    for result in results:
        verdict = "ok" if result.ok else paint("DIVERGED", FAILURE_COLOUR, colour)
        who = result.instance_id or result.source
        line = f"{verdict:<8}  {who}  {result.workflow_name}"
        if not result.ok:
            line += f"\n          {result.message}"
            if result.recorded is not None or result.current is not None:
                line += (
                    f"\n          history: {result.recorded or '-'}"
                    f"\n          code now: {result.current or '-'}"
                )
        lines.append(line)
    diverged = sum(not r.ok for r in results)
    lines.append(f"{len(results)} histories: {len(results) - diverged} replay, {diverged} diverge")
    return "\n".join(lines)
