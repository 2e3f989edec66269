"""Wayline's own HTTP API under ``/wayline/v1``: list, count, history, bulk, health.

Everything Dapr users have asked for and not got. Described by the OpenAPI
document served at ``/wayline/v1/openapi.json`` (built in ``openapi.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from wayline.api.dapr_state import rfc3339
from wayline.api.http.bodies import MAX_BULK_IDS, json_object
from wayline.api.http.errors import ApiError, error_response, from_wayline_error
from wayline.api.http.openapi import openapi_document
from wayline.client import (
    BULK_OPERATIONS,
    WorkflowClient,
    WorkflowState,
    WorkflowStatus,
    event_to_dict,
)
from wayline.errors import WaylineError

PREFIX = "/wayline/v1"
MAX_PAGE_SIZE = 1000

# Query/body filter name -> list_workflows keyword (times parsed from RFC 3339).
_TIME_FILTERS = {
    "createdFrom": "created_after",
    "createdTo": "created_before",
    "completedFrom": "completed_after",
    "completedTo": "completed_before",
}


def state_json(state: WorkflowState) -> dict[str, Any]:
    """An instance as Wayline's API shows it (payloads verbatim as JSON text)."""
    failure = state.failure_details
    body: dict[str, Any] = {
        "instanceID": state.instance_id,
        "workflowName": state.name,
        "runtimeStatus": state.runtime_status.value,
        "createdAt": rfc3339(state.created_at),
        "lastUpdatedAt": rfc3339(state.last_updated_at),
        "completedAt": rfc3339(state.completed_at) if state.completed_at else None,
        "scheduledStartAt": rfc3339(state.scheduled_start_at) if state.scheduled_start_at else None,
        "parentInstanceID": state.parent_instance_id,
        "appID": state.app_id,
        "generation": state.generation,
        "input": state.serialized_input,
        "output": state.serialized_output,
        "customStatus": state.serialized_custom_status,
        "failure": None
        if failure is None
        else {
            "errorType": failure.error_type,
            "message": failure.message,
            "stackTrace": failure.stack_trace,
        },
    }
    return {k: v for k, v in body.items() if v is not None}


_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


_BODY_FILTERS = frozenset({"status", "name", "parentInstanceID", *_TIME_FILTERS})
_BULK_OPTIONS = frozenset({"instanceIDs", "force"})


def _bulk_ids(value: Any) -> list[str]:
    """A bulk request's ``instanceIDs``: a list of 1 to MAX_BULK_IDS non-empty strings."""
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_BULK_IDS
        or not all(isinstance(v, str) and v for v in value)
    ):
        raise ApiError(
            400,
            "ERR_MALFORMED_REQUEST",
            f"instanceIDs must be a list of 1 to {MAX_BULK_IDS} instance ids",
        )
    return value


def _parse_time(name: str, value: str) -> datetime:
    try:
        if not _RFC3339.fullmatch(value):
            raise ValueError(value)
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(
            400, "ERR_MALFORMED_REQUEST", f"{name} must be an RFC 3339 time, got {value!r}"
        ) from exc
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # 9999-12-31T23:59:59-23:59 is in year 10000 in UTC
        raise ApiError(
            400,
            "ERR_MALFORMED_REQUEST",
            f"{name} {value!r} is out of range in UTC; give a time between years 1 and 9999 in UTC",
        ) from exc


def parse_filters(source: dict[str, Any]) -> dict[str, Any]:
    """Turn query parameters or a JSON body into ``list_workflows`` keywords."""
    filters: dict[str, Any] = {}
    statuses = source.get("status")
    if statuses is not None and not isinstance(statuses, list):
        raise ApiError(400, "ERR_MALFORMED_REQUEST", "status must be a list of statuses")
    if statuses:
        known = {s.value for s in WorkflowStatus}
        bad = [s for s in statuses if str(s).upper() not in known]
        if bad:
            raise ApiError(
                400,
                "ERR_MALFORMED_REQUEST",
                f"unknown status {bad[0]!r}; use one of {', '.join(sorted(known))}",
            )
        filters["status"] = [str(s).upper() for s in statuses]
    for key, keyword in (("name", "name"), ("parentInstanceID", "parent_instance_id")):
        value = source.get(key)
        if value is not None and not isinstance(value, str):
            raise ApiError(400, "ERR_MALFORMED_REQUEST", f"{key} must be a string")
        if value:
            filters[keyword] = value
    for key, keyword in _TIME_FILTERS.items():
        if source.get(key) is not None:
            filters[keyword] = _parse_time(key, str(source[key]))
    return filters


_RERUN_FIELDS = {
    "eventID",
    "newInstanceID",
    "input",
    "overwriteInput",
    "newChildWorkflowInstanceID",
}


def _flag(value: str | None, name: str, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in {"true", "1"}:
        return True
    if value.lower() in {"false", "0"}:
        return False
    raise ApiError(400, "ERR_MALFORMED_REQUEST", f"{name} must be true or false")


class WaylineApi:
    """Handlers of the ``/wayline/v1`` routes over one ``WorkflowClient``."""

    def __init__(self, client: WorkflowClient, *, ready: Callable[[], bool]) -> None:
        self.client = client
        self._ready = ready

    def routes(self) -> list[BaseRoute]:
        return [
            Route(f"{PREFIX}/openapi.json", self.openapi, methods=["GET"]),
            Route(f"{PREFIX}/healthz", self.healthz, methods=["GET"]),
            Route(f"{PREFIX}/readyz", self.readyz, methods=["GET"]),
            Route(f"{PREFIX}/instances", self.list_instances, methods=["GET"]),
            Route(f"{PREFIX}/instances/count", self.count_instances, methods=["GET"]),
            Route(f"{PREFIX}/instances/bulk/{{operation}}", self.bulk, methods=["POST"]),
            Route(f"{PREFIX}/instances/{{instance_id}}", self.get_instance, methods=["GET"]),
            Route(f"{PREFIX}/instances/{{instance_id}}/history", self.history, methods=["GET"]),
            Route(f"{PREFIX}/instances/{{instance_id}}/purge", self.purge, methods=["POST"]),
            Route(f"{PREFIX}/instances/{{instance_id}}/rerun", self.rerun, methods=["POST"]),
        ]

    async def _call(
        self, fn: Callable[..., Any], *args: Any, _code: str = "ERR_WAYLINE", **kw: Any
    ) -> Any:
        # Bad arguments are typed (InvalidArgumentError); any other exception is the
        # server's fault, a JSON 500 (see app.py), not the caller's.
        try:
            return await run_in_threadpool(fn, *args, **kw)
        except WaylineError as exc:
            raise from_wayline_error(exc, _code) from exc

    @staticmethod
    def _query_filters(request: Request) -> dict[str, Any]:
        params = request.query_params
        source: dict[str, Any] = {k: params.get(k) for k in params}
        # An empty one (``status=`` or ``status=A,``) is an unknown status, not "any".
        source["status"] = [s for v in params.getlist("status") for s in v.split(",")]
        return parse_filters(source)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        if not self._ready():
            return JSONResponse({"status": "starting"}, status_code=503)
        try:
            await run_in_threadpool(self.client.check_store)
        except Exception as exc:
            return JSONResponse({"status": "unavailable", "reason": str(exc)}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def list_instances(self, request: Request) -> Response:
        try:
            filters = self._query_filters(request)
            page_size = int(request.query_params.get("pageSize", "100"))
            if not 1 <= page_size <= MAX_PAGE_SIZE:
                raise ValueError
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        except ValueError:
            return error_response(
                400,
                "ERR_MALFORMED_REQUEST",
                f"pageSize must be an integer from 1 to {MAX_PAGE_SIZE}",
            )
        token = request.query_params.get("continuationToken") or None
        try:
            page = await self._call(
                self.client.list_workflows, page_size=page_size, continuation_token=token, **filters
            )
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        body: dict[str, Any] = {"instances": [state_json(s) for s in page.workflows]}
        if page.continuation_token:
            body["continuationToken"] = page.continuation_token
        return JSONResponse(body)

    async def count_instances(self, request: Request) -> Response:
        try:
            filters = self._query_filters(request)
            filters.pop("completed_after", None)
            filters.pop("completed_before", None)
            filters.pop("parent_instance_id", None)
            count = await self._call(self.client.count_workflows, **filters)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        return JSONResponse({"count": count})

    async def get_instance(self, request: Request) -> Response:
        try:
            state = await self._call(self.client.get_workflow, request.path_params["instance_id"])
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        return JSONResponse(state_json(state))

    async def history(self, request: Request) -> Response:
        try:
            events = await self._call(self.client.get_history, request.path_params["instance_id"])
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        return JSONResponse({"events": [event_to_dict(e) for e in events]})

    async def purge(self, request: Request) -> Response:
        """Dapr's purge, plus ``recursive=false`` and ``force=true`` (any status)."""
        try:
            options = {
                key: _flag(request.query_params.get(key), key, default)
                for key, default in (("recursive", True), ("force", False))
            }
            deleted = await self._call(
                self.client.purge_workflow,
                request.path_params["instance_id"],
                _code="ERR_PURGE_WORKFLOW",
                **options,
            )
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        return JSONResponse({"deletedInstanceCount": deleted})

    async def rerun(self, request: Request) -> Response:
        """Dapr's RerunWorkflowFromEvent: a JSON body with ``eventID`` and optionally
        ``newInstanceID``, ``input`` (given: it replaces the activity's input, unless
        ``overwriteInput`` is false) and ``newChildWorkflowInstanceID``."""
        try:
            body = json_object(await request.body())
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        try:
            unknown = sorted(set(body) - _RERUN_FIELDS)
            if unknown:
                raise ValueError(f"unknown field {unknown[0]!r}")
            event_id = body.get("eventID")
            if not isinstance(event_id, int) or isinstance(event_id, bool) or event_id < 0:
                raise ValueError("eventID must be the non-negative id of a history event")
            overwrite = body.get("overwriteInput", "input" in body)
            if not isinstance(overwrite, bool):
                raise ValueError("overwriteInput must be true or false")
            names = {}
            for field, keyword in (
                ("newInstanceID", "new_instance_id"),
                ("newChildWorkflowInstanceID", "new_child_workflow_instance_id"),
            ):
                value = body.get(field)
                if value is not None and not isinstance(value, str):
                    raise ValueError(f"{field} must be a string")
                names[keyword] = value or None
        except ValueError as exc:
            return error_response(400, "ERR_MALFORMED_REQUEST", f"bad request body: {exc}")
        try:
            new_id = await self._call(
                self.client.rerun_workflow_from_event,
                request.path_params["instance_id"],
                event_id,
                input=body.get("input"),
                overwrite_input=overwrite,
                _code="ERR_RERUN_WORKFLOW",
                **names,
            )
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        return JSONResponse({"newInstanceID": new_id}, status_code=202)

    async def bulk(self, request: Request) -> Response:
        operation = request.path_params["operation"]
        if operation not in BULK_OPERATIONS:
            return error_response(
                404,
                "ERR_NOT_FOUND",
                f"unknown bulk operation {operation!r}; use one of {', '.join(BULK_OPERATIONS)}",
            )
        try:
            body = json_object(await request.body())
            known = _BODY_FILTERS | _BULK_OPTIONS
            unknown = sorted(set(body) - known)
            if unknown:
                raise ApiError(
                    400,
                    "ERR_MALFORMED_REQUEST",
                    f"unknown field {unknown[0]!r}; use {', '.join(sorted(known))}",
                )
            ids = _bulk_ids(body.pop("instanceIDs")) if "instanceIDs" in body else None
            force = body.pop("force", False)
            if not isinstance(force, bool) or (force and operation != "purge"):
                raise ApiError(
                    400, "ERR_MALFORMED_REQUEST", "force is true or false, and only for purge"
                )
            if any(v is None or v == "" or v == [] for v in body.values()):
                raise ApiError(400, "ERR_MALFORMED_REQUEST", "filters must not be empty")
            filters = parse_filters(body)
            if ids is not None and filters:
                raise ApiError(
                    400, "ERR_MALFORMED_REQUEST", "give instanceIDs or filters, not both"
                )
            if ids is None and not filters:
                raise ApiError(
                    400,
                    "ERR_MALFORMED_REQUEST",
                    "a bulk operation needs instanceIDs or at least one filter (status, "
                    "name, time range or parent); it never applies to everything by "
                    "accident",
                )
            result = await self._call(
                self.client.bulk, operation, instance_ids=ids, force=force, **filters
            )
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message)
        return JSONResponse(
            {
                "operation": result.operation,
                "affected": result.affected,
                "failed": [{"instanceID": k, "message": v} for k, v in result.failed.items()],
            }
        )
