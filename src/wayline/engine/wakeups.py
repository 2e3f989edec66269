"""When the engine claims: kinds of work that may be waiting, and waiting for them."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

#: How often the engine claims whatever is due even if no wake-up announced it.
SWEEP_INTERVAL = timedelta(seconds=5)


class Wanted:
    """A kind of work that may be waiting in the store: set, then claimed once."""

    def __init__(self) -> None:
        self.pending = True  # claim once at start: recovery after a restart
        self.event = asyncio.Event()
        self.event.set()
        # When the last claim that was not cut short by its limit ran (or the one in
        # flight started): work due by then was either taken by it or is not ours to
        # take (another node holds it, no one here runs its name), so it is no reason
        # to claim again.
        self.claimed_all_at: datetime | None = None
        self.claiming_since: datetime | None = None

    def set(self) -> None:
        self.pending = True
        self.event.set()

    def due(self, when: datetime) -> None:
        """Work became due at ``when``: claim unless a claim since covers it."""
        for covered_until in (self.claimed_all_at, self.claiming_since):
            if covered_until is not None and when <= covered_until:
                return
        self.set()

    def claiming(self, now: datetime) -> None:
        self.pending = False
        self.claiming_since = now

    def claimed(self, now: datetime, *, complete: bool) -> None:
        """A claim started at ``now`` returned; ``complete``: not cut short by its limit."""
        self.claiming_since = None
        if complete:
            self.claimed_all_at = now
        else:
            self.set()  # more may be waiting


async def wait_then_clear(event: asyncio.Event, timeout: float | None) -> None:
    """Wait for ``event`` (at most ``timeout`` seconds), then clear it."""
    # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives
    # together with the wake-up, and the loop would then outlive stop().
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout):
            await event.wait()
    event.clear()
