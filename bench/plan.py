"""The benchmark's scenarios: what runs (in which order, with which parameters) and
which rows of the table each one fills.

A scenario is a list of measurements in alternation order (Wayline, DBOS, Wayline,
DBOS, ...), repeated as a whole, so that noise on the shared machine hits both
sides alike. Each measurement is one fresh subprocess of a scenario script
printing one JSON line; a row reads one figure of those results on each side.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

Params = dict[str, Any]
Result = dict[str, Any]

FULL: dict[str, Params] = {
    "serial": {"workflows": 200, "steps": 10, "warmup": 20},
    "concurrent": {"workflows": 200, "steps": 10, "warmup": 5},
    "fsync": {"small": 10, "large": 40, "steps": 10},
    "fanout": {"width": 100, "rounds": 10, "warmup": 1},
    "long": {"short_steps": 10, "short_workflows": 20, "long_steps": 10_000, "window": 100},
    "aged": {
        "instances": 1_000_000,
        "workflows": 50,
        "steps": 10,
        "warmup": 5,
        "idle_seconds": 10,
        "settle": 2,
    },
    "http": {"seconds": 10, "connections": 16, "steps": 10},
    "pg_serial": {"workflows": 100, "steps": 10, "warmup": 10},
    "pg_concurrent": {"workflows": 200, "steps": 10, "warmup": 5},
    "cluster": {"workflows": 500, "steps": 10},
    "dapr_serial": {"workflows": 50, "steps": 10, "warmup": 3},
    "dapr_concurrent": {"workflows": 50, "steps": 10, "warmup": 3},
    "dapr_long": {"steps": 2000, "window": 100},
}

QUICK: dict[str, Params] = {
    "serial": {"workflows": 30, "warmup": 5},
    "concurrent": {"workflows": 50},
    "fsync": {"small": 5, "large": 15},
    "fanout": {"rounds": 2},
    "long": {"short_workflows": 5, "long_steps": 1000},
    "aged": {"instances": 100_000, "workflows": 10, "idle_seconds": 3},
    "http": {"seconds": 3},
    "pg_serial": {"workflows": 20, "warmup": 3},
    "pg_concurrent": {"workflows": 50},
    "cluster": {"workflows": 100},
    "dapr_serial": {"workflows": 10},
    "dapr_concurrent": {"workflows": 20},
    "dapr_long": {"steps": 300},
}

DBOS_FANOUT_METHODS = ("gather", "queue")
QUEUE_POLL_S = 0.1  # DBOS's default queue polling interval is 1 s; 0.1 s favours DBOS


def parameters(quick: bool) -> dict[str, Params]:
    return {name: {**p, **(QUICK.get(name, {}) if quick else {})} for name, p in FULL.items()}


@dataclass(frozen=True)
class Source:
    """One figure of one measurement's results: ``key`` of the result dict, or a
    function of it (for per-run ratios)."""

    scenario: str
    variant: str
    key: str | Callable[[Result], float | None]

    def value(self, result: Result) -> float | None:
        raw = self.key(result) if callable(self.key) else result.get(self.key)
        return None if raw is None else float(raw)


@dataclass
class Row:
    """A line of the table: a figure for each side and which way is better."""

    label: str
    unit: str
    better: str = "lower"  # "lower", "higher", or "" for figures that are not a contest
    wayline: Source | None = None
    dbos: Source | None = None
    adjective: str = "faster"
    # Ratio of two Wayline medians (e.g. 2 nodes / 1 node), shown without spread.
    derived: tuple[Source, Source] | None = None
    chart: bool = True


@dataclass
class Measurement:
    """One subprocess: ``script`` (``wayline``, ``dbos`` or ``dapr``) runs ``function``."""

    side: str
    variant: str
    script: str
    function: str
    params: Params
    timeout: float = 900
    # Per-run preparation (a copied database, a fresh PostgreSQL database): extra params.
    prepare: Callable[[], AbstractContextManager[Params]] | None = None
    # fsync probe: run ``function`` under strace with these two workflow counts.
    fsync_probe: tuple[int, int] | None = None


@dataclass
class Scenario:
    name: str
    title: str
    method: str
    measurements: list[Measurement]
    rows: list[Row]
    needs: frozenset[str] = frozenset()  # "dbos", "dapr", "postgres", "aged"
    repeat: int | None = None  # fixed repeat count (the fsync probe counts, it does not time)
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def no_preparation() -> Iterator[Params]:
    yield {}


def thousands(n: int) -> str:
    return f"{n:,}"


def build(
    p: dict[str, Params],
    *,
    aged_copy: Callable[[str], AbstractContextManager[Params]],
    pg_database: Callable[[str], AbstractContextManager[Params]],
) -> list[Scenario]:
    """Every scenario, in run order. ``aged_copy(side)`` and ``pg_database(name)``
    make the per-run databases (they are provided by the runner)."""
    serial, conc, long_ = p["serial"], p["concurrent"], p["long"]
    aged = p["aged"]
    aged_params = {k: v for k, v in aged.items() if k != "instances"}
    n_aged = thousands(aged["instances"])
    pg_s, pg_c, cl = p["pg_serial"], p["pg_concurrent"], p["cluster"]
    d_s, d_c, d_l = p["dapr_serial"], p["dapr_concurrent"], p["dapr_long"]

    def both(function: str, params: Params, variants: list[Params]) -> list[Measurement]:
        """Wayline then DBOS for each variant (``{}`` durable, ``{"sync": "normal"}``)."""
        out = []
        for v in variants:
            name = v.get("sync", "durable")
            for side in ("wayline", "dbos"):
                out.append(Measurement(side, name, side, function, {**params, **v}))
        return out

    def growth(r: Result) -> float | None:
        first, last = r.get("first_window_ms"), r.get("last_window_ms")
        return None if not first or last is None else last / first

    w = long_["window"]
    return [
        Scenario(
            "serial",
            "Serial latency",
            f"{serial['workflows']} workflows of {serial['steps']} steps, each started and "
            f"awaited before the next (after {serial['warmup']} untimed ones): "
            "ms per step, so mostly the cost of the commits a step needs.",
            both("serial", serial, [{}, {"sync": "normal"}]),
            [
                Row(
                    "serial: ms/step, fsync-durable",
                    "ms",
                    "lower",
                    Source("serial", "durable", "ms_per_step"),
                    Source("serial", "durable", "ms_per_step"),
                ),
                Row(
                    "serial: ms/step, no fsync per commit",
                    "ms",
                    "lower",
                    Source("serial", "normal", "ms_per_step"),
                    Source("serial", "normal", "ms_per_step"),
                ),
                Row(
                    "serial: write transactions/step (Wayline store counter)",
                    "tx",
                    "",
                    Source("serial", "durable", "tx_per_step"),
                    None,
                    chart=False,
                ),
            ],
            needs=frozenset({"dbos"}),
        ),
        Scenario(
            "concurrent",
            "Concurrent throughput",
            f"{conc['workflows']} workflows of {conc['steps']} steps started at once; "
            "steps/s until the last one completes.",
            both("concurrent", conc, [{}, {"sync": "normal"}]),
            [
                Row(
                    "concurrent: steps/s, fsync-durable",
                    "steps/s",
                    "higher",
                    Source("concurrent", "durable", "steps_per_s"),
                    Source("concurrent", "durable", "steps_per_s"),
                ),
                Row(
                    "concurrent: steps/s, no fsync per commit",
                    "steps/s",
                    "higher",
                    Source("concurrent", "normal", "steps_per_s"),
                    Source("concurrent", "normal", "steps_per_s"),
                ),
            ],
            needs=frozenset({"dbos"}),
        ),
        Scenario(
            "fsync",
            "Durability check: fsync calls per step",
            "The serial scenario run twice under `strace -f -c -e trace=fsync,fdatasync`, "
            f"with {p['fsync']['small']} and {p['fsync']['large']} workflows of "
            f"{p['fsync']['steps']} steps; the difference in calls divided by the difference "
            "in steps is the fsyncs a step costs (start-up and schema creation cancel out). "
            "A count, not a timing: run once.",
            [
                Measurement(
                    side,
                    mode,
                    side,
                    "serial",
                    {
                        "steps": p["fsync"]["steps"],
                        **({"sync": "normal"} if mode == "normal" else {}),
                    },
                    fsync_probe=(p["fsync"]["small"], p["fsync"]["large"]),
                )
                for mode in ("durable", "normal")
                for side in ("wayline", "dbos")
            ],
            [
                Row(
                    "fsync+fdatasync calls/step, fsync-durable",
                    "calls",
                    "",
                    Source("fsync", "durable", "fsyncs_per_step"),
                    Source("fsync", "durable", "fsyncs_per_step"),
                    chart=False,
                ),
                Row(
                    "fsync+fdatasync calls/step, no fsync per commit",
                    "calls",
                    "",
                    Source("fsync", "normal", "fsyncs_per_step"),
                    Source("fsync", "normal", "fsyncs_per_step"),
                    chart=False,
                ),
            ],
            needs=frozenset({"dbos", "strace"}),
            repeat=1,
        ),
        Scenario(
            "fanout",
            "Fan-out",
            f"One workflow running {p['fanout']['width']} steps in parallel and joining "
            f"them, {p['fanout']['rounds']} times in a row (after one untimed): ms per fan-out "
            "workflow. Wayline: `when_all` of `call_activity`. DBOS: an async workflow "
            "awaiting `asyncio.gather` of async steps (the fastest DBOS way we found), and "
            f"the queue pattern of DBOS's README (`DBOS.enqueue_workflow` of the step on a "
            f"queue polled every {QUEUE_POLL_S} s). `DBOS.start_workflow` of the step as "
            "child workflows was slower than both in a trial and is not run.",
            [Measurement("wayline", "durable", "wayline", "fanout", p["fanout"])]
            + [
                Measurement(
                    "dbos",
                    m,
                    "dbos",
                    "fanout",
                    {**p["fanout"], "method": m, "queue_poll_s": QUEUE_POLL_S},
                )
                for m in DBOS_FANOUT_METHODS
            ],
            [
                Row(
                    f"fan-out {p['fanout']['width']}: ms/workflow (DBOS: asyncio.gather)",
                    "ms",
                    "lower",
                    Source("fanout", "durable", "ms_per_workflow"),
                    Source("fanout", "gather", "ms_per_workflow"),
                ),
                Row(
                    f"fan-out {p['fanout']['width']}: ms/workflow (DBOS: queue)",
                    "ms",
                    "lower",
                    Source("fanout", "durable", "ms_per_workflow"),
                    Source("fanout", "queue", "ms_per_workflow"),
                    chart=False,
                ),
            ],
            needs=frozenset({"dbos"}),
        ),
        Scenario(
            "long",
            "Long workflows",
            f"{long_['short_workflows']} workflows of {long_['short_steps']} steps, then ONE "
            f"workflow of {thousands(long_['long_steps'])} steps, in one process: ms/step of "
            f"each; and, from timestamps the step itself records, the mean step time over the "
            f"first and the last {w} steps of the long one. Equal figures mean a step "
            "costs the same however long the history is.",
            [
                Measurement(side, "durable", side, "long", long_, timeout=3600)
                for side in ("wayline", "dbos")
            ],
            [
                Row(
                    f"long: ms/step, {long_['short_steps']}-step workflows",
                    "ms",
                    "lower",
                    Source("long", "durable", "short_ms_per_step"),
                    Source("long", "durable", "short_ms_per_step"),
                ),
                Row(
                    f"long: ms/step, one {thousands(long_['long_steps'])}-step workflow",
                    "ms",
                    "lower",
                    Source("long", "durable", "long_ms_per_step"),
                    Source("long", "durable", "long_ms_per_step"),
                ),
                Row(
                    f"long: ms/step, its first {w} steps",
                    "ms",
                    "lower",
                    Source("long", "durable", "first_window_ms"),
                    Source("long", "durable", "first_window_ms"),
                ),
                Row(
                    f"long: ms/step, its last {w} steps",
                    "ms",
                    "lower",
                    Source("long", "durable", "last_window_ms"),
                    Source("long", "durable", "last_window_ms"),
                ),
                Row(
                    f"long: last {w} / first {w} step cost",
                    "x",
                    "",
                    Source("long", "durable", growth),
                    Source("long", "durable", growth),
                    chart=False,
                ),
            ],
            needs=frozenset({"dbos"}),
        ),
        Scenario(
            "aged",
            "Aged database",
            f"A running engine on an empty database and on one holding {n_aged} finished "
            "one-step instances (built by cloning rows of a few finished instances with SQL, "
            "see bench/aging.py; each run gets a fresh copy of the cached file, flushed to "
            f"disk before the engine starts): its idle CPU over {aged['idle_seconds']} s "
            f"(process CPU time as % of one core, after {aged['settle']} s of settling), "
            f"then {aged['workflows']} serial workflows of {aged['steps']} steps: ms/step.",
            [
                Measurement("wayline", "empty", "wayline", "aged", aged_params),
                Measurement("dbos", "empty", "dbos", "aged", aged_params),
                Measurement(
                    "wayline",
                    "aged",
                    "wayline",
                    "aged",
                    aged_params,
                    prepare=lambda: aged_copy("wayline"),
                ),
                Measurement(
                    "dbos", "aged", "dbos", "aged", aged_params, prepare=lambda: aged_copy("dbos")
                ),
            ],
            [
                Row(
                    "aged: ms/step, empty database",
                    "ms",
                    "lower",
                    Source("aged", "empty", "ms_per_step"),
                    Source("aged", "empty", "ms_per_step"),
                ),
                Row(
                    f"aged: ms/step, {n_aged} finished instances",
                    "ms",
                    "lower",
                    Source("aged", "aged", "ms_per_step"),
                    Source("aged", "aged", "ms_per_step"),
                ),
                Row(
                    "aged: idle CPU % of a core, empty database",
                    "%",
                    "lower",
                    Source("aged", "empty", "idle_cpu_percent"),
                    Source("aged", "empty", "idle_cpu_percent"),
                    adjective="less CPU",
                ),
                Row(
                    f"aged: idle CPU % of a core, {n_aged} finished instances",
                    "%",
                    "lower",
                    Source("aged", "aged", "idle_cpu_percent"),
                    Source("aged", "aged", "idle_cpu_percent"),
                    adjective="less CPU",
                ),
                Row(
                    f"aged: open + start s, {n_aged} finished instances",
                    "s",
                    "lower",
                    Source("aged", "aged", "startup_s"),
                    Source("aged", "aged", "startup_s"),
                    chart=False,
                ),
            ],
            needs=frozenset({"dbos", "aged"}),
        ),
        Scenario(
            "http",
            "HTTP API (Wayline only)",
            f"`wayline serve --app bench/apps/chain_app.py` on a fresh SQLite store; "
            f"{p['http']['connections']} client threads (one httpx connection each) POST "
            f"`/v1.0/workflows/dapr/chain/start` for {p['http']['seconds']} s (each start is a "
            f"{p['http']['steps']}-step workflow the server then runs), while one more "
            "connection loops on `GET /v1.0/workflows/dapr/{id}`. DBOS has no HTTP API of its "
            "own to compare with.",
            [Measurement("wayline", "durable", "wayline", "http", p["http"], timeout=180)],
            [
                Row(
                    f"HTTP: starts/s, {p['http']['connections']} connections",
                    "starts/s",
                    "higher",
                    Source("http", "durable", "starts_per_s"),
                    chart=False,
                ),
                Row(
                    "HTTP: GET instance p50 ms, under that load",
                    "ms",
                    "lower",
                    Source("http", "durable", "get_p50_ms"),
                    chart=False,
                ),
                Row(
                    "HTTP: GET instance p99 ms, under that load",
                    "ms",
                    "lower",
                    Source("http", "durable", "get_p99_ms"),
                    chart=False,
                ),
            ],
        ),
        Scenario(
            "postgres",
            "PostgreSQL",
            f"Both on the same local PostgreSQL server, each on its own freshly created "
            f"database: serial ({pg_s['workflows']} x {pg_s['steps']} steps) and concurrent "
            f"({pg_c['workflows']} x {pg_c['steps']} steps) as above; then Wayline with 1 and "
            f"2 engine processes on one database (a client process starts {cl['workflows']} "
            f"workflows of {cl['steps']} steps; workflows/s until all completed; the "
            "processes and the server share the 2 cores).",
            [
                Measurement(
                    "wayline",
                    "serial",
                    "wayline",
                    "serial",
                    pg_s,
                    prepare=lambda: pg_database("wayline_bench"),
                ),
                Measurement(
                    "dbos",
                    "serial",
                    "dbos",
                    "serial",
                    pg_s,
                    prepare=lambda: pg_database("dbos_bench"),
                ),
                Measurement(
                    "wayline",
                    "concurrent",
                    "wayline",
                    "concurrent",
                    pg_c,
                    prepare=lambda: pg_database("wayline_bench"),
                ),
                Measurement(
                    "dbos",
                    "concurrent",
                    "dbos",
                    "concurrent",
                    pg_c,
                    prepare=lambda: pg_database("dbos_bench"),
                ),
                Measurement(
                    "wayline",
                    "nodes1",
                    "wayline",
                    "cluster",
                    {**cl, "nodes": 1},
                    prepare=lambda: pg_database("wayline_bench"),
                ),
                Measurement(
                    "wayline",
                    "nodes2",
                    "wayline",
                    "cluster",
                    {**cl, "nodes": 2},
                    prepare=lambda: pg_database("wayline_bench"),
                ),
            ],
            [
                Row(
                    "PostgreSQL: serial ms/step",
                    "ms",
                    "lower",
                    Source("postgres", "serial", "ms_per_step"),
                    Source("postgres", "serial", "ms_per_step"),
                ),
                Row(
                    "PostgreSQL: concurrent steps/s",
                    "steps/s",
                    "higher",
                    Source("postgres", "concurrent", "steps_per_s"),
                    Source("postgres", "concurrent", "steps_per_s"),
                ),
                Row(
                    "PostgreSQL: 1 engine process, workflows/s",
                    "workflows/s",
                    "higher",
                    Source("postgres", "nodes1", "workflows_per_s"),
                    chart=False,
                ),
                Row(
                    "PostgreSQL: 2 engine processes, workflows/s",
                    "workflows/s",
                    "higher",
                    Source("postgres", "nodes2", "workflows_per_s"),
                    chart=False,
                ),
                Row(
                    "PostgreSQL: 2 / 1 processes (ratio of medians)",
                    "x",
                    "",
                    derived=(
                        Source("postgres", "nodes2", "workflows_per_s"),
                        Source("postgres", "nodes1", "workflows_per_s"),
                    ),
                    chart=False,
                ),
            ],
            needs=frozenset({"dbos", "postgres"}),
        ),
        Scenario(
            "dapr",
            "Dapr SDK worker over gRPC (Wayline only)",
            "An unmodified dapr-ext-workflow 1.18.3 app (dapr 1.18.3, its own venv) whose "
            "WorkflowRuntime and DaprWorkflowClient connect to `wayline serve` (no `--app`, "
            "fresh SQLite store): the server keeps the history, the SDK worker runs the "
            f"workflow code and activities. Serial ({d_s['workflows']} x {d_s['steps']} "
            f"steps), concurrent ({d_c['workflows']} x {d_c['steps']} steps), and one "
            f"{thousands(d_l['steps'])}-step workflow timed over its first and last "
            f"{d_l['window']} steps (the SDK replays the whole history on every turn).",
            [
                Measurement("wayline", "serial", "dapr", "serial", d_s),
                Measurement("wayline", "concurrent", "dapr", "concurrent", d_c),
                Measurement("wayline", "long", "dapr", "long", d_l, timeout=3600),
            ],
            [
                Row(
                    "Dapr SDK worker: serial ms/step",
                    "ms",
                    "lower",
                    Source("dapr", "serial", "ms_per_step"),
                    chart=False,
                ),
                Row(
                    "Dapr SDK worker: concurrent steps/s",
                    "steps/s",
                    "higher",
                    Source("dapr", "concurrent", "steps_per_s"),
                    chart=False,
                ),
                Row(
                    f"Dapr SDK worker: {thousands(d_l['steps'])}-step workflow, ms/step of "
                    f"first {d_l['window']}",
                    "ms",
                    "lower",
                    Source("dapr", "long", "first_window_ms"),
                    chart=False,
                ),
                Row(
                    f"Dapr SDK worker: {thousands(d_l['steps'])}-step workflow, ms/step of "
                    f"last {d_l['window']}",
                    "ms",
                    "lower",
                    Source("dapr", "long", "last_window_ms"),
                    chart=False,
                ),
            ],
            needs=frozenset({"dapr"}),
        ),
    ]


SCENARIO_NAMES = (
    "serial",
    "concurrent",
    "fsync",
    "fanout",
    "long",
    "aged",
    "http",
    "postgres",
    "dapr",
)
