"""The group writer's order and its way out of repeated conflicts, with a store
stand-in that records what each transaction applied (the PostgreSQL behaviour
itself is in ``test_pg_conflicts``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

from wayline.core.events import EventRaised
from wayline.store.commands import AppendMessage, ClaimTurns, WriteCommand
from wayline.store.writer import RETRIES, GroupWriter, in_lock_order

from ._support import LEASE, T0


class _Conflict(Exception):
    """Stands for a deadlock: a transient conflict with another writer."""


def _append(instance_id: str, name: str = "e") -> AppendMessage:
    return AppendMessage(instance_id, EventRaised(timestamp=T0, name=name), T0)


def test_in_lock_order_sorts_runs_of_instance_commands_between_claims() -> None:
    claim_turns = ClaimTurns(owner="n", workflow_names=None, now=T0, lease=LEASE, limit=1)
    batch: list[WriteCommand] = [
        _append("b", "1"),
        _append("a", "2"),
        _append("b", "3"),
        claim_turns,
        _append("c", "4"),
        _append("a", "5"),
    ]
    queued: list[tuple[WriteCommand, Future[Any]]] = [(c, Future()) for c in batch]
    ordered = [command for command, _ in in_lock_order(queued)]
    # One instance's commands keep their order; nothing crosses the claim.
    assert ordered == [batch[1], batch[0], batch[2], claim_turns, batch[5], batch[4]]


def test_a_group_that_keeps_conflicting_is_applied_one_command_at_a_time() -> None:
    committed: list[list[str]] = []
    applying: list[str] = []

    @contextlib.contextmanager
    def transaction() -> Iterator[None]:
        applying.clear()
        yield
        committed.append(list(applying))

    def apply(cur: Any, command: WriteCommand) -> str:
        assert isinstance(command, AppendMessage)
        if applying:  # a second command in one transaction always deadlocks
            raise _Conflict()
        applying.append(command.instance_id)
        return command.instance_id

    writer = GroupWriter(
        transaction,  # type: ignore[arg-type]
        apply,
        retryable=lambda exc: isinstance(exc, _Conflict),
        concurrent=True,
    )
    futures = [writer.enqueue(_append(i)) for i in ("c", "a", "b")]
    writer.flush()
    assert [f.result(timeout=0) for f in futures] == ["c", "a", "b"]
    assert committed == [["a"], ["b"], ["c"]]  # in lock order, each alone
    assert writer.conflicts == RETRIES  # every attempt at the group conflicted


def test_a_command_that_conflicts_on_every_attempt_fails_alone() -> None:
    @contextlib.contextmanager
    def transaction() -> Iterator[None]:
        yield

    def apply(cur: Any, command: WriteCommand) -> str:
        assert isinstance(command, AppendMessage)
        if command.instance_id == "hot":
            raise _Conflict("deadlock detected")
        return command.instance_id

    writer = GroupWriter(
        transaction,  # type: ignore[arg-type]
        apply,
        retryable=lambda exc: isinstance(exc, _Conflict),
        concurrent=True,
    )
    hot, cold = writer.enqueue(_append("hot")), writer.enqueue(_append("cold"))
    writer.flush()
    assert cold.result(timeout=0) == "cold"
    assert isinstance(hot.exception(timeout=0), _Conflict)
