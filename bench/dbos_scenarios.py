"""DBOS's side of the benchmark, run with the python of the cached DBOS venv.

    .bench-cache/dbos-venv/bin/python bench/dbos_scenarios.py <scenario> '<json params>'

The same workload as ``wayline_scenarios.py``: a ``@DBOS.step`` returning ``x + 1``
and a ``@DBOS.workflow`` calling it ``steps`` times in sequence. Workflows are
started with ``DBOS.start_workflow`` and awaited with ``handle.get_result()``, the
way a caller that is not itself a workflow runs one in the background.

Durability. With ``system_database_url="sqlite:///..."`` DBOS 3.4 creates a plain
SQLAlchemy SQLite engine and sets only ``busy_timeout`` and ``foreign_keys``
(``dbos/_sys_db_sqlite.py``, ``dbos/_datasource_sqlite.py``), so SQLite's defaults
apply: rollback journal (``journal_mode=DELETE``) with ``synchronous=FULL``, an
fsync of journal and database on every commit. ``{"sync": "normal"}`` switches
every SQLite connection to ``journal_mode=WAL`` + ``synchronous=NORMAL`` through a
SQLAlchemy ``connect`` event on all engines: Wayline's ``?synchronous=normal``
mode, where a commit does not wait for an fsync. ``{"store": "postgresql://..."}``
puts the system database on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from dbos import DBOS
from scenario_support import (
    Params,
    Result,
    StepClock,
    idle_cpu_percent,
    per_step,
    run_cli,
)

CLOCK = StepClock()
RECORD = {"on": False}


@DBOS.step()
def inc(x: int) -> int:
    if RECORD["on"]:
        CLOCK.tick()
    return x + 1


@DBOS.workflow()
def chain(n: int) -> int:
    x = 0
    for _ in range(n):
        x = inc(x)
    return x


@DBOS.step()
async def inc_async(x: int) -> int:
    return x + 1


@DBOS.workflow()
async def fan_gather(n: int) -> int:
    """Fan-out in an async workflow: ``asyncio.gather`` of ``n`` async steps (DBOS
    numbers the steps as they are called, so the order is deterministic)."""
    return sum(await asyncio.gather(*(inc_async(i) for i in range(n))))


@DBOS.workflow()
def fan_children(n: int) -> int:
    """Fan-out with ``DBOS.start_workflow`` of the step (each runs as its own child
    workflow on DBOS's thread pool at once), then ``get_result`` of each."""
    handles = [DBOS.start_workflow(inc, i) for i in range(n)]
    return sum(h.get_result() for h in handles)


@DBOS.workflow()
def fan_queue(n: int) -> int:
    """Fan-out through a DBOS queue (the README's pattern): enqueue the step ``n``
    times, then ``get_result`` of each."""
    handles = [DBOS.enqueue_workflow("fan", inc, i) for i in range(n)]
    return sum(h.get_result() for h in handles)


def _relaxed_sqlite(dbapi_conn: Any, _record: Any) -> None:
    if isinstance(dbapi_conn, sqlite3.Connection):
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")


@contextlib.contextmanager
def launched(params: Params) -> Iterator[str]:
    """DBOS launched on the scenario's system database; yields its URL."""
    with contextlib.ExitStack() as stack:
        store = params.get("store", "sqlite")
        if store == "sqlite":
            if params.get("db"):
                path = Path(params["db"])
            else:
                tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="dbos-bench-"))
                path = Path(tmp) / "dbos.sqlite"
            url = f"sqlite:///{path}"
            if params.get("sync") == "normal":
                sa.event.listen(sa.engine.Engine, "connect", _relaxed_sqlite)
        else:
            url = store
        DBOS(config={"name": "bench", "system_database_url": url, "log_level": "WARNING"})
        DBOS.launch()
        if params.get("queue"):
            DBOS.register_queue("fan", polling_interval_sec=params["queue_poll_s"])
        try:
            yield url
        finally:
            DBOS.destroy()


def run_serial(workflows: int, steps: int) -> float:
    began = time.perf_counter()
    for _ in range(workflows):
        result = DBOS.start_workflow(chain, steps).get_result()
        if result != steps:
            raise RuntimeError(f"chain returned {result!r}")
    return time.perf_counter() - began


def serial(params: Params) -> Result:
    """``workflows`` chains of ``steps`` steps, each started and awaited before the next."""
    workflows, steps = params["workflows"], params["steps"]
    with launched(params):
        run_serial(params.get("warmup", 0), steps)
        elapsed = run_serial(workflows, steps)
    return {
        "ms_per_step": per_step(elapsed, workflows * steps),
        "workflows_per_s": workflows / elapsed,
    }


def concurrent(params: Params) -> Result:
    """``workflows`` chains started at once; steps/s until all are done."""
    workflows, steps = params["workflows"], params["steps"]
    with launched(params):
        run_serial(params.get("warmup", 0), steps)
        began = time.perf_counter()
        handles = [DBOS.start_workflow(chain, steps) for _ in range(workflows)]
        for handle in handles:
            if handle.get_result() != steps:
                raise RuntimeError("a chain returned a wrong result")
        elapsed = time.perf_counter() - began
    return {"steps_per_s": workflows * steps / elapsed, "seconds": elapsed}


def fanout(params: Params) -> Result:
    """A workflow running ``width`` steps at once (``method``: ``gather``, ``children`` or
    ``queue``, see the workflows above),
    ``rounds`` times one after the other; ms per fan-out workflow."""
    width, rounds = params["width"], params["rounds"]
    workflow: Any = {"queue": fan_queue, "children": fan_children, "gather": fan_gather}[
        params["method"]
    ]
    with launched({**params, "queue": params["method"] == "queue"}):

        def one() -> None:
            result = DBOS.start_workflow(workflow, width).get_result()
            if result != width * (width + 1) // 2:
                raise RuntimeError(f"fan-out returned {result!r}")

        for _ in range(params.get("warmup", 1)):
            one()
        began = time.perf_counter()
        for _ in range(rounds):
            one()
        elapsed = time.perf_counter() - began
    return {"ms_per_workflow": elapsed * 1000 / rounds}


def long(params: Params) -> Result:
    """ms/step of short chains vs one chain of ``long_steps``; first/last ``window`` steps."""
    short_steps, long_steps = params["short_steps"], params["long_steps"]
    with launched(params):
        run_serial(2, short_steps)
        short = run_serial(params["short_workflows"], short_steps)
        RECORD["on"] = True
        began = time.perf_counter()
        run_serial(1, long_steps)
        elapsed = time.perf_counter() - began
    first, last = CLOCK.window_ms(params["window"])
    return {
        "short_ms_per_step": per_step(short, params["short_workflows"] * short_steps),
        "long_ms_per_step": per_step(elapsed, long_steps),
        "first_window_ms": first,
        "last_window_ms": last,
    }


def make_template(params: Params) -> Result:
    """``count`` finished chains of ``steps`` steps in the SQLite file ``db`` (aging's seed)."""
    from dbos import SetWorkflowID

    ids = []
    with launched(params):
        for n in range(params["count"]):
            with SetWorkflowID(f"template-{n}"):
                handle = DBOS.start_workflow(chain, params["steps"])
            handle.get_result()
            ids.append(handle.workflow_id)
    return {"instance_ids": ids}


def aged(params: Params) -> Result:
    """DBOS running on ``db`` (a copy of the aged template) or an empty database: idle
    CPU over ``idle_seconds`` (after ``settle`` s), then serial ms/step."""
    workflows, steps = params["workflows"], params["steps"]
    began = time.perf_counter()
    with launched(params):
        startup = time.perf_counter() - began
        time.sleep(params.get("settle", 2.0))
        idle = idle_cpu_percent(params["idle_seconds"])
        run_serial(params.get("warmup", 0), steps)
        elapsed = run_serial(workflows, steps)
    return {
        "ms_per_step": per_step(elapsed, workflows * steps),
        "idle_cpu_percent": idle,
        "startup_s": startup,
    }


SCENARIOS = {
    "serial": serial,
    "concurrent": concurrent,
    "fanout": fanout,
    "long": long,
    "make_template": make_template,
    "aged": aged,
}

if __name__ == "__main__":
    run_cli(SCENARIOS)
