"""PostgreSQL only: a deadlock with another writer is applied again, not reported,
and groups of writes lock instance rows in one order, so they do not deadlock.

Nodes lock instance rows in different orders (a turn locks its own row, then the row
of the instance it sends an event to), so PostgreSQL may pick one of their
transactions as a deadlock victim; the group writer must apply it again.
"""

from __future__ import annotations

import os
import threading

import psycopg

from support.wait import wait_until
from wayline.core.events import EventRaised
from wayline.store import Store
from wayline.store.commands import AppendMessage
from wayline.store.types import AppendResult, OutboundMessage

from ._support import T0, claim, claim_one, commit, start
from .conftest import POSTGRES_URL_VAR, open_postgres_for_tests


def test_a_deadlocked_commit_is_applied_again() -> None:
    store = open_postgres_for_tests()
    try:
        start(store, "sender")
        start(store, "receiver")
        store.append_message("sender", EventRaised(timestamp=T0, name="go"), now=T0)
        turn = claim_one(store, "sender")
        other = psycopg.connect(os.environ[POSTGRES_URL_VAR])
        # Only the store's session looks for the cycle (after 1 s): it is the victim.
        other.execute("SET deadlock_timeout = '60s'")
        other.execute("UPDATE instances SET version = version WHERE instance_id = 'receiver'")
        failures: list[BaseException] = []

        def commit_with_a_message() -> None:
            # Locks "sender", then waits for "receiver", which ``other`` holds.
            try:
                message = OutboundMessage("receiver", EventRaised(timestamp=T0, name="ping"))
                commit(store, turn, messages=(message,))
            except BaseException as exc:
                failures.append(exc)

        writer = threading.Thread(target=commit_with_a_message)
        writer.start()
        with psycopg.connect(os.environ[POSTGRES_URL_VAR], autocommit=True) as watcher:
            wait_until(
                lambda: watcher.execute(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted"
                ).fetchone()[0],  # type: ignore[index]
                what="the store's commit to wait for the receiver's row",
            )
        # Waits for "sender", held by the store: a cycle. The store's transaction is
        # rolled back as the victim, which lets this statement through.
        other.execute("UPDATE instances SET version = version WHERE instance_id = 'sender'")
        other.commit()
        other.close()
        writer.join(timeout=30)
        assert not writer.is_alive()
        assert failures == []
        assert [m.event.name for m in claim_one(store, "receiver").messages] == ["ping"]
    finally:
        store.close()


def test_groups_on_two_nodes_lock_instances_in_one_order() -> None:
    """Two nodes' groups name the same instances in opposite orders: applied as
    queued, each would lock half the rows and wait for the other's half."""
    first, second = open_postgres_for_tests(), open_postgres_for_tests()
    ids = [f"i{n:02}" for n in range(24)]
    try:
        for instance_id in ids:
            start(first, instance_id)
        rounds = 4
        for round_ in range(rounds):
            futures = []
            for store, order in ((first, ids), (second, ids[::-1])):
                for instance_id in order:
                    event = EventRaised(timestamp=T0, name=f"{store is first}-{round_}")
                    futures.append(store.enqueue(AppendMessage(instance_id, event, T0)))
            gate = threading.Barrier(2)

            def flush(store: Store, gate: threading.Barrier) -> None:
                gate.wait()
                store.flush()

            threads = [
                threading.Thread(target=flush, args=(store, gate)) for store in (first, second)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert {future.result(timeout=0) for future in futures} == {AppendResult.APPENDED}
        assert first.write_conflicts + second.write_conflicts == 0
        inbox = claim(first)
        assert {turn.instance.instance_id: len(turn.messages) for turn in inbox} == dict.fromkeys(
            ids, 2 * rounds
        )
    finally:
        first.close()
        second.close()
