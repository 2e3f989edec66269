"""Errors as Dapr writes them: ``{"errorCode": "ERR_...", "message": "..."}``."""

from __future__ import annotations

from starlette.responses import JSONResponse

from wayline.errors import (
    EventNameMissingError,
    InstanceNotFoundError,
    InvalidArgumentError,
    InvalidInstanceIdError,
    InvalidRerunError,
    PayloadTooLargeError,
    SerializationError,
    StoreError,
    WaylineError,
    WorkflowNameMissingError,
)

_BAD_REQUEST = (
    InvalidArgumentError,
    InvalidInstanceIdError,
    WorkflowNameMissingError,
    EventNameMissingError,
    InvalidRerunError,
)


class ApiError(Exception):
    """An error response: HTTP status, Dapr error code and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errorCode": code, "message": message}, status_code=status)


def from_wayline_error(exc: WaylineError, operation_code: str) -> ApiError:
    """Map a typed Wayline error onto Dapr's status and code for one operation.

    ``operation_code`` is Dapr's catch-all code of the operation (e.g.
    ``ERR_PAUSE_WORKFLOW``), used with 500 for engine-side refusals.
    """
    if isinstance(exc, _BAD_REQUEST):
        return ApiError(400, exc.error_code, str(exc))
    if isinstance(exc, PayloadTooLargeError):
        return ApiError(413, exc.error_code, str(exc))
    if isinstance(exc, SerializationError):
        return ApiError(400, "ERR_MALFORMED_REQUEST", str(exc))
    if isinstance(exc, InstanceNotFoundError):
        return ApiError(404, exc.error_code, str(exc))
    if isinstance(exc, StoreError):
        # The store cannot be used now (disk full, database restarting): the request was
        # not applied and may be retried, which 503 says where 500 would not.
        return ApiError(503, exc.error_code, str(exc))
    # Duplicate active ids, purging a running instance, pausing a finished one:
    # Dapr reports every engine-side refusal as 500 with the operation's code.
    return ApiError(500, operation_code, str(exc))
