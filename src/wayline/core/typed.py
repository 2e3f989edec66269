"""Typed payloads: JSON values decoded into the types a function's annotations name.

A workflow or activity whose input is annotated ``order: Order`` receives an
``Order``; an activity or child workflow called by function gives the workflow a
value of its return annotation. What the wire carries stays plain JSON, as Dapr's
SDKs exchange it (``serde`` writes dataclasses, enums, datetimes and pydantic
models as JSON objects and strings).

Only *rich* annotations are decoded and checked: dataclasses, ``TypedDict``,
enums, ``datetime``/``date``/``time``, ``UUID``, ``Decimal``, pydantic models,
and containers, optionals and unions holding them. An annotation of plain JSON
types (``dict``, ``list``, ``str``, ``int``, ``Any``) passes the value through
unchanged, as before: Dapr passes raw request bodies through, and code ported
from Dapr may annotate loosely. Inside a rich type every field is checked, and a
value that does not fit raises ``PayloadTypeError`` naming the path
(``input.items[2].qty``), the expected type and what came.
"""

from __future__ import annotations

import collections.abc
import contextlib
import dataclasses
import datetime as dt
import enum
import functools
import inspect
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Union

from wayline.errors import PayloadTypeError

_NO_TYPE = object()


def input_type(fn: Callable[..., Any]) -> Any:
    """The rich annotation of ``fn``'s input parameter (the one after the context), or
    None when it has none (or a plain JSON one)."""
    try:
        return _input_type(fn)
    except TypeError:  # an unhashable callable
        return _input_type.__wrapped__(fn)


def return_type(fn: Callable[..., Any] | str) -> Any:
    """The rich return annotation of ``fn``, or None (a name, or a plain JSON one)."""
    if isinstance(fn, str):
        return None
    try:
        return _return_type(fn)
    except TypeError:
        return _return_type.__wrapped__(fn)


@functools.lru_cache(maxsize=4096)
def _input_type(fn: Callable[..., Any]) -> Any:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2:
        return None
    hint = _hints(fn).get(positional[1].name, _NO_TYPE)
    return hint if hint is not _NO_TYPE and is_rich(hint) else None


@functools.lru_cache(maxsize=4096)
def _return_type(fn: Callable[..., Any]) -> Any:
    hint = _hints(fn).get("return", _NO_TYPE)
    if hint is _NO_TYPE:
        return None
    # A generator workflow's "return" annotation is Generator[Yield, Send, Return].
    if typing.get_origin(hint) is collections.abc.Generator:
        args = typing.get_args(hint)
        hint = args[2] if len(args) == 3 else Any
    return hint if is_rich(hint) else None


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # an annotation that names something undefined: treat as untyped
        return {}


@functools.lru_cache(maxsize=4096)
def is_rich(tp: Any) -> bool:
    """Whether values of ``tp`` need decoding from JSON (see the module docstring)."""
    if tp in _PLAIN or tp is Any or isinstance(tp, typing.TypeVar):
        return False
    if isinstance(tp, type):
        return (
            dataclasses.is_dataclass(tp)
            or _is_typeddict(tp)
            or issubclass(tp, enum.Enum | dt.date | dt.time | uuid.UUID | Decimal)
            or _is_pydantic(tp)
        )
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return False
    return any(is_rich(arg) for arg in typing.get_args(tp) if arg is not Ellipsis)


_PLAIN: frozenset[Any] = frozenset(
    {dict, list, tuple, str, int, float, bool, type(None), None, object}
)


def _is_typeddict(tp: type) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _is_pydantic(tp: type) -> bool:
    return callable(getattr(tp, "model_validate", None)) and hasattr(tp, "model_fields")


def convert(value: Any, tp: Any, path: str = "input") -> Any:
    """``value`` (decoded JSON) as a ``tp``; raises ``PayloadTypeError`` if it does not fit."""
    if tp is None or tp is Any or tp is object or isinstance(tp, typing.TypeVar):
        return value
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return _union(value, typing.get_args(tp), path)
    if origin is typing.Literal:
        if value in typing.get_args(tp):
            return value
        raise _mismatch(path, f"one of {list(typing.get_args(tp))!r}", value)
    if origin is typing.Annotated:
        return convert(value, typing.get_args(tp)[0], path)
    if origin in (list, set, frozenset, tuple, collections.abc.Sequence):
        return _sequence(value, tp, origin, path)
    if origin in (dict, collections.abc.Mapping):
        return _mapping(value, tp, path)
    if tp is type(None):
        if value is None:
            return None
        raise _mismatch(path, "null", value)
    if isinstance(tp, type):
        return _single(value, tp, path)
    return value  # an annotation this module does not interpret: passed through


def _union(value: Any, options: tuple[Any, ...], path: str) -> Any:
    if value is None and type(None) in options:
        return None
    for option in options:
        if option is type(None):
            continue
        # The first option the value fits wins: list the more specific ones first.
        with contextlib.suppress(PayloadTypeError):
            return convert(value, option, path)
    names = " | ".join(_name(o) for o in options)
    raise _mismatch(path, names, value)


def _sequence(value: Any, tp: Any, origin: Any, path: str) -> Any:
    if not isinstance(value, list):
        raise _mismatch(path, _name(tp), value)
    args = typing.get_args(tp)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(value):
            raise PayloadTypeError(
                f"{path}: expected {len(args)} items ({_name(tp)}), got {len(value)}"
            )
        pairs = enumerate(zip(value, args, strict=True))
        return tuple(convert(v, a, f"{path}[{i}]") for i, (v, a) in pairs)
    item = args[0] if args else Any
    items = [convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        return tuple(items)
    if origin in (set, frozenset):
        return origin(items)
    return items


def _mapping(value: Any, tp: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _mismatch(path, _name(tp), value)
    args = typing.get_args(tp)
    key_type, value_type = args if len(args) == 2 else (Any, Any)
    return {
        convert(k, key_type, f"{path} key {k!r}"): convert(v, value_type, f"{path}[{k!r}]")
        for k, v in value.items()
    }


def _single(value: Any, tp: type, path: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return _dataclass(value, tp, path)
    if _is_typeddict(tp):
        return _typeddict(value, tp, path)
    if _is_pydantic(tp):
        try:
            return tp.model_validate(value)  # type: ignore[attr-defined]
        except Exception as error:  # pydantic's ValidationError says what and where
            raise PayloadTypeError(f"{path}: does not fit {tp.__name__}: {error}") from None
    if issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = [member.value for member in tp]
            raise _mismatch(path, f"{tp.__name__} (one of {allowed!r})", value) from None
    if issubclass(tp, dt.datetime | dt.date | dt.time):
        if isinstance(value, str):
            try:
                return tp.fromisoformat(value)
            except ValueError:
                pass
        raise _mismatch(path, f"{tp.__name__} (an ISO 8601 string)", value)
    if tp is uuid.UUID:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return uuid.UUID(value)
        raise _mismatch(path, "UUID (a string)", value)
    if tp is Decimal:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            try:
                return Decimal(str(value))
            except InvalidOperation:
                pass
        raise _mismatch(path, "Decimal (a number or numeric string)", value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise _mismatch(path, "bool", value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _mismatch(path, "int", value)
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _mismatch(path, "float", value)
    if tp in (str, dict, list):
        if isinstance(value, tp):
            return value
        raise _mismatch(path, tp.__name__, value)
    return value


def _dataclass(value: Any, tp: type, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise _mismatch(path, f"{tp.__name__} (an object)", value)
    hints = _class_hints(tp)
    kwargs: dict[str, Any] = {}
    later: dict[str, Any] = {}
    for field in dataclasses.fields(tp):
        required = (
            field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        )
        if field.name not in value:
            if required and field.init:
                raise PayloadTypeError(f"{path}: {tp.__name__} needs field {field.name!r}")
            continue
        converted = convert(value[field.name], hints.get(field.name, Any), f"{path}.{field.name}")
        (kwargs if field.init else later)[field.name] = converted
    instance = tp(**kwargs)
    for name, converted in later.items():
        object.__setattr__(instance, name, converted)
    return instance


def _typeddict(value: Any, tp: type, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise _mismatch(path, f"{tp.__name__} (an object)", value)
    hints = _class_hints(tp)
    missing = sorted(set(tp.__required_keys__) - set(value))  # type: ignore[attr-defined]
    if missing:
        raise PayloadTypeError(f"{path}: {tp.__name__} needs key {missing[0]!r}")
    return {
        key: convert(item, hints.get(key, Any), f"{path}.{key}") if key in hints else item
        for key, item in value.items()
    }


@functools.lru_cache(maxsize=1024)
def _class_hints(tp: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(tp)
    except Exception:
        return {}


def _name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _mismatch(path: str, expected: str, value: Any) -> PayloadTypeError:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return PayloadTypeError(f"{path}: expected {expected}, got {type(value).__name__} {shown}")
