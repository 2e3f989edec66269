"""The ``dapr-api-token`` check on every gRPC call and stream."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

_MESSAGE = (
    "missing or invalid dapr-api-token metadata; send the server's token "
    "(DAPR_API_TOKEN in the Dapr SDKs)"
)


async def _deny_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, _MESSAGE)


async def _deny_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, _MESSAGE)
    yield  # pragma: no cover - makes this an async generator


class ApiTokenInterceptor(grpc.aio.ServerInterceptor):
    """Rejects calls whose ``dapr-api-token`` metadata differs from ``token``.

    The handler is replaced before it runs, so a rejected call changes nothing.
    """

    def __init__(self, token: str) -> None:
        self._token = token.encode("utf-8")  # compared as bytes: any token works

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        given = b""
        for key, value in handler_call_details.invocation_metadata or ():
            if key == "dapr-api-token":
                given = value.encode("utf-8", "replace") if isinstance(value, str) else value
        handler = await continuation(handler_call_details)
        if hmac.compare_digest(given, self._token) or handler is None:
            return handler
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(_deny_stream)
        return grpc.unary_unary_rpc_method_handler(_deny_unary)
