"""The layering of DESIGN.md: each layer imports only the layers above it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "wayline"

# What each top-level part of the package may import from wayline.*
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "core": {"core", "errors"},
    "store": {"core", "store", "errors"},
    "engine": {"core", "store", "engine", "errors"},
    "client": {"core", "store", "engine", "errors"},
    "runtime": {"core", "store", "engine", "client", "errors"},
    "_proto": {"_proto"},  # generated protobuf messages; only the api layer uses them
    "api": {"client", "runtime", "api", "errors", "core", "engine", "_proto"},
    # The dashboard reads through the client only; core for the types the client
    # returns (history events, statuses), never the store or the engine.
    "api/ui": {"client", "errors", "api", "core"},
    "cli": set(),  # talks to a server over HTTP only
    "server": {"core", "store", "engine", "client", "runtime", "api", "errors", "cli"},
    "__init__": {"core", "store", "engine", "client", "runtime", "errors"},
    "__main__": {"server"},
    "aio": {"client"},  # dapr.ext.workflow.aio's names
}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    if rel.parts[:2] == ("api", "ui"):
        return "api/ui"
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wayline"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "wayline" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_every_module_respects_the_layers() -> None:
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        layer = _layer(path)
        assert layer in ALLOWED, f"{path} is in no layer of DESIGN.md; add it to ALLOWED"
        for imported in _imports(path) - ALLOWED[layer]:
            violations.append(f"{path.relative_to(SRC)} imports wayline.{imported}")
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
    "cli": {"httpx"},
    "server": {"uvicorn"},
    "__init__": set(),
    "__main__": set(),
    "aio": set(),
}


def _part(path: Path) -> str:
    rel = path.relative_to(SRC).parts
    return "/".join(rel[:2]).removesuffix(".py") if rel[0] == "api" else _layer(path)


def test_every_module_imports_only_its_third_party_packages() -> None:
    stdlib = set(sys.stdlib_module_names) | {"__future__", "wayline"}
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        part = _part(path)
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
                assert name in stdlib, f"{path.name} imports {name}; core must stay pure"
