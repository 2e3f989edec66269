"""Retry policies for activities and child workflows (Dapr's ``RetryPolicy``)."""

from __future__ import annotations

from datetime import timedelta


class RetryPolicy:
    """How often and how fast to retry a failed activity or child workflow.

    Args:
        first_retry_interval: delay before the first retry (>= 0).
        max_number_of_attempts: total attempts including the first (>= 1).
        backoff_coefficient: multiplier applied to the delay per attempt (>= 1).
        max_retry_interval: upper bound of any single delay (>= 0).
        retry_timeout: no attempt starts later than this after the first one (>= 0).
    """

    def __init__(
        self,
        *,
        first_retry_interval: timedelta,
        max_number_of_attempts: int,
        backoff_coefficient: float | None = 1.0,
        max_retry_interval: timedelta | None = None,
        retry_timeout: timedelta | None = None,
    ) -> None:
        if first_retry_interval < timedelta(0):
            raise ValueError("first_retry_interval must be >= 0")
        if max_number_of_attempts < 1:
            raise ValueError("max_number_of_attempts must be >= 1")
        if backoff_coefficient is not None and backoff_coefficient < 1:
            raise ValueError("backoff_coefficient must be >= 1")
        if max_retry_interval is not None and max_retry_interval < timedelta(0):
            raise ValueError("max_retry_interval must be >= 0")
        if retry_timeout is not None and retry_timeout < timedelta(0):
            raise ValueError("retry_timeout must be >= 0")
        self._first_retry_interval = first_retry_interval
        self._max_number_of_attempts = max_number_of_attempts
        self._backoff_coefficient = backoff_coefficient
        self._max_retry_interval = max_retry_interval
        self._retry_timeout = retry_timeout

    @property
    def first_retry_interval(self) -> timedelta:
        return self._first_retry_interval

    @property
    def max_number_of_attempts(self) -> int:
        return self._max_number_of_attempts

    @property
    def backoff_coefficient(self) -> float | None:
        return self._backoff_coefficient

    @property
    def max_retry_interval(self) -> timedelta | None:
        return self._max_retry_interval

    @property
    def retry_timeout(self) -> timedelta | None:
        return self._retry_timeout

    def next_delay(self, attempts_made: int) -> timedelta | None:
        """Delay before attempt ``attempts_made + 1``, or ``None`` to give up.

        Computed from the policy alone (not from wall time), so replay agrees;
        ``retry_timeout`` bounds the summed delays since the first attempt.
        """
        if attempts_made >= self._max_number_of_attempts:
            return None
        coefficient = self._backoff_coefficient or 1.0
        elapsed = 0.0
        delay = 0.0
        for attempt in range(1, attempts_made + 1):
            delay = coefficient ** (attempt - 1) * self._first_retry_interval.total_seconds()
            if self._max_retry_interval is not None:
                delay = min(delay, self._max_retry_interval.total_seconds())
            elapsed += delay
        if self._retry_timeout is not None and elapsed >= self._retry_timeout.total_seconds():
            return None
        return timedelta(seconds=delay)

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(first_retry_interval={self._first_retry_interval!r}, "
            f"max_number_of_attempts={self._max_number_of_attempts}, "
            f"backoff_coefficient={self._backoff_coefficient}, "
            f"max_retry_interval={self._max_retry_interval!r}, "
            f"retry_timeout={self._retry_timeout!r})"
        )
