"""The default data converter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from wayline.core import serde
from wayline.errors import SerializationError


@dataclass
class Point:
    x: int
    y: int


class PydanticLike:
    def model_dump(self) -> dict[str, Any]:
        return {"kind": "model"}


class HasToDict:
    def to_dict(self) -> dict[str, Any]:
        return {"kind": "to_dict"}


class NotCallable:
    to_dict = "not a method"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        ("x", '"x"'),
        ("", '""'),
        (0, "0"),
        (False, "false"),
        ([], "[]"),
        ({"ü": [1, 2.5, None]}, '{"ü": [1, 2.5, null]}'),
        (Point(1, 2), '{"x": 1, "y": 2}'),
        ({"p": Point(0, 0)}, '{"p": {"x": 0, "y": 0}}'),
        (PydanticLike(), '{"kind": "model"}'),
        (HasToDict(), '{"kind": "to_dict"}'),
        ({3, 1, 2}, "[1, 2, 3]"),
        (frozenset({"b", "a"}), '["a", "b"]'),
    ],
)
def test_dumps(value: Any, text: str) -> None:
    assert serde.dumps(value) == text


def test_none_is_no_payload() -> None:
    assert serde.dumps(None) is None
    assert serde.loads(None) is None
    assert serde.loads("") is None
    assert serde.loads_lenient(None) is None
    assert serde.loads_lenient("") is None


def test_unserializable_values_raise_serialization_error() -> None:
    with pytest.raises(SerializationError) as info:
        serde.dumps(NotCallable())
    assert "cannot serialize a NotCallable as JSON" in str(info.value)
    assert "pass JSON-compatible values" in str(info.value)
    assert info.value.error_code == "ERR_MALFORMED_REQUEST"
    assert isinstance(info.value, TypeError)
    assert isinstance(info.value.__cause__, TypeError)


def test_circular_values_raise_serialization_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(SerializationError, match="cannot serialize a list as JSON"):
        serde.dumps(loop)


def test_loads() -> None:
    assert serde.loads('{"a": [1, null]}') == {"a": [1, None]}
    assert serde.loads("0") == 0
    with pytest.raises(SerializationError, match="payload is not valid JSON"):
        serde.loads("{nope")


def test_loads_lenient_returns_text_that_is_not_json() -> None:
    assert serde.loads_lenient('"quoted"') == "quoted"
    assert serde.loads_lenient("[1]") == [1]
    assert serde.loads_lenient("hello world") == "hello world"
    assert serde.loads_lenient("{broken") == "{broken"


def test_raw_payload_is_stored_verbatim() -> None:
    raw = serde.RawPayload("not json, as the HTTP body was")
    assert serde.dumps(raw) == "not json, as the HTTP body was"
    assert serde.dumps(serde.RawPayload('{"a": 1}')) == '{"a": 1}'
    assert serde.dumps("plain str") == '"plain str"'


def test_round_trip() -> None:
    value = {"list": [1, "two", 3.0, True, None], "nested": {"k": "ü"}}
    assert serde.loads(serde.dumps(value)) == value


@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), -float("inf"), {"x": [1.0, float("nan")]}]
)
def test_nan_and_infinity_are_not_written(value: Any) -> None:
    """Python's json writes NaN/Infinity, which JavaScript and Go parsers reject."""
    with pytest.raises(SerializationError, match="Out of range float values"):
        serde.dumps(value)


@pytest.mark.parametrize("value", ["\ud800", {"k": ["ok", "\udfff"]}])
def test_unpaired_surrogates_are_not_written(value: Any) -> None:
    with pytest.raises(SerializationError, match="unpaired surrogate"):
        serde.dumps(value)


def test_nesting_too_deep_to_write_is_a_serialization_error() -> None:
    value: list[Any] = []
    for _ in range(100_000):
        value = [value]
    with pytest.raises(SerializationError, match="cannot serialize a list"):
        serde.dumps(value)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1" * 4301, "4300 digits"),
        ('{"n": -' + "2" * 5000 + "}", "4300 digits"),
        ("NaN", "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
        ('{"a": -Infinity}', "-Infinity is not a JSON number"),
        ("1e999", "1e999 is out of the range of a 64-bit float"),
        ("[-1.5e400]", "out of the range"),
        ("[" * 100_000, "nested too deeply"),
        ('"\\ud800"', "unpaired surrogate"),
        ('["\\uDC00x"]', "unpaired surrogate"),
        ("text with a \ud800 in it", "unpaired surrogate"),
    ],
)
def test_check_text_refuses_json_that_would_change(text: str, reason: str) -> None:
    with pytest.raises(SerializationError, match=reason):
        serde.check_text(text)
    with pytest.raises(SerializationError, match=reason):
        serde.dumps(serde.RawPayload(text))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain text",
        "NaN is a word",
        "Infinity and beyond",
        "1e999 reasons",
        "9" * 4300,
        "1.7976931348623157e308",
        '"\\ud83d\\ude00"',
        "[" * 100 + "]" * 100,
        "naïve ✓",
    ],
)
def test_check_text_keeps_what_round_trips_or_is_not_json(text: str) -> None:
    assert serde.check_text(text) == text


def test_loads_reads_standard_json_only() -> None:
    for text in ("NaN", "[1e999]", "1" * 4301, "[" * 100_000):
        with pytest.raises(SerializationError):
            serde.loads(text)
