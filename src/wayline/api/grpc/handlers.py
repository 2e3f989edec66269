"""Helpers shared by the two gRPC services: error handling and method-handler tables."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError, Message

from wayline.api.grpc.errors import RpcError, status_for

log = logging.getLogger("wayline.grpc")

UnaryFn = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


class Malformed:
    """A request that could not be decoded (e.g. a string field that is not UTF-8)."""

    def __init__(self, error: DecodeError) -> None:
        self.error = error


def decoder(message: type[Message]) -> Callable[[bytes], Message | Malformed]:
    """``message.FromString`` that hands the handler a ``Malformed`` instead of raising,
    so a bad request is INVALID_ARGUMENT rather than grpc's UNKNOWN."""

    def decode(data: bytes) -> Message | Malformed:
        try:
            return message.FromString(data)
        except DecodeError as exc:
            return Malformed(exc)

    return decode


def guarded(fn: UnaryFn, *, already_exists: grpc.StatusCode) -> UnaryFn:
    """Run a unary handler; turn any exception into the matching gRPC status."""

    async def handler(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if isinstance(request, Malformed):
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"ERR_MALFORMED_REQUEST: the request cannot be decoded ({request.error}); "
                "strings must be UTF-8",
            )
        try:
            return await fn(request, context)
        except (asyncio.CancelledError, grpc.aio.AbortError):
            raise
        except Exception as exc:
            error = status_for(exc, already_exists=already_exists)
            if error.code == grpc.StatusCode.INTERNAL and not isinstance(exc, RpcError):
                log.exception("gRPC %s failed", getattr(fn, "__name__", "handler"))
            await context.abort(error.code, error.message)

    return handler


def unary(
    fn: UnaryFn,
    request: type[Message],
    response: type[Message],
    *,
    already_exists: grpc.StatusCode = grpc.StatusCode.ALREADY_EXISTS,
) -> grpc.RpcMethodHandler[Any, Any]:
    return grpc.unary_unary_rpc_method_handler(
        guarded(fn, already_exists=already_exists),
        request_deserializer=decoder(request),
        response_serializer=response.SerializeToString,
    )
