"""The layering of DESIGN.md: each layer imports only the layers above it."""

from __future__ import annotations

import ast
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
    "cli": {"cli"},  # talks to a server over HTTP only
    "server": {"core", "store", "engine", "client", "runtime", "api", "errors", "cli", "server"},
    "__init__": {"core", "store", "engine", "client", "runtime", "errors"},
    "__main__": {"server"},
    "aio": {"client"},  # dapr.ext.workflow.aio's names
}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
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
