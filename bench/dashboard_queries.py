"""The dashboard's queries on a big store: ``python bench/dashboard_queries.py``.

Creates N instances (default 300,000) in a SQLite store through the store API (group
commits of queued ``CreateInstance`` commands), then times, through the client, what
the instances page runs: the first page, a page deep in the keyset paging (reached by
following tokens), the status counts, filtered pages, and the orders without an
index (last updated, duration), which scan.
Prints figures; gates nothing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wayline import WorkflowClient
from wayline.store import open_store
from wayline.store.commands import CreateInstance
from wayline.store.types import NewInstance

NAMES = ("order", "shipment", "invoice", "refund", "report")


def populate(url: str, count: int) -> None:
    store = open_store(url)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    try:
        for base in range(0, count, 5000):
            for i in range(base, min(count, base + 5000)):
                new = NewInstance(
                    instance_id=f"inst-{i:07d}",
                    name=NAMES[i % len(NAMES)],
                    execution_id=f"exec-{i}",
                    input=f'{{"n": {i}}}',
                )
                store.enqueue(CreateInstance(new, now=t0 + timedelta(milliseconds=i * 7)))
            store.flush()
    finally:
        store.close()
    print(f"created {count:,} instances in {time.perf_counter() - started:.1f} s")


def timed(fn: Callable[[], Any], repeat: int = 7) -> tuple[float, Any]:
    """Median milliseconds of ``repeat`` runs (after one warm-up), and the last result."""
    result = fn()
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=300_000)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--deep", type=int, default=3000, help="the deep page's number")
    parser.add_argument("--db", help="reuse this SQLite file (populated if new)")
    args = parser.parse_args()

    path = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "dash.db"
    url = f"sqlite:///{path}?synchronous=normal"
    if not path.exists():
        populate(url, args.count)
    with WorkflowClient(url) as client:
        size = args.page_size
        for sort in ("created",):
            first_ms, page = timed(lambda s=sort: client.list_workflows(page_size=size, sort=s))
            token = page.continuation_token
            walk = time.perf_counter()
            for _ in range(args.deep - 2):
                token = client.list_workflows(
                    page_size=size, sort=sort, continuation_token=token
                ).continuation_token
            walked = time.perf_counter() - walk
            deep_ms, deep = timed(
                lambda s=sort, t=token: client.list_workflows(
                    page_size=size, sort=s, continuation_token=t
                )
            )
            print(
                f"{sort:>8}: page 1 {first_ms:6.2f} ms | page {args.deep:,} {deep_ms:6.2f} ms "
                f"(first row {deep.workflows[0].instance_id}; walking there took "
                f"{walked:.1f} s)"
            )
        counts_ms, counts = timed(client.count_workflows_by_status)
        print(f"status counts (GROUP BY status): {counts_ms:6.2f} ms -> {dict(counts)}")
        named_ms, _ = timed(lambda: client.count_workflows_by_status(name="order"))
        print(f"status counts of one workflow name: {named_ms:6.2f} ms")
        filtered_ms, _ = timed(
            lambda: client.list_workflows(page_size=size, status="PENDING", name="order")
        )
        print(f"page 1 filtered by status and name: {filtered_ms:6.2f} ms")
        prefix_ms, _ = timed(
            lambda: client.list_workflows(page_size=size, instance_id_prefix="inst-02")
        )
        print(f"page 1 by id prefix: {prefix_ms:6.2f} ms")
        updated_ms, page = timed(lambda: client.list_workflows(page_size=size, sort="updated"))
        token = page.continuation_token
        next_ms, _ = timed(
            lambda: client.list_workflows(page_size=size, sort="updated", continuation_token=token)
        )
        print(
            f"page 1 / page 2 sorted by last updated (no index, a scan): {updated_ms:6.2f} / "
            f"{next_ms:6.2f} ms"
        )
        by_name_ms, _ = timed(lambda: client.list_workflows(page_size=size, sort="name"))
        print(f"page 1 sorted by name: {by_name_ms:6.2f} ms")
        duration_ms, _ = timed(lambda: client.list_workflows(page_size=size, sort="duration"))
        print(f"page 1 sorted by duration (no index, a scan): {duration_ms:6.2f} ms")
        names_ms, names = timed(client.workflow_names)
        print(f"workflow names (skip scan): {names_ms:6.2f} ms -> {names}")


if __name__ == "__main__":
    main()
