"""History events <-> JSON text, the storage and export format.

The format is ``{"kind": "<EventClass>", ...fields}`` with datetimes as RFC 3339
text. Stored payload fields stay the opaque strings they are.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from enum import Enum
from typing import Any

from wayline.core.events import EVENT_TYPES_BY_NAME, FailureDetails, HistoryEvent


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


_FIELD_TYPES: dict[type[Any], dict[str, Any]] = {}


def _field_types(cls: type[Any]) -> dict[str, Any]:
    hints = _FIELD_TYPES.get(cls)
    if hints is None:
        hints = _FIELD_TYPES[cls] = typing.get_type_hints(cls)
    return hints


def _concrete(hint: Any) -> Any:
    """``X | None`` -> ``X``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    hint = _concrete(hint)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _from_fields(hint, value)
    if typing.get_origin(hint) is tuple:  # tuple[X, ...]: JSON has a list
        item = typing.get_args(hint)[0]
        return tuple(_decode(item, v) for v in value)
    return value


def _from_fields(cls: type[Any], data: dict[str, Any]) -> Any:
    hints = _field_types(cls)
    return cls(**{k: _decode(hints[k], v) for k, v in data.items() if k in hints})


def event_to_dict(event: HistoryEvent) -> dict[str, Any]:
    """A JSON-compatible dict with the event's kind and every field."""
    data = _encode(event)
    assert isinstance(data, dict)
    return {"kind": type(event).__name__, **data}


def event_from_dict(data: dict[str, Any]) -> HistoryEvent:
    fields = dict(data)
    kind = fields.pop("kind")
    cls = EVENT_TYPES_BY_NAME.get(kind)
    if cls is None:
        raise ValueError(f"unknown history event kind {kind!r}")
    event = _from_fields(cls, fields)
    assert isinstance(event, HistoryEvent)
    return event


def encode_event(event: HistoryEvent) -> str:
    return json.dumps(event_to_dict(event), separators=(",", ":"), ensure_ascii=False)


def decode_event(text: str) -> HistoryEvent:
    return event_from_dict(json.loads(text))


def encode_failure(failure: FailureDetails | None) -> str | None:
    return None if failure is None else json.dumps(_encode(failure), ensure_ascii=False)


def decode_failure(text: str | None) -> FailureDetails | None:
    if not text:
        return None
    failure = _from_fields(FailureDetails, json.loads(text))
    assert isinstance(failure, FailureDetails)
    return failure
