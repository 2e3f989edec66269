"""The default data converter: user values <-> JSON text.

Payloads are stored as the text this module produces; ``None`` means "no
payload" and is stored as SQL NULL, not as the text ``null``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
from decimal import Decimal
from typing import Any

from wayline.errors import SerializationError

#: The largest serialized payload (input, output, event data) and request body
#: accepted by default: 4 MiB, grpc's default receive size, which the Dapr SDK
#: workers keep, so whatever Wayline accepts can also reach a worker.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


def _encode_extra(value: Any) -> Any:
    """JSON for the types ``core.typed`` decodes back: dataclasses as objects, enums
    as their values, dates and times as ISO 8601, UUIDs and Decimals as strings,
    pydantic models as their JSON form."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Shallow: json.dumps calls back here for the nested values that need it.
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):  # pydantic v2 (and lookalikes without JSON mode)
        try:
            return model_dump(mode="json")
        except TypeError:
            return model_dump()
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class RawPayload(str):
    """Text that is already serialized: stored verbatim, never re-encoded.

    Dapr's HTTP API passes request bodies through as-is; wrap them in this. The text
    is checked (:func:`check_text`) before it is stored.
    """


class _NotStandard(ValueError):
    """A number that standard JSON (JavaScript's, Go's) cannot carry."""


def _refuse_constant(name: str) -> Any:
    raise _NotStandard(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotStandard(f"{text[:40]} is out of the range of a 64-bit float")
    return value


# Standard JSON only: NaN, Infinity and numbers that overflow a float are refused.
_STRICT = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite)
# Any JSON-shaped text, numbers unchecked: tells "JSON with a bad number" from "not JSON".
_SHAPE = json.JSONDecoder(parse_constant=lambda _: None, parse_float=str, parse_int=str)


def check_text(text: str) -> str:
    """Check text given already serialized (request bodies, SDK workers' results).

    Text that is not JSON is kept as it is (Dapr passes raw bodies through). JSON
    must survive a round trip through any JSON parser: no ``NaN`` or ``Infinity``,
    no number beyond a float's range (``1e999``), no integer of more digits than
    Python converts (4300), no nesting too deep to parse, no unpaired surrogate.
    Returns the text, or raises ``SerializationError`` saying which rule it breaks.
    """
    _encodable(text)
    try:
        value = _STRICT.decode(text)
    except json.JSONDecodeError:
        return text
    except RecursionError as exc:
        raise SerializationError(
            "the payload is JSON nested too deeply to parse; flatten it"
        ) from exc
    except ValueError as exc:  # _NotStandard, or an integer over the digit limit
        try:
            _SHAPE.decode(text)
        except (json.JSONDecodeError, RecursionError):
            return text  # not JSON after all ("NaN and more"): plain text
        reason = str(exc).split(";")[0]
        raise SerializationError(
            f"the payload is JSON that does not survive a round trip ({reason}); send "
            "standard JSON (numbers within a 64-bit float, no NaN or Infinity), or a big "
            "number as a string"
        ) from exc
    if "\\ud" in text or "\\uD" in text:  # maybe a \uD800-\uDFFF escape: paired?
        _encodable(json.dumps(value, ensure_ascii=False))
    return text


def _encodable(text: str) -> str:
    """``text`` if it can be stored as UTF-8 (no unpaired surrogate)."""
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError as exc:
            raise SerializationError(
                f"the payload holds an unpaired surrogate ({exc.object[exc.start]!r}), "
                "which is not Unicode text; pass valid strings"
            ) from exc
    return text


def dumps(value: Any) -> str | None:
    """Serialize a user value to JSON text; ``None`` stays ``None``.

    Only standard JSON is written: ``NaN``, ``Infinity`` and strings with unpaired
    surrogates raise ``SerializationError`` rather than become text that JavaScript
    or Go cannot parse.
    """
    if value is None:
        return None
    if isinstance(value, RawPayload):
        return check_text(str(value))
    try:
        text = json.dumps(value, default=_encode_extra, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise SerializationError(
            f"cannot serialize a {type(value).__name__} as JSON: {exc}; pass JSON-compatible "
            "values (dict, list, str, int, float, bool, None) or dataclasses, with finite "
            "numbers"
        ) from exc
    return _encodable(text)


def loads(text: str | None) -> Any:
    """Deserialize JSON text written by :func:`dumps` (or any JSON client).

    Standard JSON only: ``NaN``, ``Infinity``, numbers beyond a float's range,
    integers of more than 4300 digits and nesting too deep to parse raise
    ``SerializationError``, as text that is not JSON does.
    """
    if text is None or text == "":
        return None
    try:
        return _STRICT.decode(text)
    except ValueError as exc:
        raise SerializationError(f"payload is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise SerializationError("payload is JSON nested too deeply to parse") from exc


def loads_lenient(text: str | None) -> Any:
    """Like :func:`loads`, but text that is not JSON comes back as the raw string.

    Inputs and event data may arrive from any HTTP client as raw bytes (Dapr passes
    the body as-is); workflow code then sees the text rather than an error.
    """
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
