"""The guide and API reference site builds in strict mode: a broken link, a README
section a page names but the README lacks, or a docstring griffe cannot read fails."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from support.ci import unavailable

REPO = Path(__file__).resolve().parents[1]


def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    if shutil.which("mkdocs", path=str(Path(sys.executable).parent)) is None:
        unavailable("mkdocs is not installed: pip install -e '.[docs]'")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    for page in ("index.html", "guide/workflows/index.html", "reference/clients/index.html"):
        assert (tmp_path / page).is_file(), page
    workflows = (tmp_path / "guide" / "workflows" / "index.html").read_text(encoding="utf-8")
    assert "async def" in workflows and "Typed payloads" in workflows
    clients = (tmp_path / "reference" / "clients" / "index.html").read_text(encoding="utf-8")
    assert "wait_for_workflow_completion" in clients
