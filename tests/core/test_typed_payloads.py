"""Typed payloads: JSON decoded into the annotated types, round trips through the
converter, and what a payload that does not fit gives."""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypedDict

import pytest

from support.ci import unavailable
from wayline.core import serde
from wayline.core.context import WorkflowContext
from wayline.core.typed import convert, input_type, is_rich, return_type
from wayline.errors import PayloadTypeError

from ._harness import Scenario, completed, failure_of, output


class Size(enum.Enum):
    SMALL = "s"
    LARGE = "l"


@dataclass
class Line:
    sku: str
    qty: int = 1


@dataclass
class Order:
    id: uuid.UUID
    lines: list[Line]
    size: Size
    placed: dt.datetime
    total: Decimal
    note: str | None = None
    tags: dict[str, int] = field(default_factory=dict)


class Address(TypedDict):
    city: str
    zip: str


ORDER = Order(
    id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
    lines=[Line("a", 2), Line("b")],
    size=Size.LARGE,
    placed=dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
    total=Decimal("12.50"),
    tags={"x": 1},
)


def test_a_dataclass_round_trips_through_json() -> None:
    text = serde.dumps(ORDER)
    assert text is not None and '"size": "l"' in text and '"total": "12.50"' in text
    assert convert(serde.loads(text), Order) == ORDER


@pytest.mark.parametrize(
    ("tp", "value", "expected"),
    [
        (Size, "s", Size.SMALL),
        (dt.date, "2025-01-02", dt.date(2025, 1, 2)),
        (dt.time, "03:04:05", dt.time(3, 4, 5)),
        (list[Size], ["s", "l"], [Size.SMALL, Size.LARGE]),
        (tuple[Size, int], ["s", 3], (Size.SMALL, 3)),
        (dict[str, Line], {"k": {"sku": "z"}}, {"k": Line("z")}),
        (Line | None, None, None),
        (Address, {"city": "Oslo", "zip": "0150"}, {"city": "Oslo", "zip": "0150"}),
        (Literal["a", "b"], "a", "a"),
    ],
)
def test_decoding(tp: Any, value: Any, expected: Any) -> None:
    assert convert(value, tp) == expected


@pytest.mark.parametrize(
    ("tp", "value", "message"),
    [
        (Line, {"qty": 2}, "input: Line needs field 'sku'"),
        (Line, {"sku": "a", "qty": "2"}, "input.qty: expected int, got str '2'"),
        (Line, ["a"], "input: expected Line (an object), got list"),
        (Size, "m", "input: expected Size (one of ['s', 'l']), got str 'm'"),
        (dt.datetime, "yesterday", "input: expected datetime (an ISO 8601 string)"),
        (list[Line], [{"sku": "a"}, {"sku": 1}], "input[1].sku: expected str, got int 1"),
        (Address, {"city": "Oslo"}, "input: Address needs key 'zip'"),
        (uuid.UUID, "nope", "input: expected UUID (a string), got str 'nope'"),
        (Decimal, "lots", "input: expected Decimal"),
        (Line | Size, 5, "input: expected Line | Size, got int 5"),
    ],
)
def test_a_payload_that_does_not_fit_says_where_and_what(tp: Any, value: Any, message: str) -> None:
    with pytest.raises(PayloadTypeError) as error:
        convert(value, tp)
    assert str(error.value).startswith(message)


def test_plain_json_annotations_pass_values_through_unchanged() -> None:
    for tp in (dict, list, str, int, Any, dict[str, Any], list[int], None):
        assert not is_rich(tp)

    def wf(ctx: Any, order: dict) -> dict:  # type: ignore[type-arg]
        return order

    assert input_type(wf) is None and return_type(wf) is None


def test_extra_fields_are_ignored_for_forward_compatibility() -> None:
    assert convert({"sku": "a", "colour": "red"}, Line) == Line("a")


def test_pydantic_models_when_pydantic_is_installed() -> None:
    try:
        import pydantic
    except ImportError:
        unavailable("needs pydantic: pip install -e '.[dev]'")

    class Customer(pydantic.BaseModel):  # type: ignore[name-defined,misc]
        name: str
        since: dt.date

    text = serde.dumps(Customer(name="ada", since=dt.date(2020, 1, 1)))
    assert text == '{"name": "ada", "since": "2020-01-01"}'
    assert convert(serde.loads(text), Customer) == Customer(name="ada", since=dt.date(2020, 1, 1))
    with pytest.raises(PayloadTypeError, match="input: does not fit Customer"):
        convert({"name": "ada"}, Customer)


# ----- in workflows: the kernel decodes inputs and step results ----------------------


def make_line(ctx: Any, sku: str) -> Line:
    return Line(sku)


def test_a_workflow_gets_its_input_and_step_results_typed() -> None:
    def wf(ctx: WorkflowContext, order: Order) -> Any:
        assert isinstance(order.lines[0], Line) and order.size is Size.LARGE
        line = yield ctx.call_activity(make_line, input="c")
        assert isinstance(line, Line)
        return [order.total + 1, line]

    run = Scenario(wf)
    run.start(ORDER)
    assert output(run.turn(completed(1, {"sku": "c", "qty": 1}))) == [
        "13.50",
        {"sku": "c", "qty": 1},
    ]


def test_an_input_that_does_not_fit_fails_the_workflow_without_retries() -> None:
    def wf(ctx: WorkflowContext, order: Order) -> Any:
        return order

    details = failure_of(Scenario(wf).start({"id": "x"}))
    assert details.error_type == "PayloadTypeError"
    assert details.non_retriable
    assert "input.id: expected UUID (a string), got str 'x'" in details.message


def test_a_step_result_that_does_not_fit_raises_at_the_yield() -> None:
    def wf(ctx: WorkflowContext, _: Any) -> Any:
        try:
            yield ctx.call_activity(make_line, input="c")
        except PayloadTypeError as error:
            return str(error)
        return "not reached"

    run = Scenario(wf)
    run.start()
    assert output(run.turn(completed(1, {"qty": 1}))) == (
        "the result of step #1: Line needs field 'sku'"
    )


def test_async_workflows_are_typed_too() -> None:
    async def wf(ctx: WorkflowContext, line: Line) -> Any:
        more = await ctx.call_activity(make_line, input=line.sku + "2")
        return [line.qty, more.sku]

    run = Scenario(wf)
    run.start({"sku": "a", "qty": 3})
    assert output(run.turn(completed(1, {"sku": "a2"}))) == [3, "a2"]
