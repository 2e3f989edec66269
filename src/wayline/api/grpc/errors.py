"""Wayline errors -> gRPC status codes (``shared/spec/dapr-workflow-api.md`` §1.6)."""

from __future__ import annotations

import grpc

from wayline.errors import (
    EventNameMissingError,
    InstanceAlreadyExistsError,
    InstanceNotFoundError,
    InvalidArgumentError,
    InvalidInstanceIdError,
    PayloadTooLargeError,
    SerializationError,
    StoreError,
    WaylineError,
    WorkflowNameMissingError,
)

_INVALID = (
    InvalidArgumentError,
    InvalidInstanceIdError,
    WorkflowNameMissingError,
    EventNameMissingError,
    PayloadTooLargeError,
    SerializationError,
    ValueError,
)


class RpcError(Exception):
    """An error the handler turns into a gRPC status with this code and message."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def status_for(exc: Exception, *, already_exists: grpc.StatusCode) -> RpcError:
    """The status of a refused operation.

    ``already_exists`` is the code for starting an id that is still active:
    durabletask-go answers ALREADY_EXISTS, the Dapr runtime RPCs wrap it as INTERNAL.
    Engine-side refusals (purging a running instance, pausing a finished one) are
    INTERNAL, never FAILED_PRECONDITION: the Python SDK retries that code for 30 s.
    """
    if isinstance(exc, RpcError):
        return exc
    message = str(exc)
    if isinstance(exc, WaylineError) and exc.error_code.startswith("ERR_"):
        message = f"{exc.error_code}: {message}"
    if isinstance(exc, InstanceAlreadyExistsError):
        return RpcError(already_exists, message)
    if isinstance(exc, _INVALID):
        return RpcError(grpc.StatusCode.INVALID_ARGUMENT, message)
    if isinstance(exc, InstanceNotFoundError):
        return RpcError(grpc.StatusCode.NOT_FOUND, message)
    if isinstance(exc, StoreError):  # not applied; worth retrying once the store is back
        return RpcError(grpc.StatusCode.UNAVAILABLE, message)
    if isinstance(exc, WaylineError):
        return RpcError(grpc.StatusCode.INTERNAL, message)
    return RpcError(grpc.StatusCode.INTERNAL, f"internal error: {exc!r}")
