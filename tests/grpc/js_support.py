"""The pinned ``@dapr/durabletask-js`` 1.0.0 of the JS client test, installed once.

``tests/grpc/js/package.json`` (and its lockfile) are copied into a cache directory
next to the Python SDK venvs (``.test-venvs/durabletask-js-1.0.0``, git-ignored) and
installed there with npm; the script runs with ``NODE_PATH`` pointing into it, so
nothing is installed inside the source tree. Without ``node``/``npm`` the test is
skipped, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from grpc_support import VENV_CACHE, install_failed

from support.ci import unavailable

JS_DIR = Path(__file__).with_name("js")
PACKAGE = "@dapr/durabletask-js"
PROJECT_FILES = ("package.json", "package-lock.json")


def node_project() -> Path:
    """A directory whose ``node_modules`` holds exactly ``tests/grpc/js/package.json``."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        unavailable(f"{' and '.join(missing)} not on PATH: cannot run the {PACKAGE} test")
    target = VENV_CACHE / "durabletask-js-1.0.0"
    marker = target / ".ready"
    sources = [JS_DIR / name for name in PROJECT_FILES if (JS_DIR / name).is_file()]
    wanted = "".join(f"== {src.name}\n{src.read_text()}" for src in sources)
    installed = target / "node_modules" / PACKAGE / "package.json"
    if marker.is_file() and marker.read_text() == wanted and installed.is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for src in sources:
        shutil.copyfile(src, target / src.name)
    locked = (target / "package-lock.json").is_file()
    command = ["npm", "ci" if locked else "install", "--no-audit", "--no-fund"]
    result = subprocess.run(
        command, cwd=target, capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0 or not installed.is_file():
        install_failed(PACKAGE, target, result.stderr or result.stdout)
    marker.write_text(wanted)
    return target
