"""History events <-> JSON text, the storage and export format.

The format is ``{"kind": "<EventClass>", ...fields}`` with datetimes as RFC 3339
text. Stored payload fields stay the opaque strings they are.

Every event is encoded and decoded on the step's hot path, so each class gets a
converter built once from its type hints (no reflection per event), and JSON
goes through one reusable encoder.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

from wayline.core.events import EVENT_TYPES_BY_NAME, FailureDetails, HistoryEvent

_Convert = Callable[[Any], Any]
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_JSON_SPACED = json.JSONEncoder(ensure_ascii=False)
_loads = json.JSONDecoder().decode


def _compact_dumps() -> Callable[[Any], str]:
    """``_JSON.encode``, minus the C encoder ``JSONEncoder`` builds anew on every call
    (half the cost of a small event); the plain method where there is no C one."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _JSON.encode
    encode = make(
        None, _JSON.default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    return lambda obj: "".join(encode(obj, 0))


_dumps = _compact_dumps()


def _encode(value: Any) -> Any:
    """Any value as JSON-compatible data (the generic, reflective form)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def _concrete(hint: Any) -> Any:
    """``X | None`` -> ``X``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def _decode(hint: Any, value: Any) -> Any:
    """``value`` (JSON data) as the type ``hint`` names (the generic form)."""
    converter = _decoder_for(hint)
    return value if value is None or converter is None else converter(value)


# ----- converters compiled per type ------------------------------------------------------


def _nullable(convert: _Convert) -> _Convert:
    return lambda value: None if value is None else convert(value)


def _encoder_for(hint: Any) -> _Convert | None:
    """How to turn a field of this type into JSON data (None: it already is)."""
    hint = _concrete(hint)
    if hint is datetime:
        return _nullable(datetime.isoformat)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _nullable(lambda value: value.value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _nullable(_class_encoder(hint))
    if typing.get_origin(hint) is tuple:
        item = _encoder_for(typing.get_args(hint)[0])
        if item is None:
            return _nullable(list)
        return _nullable(lambda value: [item(v) for v in value])
    return None


def _decoder_for(hint: Any) -> _Convert | None:
    """How to turn JSON data back into a field of this type (None: it already is)."""
    hint = _concrete(hint)
    if hint is datetime:
        return _nullable(datetime.fromisoformat)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return _nullable(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _nullable(_class_decoder(hint))
    if typing.get_origin(hint) is tuple:  # tuple[X, ...]: JSON has a list
        item = _decoder_for(typing.get_args(hint)[0])
        if item is None:
            return _nullable(tuple)
        return _nullable(lambda value: tuple(item(v) for v in value))
    return None


_CLASS_ENCODERS: dict[tuple[type[Any], str | None], Callable[[Any], dict[str, Any]]] = {}
_CLASS_DECODERS: dict[type[Any], Callable[[dict[str, Any]], Any]] = {}


def _class_encoder(cls: type[Any], kind: str | None = None) -> Callable[[Any], dict[str, Any]]:
    """A function from an instance of ``cls`` to its JSON dict (``kind`` first, if given).

    Written out field by field and compiled once per class, as ``dataclasses``
    writes ``__init__``: a loop over the fields was half of an event's encoding.
    """
    key = (cls, kind)
    encoder = _CLASS_ENCODERS.get(key)
    if encoder is None:
        hints = typing.get_type_hints(cls)
        namespace: dict[str, Any] = {}
        items = [] if kind is None else [f"'kind': {kind!r}"]
        optional = []  # fields left out while None (``events._OMIT_NONE``)
        for index, f in enumerate(dataclasses.fields(cls)):
            convert = _encoder_for(hints[f.name])
            value = f"obj.{f.name}"
            if convert is not None:
                namespace[f"_c{index}"] = convert
                value = f"_c{index}({value})"
            if f.metadata.get("omit_none"):
                optional.append(
                    f"    if obj.{f.name} is not None:\n        data[{f.name!r}] = {value}\n"
                )
            else:
                items.append(f"{f.name!r}: {value}")
        if optional:
            source = (
                f"def encode(obj):\n    data = {{{', '.join(items)}}}\n"
                + "".join(optional)
                + "    return data\n"
            )
        else:
            source = f"def encode(obj):\n    return {{{', '.join(items)}}}\n"
        exec(source, namespace)
        encoder = _CLASS_ENCODERS[key] = namespace["encode"]
    return encoder


def _class_decoder(cls: type[Any]) -> Callable[[dict[str, Any]], Any]:
    decoder = _CLASS_DECODERS.get(cls)
    if decoder is None:
        hints = typing.get_type_hints(cls)
        plan = {f.name: _decoder_for(hints[f.name]) for f in dataclasses.fields(cls)}

        def decoder(data: dict[str, Any]) -> Any:
            # Fields this version does not know (written by a later one) are ignored.
            kwargs = {}
            for name, value in data.items():
                if name in plan:
                    convert = plan[name]
                    kwargs[name] = value if convert is None else convert(value)
            return cls(**kwargs)

        _CLASS_DECODERS[cls] = decoder
    return decoder


# ----- the public API ------------------------------------------------------------------


def event_to_dict(event: HistoryEvent) -> dict[str, Any]:
    """A JSON-compatible dict with the event's kind and every field."""
    cls = type(event)
    return _class_encoder(cls, cls.__name__)(event)


def event_from_dict(data: dict[str, Any]) -> HistoryEvent:
    kind = data.get("kind")
    cls = EVENT_TYPES_BY_NAME.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown history event kind {kind!r}")
    event = _class_decoder(cls)(data)
    assert isinstance(event, HistoryEvent)
    return event


def encode_event(event: HistoryEvent) -> str:
    return _dumps(event_to_dict(event))


def decode_event(text: str) -> HistoryEvent:
    return event_from_dict(_loads(text))


def encode_failure(failure: FailureDetails | None) -> str | None:
    return None if failure is None else _JSON_SPACED.encode(_class_encoder(FailureDetails)(failure))


def decode_failure(text: str | None) -> FailureDetails | None:
    if not text:
        return None
    failure = _class_decoder(FailureDetails)(_loads(text))
    assert isinstance(failure, FailureDetails)
    return failure
