"""Instance id validation (Dapr's rules) and generated ids."""

from __future__ import annotations

import uuid

import pytest

from wayline.core.ids import (
    MAX_INSTANCE_ID_BYTES,
    deterministic_uuid,
    new_execution_id,
    new_instance_id,
    require_instance_id,
    validate_instance_id,
)
from wayline.errors import InvalidInstanceIdError, WaylineError


@pytest.mark.parametrize(
    "instance_id",
    [
        "a",
        "order-42",
        "ORDER_42",
        "_-_",
        "0123456789",
        "x" * 64,
        "überprüfung",  # letters of any script
        "注文番号",
        "заказ-1",
        "٣٤٥",  # Arabic-Indic digits are decimal digits (Nd)
        "é" * 32,  # 64 bytes in UTF-8
    ],
)
def test_valid_ids_are_returned_unchanged(instance_id: str) -> None:
    assert validate_instance_id(instance_id) == instance_id


@pytest.mark.parametrize(
    ("instance_id", "bad"),
    [
        ("order.42", "."),
        ("a b", " "),
        ("a/b", "/"),
        ("a:b", ":"),
        ("tab\t", "\t"),
        ("²", "²"),  # a digit, but not a decimal one (No)
        ("Ⅻ", "Ⅻ"),  # a number, but a letter-number (Nl), not a letter
        ("emoji🙂", "🙂"),
    ],
)
def test_invalid_characters_are_rejected(instance_id: str, bad: str) -> None:
    with pytest.raises(InvalidInstanceIdError) as info:
        validate_instance_id(instance_id)
    error = info.value
    assert error.error_code == "ERR_INSTANCE_ID_INVALID"
    assert f"character {bad!r} is not allowed" in str(error)
    assert f"'{instance_id}' is invalid" in str(error)
    assert "only letters, digits, underscores and dashes are allowed" in str(error)


@pytest.mark.parametrize(
    "instance_id",
    [
        "x" * 65,
        "é" * 33,  # 33 characters, 66 bytes
        "注" * 22,  # 22 characters, 66 bytes
    ],
)
def test_length_is_counted_in_utf8_bytes(instance_id: str) -> None:
    assert len(instance_id) <= 65
    with pytest.raises(InvalidInstanceIdError) as info:
        validate_instance_id(instance_id)
    assert info.value.error_code == "ERR_INSTANCE_ID_TOO_LONG"
    assert str(info.value) == ("workflow instance ID exceeds the max length of 64 characters")


def test_length_is_checked_before_the_characters() -> None:
    with pytest.raises(InvalidInstanceIdError) as info:
        validate_instance_id("." * 65)
    assert info.value.error_code == "ERR_INSTANCE_ID_TOO_LONG"


def test_empty_id_is_missing() -> None:
    for check in (validate_instance_id, require_instance_id):
        with pytest.raises(InvalidInstanceIdError) as info:
            check("")
        assert info.value.error_code == "ERR_INSTANCE_ID_PROVIDED_MISSING"
        assert str(info.value) == "no instance ID was provided"


def test_other_operations_only_need_a_non_empty_id() -> None:
    assert require_instance_id("any.thing goes/here") == "any.thing goes/here"
    assert require_instance_id("x" * 200) == "x" * 200


def test_the_error_is_a_value_error_and_keeps_the_class_code_by_default() -> None:
    error = InvalidInstanceIdError("bad")
    assert isinstance(error, ValueError)
    assert isinstance(error, WaylineError)
    assert error.error_code == "ERR_INSTANCE_ID_INVALID"
    assert InvalidInstanceIdError.error_code == "ERR_INSTANCE_ID_INVALID"
    overridden = InvalidInstanceIdError("bad", error_code="ERR_INSTANCE_ID_TOO_LONG")
    assert overridden.error_code == "ERR_INSTANCE_ID_TOO_LONG"
    # The override is per instance, not on the class.
    assert InvalidInstanceIdError.error_code == "ERR_INSTANCE_ID_INVALID"


def test_limit() -> None:
    assert MAX_INSTANCE_ID_BYTES == 64


def test_new_instance_id_is_a_dashed_uuid4_and_valid() -> None:
    first, second = new_instance_id(), new_instance_id()
    assert first != second
    assert len(first) == 36
    assert uuid.UUID(first).version == 4
    assert validate_instance_id(first) == first


def test_new_execution_id_is_a_hex_uuid() -> None:
    value = new_execution_id()
    assert len(value) == 32
    assert uuid.UUID(hex=value).version == 4
    assert value != new_execution_id()


def test_deterministic_uuid() -> None:
    value = deterministic_uuid("wf", "2025-01-01T00:00:00+00:00", 1)
    assert value == deterministic_uuid("wf", "2025-01-01T00:00:00+00:00", 1)
    assert value.version == 5
    assert value != deterministic_uuid("wf", "2025-01-01T00:00:00+00:00", 2)
    assert value != deterministic_uuid("wf2", "2025-01-01T00:00:00+00:00", 1)
