"""Cached virtual environments for the peers the benchmark runs beside Wayline.

DBOS, matplotlib and the pinned Dapr SDK never go into the project's venv: each
lives in its own venv under ``.bench-cache/`` (git ignores it), created on first
use and reused while its requirement list is unchanged.
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".bench-cache"

DBOS = ("dbos==3.4.0",)
# dapr-ext-workflow 1.18.3 needs dapr pinned beside it: an unpinned dapr pulls 1.19,
# whose bundled copy of the extension overwrites this one (durabletask spec §9).
DAPR_SDK = ("dapr-ext-workflow==1.18.3", "dapr==1.18.3")
CHART = ("matplotlib==3.10.7",)


class VenvError(RuntimeError):
    """A cached venv could not be built (no registry access, a failed install)."""


def venv_python(name: str, requirements: tuple[str, ...], *, timeout: float = 900) -> Path:
    """The python of ``.bench-cache/<name>`` with exactly ``requirements`` installed."""
    target = CACHE / name
    marker = target / ".ready"
    wanted = "\n".join(requirements)
    python = target / "bin" / "python"
    if marker.is_file() and marker.read_text() == wanted and python.exists():
        return python
    CACHE.mkdir(parents=True, exist_ok=True)
    print(f"building {target} ({', '.join(requirements)}) ...", file=sys.stderr, flush=True)
    venv.EnvBuilder(clear=True, with_pip=True).create(target)
    command = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    try:
        result = subprocess.run(
            [*command, *requirements], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise VenvError(f"installing {requirements} took over {timeout:.0f} s") from exc
    if result.returncode != 0:
        raise VenvError(f"cannot install {requirements} into {target}:\n{result.stderr[-2000:]}")
    marker.write_text(wanted)
    return python


def package_version(python: Path, distribution: str) -> str:
    """The installed version of ``distribution`` in the venv of ``python`` ("?" if unknown)."""
    code = f"import importlib.metadata as m; print(m.version({distribution!r}))"
    try:
        result = subprocess.run(
            [str(python), "-c", code], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return "?"
    return result.stdout.strip() or "?"


if __name__ == "__main__":
    for name, reqs in (("dbos-venv", DBOS), ("chart-venv", CHART), ("dapr-venv", DAPR_SDK)):
        print(venv_python(name, reqs))
