"""Typed payloads on a real runtime: a dataclass in, typed step results, a typed
output read back with ``output_as``; payloads that do not fit are refused at the
start or fail their task once, without retries."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import wayline
from wayline.errors import PayloadTypeError

from ._support import wait_for_status


class Tier(enum.Enum):
    GOLD = "gold"
    BASIC = "basic"


@dataclass
class Order:
    customer: str
    tier: Tier
    placed: datetime
    amounts: list[float]


@dataclass
class Quote:
    order: Order
    total: float


def test_dataclasses_enums_and_datetimes_round_trip(runtime: wayline.WorkflowRuntime) -> None:
    @runtime.activity
    def price(ctx: wayline.WorkflowActivityContext, order: Order) -> Quote:
        discount = 0.9 if order.tier is Tier.GOLD else 1.0
        return Quote(order, round(sum(order.amounts) * discount, 2))

    @runtime.workflow
    def checkout(ctx: wayline.WorkflowContext, order: Order) -> Any:
        quote = yield ctx.call_activity(price, input=order)
        assert isinstance(quote, Quote) and isinstance(quote.order.placed, datetime)
        return quote

    order = Order("ada", Tier.GOLD, datetime(2025, 6, 1, 9, 30, tzinfo=UTC), [10.0, 20.0])
    with runtime:
        client = runtime.client()
        client.start_workflow(checkout, input=order, instance_id="typed-1")
        state = wait_for_status(client, "typed-1", "COMPLETED")
    assert state.output == {
        "order": {
            "customer": "ada",
            "tier": "gold",
            "placed": "2025-06-01T09:30:00+00:00",
            "amounts": [10.0, 20.0],
        },
        "total": 27.0,
    }
    assert state.output_as(Quote) == Quote(order, 27.0)
    assert state.input_as(Order) == order


def test_an_input_that_does_not_fit_is_refused_before_anything_is_created(
    runtime: wayline.WorkflowRuntime,
) -> None:
    @runtime.workflow
    def checkout(ctx: wayline.WorkflowContext, order: Order) -> Any:
        return order

    with runtime:
        client = runtime.client()
        with pytest.raises(PayloadTypeError, match=r"workflow input.tier: expected Tier"):
            client.start_workflow(
                checkout, input={"customer": "x", "tier": "platinum"}, instance_id="bad-1"
            )
        assert client.get_workflow_state("bad-1") is None
        # By name (as over HTTP) the workflow starts, then fails on its first turn.
        client.start_workflow("checkout", input={"customer": "x"}, instance_id="bad-2")
        state = wait_for_status(client, "bad-2", "FAILED")
    assert state.failure_details is not None
    assert state.failure_details.error_type == "PayloadTypeError"


def test_an_activity_input_that_does_not_fit_fails_once_without_retries(
    runtime: wayline.WorkflowRuntime,
) -> None:
    attempts: list[Any] = []

    @runtime.activity
    def price(ctx: wayline.WorkflowActivityContext, order: Order) -> float:
        attempts.append(order)
        return 1.0

    @runtime.workflow
    def checkout(ctx: wayline.WorkflowContext) -> Any:
        policy = wayline.RetryPolicy(
            first_retry_interval=timedelta(milliseconds=10), max_number_of_attempts=3
        )
        try:
            yield ctx.call_activity(price, input={"customer": "x"}, retry_policy=policy)
        except wayline.TaskFailedError as error:
            return error.details.error_type
        return "not reached"

    with runtime:
        client = runtime.client()
        client.start_workflow(checkout, instance_id="bad-activity")
        state = wait_for_status(client, "bad-activity", "COMPLETED")
        history = client.get_history("bad-activity")
    assert state.output == "PayloadTypeError"
    assert attempts == []
    assert sum(type(e).__name__ == "TaskScheduled" for e in history) == 1
