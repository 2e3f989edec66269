"""The ASGI application: routes plus the API-token and body-size guards."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wayline.api.http.dapr import DaprWorkflowApi, health_routes
from wayline.api.http.wayline_api import WaylineApi
from wayline.client import WorkflowClient
from wayline.core.serde import MAX_PAYLOAD_BYTES

DEFAULT_MAX_BODY_BYTES = MAX_PAYLOAD_BYTES
# Health stays open with a token configured, as in Dapr.
_OPEN_PATHS = frozenset(
    {"/v1.0/healthz", "/v1.0/healthz/outbound", "/wayline/v1/healthz", "/wayline/v1/readyz"}
)


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"errorCode": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Rejects requests without the API token (401) or with too large a body (413).

    Both checks happen before any handler runs, so a rejected request changes nothing.
    """

    def __init__(self, app: ASGIApp, *, api_token: str | None, max_body_bytes: int) -> None:
        self.app = app
        # Compared as bytes: the header's raw bytes against the token in UTF-8, so any
        # token works and no header value can make the comparison itself fail.
        self.api_token = api_token.encode("utf-8") if api_token else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.api_token and scope["path"] not in _OPEN_PATHS:
            given = dict(scope["headers"]).get(b"dapr-api-token", b"")
            if not hmac.compare_digest(given, self.api_token):
                await _send_error(
                    send, 401, "ERR_API_TOKEN", "missing or invalid dapr-api-token header"
                )
                return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self._too_large(send)
            return
        # Without a content-length (chunked), buffer up to the limit before the handler.
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body.extend(message.get("body", b""))
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await self._too_large(send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await _send_error(
            send,
            413,
            "ERR_REQUEST_TOO_LARGE",
            f"the request body is over the {self.max_body_bytes}-byte limit; "
            "send a reference to large data instead (the limit is set with "
            "--max-body-bytes)",
        )


def create_app(
    client: WorkflowClient,
    *,
    api_token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ready: Callable[[], bool] = lambda: True,
) -> Any:
    """The whole HTTP surface over one client: Dapr routes, Wayline routes, health."""
    dapr = DaprWorkflowApi(client)
    own = WaylineApi(client, ready=ready)
    app = Starlette(routes=[*health_routes(), *dapr.routes(), *own.routes()])
    return Guard(app, api_token=api_token, max_body_bytes=max_body_bytes)
