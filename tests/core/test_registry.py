"""Names of workflows and activities, input detection and the registry."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from wayline.core.registry import (
    NAME_ATTRIBUTE,
    Registry,
    accepts_input,
    call_with_input,
    name_of,
)


def test_name_of_a_function_a_name_and_an_alternate_name() -> None:
    def activity(ctx: Any, value: Any) -> Any:
        return value

    assert name_of(activity) == "activity"
    assert name_of("given") == "given"
    setattr(activity, NAME_ATTRIBUTE, "alternate")
    assert name_of(activity) == "alternate"


def test_name_of_rejects_empty_names_and_nameless_objects() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        name_of("")
    with pytest.raises(TypeError, match="is neither a function nor a name"):
        name_of(functools.partial(print))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="is neither a function nor a name"):
        name_of(42)  # type: ignore[arg-type]


def _ctx_only(ctx: Any) -> Any:
    return "ctx only"


def _ctx_and_input(ctx: Any, value: Any) -> Any:
    return ("with input", value)


def _ctx_and_default(ctx: Any, value: Any = None) -> Any:
    return ("default", value)


def _star_args(*args: Any) -> Any:
    return args


def _keyword_only(ctx: Any, *, value: Any = None) -> Any:
    return ("keyword", value)


class _Callable:
    def method(self, ctx: Any, value: Any) -> Any:
        return ("method", value)


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (_ctx_only, False),
        (_ctx_and_input, True),
        (_ctx_and_default, True),
        (_star_args, True),
        (_keyword_only, False),
        (_Callable().method, True),
        (type, True),  # no signature available: assume fn(ctx, input)
    ],
)
def test_accepts_input(fn: Any, expected: bool) -> None:
    assert accepts_input(fn) is expected


def test_call_with_input() -> None:
    assert call_with_input(_ctx_only, "ctx", 1) == "ctx only"
    assert call_with_input(_ctx_and_input, "ctx", 1) == ("with input", 1)
    assert call_with_input(_star_args, "ctx", 1) == ("ctx", 1)
    assert call_with_input(_keyword_only, "ctx", 1) == ("keyword", None)


def test_registry_registers_by_function_name() -> None:
    def workflow(ctx: Any, value: Any) -> Any:
        return value

    def activity(ctx: Any, value: Any) -> Any:
        return value

    registry = Registry()
    assert registry.add_workflow(workflow) == "workflow"
    assert registry.add_activity(activity) == "activity"
    assert registry.workflows == {"workflow": workflow}
    assert registry.activities == {"activity": activity}
    # The name sticks to the function, so name_of finds it from the function alone.
    assert getattr(workflow, NAME_ATTRIBUTE) == "workflow"


def test_registry_with_an_explicit_name() -> None:
    def fn(ctx: Any) -> None:
        return None

    registry = Registry()
    assert registry.add_workflow(fn, name="Custom") == "Custom"
    assert name_of(fn) == "Custom"
    # Registering it again elsewhere under the same name is fine; under another is not.
    other = Registry()
    assert other.add_workflow(fn, name="Custom") == "Custom"
    assert other.add_activity(fn) == "Custom"
    with pytest.raises(ValueError, match="workflow fn already has the name 'Custom'"):
        Registry().add_workflow(fn, name="Different")


def test_registry_rejects_duplicates() -> None:
    def a(ctx: Any) -> None:
        return None

    def b(ctx: Any) -> None:
        return None

    registry = Registry()
    registry.add_activity(a, name="same")
    with pytest.raises(ValueError, match="activity 'same' is already registered"):
        registry.add_activity(b, name="same")


def test_registry_rejects_what_is_not_callable() -> None:
    with pytest.raises(TypeError, match="register_workflow needs a function, got 42"):
        Registry().add_workflow(42)  # type: ignore[arg-type]


def test_registry_accepts_builtins_that_take_no_attributes() -> None:
    registry = Registry()
    assert registry.add_activity(len) == "len"
    assert registry.activities["len"] is len
    assert not hasattr(len, NAME_ATTRIBUTE)


def test_registries_are_independent() -> None:
    def fn(ctx: Any) -> None:
        return None

    first, second = Registry(), Registry()
    first.add_workflow(fn)
    assert second.workflows == {}
