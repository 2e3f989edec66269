"""Dapr's workflow HTTP API on ``/v1.0-alpha1``, ``/v1.0-beta1`` and ``/v1.0``.

Paths, status codes, JSON names and error codes follow
``shared/spec/dapr-workflow-api.md`` §1. The path after ``/workflows/`` is parsed
by hand so empty segments (a missing instance id or event name) get Dapr's 400
codes rather than a generic 404.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wayline.api.dapr_state import dapr_state_json, rfc3339
from wayline.api.http.bodies import body_text, json_object
from wayline.api.http.errors import ApiError, error_response, from_wayline_error
from wayline.client import RawPayload, WorkflowClient
from wayline.errors import WaylineError

__all__ = ["DaprWorkflowApi", "dapr_state_json", "health_routes", "rfc3339"]

PREFIXES = ("v1.0-alpha1", "v1.0-beta1", "v1.0")
_OPERATIONS = {"terminate", "pause", "resume", "purge"}


class DaprWorkflowApi:
    """Handlers for the seven workflow operations, over one ``WorkflowClient``."""

    def __init__(self, client: WorkflowClient) -> None:
        self.client = client

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"/{prefix}/workflows/{{rest:path}}", self.dispatch, methods=["GET", "POST"])
            for prefix in PREFIXES
        ]

    async def dispatch(self, request: Request) -> Response:
        # Split keeps empty segments: ".../dapr//pause" has an empty instance id. The
        # path is as sent (percent-encoded); each segment is decoded after the split, as
        # Go's router does, so an encoded '/', '?' or '#' stays inside its segment.
        rest = request.url.path.split("/workflows/", 1)[1]
        parts = [unquote(part) for part in rest.split("/")]
        try:
            handler = self._route(request.method, parts)
            return await handler(request, parts)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)

    def _route(
        self, method: str, parts: list[str]
    ) -> Callable[[Request, list[str]], Awaitable[Response]]:
        # parts[0] is the workflow component: accepted and ignored, as Dapr 1.15+ does.
        if len(parts) == 3 and parts[2] == "start":
            wanted, handler = "POST", self._start
        elif len(parts) == 2:
            wanted, handler = "GET", self._get
        elif len(parts) == 3 and parts[2] in _OPERATIONS:
            wanted, handler = "POST", self._operation
        elif len(parts) in (3, 4) and parts[2] == "raiseEvent":
            wanted, handler = "POST", self._raise_event
        else:
            raise ApiError(404, "ERR_NOT_FOUND", "no such workflow API route")
        if method != wanted:
            raise ApiError(405, "ERR_METHOD_NOT_ALLOWED", f"use {wanted} for this route")
        return handler

    @staticmethod
    def _instance_id(parts: list[str]) -> str:
        if not parts[1]:
            raise ApiError(400, "ERR_INSTANCE_ID_PROVIDED_MISSING", "no instance ID was provided")
        return parts[1]

    async def _call(self, code: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        try:
            return await run_in_threadpool(fn, *args, **kw)
        except WaylineError as exc:
            raise from_wayline_error(exc, code) from exc

    async def _start(self, request: Request, parts: list[str]) -> Response:
        name = parts[1]
        if not name:
            raise ApiError(400, "ERR_WORKFLOW_NAME_MISSING", "no workflow name was provided")
        body = body_text(await request.body())
        instance_id = request.query_params.get("instanceID") or None
        iid = await self._call(
            "ERR_START_WORKFLOW",
            self.client.start_workflow,
            name,
            input=RawPayload(body) if body else None,
            instance_id=instance_id,
            # W3C trace context: with tracing on, the workflow's spans continue it.
            trace_parent=request.headers.get("traceparent"),
            trace_state=request.headers.get("tracestate"),
        )
        return JSONResponse({"instanceID": iid}, status_code=202)

    async def _get(self, request: Request, parts: list[str]) -> Response:
        instance_id = self._instance_id(parts)
        if self.client.store.local_writes:
            # One row from a local file: quicker read here than a thread hand-off
            # (which under load is most of a GET's latency).
            try:
                state = self.client.get_workflow(instance_id)
            except WaylineError as exc:
                raise from_wayline_error(exc, "ERR_GET_WORKFLOW") from exc
        else:
            state = await self._call("ERR_GET_WORKFLOW", self.client.get_workflow, instance_id)
        return JSONResponse(dapr_state_json(state))

    async def _operation(self, request: Request, parts: list[str]) -> Response:
        iid = self._instance_id(parts)
        operation = parts[2]
        options = json_object(await request.body())  # protojson: unknown fields ignored
        if operation == "terminate":
            output = options.get("output")
            await self._call(
                "ERR_TERMINATE_WORKFLOW",
                self.client.terminate_workflow,
                iid,
                output=RawPayload(output) if isinstance(output, str) else output,
            )
        elif operation == "pause":
            await self._call("ERR_PAUSE_WORKFLOW", self.client.pause_workflow, iid)
        elif operation == "resume":
            await self._call("ERR_RESUME_WORKFLOW", self.client.resume_workflow, iid)
        else:
            await self._call("ERR_PURGE_WORKFLOW", self.client.purge_workflow, iid)
        return JSONResponse({}, status_code=202)

    async def _raise_event(self, request: Request, parts: list[str]) -> Response:
        iid = self._instance_id(parts)
        event_name = parts[3] if len(parts) == 4 else ""
        if not event_name:
            raise ApiError(400, "ERR_WORKFLOW_EVENT_NAME_MISSING", "no event name was provided")
        body = body_text(await request.body())
        try:
            await run_in_threadpool(
                self.client.raise_event, iid, event_name, RawPayload(body) if body else None
            )
        except WaylineError as exc:
            api_error = from_wayline_error(exc, "ERR_RAISE_EVENT_WORKFLOW")
            if api_error.status != 404:  # events for unknown instances are dropped, as Dapr does
                raise api_error from exc
        return JSONResponse({}, status_code=202)


async def healthz(request: Request) -> Response:
    """Dapr's health endpoints: 204 once the server serves requests."""
    return Response(status_code=204)


def health_routes() -> list[BaseRoute]:
    return [
        Route("/v1.0/healthz", healthz, methods=["GET"]),
        Route("/v1.0/healthz/outbound", healthz, methods=["GET"]),
    ]
