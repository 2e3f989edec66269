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
from wayline.api.ui import dashboard_routes, is_ui_path
from wayline.client import WorkflowClient

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
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

    def __init__(
        self, app: ASGIApp, *, api_token: str | None, max_body_bytes: int, ui: bool = False
    ) -> None:
        self.app = app
        self.api_token = api_token
        self.max_body_bytes = max_body_bytes
        # The dashboard signs browsers in itself (a session cookie valid on /ui only).
        self.ui = ui

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ui_path = self.ui and is_ui_path(scope["path"])
        if self.api_token and scope["path"] not in _OPEN_PATHS and not ui_path:
            headers = dict(scope["headers"])
            given = headers.get(b"dapr-api-token", b"").decode("latin-1")
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
    ui: bool = True,
    ui_read_only: bool = False,
) -> Any:
    """The whole HTTP surface over one client: Dapr routes, Wayline routes, health,
    and (unless ``ui=False``) the dashboard at ``/ui/``."""
    dapr = DaprWorkflowApi(client)
    own = WaylineApi(client, ready=ready)
    routes = [*health_routes(), *dapr.routes(), *own.routes()]
    if ui:
        routes += dashboard_routes(client, api_token=api_token, read_only=ui_read_only)
    app = Starlette(routes=routes)
    return Guard(app, api_token=api_token, max_body_bytes=max_body_bytes, ui=ui)
