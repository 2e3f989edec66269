"""Tunables of one engine process."""

from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from datetime import timedelta

from wayline.core.ids import DEFAULT_APP_ID, validate_app_id
from wayline.core.serde import MAX_PAYLOAD_BYTES
from wayline.engine.retention import RetentionPolicy


@dataclasses.dataclass(frozen=True)
class EngineSettings:
    """Tunables of one engine process.

    Args:
        max_concurrent_turns: claimed workflow turns in flight at once.
        max_concurrent_activities: activities running at once (also the thread pool size).
        turn_lease: how long a claimed turn stays ours before another node may take it.
        activity_lease: how long a claimed activity stays ours; renewed while it runs.
        poll_interval: how often the engine checks whether another process wrote to
            the store (the fallback when the store cannot push wake-ups).
        cache_size: instances whose live state is kept to skip replay (0 disables the
            cache, and with it the step's fast path).
        always_replay: replay every turn from the stored history as well and fail the
            turn loudly if the cached executor disagrees: catches workflow code that
            does not replay deterministically (for tests and staging; costs a history
            read and a replay per turn). ``wayline.testing`` turns it on.
        max_payload_bytes: largest serialized activity result or workflow output.
        node_id: this process's name in leases; random when omitted.
        retention: how long finished instances are kept (default: forever).
        app_id: the app this node belongs to: it runs the instances started through
            its clients and the calls other apps send it (multi-app workflows), and
            names it where Dapr shows one (propagated history's chunks).
    """

    max_concurrent_turns: int = 64
    max_concurrent_activities: int = 32
    turn_lease: timedelta = timedelta(seconds=30)
    activity_lease: timedelta = timedelta(seconds=60)
    poll_interval: timedelta = timedelta(milliseconds=250)
    cache_size: int = 10_000
    always_replay: bool = False
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    node_id: str | None = None
    retention: RetentionPolicy = dataclasses.field(default_factory=RetentionPolicy)
    app_id: str = DEFAULT_APP_ID

    def __post_init__(self) -> None:
        validate_app_id(self.app_id)


def default_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
