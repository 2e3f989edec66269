"""The ASGI application: routes, the API-token and body-size guards, and JSON errors
for everything no handler answers (unknown routes, unexpected exceptions)."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wayline.api.http.dapr import DaprWorkflowApi, health_routes
from wayline.api.http.errors import error_response, from_wayline_error
from wayline.api.http.wayline_api import WaylineApi
from wayline.api.ui import dashboard_routes, is_ui_path
from wayline.client import DEFAULT_MAX_PAYLOAD_BYTES, WorkflowClient
from wayline.errors import WaylineError

log = logging.getLogger("wayline.api.http")

DEFAULT_MAX_BODY_BYTES = DEFAULT_MAX_PAYLOAD_BYTES
#: Prometheus metrics (``create_app(metrics=...)``); with an API token, scrapers send it
#: as ``dapr-api-token`` or as ``Authorization: Bearer <token>``.
METRICS_PATH = "/metrics"
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
        # Compared as bytes: the header's raw bytes against the token in UTF-8, so any
        # token works and no header value can make the comparison itself fail.
        self.api_token = api_token.encode("utf-8") if api_token else None
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
            given = headers.get(b"dapr-api-token", b"")
            if scope["path"] == METRICS_PATH and not given:
                # Prometheus sends a token as "Authorization: Bearer ..." (its scrape
                # config's authorization.credentials), not as a header of our choosing.
                scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
                given = credentials.strip() if scheme.lower() == b"bearer" else b""
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


_HTTP_CODES = {404: "ERR_NOT_FOUND", 405: "ERR_METHOD_NOT_ALLOWED"}


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) in Dapr's error shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = (
            f"no route {request.method} {request.url.path}; the Dapr workflow API is under "
            "/v1.0/workflows/..., Wayline's own under /wayline/v1 (see /wayline/v1/openapi.json)"
        )
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    code = _HTTP_CODES.get(exc.status_code, f"ERR_HTTP_{exc.status_code}")
    return JSONResponse(
        {"errorCode": code, "message": message}, status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    """An exception no handler caught: a typed Wayline error keeps its status (a store
    that cannot be reached is a 503), anything else is a JSON 500."""
    if isinstance(exc, WaylineError):
        error = from_wayline_error(exc, "ERR_INTERNAL")
        return error_response(error.status, error.code, error.message)
    return error_response(
        500,
        "ERR_INTERNAL",
        f"internal error ({type(exc).__name__}) in {request.method} {request.url.path}; "
        "the server log has the details",
    )


def _metrics_endpoint(
    scrape: Callable[[], tuple[bytes, str]],
) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        # A scrape reads the store (backlog, counts): off the event loop.
        body, content_type = await run_in_threadpool(scrape)
        return Response(body, headers={"content-type": content_type})

    return metrics


class LastResort:
    """Logs an exception that escaped the application instead of letting it reach the
    server, which would drop the keep-alive connection; answers a JSON 500 if no
    response was started (Starlette's handler has written one otherwise)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            log.error("%s %s failed", scope.get("method"), scope.get("path"), exc_info=exc)
            if not started:
                await _send_error(
                    send, 500, "ERR_INTERNAL", f"internal error ({type(exc).__name__})"
                )


def create_app(
    client: WorkflowClient,
    *,
    api_token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ready: Callable[[], bool] = lambda: True,
    ui: bool = True,
    ui_read_only: bool = False,
    metrics: Callable[[], tuple[bytes, str]] | None = None,
) -> Any:
    """The whole HTTP surface over one client: Dapr routes, Wayline routes, health,
    (unless ``ui=False``) the dashboard at ``/ui/``, and with ``metrics`` (a scrape:
    the body and its content type) ``GET /metrics``."""
    dapr = DaprWorkflowApi(client)
    own = WaylineApi(client, ready=ready)
    routes = [*health_routes(), *dapr.routes(), *own.routes()]
    if metrics is not None:
        routes.append(Route(METRICS_PATH, _metrics_endpoint(metrics), methods=["GET"]))
    if ui:
        routes += dashboard_routes(client, api_token=api_token, read_only=ui_read_only)
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )
    return LastResort(Guard(app, api_token=api_token, max_body_bytes=max_body_bytes, ui=ui))
