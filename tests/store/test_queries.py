"""Listing, counting, children, and purging instances."""

from __future__ import annotations

from dataclasses import replace

import pytest

from wayline.core.events import ParentInfo, WorkflowStatus
from wayline.errors import InstanceNotFoundError, InstanceNotTerminalError
from wayline.store import Store
from wayline.store.types import InstanceQuery, InstanceRecord, NewInstance

from ._support import T0, at, claim, claim_one, commit, create, finish, poke, run, start

# ----- a small estate to query --------------------------------------------------------------


def _child_of(parent: str, task_id: int = 1) -> ParentInfo:
    return ParentInfo(
        instance_id=parent, name="wf", task_scheduled_id=task_id, execution_id=f"{parent}-exec-1"
    )


@pytest.fixture
def estate(store: Store) -> Store:
    """Instances with distinct names, statuses, creation and completion times.

    ==========  =========  ==========  =======  =========  ==========
    id          name       status      created  completed  parent
    ==========  =========  ==========  =======  =========  ==========
    order-1     order      COMPLETED   0s       10s
    order-2     order      FAILED      1s       20s
    order-3     order      RUNNING     2s
    ship-1      ship       TERMINATED  3s       30s        order-3
    ship-2      ship       PENDING     4s                  order-3
    mail-1      mail       SUSPENDED   5s
    ==========  =========  ==========  =======  =========  ==========
    """
    start(store, "order-1", name="order", now=at(0))
    start(store, "order-2", name="order", now=at(1))
    start(store, "order-3", name="order", now=at(2))
    start(store, "ship-1", name="ship", now=at(3), parent=_child_of("order-3"))
    create(store, "ship-2", name="ship", now=at(4), parent=_child_of("order-3", 2))
    start(store, "mail-1", name="mail", now=at(5))
    finish(store, "order-1", now=at(10))
    finish(store, "order-2", now=at(20), status=WorkflowStatus.FAILED)
    finish(store, "ship-1", now=at(30), status=WorkflowStatus.TERMINATED)
    poke(store, "mail-1", now=at(31))
    run(store, "mail-1", now=at(31), status=WorkflowStatus.SUSPENDED)
    return store


def _ids(store: Store, **filters: object) -> list[str]:
    page = store.list_instances(InstanceQuery(**filters))  # type: ignore[arg-type]
    assert page.continuation_token is None
    return [r.instance_id for r in page.instances]


ALL_NEWEST_FIRST = ["mail-1", "ship-2", "ship-1", "order-3", "order-2", "order-1"]


def test_list_without_filters_returns_everything_newest_first(estate: Store) -> None:
    assert _ids(estate) == ALL_NEWEST_FIRST
    page = estate.list_instances(InstanceQuery())
    assert all(isinstance(r, InstanceRecord) for r in page.instances)
    assert page.instances[0] == estate.get_instance("mail-1")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"statuses": [WorkflowStatus.COMPLETED]}, ["order-1"]),
        (
            {"statuses": {WorkflowStatus.FAILED, WorkflowStatus.TERMINATED}},
            ["ship-1", "order-2"],
        ),
        ({"statuses": [WorkflowStatus.PENDING]}, ["ship-2"]),
        ({"statuses": [WorkflowStatus.SUSPENDED, WorkflowStatus.RUNNING]}, ["mail-1", "order-3"]),
        ({"statuses": ["RUNNING"]}, ["order-3"]),
        ({"statuses": None}, ALL_NEWEST_FIRST),
        ({"name": "order"}, ["order-3", "order-2", "order-1"]),
        ({"name": "nothing"}, []),
        ({"created_from": at(2)}, ["mail-1", "ship-2", "ship-1", "order-3"]),
        ({"created_to": at(2)}, ["order-2", "order-1"]),
        ({"created_from": at(1), "created_to": at(4)}, ["ship-1", "order-3", "order-2"]),
        ({"completed_from": at(20)}, ["ship-1", "order-2"]),
        ({"completed_to": at(20)}, ["order-1"]),
        ({"completed_from": at(10), "completed_to": at(30)}, ["order-2", "order-1"]),
        ({"parent_instance_id": "order-3"}, ["ship-2", "ship-1"]),
        ({"parent_instance_id": "order-1"}, []),
        ({"instance_id_prefix": "ship-"}, ["ship-2", "ship-1"]),
        ({"instance_id_prefix": "order-3"}, ["order-3"]),
        ({"instance_id_prefix": "%"}, []),
        ({"instance_id_prefix": "o_der"}, []),
        (
            {
                "statuses": [WorkflowStatus.PENDING, WorkflowStatus.TERMINATED],
                "name": "ship",
                "parent_instance_id": "order-3",
                "instance_id_prefix": "ship",
                "created_from": at(3),
                "created_to": at(5),
            },
            ["ship-2", "ship-1"],
        ),
        ({"name": "ship", "completed_from": at(0)}, ["ship-1"]),
    ],
)
def test_list_and_count_filters(
    estate: Store, filters: dict[str, object], expected: list[str]
) -> None:
    assert _ids(estate, **filters) == expected
    assert estate.count_instances(InstanceQuery(**filters)) == len(expected)  # type: ignore[arg-type]


def test_count_without_filters_counts_everything(estate: Store) -> None:
    assert estate.count_instances(InstanceQuery()) == len(ALL_NEWEST_FIRST)


def test_count_ignores_paging(estate: Store) -> None:
    first = estate.list_instances(InstanceQuery(page_size=2))
    assert first.continuation_token is not None
    query = InstanceQuery(page_size=2, continuation_token=first.continuation_token)
    assert estate.count_instances(query) == len(ALL_NEWEST_FIRST)


def _page_through(store: Store, query: InstanceQuery) -> list[list[str]]:
    pages: list[list[str]] = []
    while True:
        page = store.list_instances(query)
        pages.append([r.instance_id for r in page.instances])
        if page.continuation_token is None:
            return pages
        assert len(page.instances) == query.page_size
        query = replace(query, continuation_token=page.continuation_token)


def _populate(store: Store, count: int) -> list[str]:
    """``count`` instances; several share a creation time, so ties must page stably."""
    ids = [f"inst-{i:04d}" for i in range(count)]
    for i, instance_id in enumerate(ids):
        create(store, instance_id, name="even" if i % 2 == 0 else "odd", now=at(i // 4))
    return ids


@pytest.mark.parametrize("page_size", [1, 7, 100, 260, 261, 1000])
def test_paging_visits_every_instance_once_in_order(store: Store, page_size: int) -> None:
    ids = _populate(store, 260)
    expected = sorted(ids, key=lambda i: (int(i[5:]) // 4, i), reverse=True)

    pages = _page_through(store, InstanceQuery(page_size=page_size))

    assert [i for page in pages for i in page] == expected
    assert len(pages) == max(1, -(-260 // page_size))


def test_paging_with_a_filter(store: Store) -> None:
    ids = _populate(store, 260)
    expected = [i for i in sorted(ids, key=lambda i: (int(i[5:]) // 4, i), reverse=True)]
    expected = [i for i in expected if int(i[5:]) % 2 == 1]

    pages = _page_through(store, InstanceQuery(name="odd", page_size=9))

    assert [i for page in pages for i in page] == expected


def test_paging_is_stable_while_instances_are_created(store: Store) -> None:
    ids = _populate(store, 260)
    expected = sorted(ids, key=lambda i: (int(i[5:]) // 4, i), reverse=True)
    seen: list[str] = []
    query = InstanceQuery(page_size=50)
    for round_ in range(100):
        page = store.list_instances(query)
        seen.extend(r.instance_id for r in page.instances)
        # Newer instances appear at the front; they must not shift the pages to come.
        create(store, f"late-{round_}", now=at(10_000 + round_))
        if page.continuation_token is None:
            break
        query = replace(query, continuation_token=page.continuation_token)

    assert seen == expected


@pytest.mark.parametrize("token", ["garbage!", "bm90LWEtdG9rZW4", "YWJjfGRlZg", "///"])
def test_bad_continuation_token_raises_value_error(store: Store, token: str) -> None:
    _populate(store, 3)
    with pytest.raises(ValueError, match="continuation token"):
        store.list_instances(InstanceQuery(continuation_token=token))


def test_empty_continuation_token_means_the_first_page(store: Store) -> None:
    _populate(store, 3)
    assert len(store.list_instances(InstanceQuery(continuation_token="")).instances) == 3


def test_page_size_must_be_positive(store: Store) -> None:
    with pytest.raises(ValueError):
        store.list_instances(InstanceQuery(page_size=0))


# ----- children ----------------------------------------------------------------------------


def test_active_children_lists_only_unfinished_direct_children(store: Store) -> None:
    start(store, "p")
    start(store, "done", parent=_child_of("p", 1))
    finish(store, "done", now=at(1))
    start(store, "running", parent=_child_of("p", 2))
    create(store, "pending", parent=_child_of("p", 3))
    start(store, "grandchild", parent=_child_of("running", 1))
    start(store, "stranger")

    assert sorted(r.instance_id for r in store.active_children("p")) == ["pending", "running"]
    assert [r.instance_id for r in store.active_children("running")] == ["grandchild"]
    assert store.active_children("stranger") == []
    assert store.active_children("ghost") == []


# ----- purge -------------------------------------------------------------------------------


def test_purge_unknown_instance_raises_not_found(store: Store) -> None:
    with pytest.raises(InstanceNotFoundError):
        store.purge_instance("ghost")


@pytest.mark.parametrize("state", ["PENDING", "RUNNING", "SUSPENDED"])
def test_purge_of_an_active_instance_raises_and_deletes_nothing(store: Store, state: str) -> None:
    create(store, "a")
    if state != "PENDING":
        run(store, "a", status=WorkflowStatus(state))
    before, history = store.get_instance("a"), store.get_history("a")

    with pytest.raises(InstanceNotTerminalError) as caught:
        store.purge_instance("a")

    assert caught.value.instance_id == "a"
    assert store.get_instance("a") == before
    assert store.get_history("a") == history


def test_purge_deletes_a_terminal_instance_and_its_rows(store: Store) -> None:
    start(store, "a")
    finish(store, "a", now=at(1))
    start(store, "b")

    assert store.purge_instance("a") == 1

    assert store.get_instance("a") is None
    assert store.get_history("a") == []
    assert store.get_history("b") != []
    with pytest.raises(InstanceNotFoundError):
        store.purge_instance("a")
    create(store, "a", now=at(2))  # the id is free again
    assert store.get_history("a") == []


def _family(store: Store) -> None:
    """root -> (kid-1 -> grandkid), kid-2; all terminal."""
    start(store, "root")
    start(store, "kid-1", parent=_child_of("root", 1))
    start(store, "kid-2", parent=_child_of("root", 2))
    start(store, "grandkid", parent=_child_of("kid-1", 1))
    for instance_id in ("grandkid", "kid-1", "kid-2", "root"):
        finish(store, instance_id, now=at(1))


def test_recursive_purge_deletes_terminal_descendants(store: Store) -> None:
    _family(store)
    start(store, "bystander")

    assert store.purge_instance("root") == 4

    for instance_id in ("root", "kid-1", "kid-2", "grandkid"):
        assert store.get_instance(instance_id) is None
        assert store.get_history(instance_id) == []
    assert store.get_instance("bystander") is not None


def test_non_recursive_purge_leaves_descendants(store: Store) -> None:
    _family(store)

    assert store.purge_instance("root", recursive=False) == 1

    assert store.get_instance("root") is None
    assert store.get_instance("kid-1") is not None
    assert store.get_instance("grandkid") is not None


def test_an_active_descendant_blocks_the_purge(store: Store) -> None:
    start(store, "root")
    start(store, "kid", parent=_child_of("root", 1))
    start(store, "grandkid", parent=_child_of("kid", 1))
    finish(store, "kid", now=at(1))
    finish(store, "root", now=at(2))
    snapshot = {i: store.get_instance(i) for i in ("root", "kid", "grandkid")}

    with pytest.raises(InstanceNotTerminalError) as caught:
        store.purge_instance("root")

    assert caught.value.instance_id == "grandkid"
    assert {i: store.get_instance(i) for i in snapshot} == snapshot
    assert store.get_history("root") != []


def test_purge_terminates_on_a_parent_cycle_made_by_reused_ids(store: Store) -> None:
    # a starts child b; a finishes; b starts a new "a" as its own child: a -> b -> a.
    start(store, "a")
    poke(store, "a", now=at(1))
    run(
        store,
        "a",
        now=at(1),
        children=(
            NewInstance(instance_id="b", name="wf", execution_id="b1", parent=_child_of("a")),
        ),
    )
    run(store, "b", now=at(2))
    finish(store, "a", now=at(3))
    poke(store, "b", now=at(4))
    run(
        store,
        "b",
        now=at(4),
        children=(
            NewInstance(instance_id="a", name="wf", execution_id="a2", parent=_child_of("b")),
        ),
    )
    run(store, "a", now=at(5))
    finish(store, "a", now=at(6))
    finish(store, "b", now=at(7))

    assert store.purge_instance("a") == 2

    assert store.get_instance("a") is None
    assert store.get_instance("b") is None


def test_purged_instance_leaves_nothing_claimable(store: Store) -> None:
    start(store, "a")
    poke(store, "a", now=at(1))
    turn = claim_one(store, "a", now=at(1))
    commit(store, turn, now=at(1), status=WorkflowStatus.COMPLETED, consumed=())

    store.purge_instance("a")

    assert claim(store, now=at(2)) == []
    assert store.next_wakeup(now=T0) is None
