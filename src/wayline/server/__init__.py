"""The ``wayline`` console script; ``wayline serve`` runs the server in ``wiring``.

This module stays light on purpose: every ``wayline`` command enters here, and the
client commands (``wayline get`` and the rest) must not pay for importing the
engine, the store, uvicorn or grpc, which only ``serve`` needs.
"""

from __future__ import annotations

from collections.abc import Sequence

from wayline.cli import build_parser, main_client


def main(argv: Sequence[str] | None = None) -> int:
    """The ``wayline`` console script: ``serve`` runs the server, the rest are clients."""
    args = build_parser().parse_args(argv)
    if args.command == "replay":
        from wayline.server.replay_command import main_replay

        return main_replay(args)
    if args.command != "serve":
        return main_client(args)
    from wayline.server.wiring import main_serve

    return main_serve(args)


__all__ = ["main"]
