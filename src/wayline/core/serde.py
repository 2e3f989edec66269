"""The default data converter: user values <-> JSON text.

Payloads are stored as the text this module produces; ``None`` means "no
payload" and is stored as SQL NULL, not as the text ``null``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from wayline.errors import SerializationError

#: The largest serialized payload (input, output, event data) and request body
#: accepted by default: 4 MiB, grpc's default receive size, which the Dapr SDK
#: workers keep, so whatever Wayline accepts can also reach a worker.
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024


def _encode_extra(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    for method in ("model_dump", "to_dict"):  # pydantic models and similar
        fn = getattr(value, method, None)
        if callable(fn):
            return fn()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class RawPayload(str):
    """Text that is already serialized: stored verbatim, never re-encoded.

    Dapr's HTTP API passes request bodies through as-is; wrap them in this.
    """


def dumps(value: Any) -> str | None:
    """Serialize a user value to JSON text; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, RawPayload):
        return str(value)
    try:
        return json.dumps(value, default=_encode_extra, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise SerializationError(
            f"cannot serialize a {type(value).__name__} as JSON: {exc}; pass JSON-compatible "
            "values (dict, list, str, int, float, bool, None) or dataclasses"
        ) from exc


def loads(text: str | None) -> Any:
    """Deserialize JSON text written by :func:`dumps` (or any JSON client)."""
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise SerializationError(f"payload is not valid JSON: {exc}") from exc


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
