"""Request bodies: raw payload text (start, raise event) and JSON objects (the rest).

Every malformed body, whatever is wrong with it (not UTF-8, not JSON, nested too
deeply to parse, numbers JSON cannot carry), is a 400 ``ERR_MALFORMED_REQUEST``
before any handler acts on it.
"""

from __future__ import annotations

from typing import Any

from wayline.api.http.errors import ApiError
from wayline.client import parse_json_payload
from wayline.errors import SerializationError

MALFORMED = "ERR_MALFORMED_REQUEST"
#: The most instance ids one bulk request may name (a client sends more in batches).
MAX_BULK_IDS = 1000


def body_text(raw: bytes) -> str:
    """The body as text; a body that is not UTF-8 is refused, never patched up."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400,
            MALFORMED,
            f"the request body is not UTF-8 text (byte {raw[exc.start]:#04x} at offset "
            f"{exc.start}); send UTF-8 (JSON always is)",
        ) from exc


def json_object(raw: bytes) -> dict[str, Any]:
    """An optional JSON object body (empty: ``{}``)."""
    text = body_text(raw)
    if not text.strip():
        return {}
    try:
        parsed = parse_json_payload(text)
    except SerializationError as exc:
        reason = str(exc).removeprefix("payload ")  # "is not valid JSON: ..."
        raise ApiError(400, MALFORMED, f"the request body {reason}") from exc
    if not isinstance(parsed, dict):
        raise ApiError(400, MALFORMED, "the request body must be a JSON object")
    return parsed
