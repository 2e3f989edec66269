"""Instance id rules (Dapr's ``validateInstanceID``) and deterministic ids."""

from __future__ import annotations

import unicodedata
import uuid

from wayline.errors import InvalidAppIdError, InvalidInstanceIdError

MAX_INSTANCE_ID_BYTES = 64
#: The app of a node, client or instance that names none (multi-app workflows).
DEFAULT_APP_ID = "wayline"

# Fixed namespace so ``ctx.new_uuid()`` gives the same ids on every replay.
_WORKFLOW_UUID_NAMESPACE = uuid.UUID("9e952958-5e33-4daf-827f-2fa12937b875")


def _allowed(ch: str) -> bool:
    # Go's unicode.IsLetter / IsDigit: letters of any script, decimal digits only.
    return ch.isalpha() or unicodedata.category(ch) == "Nd" or ch in "_-"


def validate_instance_id(instance_id: str) -> str:
    """Check an id given to *start*; returns it or raises ``InvalidInstanceIdError``."""
    if not instance_id:
        raise InvalidInstanceIdError(
            "no instance ID was provided", error_code="ERR_INSTANCE_ID_PROVIDED_MISSING"
        )
    if len(instance_id.encode("utf-8")) > MAX_INSTANCE_ID_BYTES:
        raise InvalidInstanceIdError(
            f"workflow instance ID exceeds the max length of {MAX_INSTANCE_ID_BYTES} characters",
            error_code="ERR_INSTANCE_ID_TOO_LONG",
        )
    bad = [ch for ch in instance_id if not _allowed(ch)]
    if bad:
        raise InvalidInstanceIdError(
            f"workflow instance ID '{instance_id}' is invalid: character {bad[0]!r} is not "
            "allowed; only letters, digits, underscores and dashes are allowed"
        )
    return instance_id


def validate_app_id(app_id: str) -> str:
    """Check an app id as Dapr does (the characters of an instance id)."""
    bad = [ch for ch in app_id if not _allowed(ch)]
    if not app_id or bad:
        reason = f"character {bad[0]!r} is not allowed" if bad else "it is empty"
        raise InvalidAppIdError(
            f"app ID {app_id!r} is invalid: {reason}; only letters, digits, underscores "
            "and dashes are allowed"
        )
    return app_id


def require_instance_id(instance_id: str) -> str:
    """Check an id given to any operation other than start: only non-empty."""
    if not instance_id:
        raise InvalidInstanceIdError(
            "no instance ID was provided", error_code="ERR_INSTANCE_ID_PROVIDED_MISSING"
        )
    return instance_id


def new_instance_id() -> str:
    """A fresh random id: a UUID4 with dashes, as Dapr generates."""
    return str(uuid.uuid4())


def given_or_new_instance_id(instance_id: str | None) -> str:
    """The id a start was given (checked), or a fresh one."""
    return new_instance_id() if instance_id is None else validate_instance_id(instance_id)


def new_execution_id() -> str:
    return uuid.uuid4().hex


def deterministic_uuid(instance_id: str, timestamp_iso: str, counter: int) -> uuid.UUID:
    """UUID5 of the instance, the turn's clock and a per-turn counter."""
    return uuid.uuid5(_WORKFLOW_UUID_NAMESPACE, f"{instance_id}|{timestamp_iso}|{counter}")


def child_instance_id(parent_instance_id: str, action_id: int) -> str:
    """The id of a child workflow started without one: its parent's id and step."""
    return f"{parent_instance_id}:{action_id:04x}"
