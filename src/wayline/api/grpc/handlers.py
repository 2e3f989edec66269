"""Helpers shared by the two gRPC services: error handling and method-handler tables."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message

from wayline.api.grpc.errors import RpcError, status_for

log = logging.getLogger("wayline.grpc")

UnaryFn = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]


def guarded(fn: UnaryFn, *, already_exists: grpc.StatusCode) -> UnaryFn:
    """Run a unary handler; turn any exception into the matching gRPC status."""

    async def handler(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
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
        request_deserializer=request.FromString,
        response_serializer=response.SerializeToString,
    )
