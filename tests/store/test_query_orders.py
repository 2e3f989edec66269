"""Sorted listing (keyset paging in every order), counts by status, durations, names."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from wayline.core.events import WorkflowStatus
from wayline.errors import InvalidArgumentError
from wayline.store import Store
from wayline.store.queries import list_instances
from wayline.store.sqlite import SqliteStore
from wayline.store.types import InstanceQuery, InstanceRecord, InstanceSort, NodeInfo

from ._support import T0, at, create, finish, start
from .test_queries import estate  # noqa: F401  (the fixture)


def _page_through(store: Store, query: InstanceQuery) -> list[InstanceRecord]:
    seen: list[InstanceRecord] = []
    while True:
        page = store.list_instances(query)
        seen.extend(page.instances)
        if page.continuation_token is None:
            return seen
        assert len(page.instances) == query.page_size
        query = replace(query, continuation_token=page.continuation_token)


def _key(sort: InstanceSort, r: InstanceRecord) -> tuple[object, ...]:
    duration = (r.completed_at - r.created_at).total_seconds() if r.completed_at is not None else -1
    return {
        InstanceSort.CREATED: (r.created_at, r.instance_id),
        InstanceSort.UPDATED: (r.last_updated_at, r.instance_id),
        InstanceSort.ID: (r.instance_id,),
        InstanceSort.NAME: (r.name, r.created_at, r.instance_id),
        InstanceSort.STATUS: (r.status.value, r.created_at, r.instance_id),
        InstanceSort.DURATION: (duration, r.instance_id),
    }[sort]


@pytest.fixture
def many(store: Store) -> Store:
    """60 instances sharing creation times, names, statuses and durations in groups."""
    for i in range(60):
        iid = f"i-{(i * 37) % 60:02d}"
        start(store, iid, name=("a", "b", "c")[i % 3], now=at(i // 5))
        if i % 4 == 0:
            finish(store, iid, now=at(100 + (i % 8)))
        elif i % 4 == 1:
            finish(store, iid, now=at(100 + (i % 8)), status=WorkflowStatus.FAILED)
    return store


@pytest.mark.parametrize("sort", list(InstanceSort))
@pytest.mark.parametrize("descending", [True, False])
def test_every_order_pages_through_every_instance_once_in_order(
    many: Store, sort: InstanceSort, descending: bool
) -> None:
    everything = many.list_instances(InstanceQuery(page_size=1000)).instances
    expected = sorted(everything, key=lambda r: _key(sort, r), reverse=descending)

    for page_size in (1, 7, 60):
        query = InstanceQuery(page_size=page_size, sort=sort, descending=descending)
        seen = _page_through(many, query)
        assert [r.instance_id for r in seen] == [r.instance_id for r in expected], page_size


@pytest.mark.parametrize(
    ("sort", "index"),
    [
        (InstanceSort.CREATED, "instances_created"),
        (InstanceSort.ID, "sqlite_autoindex_instances_1"),
    ],
)
@pytest.mark.parametrize("descending", [True, False])
def test_sqlite_pages_deep_in_the_list_by_an_index_range_without_sorting(
    tmp_path: Path, sort: InstanceSort, descending: bool, index: str
) -> None:
    """The plan of a later page: a range scan of the order's index, no sort step (so
    page N of 300,000 instances costs what page 1 costs)."""
    store = SqliteStore(tmp_path / "plan.db")
    try:
        for i in range(30):
            create(store, f"p-{i:02d}", now=at(i))
        first = store.list_instances(InstanceQuery(page_size=10, sort=sort, descending=descending))
        query = InstanceQuery(
            page_size=10,
            sort=sort,
            descending=descending,
            continuation_token=first.continuation_token,
        )
        executed: list[tuple[str, tuple[object, ...]]] = []
        with store.read() as cur:
            list_instances(_Recording(cur, executed), query)
            sql, params = executed[0]
            cur.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " | ".join(str(row[-1]) for row in cur.fetchall())
    finally:
        store.close()
    assert f"USING INDEX {index} (" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


class _Recording:
    def __init__(self, cur: Any, executed: list[tuple[str, tuple[object, ...]]]) -> None:
        self._cur = cur
        self._executed = executed

    def execute(self, sql: str, params: Any = ()) -> Any:
        self._executed.append((sql, tuple(params)))
        return self._cur.execute(sql, params)

    def fetchall(self) -> list[Any]:
        return list(self._cur.fetchall())


def test_orders_combine_with_filters(many: Store) -> None:
    query = InstanceQuery(
        statuses=[WorkflowStatus.COMPLETED, WorkflowStatus.RUNNING],
        name="a",
        sort=InstanceSort.UPDATED,
        descending=False,
        page_size=4,
    )
    seen = _page_through(many, query)
    assert seen
    assert all(r.name == "a" and r.status != WorkflowStatus.FAILED for r in seen)
    assert seen == sorted(seen, key=lambda r: (r.last_updated_at, r.instance_id))
    assert len(seen) == many.count_instances(query)


def test_a_token_continues_only_the_order_it_was_made_for(many: Store) -> None:
    by_name = many.list_instances(InstanceQuery(page_size=5, sort=InstanceSort.NAME))
    assert by_name.continuation_token is not None
    with pytest.raises(ValueError, match="another sort order"):
        many.list_instances(
            InstanceQuery(
                sort=InstanceSort.NAME,
                descending=False,
                continuation_token=by_name.continuation_token,
            )
        )
    with pytest.raises(ValueError, match="continuation token"):
        many.list_instances(InstanceQuery(continuation_token=by_name.continuation_token))
    newest = many.list_instances(InstanceQuery(page_size=5))
    with pytest.raises(ValueError, match="continuation token"):
        many.list_instances(
            InstanceQuery(sort=InstanceSort.ID, continuation_token=newest.continuation_token)
        )


def _forged(sort: InstanceSort, keys: Any, descending: bool = True) -> str:
    raw = json.dumps({"s": sort.value, "d": descending, "k": keys})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        _forged(InstanceSort.NAME, ["wf", 2**70, "i"]),  # over 64 bits
        _forged(InstanceSort.NAME, ["wf", "not a time", "i"]),
        _forged(InstanceSort.NAME, [7, 1, "i"]),  # a name that is a number
        _forged(InstanceSort.NAME, ["w\x00f", 1, "i"]),  # NUL (PostgreSQL text cannot)
        _forged(InstanceSort.NAME, ["wf", 1.5, "i"]),
        _forged(InstanceSort.NAME, ["wf", True, "i"]),
        _forged(InstanceSort.NAME, ["wf", 1]),  # too few keys
        _forged(InstanceSort.NAME, {"k": 1}),
        base64.urlsafe_b64encode(b"[" * 100_000).decode(),  # nested past the parser
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8
        "%%%",
    ],
)
def test_a_forged_sort_order_token_is_refused_cleanly(many: Store, token: str) -> None:
    with pytest.raises(InvalidArgumentError, match="continuation token"):
        many.list_instances(InstanceQuery(sort=InstanceSort.NAME, continuation_token=token))


def test_counts_by_status_in_one_query(estate: Store) -> None:  # noqa: F811
    assert estate.count_by_status(InstanceQuery()) == {
        WorkflowStatus.COMPLETED: 1,
        WorkflowStatus.FAILED: 1,
        WorkflowStatus.RUNNING: 1,
        WorkflowStatus.TERMINATED: 1,
        WorkflowStatus.PENDING: 1,
        WorkflowStatus.SUSPENDED: 1,
    }
    assert estate.count_by_status(InstanceQuery(name="order")) == {
        WorkflowStatus.COMPLETED: 1,
        WorkflowStatus.FAILED: 1,
        WorkflowStatus.RUNNING: 1,
    }
    assert estate.count_by_status(InstanceQuery(parent_instance_id="nobody")) == {}


def test_recent_durations_of_completed_instances_newest_first(store: Store) -> None:
    for i in range(5):
        start(store, f"d-{i}", name="timed", now=at(i))
        finish(store, f"d-{i}", now=at(i + 10 * (i + 1)))
    start(store, "d-failed", name="timed", now=at(50))
    finish(store, "d-failed", now=at(60), status=WorkflowStatus.FAILED)
    start(store, "d-running", name="timed", now=at(51))
    start(store, "other", name="other", now=at(52))
    finish(store, "other", now=at(53))

    assert store.recent_durations("timed", limit=100) == [
        50_000_000,
        40_000_000,
        30_000_000,
        20_000_000,
        10_000_000,
    ]
    assert store.recent_durations("timed", limit=2) == [50_000_000, 40_000_000]
    assert store.recent_durations("nothing", limit=2) == []


def test_workflow_names_of_instances_and_live_nodes(store: Store) -> None:
    from wayline.store.commands import AnnounceNode

    for name in ["zeta", "alpha", "alpha", "mid"]:
        create(store, f"{name}-{len(store.list_instances(InstanceQuery()).instances)}", name=name)
    node = NodeInfo(
        node_id="n1",
        app_id="wayline",
        workflows=frozenset({"registered_only", "alpha"}),
        activities=frozenset(),
        remote_workers=False,
    )
    store.execute(AnnounceNode(node, now=T0, until=T0 + timedelta(seconds=60)))

    assert store.workflow_names(now=T0) == ["alpha", "mid", "registered_only", "zeta"]
    # An expired announcement no longer counts.
    assert store.workflow_names(now=T0 + timedelta(seconds=61)) == ["alpha", "mid", "zeta"]
    assert store.workflow_names(now=T0, limit=2) == ["alpha", "mid"]
