"""The layering of DESIGN.md: each layer imports only the layers above it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "wayline"

# What each part of the package may import from wayline.* (DESIGN.md's layers; the
# api layer's parts are listed one by one, as "api/<part>").
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "core": {"core", "errors"},
    "store": {"core", "store", "errors"},
    "engine": {"core", "store", "engine", "errors"},
    "client": {"core", "store", "engine", "client", "errors"},
    "runtime": {"core", "store", "engine", "client", "errors"},
    "_proto": {"_proto"},  # generated protobuf messages; only the gRPC layer uses them
    # HTTP <-> client calls, nothing more.
    "api/__init__": set(),
    "api/dapr_state": {"client", "errors"},
    "api/http": {"client", "errors", "api/http", "api/dapr_state", "api/ui"},  # mounts the UI
    # protobuf <-> core types, over the client and the engine's worker hub.
    "api/grpc": {"client", "engine", "core", "errors", "_proto", "api/grpc", "api/dapr_state"},
    "cli": {"cli"},  # talks to a server over HTTP only
    "server": {
        "core",
        "store",
        "engine",
        "client",
        "runtime",
        "api",
        "errors",
        "cli",
        "server",
        "replay",
        "observability",
    },
    # Log formats, metrics and tracing adapters, wired in by the server and the
    # runtime; log lines are masked by the CLI's one redaction (stdlib only).
    "observability": {"core", "store", "engine", "errors", "observability", "cli.errors"},
    # The dashboard: pages from client calls, never the store or the engine (it reads
    # the types of the history events the client returns).
    "api/ui": {"client", "errors", "api/ui", "core.events"},
    "__init__": {"core", "store", "engine", "client", "runtime", "errors", "replay"},
    "__main__": {"server"},
    "aio": {"client"},  # dapr.ext.workflow.aio's names
    # The replay checker: the kernel over histories from a store (through the client),
    # from files, or from Dapr (read with the gRPC layer's converter).
    "replay": {"core", "store", "client", "runtime", "errors", "api"},
    # The test kit: a runtime on a fresh store with a virtual clock.
    "testing": {"core", "store", "engine", "client", "runtime", "errors", "testing"},
}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return "/".join(rel[:2]).removesuffix(".py") if rel[0] == "api" else _top(path)


def _top(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def _part_of(module: str) -> str:
    """``wayline.api.http.app`` -> ``api/http``; ``wayline.core.serde`` -> ``core``."""
    parts = module.split(".")[1:]
    return "/".join(parts[:2]) if parts[0] == "api" and len(parts) > 1 else parts[0]


def _imports(path: Path) -> set[tuple[str, str]]:
    """The (part, module) pairs a file imports from wayline.*, e.g. ("core", "core.events")."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wayline"):
            if node.module == "wayline":
                found.update((alias.name, alias.name) for alias in node.names)
            elif node.module == "wayline.api":
                found.update((f"api/{a.name}", f"api.{a.name}") for a in node.names)
            else:
                found.add((_part_of(node.module), node.module.removeprefix("wayline.")))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("wayline."):
                    found.add((_part_of(alias.name), alias.name.removeprefix("wayline.")))
    return found


def test_every_module_respects_the_layers() -> None:
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        layer = _layer(path)
        assert layer in ALLOWED, f"{path} is in no layer of DESIGN.md; add it to ALLOWED"
        allowed = ALLOWED[layer]
        for part, module in _imports(path):
            if part in allowed or module in allowed:
                continue
            if part.startswith("api/") and "api" in allowed:
                continue
            violations.append(f"{path.relative_to(SRC)} imports wayline.{module}")
    assert not violations, "layering violations:\n" + "\n".join(violations)


# The third-party packages each part may import (beyond the standard library): the
# engine, the kernel and the client speak no wire format and need no server.
THIRD_PARTY: dict[str, set[str]] = {
    "core": set(),
    "store": {"psycopg", "psycopg_pool"},
    "engine": set(),
    "client": set(),
    "runtime": set(),
    "errors": set(),
    "_proto": {"google"},
    "api/http": {"starlette"},
    "api/ui": {"starlette", "jinja2", "markupsafe"},
    "api/grpc": {"grpc", "google"},
    "api/dapr_state": set(),
    "api/__init__": set(),
    "cli": set(),  # the standard library only: client commands start fast
    "server": {"uvicorn"},
    "__init__": set(),
    "__main__": set(),
    "aio": set(),
    "replay": set(),
    "testing": {"pytest"},  # only its pytest plugin module
    "observability": {"opentelemetry", "prometheus_client"},
}


def test_every_module_imports_only_its_third_party_packages() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__", "wayline"}
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        part = _layer(path)
        assert part in THIRD_PARTY, f"{path}: add its part to THIRD_PARTY"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module.split(".")[0]]
            violations += [
                f"{path.relative_to(SRC)} imports {name}"
                for name in names
                if name not in stdlib and name not in THIRD_PARTY[part]
            ]
    assert not violations, "third-party imports outside their part:\n" + "\n".join(violations)


def test_core_uses_only_the_standard_library() -> None:
    stdlib = {
        "__future__",
        "base64",
        "collections",
        "contextlib",
        "dataclasses",
        "datetime",
        "decimal",
        "enum",
        "functools",
        "inspect",
        "json",
        "math",
        "traceback",
        "types",
        "typing",
        "unicodedata",
        "uuid",
        "wayline",
    }
    for path in (SRC / "core").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module.split(".")[0]]
            for name in names:
                if name in _ASYNC_WORKFLOW_MACHINERY and path.name in _ASYNC_WORKFLOW_FILES:
                    continue
                assert name in stdlib, f"{path.name} imports {name}; core must stay pure"


# asyncio's Task and Future run ``async def`` workflows on core's own loop, which has no
# clock, selector or threads (core/asyncloop.py): allowed there and where tasks are
# awaited, nowhere else in core.
_ASYNC_WORKFLOW_MACHINERY = {"asyncio", "contextvars"}
_ASYNC_WORKFLOW_FILES = {"asyncloop.py", "task.py", "executor.py"}
