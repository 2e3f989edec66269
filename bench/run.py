"""Wayline and DBOS side by side on this machine, in one invocation.

    python bench/run.py [--quick] [--repeat N] [--only serial,concurrent,...]
                        [--no-write] [--json out.json] [--metrics]

Runs every scenario of ``bench/plan.py`` (serial, concurrent, fsync, fanout, long,
aged, http, postgres, dapr), each measurement in a fresh subprocess, Wayline and
DBOS alternating; prints a table of medians [min-max] and ratios; writes
``docs/performance.md`` and ``docs/performance.png`` (unless ``--no-write``).
DBOS, matplotlib and the Dapr SDK are installed into cached venvs under
``.bench-cache/``. What cannot run here (no PostgreSQL URL, no strace, a URL option
this build does not accept, a failed install) is reported as n/a, not an error.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aging
import document
import postgres_support
import report
import venvs
from plan import (
    SCENARIO_NAMES,
    Measurement,
    Params,
    Result,
    Scenario,
    Source,
    build,
    parameters,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRIPTS = {
    "wayline": HERE / "wayline_scenarios.py",
    "dbos": HERE / "dbos_scenarios.py",
    "dapr": HERE / "dapr_worker_scenarios.py",
}
DOC = ROOT / "docs" / "performance.md"
PNG = ROOT / "docs" / "performance.png"
AGED_DIR = venvs.CACHE / "aged"
AGED_TEMPLATES = 3  # finished instances created through the API, then cloned


class Unavailable(Exception):
    """This measurement cannot run here; its figure is n/a, with this reason."""


class Failed(Exception):
    """The measurement ran and failed; its figure is n/a, with this message."""


def kill_group(proc: subprocess.Popen[str]) -> None:
    """Stop what a scenario process left behind (servers, nodes): its process group."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        if sig == signal.SIGTERM:
            time.sleep(0.5)


def run_process(command: list[str], timeout: float) -> tuple[int, str, str]:
    """Run ``command`` in its own process group with a timeout; the group is killed
    afterwards whatever happened, so no server outlives its measurement."""
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        cwd=HERE,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        raise Failed(f"timed out after {timeout:.0f} s") from None
    finally:
        kill_group(proc)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def answer(out: str, err: str) -> Result:
    """The JSON line a scenario script printed."""
    lines = out.strip().splitlines()
    if not lines:
        raise Failed(f"no answer; stderr: {err.strip()[-800:]}")
    try:
        data = json.loads(lines[-1])
    except json.JSONDecodeError:
        raise Failed(f"bad answer {lines[-1][:200]!r}; stderr: {err.strip()[-800:]}") from None
    if data.get("ok"):
        return dict(data["result"])
    if data.get("na"):
        raise Unavailable(data.get("error", "not applicable"))
    raise Failed(f"{data.get('error')}; stderr: {err.strip()[-800:]}")


@dataclass
class Context:
    """What the runner found or built: interpreters, the PostgreSQL URL, templates."""

    quick: bool
    pythons: dict[str, Path] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)  # need -> why it is missing
    pg_url: str | None = None
    templates: dict[str, Path] = field(default_factory=dict)
    wayline_digest: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def python_for(self, script: str) -> Path:
        if script == "dbos":
            if "dbos" in self.missing:
                raise Unavailable(self.missing["dbos"])
            return self.pythons["dbos"]
        return Path(sys.executable)

    def run_script(self, script: str, function: str, params: Params, timeout: float) -> Result:
        command = [str(self.python_for(script)), str(SCRIPTS[script]), function]
        _, out, err = run_process([*command, json.dumps(params)], timeout)
        return answer(out, err)

    # ----- needs ------------------------------------------------------------------------

    def ensure(self, need: str, aged_instances: int) -> None:
        """Make ``need`` available, or record why it is not (once)."""
        if need in self.missing or need in self.pythons:
            return
        if need == "postgres":
            if self.pg_url is None:
                self._ensure_postgres()
        elif need == "strace":
            if not shutil.which("strace"):
                self.missing["strace"] = "strace is not installed"
        elif need == "aged":
            if not self.templates:
                self._ensure_templates(aged_instances)
        else:  # a venv: "dbos" or "dapr"
            requirements = venvs.DBOS if need == "dbos" else venvs.DAPR_SDK
            try:
                python = self.pythons[need] = venvs.venv_python(f"{need}-venv", requirements)
            except venvs.VenvError as exc:
                self.missing[need] = str(exc).splitlines()[0]
                return
            if need == "dbos":
                self.versions["DBOS"] = venvs.package_version(python, "dbos")
            else:
                self.versions["Dapr SDK"] = (
                    f"dapr-ext-workflow {venvs.package_version(python, 'dapr-ext-workflow')}, "
                    f"dapr {venvs.package_version(python, 'dapr')}"
                )

    def _ensure_postgres(self) -> None:
        url = postgres_support.server_url()
        if url is None:
            self.missing["postgres"] = (
                "no WAYLINE_BENCH_POSTGRES_URL or WAYLINE_TEST_POSTGRES_URL set"
            )
            return
        try:
            import psycopg  # noqa: F401
        except ImportError:
            self.missing["postgres"] = "psycopg is not installed (pip install -e '.[postgres]')"
            return
        self.pg_url = url
        self.versions["PostgreSQL server"] = postgres_support.server_version(url)

    def _ensure_templates(self, count: int) -> None:
        AGED_DIR.mkdir(parents=True, exist_ok=True)
        try:
            with tempfile.TemporaryDirectory(dir=AGED_DIR) as tmp:
                fresh = self.run_script("wayline", "schema", {"db": f"{tmp}/fresh.db"}, 120)
            self.wayline_digest = str(fresh["digest"])
            self.templates["wayline"] = self._template(
                "wayline", f"wayline-{self.wayline_digest}-{count}.db", "instance_id", count
            )
        except (Failed, Unavailable) as exc:
            self.missing["aged-wayline"] = f"no aged Wayline database: {exc}"
        if "dbos" in self.missing:
            self.missing["aged-dbos"] = self.missing["dbos"]
            return
        try:
            version = self.versions.get("DBOS", "unknown")
            self.templates["dbos"] = self._template(
                "dbos", f"dbos-{version}-{count}.sqlite", "workflow_uuid", count
            )
        except (Failed, Unavailable) as exc:
            self.missing["aged-dbos"] = f"no aged DBOS database: {exc}"

    def _template(self, side: str, name: str, key: str, count: int) -> Path:
        """The cached aged database ``name`` of ``side``, built if missing."""
        path = AGED_DIR / name
        if path.exists():
            return path
        schema_key = name.rsplit("-", 1)[0]  # "<side>-<schema digest or version>"
        for stale in AGED_DIR.glob(f"{side}-*"):  # built for another schema: 1+ GB each
            if not stale.name.startswith(f"{schema_key}-"):
                stale.unlink()
        log(f"building the aged {side} database ({count:,} instances) ...")
        began = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=AGED_DIR) as tmp:
            db = Path(tmp) / name
            made = self.run_script(
                side, "make_template", {"db": str(db), "count": AGED_TEMPLATES, "steps": 1}, 300
            )
            aging.clone_instances(db, key, list(made["instance_ids"]), count)
            table = "instances" if side == "wayline" else "workflow_status"
            rows = aging.count_rows(db, table)
            if rows != count + AGED_TEMPLATES:
                raise Failed(f"cloning left {rows} rows in {table}, not {count + AGED_TEMPLATES}")
            for extra in ("-wal", "-shm"):
                Path(f"{db}{extra}").unlink(missing_ok=True)
            db.rename(path)
        log(f"  built {path.name} in {time.perf_counter() - began:.0f} s")
        return path

    @contextlib.contextmanager
    def aged_copy(self, side: str) -> Iterator[Params]:
        template = self.templates.get(side)
        if template is None:
            raise Unavailable(self.missing.get(f"aged-{side}", "no aged database"))
        with tempfile.TemporaryDirectory(prefix="bench-aged-") as tmp:
            target = Path(tmp) / template.name
            aging.copy_database(template, target)
            yield {"db": str(target), "digest": self.wayline_digest}

    @contextlib.contextmanager
    def pg_database(self, name: str) -> Iterator[Params]:
        if self.pg_url is None:
            raise Unavailable(self.missing.get("postgres", "no PostgreSQL"))
        with postgres_support.fresh_database(self.pg_url, name) as url:
            yield {"store": url}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


NEEDS_ORDER = ("dbos", "dapr", "strace", "postgres", "aged")
STRACE = ["strace", "-f", "-c", "-e", "trace=fsync,fdatasync"]


def strace_calls(path: Path) -> int:
    """fsync + fdatasync calls in a ``strace -c`` summary."""
    calls = 0
    for line in path.read_text().splitlines():
        parts = line.split()
        if parts and parts[-1] in ("fsync", "fdatasync") and len(parts) >= 5:
            calls += int(parts[3])
    return calls


def fsync_probe(ctx: Context, m: Measurement) -> Result:
    """fsync calls per step: two runs under strace, the difference per extra step."""
    assert m.fsync_probe is not None
    small, large = m.fsync_probe
    counts = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (small, large):
            trace = Path(tmp) / f"strace-{n}.txt"
            params = {**m.params, "workflows": n, "warmup": 0}
            command = [
                *STRACE, "-o", str(trace),
                str(ctx.python_for(m.script)), str(SCRIPTS[m.script]), m.function,
                json.dumps(params),
            ]  # fmt: skip
            _, out, err = run_process(command, m.timeout)
            answer(out, err)
            counts.append(strace_calls(trace))
    steps = (large - small) * m.params["steps"]
    # A WAL checkpoint landing in the small run but not the large one can make the
    # difference slightly negative; a step cannot cost fewer than 0 calls.
    return {"fsyncs_per_step": max(0.0, (counts[1] - counts[0]) / steps), "calls": counts}


def execute(ctx: Context, scenario: Scenario, m: Measurement) -> Result:
    for need in ("strace", "postgres"):
        if need in scenario.needs and need in ctx.missing:
            raise Unavailable(ctx.missing[need])
    if m.script in ("dbos", "dapr") and m.script in ctx.missing:
        raise Unavailable(ctx.missing[m.script])
    prepare = m.prepare() if m.prepare else contextlib.nullcontext({})
    with prepare as prepared:
        params = {**m.params, **prepared}
        if m.script == "dapr":
            params["sdk_python"] = str(ctx.pythons["dapr"])
        if m.fsync_probe:
            return fsync_probe(ctx, dataclasses.replace(m, params=params))
        return ctx.run_script(m.script, m.function, params, m.timeout)


def summary(result: Result) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in result.items()
        if not isinstance(v, list)
    )


def run_all(
    ctx: Context, scenarios: list[Scenario], repeat: int, aged_instances: int
) -> tuple[report.Runs, dict[str, str]]:
    runs: report.Runs = {}
    errors: dict[str, str] = {}
    for scenario in scenarios:
        for need in NEEDS_ORDER:  # aged needs the DBOS venv first
            if need in scenario.needs:
                ctx.ensure(need, aged_instances)
        rounds = scenario.repeat or repeat
        for n in range(rounds):
            for m in scenario.measurements:
                key = (scenario.name, m.side, m.variant)
                label = f"[{scenario.name} {n + 1}/{rounds}] {m.side} {m.variant}"
                began = time.perf_counter()
                try:
                    result = execute(ctx, scenario, m)
                except (Unavailable, Failed) as exc:
                    kind = "n/a" if isinstance(exc, Unavailable) else "FAILED"
                    errors.setdefault(f"{scenario.name} {m.side} {m.variant}", f"{kind}: {exc}")
                    log(f"{label}: {kind}: {str(exc)[:300]}")
                    continue
                runs.setdefault(key, []).append(result)
                log(f"{label}: {summary(result)} ({time.perf_counter() - began:.1f} s)")
    return runs, errors


def run_notes(runs: report.Runs, errors: dict[str, str]) -> list[str]:
    notes = [f"{what}: {why.splitlines()[0][:300]}" for what, why in sorted(errors.items())]
    if any(r.get("schema_current") is False for r in runs.get(("aged", "wayline", "aged"), [])):
        notes.append(
            "the aged Wayline database's schema after the engine opened it differs "
            "from a fresh database's (a migration did not run?)"
        )
    for side in ("wayline", "dbos"):
        probes = runs.get(("fsync", side, "durable"), [])
        if probes and probes[0]["fsyncs_per_step"] < 0.5:
            notes.append(
                f"{side}'s default ('fsync-durable') mode made "
                f"{probes[0]['fsyncs_per_step']:.2f} fsync calls per step on this build: it "
                "does not sync every commit, so the 'fsync-durable' rows do not compare equal "
                "durability"
            )
    return notes


def draw_chart(ctx: Context, table: list[report.Line], title: str) -> str | None:
    """docs/performance.png from the comparable rows; None (and a note) if it fails."""
    spec = {**report.chart_spec(table), "title": title}
    if not any(p["rows"] for p in spec["panels"]):
        ctx.notes.append("no figure measured on both sides: no chart")
        return None
    try:
        python = venvs.venv_python("chart-venv", venvs.CHART)
    except venvs.VenvError as exc:
        ctx.notes.append(f"no chart: {str(exc).splitlines()[0]}")
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        code, _, err = run_process([str(python), str(HERE / "chart.py"), f.name, str(PNG)], 120)
    finally:
        os.unlink(f.name)
    if code != 0:
        ctx.notes.append(f"no chart: {err.strip().splitlines()[-1] if err.strip() else code}")
        return None
    ctx.versions["matplotlib"] = venvs.package_version(python, "matplotlib")
    return PNG.name


METRICS_SUFFIX = "+metrics"
#: The Wayline scenario functions that take ``{"metrics": true}`` (an embedded runtime).
METRICS_FUNCTIONS = frozenset({"serial", "concurrent", "fanout", "long"})


def with_metrics(scenario: Scenario) -> Scenario:
    """The scenario with a metrics-on twin after each embedded Wayline measurement, so
    the two alternate as Wayline and DBOS do."""
    measurements: list[Measurement] = []
    for m in scenario.measurements:
        measurements.append(m)
        if m.script == "wayline" and m.function in METRICS_FUNCTIONS and not m.fsync_probe:
            measurements.append(
                dataclasses.replace(
                    m, variant=m.variant + METRICS_SUFFIX, params={**m.params, "metrics": True}
                )
            )
    return dataclasses.replace(scenario, measurements=measurements)


def metrics_overhead(scenarios: list[Scenario], runs: report.Runs) -> str:
    """Each Wayline figure without and with metrics: medians [min-max] and on/off."""
    lines = ["metrics overhead (Wayline, metrics off vs on; medians [min-max])"]
    for scenario in scenarios:
        for row in scenario.rows:
            source = row.wayline
            if source is None or callable(source.key):
                continue
            on = dataclasses.replace(source, variant=source.variant + METRICS_SUFFIX)
            off_figure = report.figure(runs, "wayline", source)
            on_figure = report.figure(runs, "wayline", on)
            if off_figure is None or on_figure is None:
                continue
            ratio = on_figure.median / off_figure.median if off_figure.median else float("nan")
            lines.append(
                f"  {row.label}: off {off_figure.cell(row.unit)}, on {on_figure.cell(row.unit)} "
                f"{row.unit}; on/off {ratio:.3f}"
            )
    for scenario in scenarios:
        variants = [
            m.variant
            for m in scenario.measurements
            if m.side == "wayline" and m.variant.endswith(METRICS_SUFFIX)
        ]
        for variant in variants:
            base = variant.removesuffix(METRICS_SUFFIX)
            off_cpu = report.figure(runs, "wayline", Source(scenario.name, base, "cpu_ms_per_step"))
            on_cpu = report.figure(
                runs, "wayline", Source(scenario.name, variant, "cpu_ms_per_step")
            )
            if off_cpu is None or on_cpu is None:
                continue
            lines.append(
                f"  {scenario.name} {base}: CPU ms/step (all threads) off {off_cpu.cell('ms')}, "
                f"on {on_cpu.cell('ms')}; on/off {on_cpu.median / off_cpu.median:.3f}"
            )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 repeats")
    parser.add_argument("--repeat", type=int, help="repeats of each figure (default 5)")
    parser.add_argument(
        "--only", help=f"comma-separated scenarios among: {','.join(SCENARIO_NAMES)}"
    )
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    parser.add_argument("--json", type=Path, help="also write every result as JSON here")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="also run each embedded Wayline measurement with Prometheus metrics on, right "
        "after the one without, and print what they cost",
    )
    args = parser.parse_args(argv)
    args.selected = SCENARIO_NAMES if not args.only else tuple(args.only.split(","))
    unknown = set(args.selected) - set(SCENARIO_NAMES)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; choose from {SCENARIO_NAMES}")
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    args.repeat = args.repeat or (2 if args.quick else 5)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop servers and drop databases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ctx = Context(quick=args.quick)
    params = parameters(args.quick)
    scenarios = [
        s
        for s in build(params, aged_copy=ctx.aged_copy, pg_database=ctx.pg_database)
        if s.name in args.selected
    ]
    if args.metrics:
        scenarios = [with_metrics(s) for s in scenarios]
    began = time.perf_counter()
    runs, errors = run_all(ctx, scenarios, args.repeat, params["aged"]["instances"])
    elapsed = time.perf_counter() - began
    table = report.lines(scenarios, runs)
    command = shlex.join(["python", "bench/run.py", *(sys.argv[1:] if argv is None else argv)])
    settings = (
        f"{'quick sizes' if args.quick else 'full sizes'}, {args.repeat} repeats, "
        f"scenarios: {', '.join(s.name for s in scenarios)}; took {elapsed / 60:.0f} min"
    )
    print()
    print(f"{command}  ({settings})")
    print(report.terminal_table(table))
    ctx.notes.extend(run_notes(runs, errors))
    info = document.machine(ctx.versions, ctx.versions.get("PostgreSQL server"))
    if not args.no_write:
        chart = draw_chart(ctx, table, f"Wayline vs DBOS ({info['date (UTC)']}, {settings})")
        info = document.machine(ctx.versions, ctx.versions.get("PostgreSQL server"))
        text = document.render(
            scenarios=scenarios,
            table=table,
            info=info,
            command=command,
            settings=settings,
            notes=ctx.notes,
            chart=chart,
        )
        document.write(DOC, text)
        print(
            f"\nwrote {DOC.relative_to(ROOT)}" + (f" and {PNG.relative_to(ROOT)}" if chart else "")
        )
    if args.metrics:
        print()
        print(metrics_overhead(scenarios, runs))
    for note in ctx.notes:
        print(f"note: {note}")
    if args.json:
        payload: dict[str, Any] = {
            "command": command,
            "settings": settings,
            "machine": info,
            "params": params,
            "rows": [line.to_json() for line in table],
            "runs": {" ".join(k): v for k, v in runs.items()},
            "errors": errors,
            "notes": ctx.notes,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
