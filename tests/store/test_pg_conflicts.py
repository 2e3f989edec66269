"""PostgreSQL only: a deadlock with another writer is applied again, not reported.

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
from wayline.store.types import OutboundMessage

from ._support import T0, claim_one, commit, start
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
