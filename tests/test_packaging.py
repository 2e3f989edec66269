"""The wheel a user installs: licence metadata, the licence file and the package data
(migrations, protos, py.typed) that the code loads at run time."""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_carries_its_licence_metadata_and_package_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("wayline-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(metadata_name))
        licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert archive.read(licence) == (ROOT / "LICENSE").read_bytes()
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata["License"] is None  # the SPDX expression, not the deprecated table
    assert {url.split(",")[0] for url in metadata.get_all("Project-URL")} >= {
        "Homepage",
        "Source",
        "Issues",
    }
    assert "Programming Language :: Python :: 3.11" in metadata.get_all("Classifier")
    assert "wayline/py.typed" in names
    for backend in ("sqlite", "postgres"):
        assert any(n.startswith(f"wayline/store/migrations/{backend}/") for n in names)
    assert any(n.startswith("wayline/_proto/") and n.endswith(".proto") for n in names)
