"""docs/performance.md: the table, the chart, the machine, the versions and the method."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from plan import Scenario
from report import Line, markdown_table

ROOT = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip()


def wayline_revision() -> str:
    """The commit measured, whether the work tree under src/ differs from it, and
    where the scenario processes import ``wayline`` from if that is not src/."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    text = (
        f"{commit} + uncommitted changes under src/"
        if _git("status", "--porcelain", "--", "src")
        else commit
    )
    try:
        found = subprocess.run(
            [sys.executable, "-c", "import wayline; print(wayline.__file__)"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        return f"{text} (importing wayline timed out)"
    if found.returncode != 0:
        return f"{text} (wayline does not import: {found.stderr.strip().splitlines()[-1:]})"
    location = Path(found.stdout.strip()).resolve()
    if not location.is_relative_to(ROOT / "src"):
        return f"{text}; but wayline was imported from {location.parent}"
    return text


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def memory() -> str:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return "unknown"


def sqlite_defaults() -> str:
    """The journal mode and synchronous level a fresh SQLite file gets from this build."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "probe.db")
        try:
            sync = conn.execute("PRAGMA synchronous").fetchone()[0]
            journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        finally:
            conn.close()
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    return f"journal_mode={journal}, synchronous={sync} ({names.get(sync, '?')})"


def machine(versions: dict[str, str], postgres: str | None) -> dict[str, str]:
    return {
        "date (UTC)": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "CPUs (nproc)": str(os.cpu_count()),
        "CPU model": cpu_model(),
        "memory": memory(),
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "SQLite": f"{sqlite3.sqlite_version} (a new file's defaults: {sqlite_defaults()})",
        "PostgreSQL": postgres or "not used in this run",
        "Wayline": wayline_revision(),
        **{k: v for k, v in versions.items() if k != "PostgreSQL server"},
        "temporary databases in": tempfile.gettempdir(),
    }


DURABILITY = """\
Both sides are compared **fsync-durable** by default: a committed step is on disk
when the commit returns, so neither loses a finished step on power loss.

- **Wayline**, default store URL `sqlite:///path.db`: WAL journal with
  `synchronous=FULL` (the new default; a build where it is still `NORMAL` shows it
  in the fsync row). `sqlite:///path.db?synchronous=normal` is the opt-out: WAL
  with `synchronous=NORMAL`, no fsync at commit (fsyncs at checkpoints only),
  durable against a killed process but not against power loss. On a build that
  does not accept the URL option, that figure is n/a.
- **DBOS 3.4**, `DBOS(config={"system_database_url": "sqlite:///path.sqlite"})`:
  DBOS creates a plain SQLAlchemy SQLite engine and sets only `busy_timeout` and
  `foreign_keys` (`dbos/_sys_db_sqlite.py`, `dbos/_datasource_sqlite.py`), so
  SQLite's defaults hold: rollback journal (`journal_mode=DELETE`) with
  `synchronous=FULL`, which syncs the journal and the database on every commit.
  For the "no fsync per commit" rows, `bench/dbos_scenarios.py` adds a SQLAlchemy
  `connect` event on all engines that sets `journal_mode=WAL` and
  `synchronous=NORMAL`: the same mode as Wayline's opt-out.
- The "fsync+fdatasync calls/step" rows check this instead of trusting it: they
  count the calls with strace.
- On PostgreSQL both use the server's defaults (`fsync=on`,
  `synchronous_commit=on`).
"""

WORKLOAD = """\
The workload is the same on both sides: an activity (DBOS: `@DBOS.step`) that
returns `x + 1`, and a workflow (DBOS: `@DBOS.workflow`) that calls it in
sequence, 10 times unless said otherwise. Wayline runs embedded
(`wayline.WorkflowRuntime`, started and awaited with `runtime.client()`); DBOS
runs in-process (`DBOS.start_workflow(...)` then `handle.get_result()`). Both use
their default settings apart from the store URL.
"""

RUNS = """\
Every measurement is a fresh subprocess (`bench/wayline_scenarios.py`,
`bench/dbos_scenarios.py` in DBOS's own venv, `bench/dapr_worker_scenarios.py`)
that prints one JSON line. Within a scenario the measurements alternate (Wayline,
DBOS, Wayline, DBOS, ...) and the whole round is repeated, so noise on the
shared machine hits both sides. A figure is the median of its repeats, with the
spread [min-max] beside it; a ratio is computed from the two medians and names
the side it favours. The machine is shared and noisy: read the spreads.
"""


def render(
    *,
    scenarios: list[Scenario],
    table: list[Line],
    info: dict[str, str],
    command: str,
    settings: str,
    notes: list[str],
    chart: str | None,
) -> str:
    out = [
        "# Performance: Wayline and DBOS side by side",
        "",
        f"Generated by `{command}` ({settings}). Do not edit by hand: rerun it.",
        "",
        "## How to reproduce",
        "",
        "```bash",
        "python bench/run.py                 # everything, 5 repeats (about an hour here)",
        "python bench/run.py --quick         # small sizes, 2 repeats",
        "python bench/run.py --only serial,concurrent --repeat 3 --no-write",
        "WAYLINE_BENCH_POSTGRES_URL=postgresql://user:pw@localhost/postgres python bench/run.py",
        "```",
        "",
        "The runner installs DBOS, matplotlib and the pinned Dapr SDK into their own venvs "
        "under `.bench-cache/` (never into the project's). The PostgreSQL scenarios run when "
        "`WAYLINE_BENCH_POSTGRES_URL` or `WAYLINE_TEST_POSTGRES_URL` names a server; the "
        "runner creates and drops its own databases there (`wayline_bench`, `dbos_bench`), "
        "never the one the URL names.",
        "",
        "## Results",
        "",
        markdown_table(table),
        "",
    ]
    if chart:
        out += [f"![Wayline and DBOS, medians with min-max whiskers]({chart})", ""]
    if notes:
        out += ["Notes on this run:", ""] + [f"- {n}" for n in notes] + [""]
    out += ["## Machine and versions", "", "| | |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in info.items()]
    out += ["", "## Method", "", WORKLOAD, "### Durability", "", DURABILITY, "### Runs", "", RUNS]
    for scenario in scenarios:
        out += [f"### {scenario.title}", "", scenario.method, ""]
    return "\n".join(out).rstrip() + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
