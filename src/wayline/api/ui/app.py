"""The dashboard's routes: pages rendered from client calls, actions through the
client's operations, a JSON endpoint the list page polls."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from wayline.api.ui import history as hist
from wayline.api.ui.render import environment, seconds_between
from wayline.api.ui.security import (
    SECURITY_HEADERS,
    SESSION_COOKIE,
    UI_PREFIX,
    Sessions,
    same_origin,
)
from wayline.client import BULK_OPERATIONS, WorkflowClient, WorkflowState
from wayline.core.events import TERMINAL_STATUSES, WorkflowStatus
from wayline.errors import InstanceNotFoundError, WaylineError

STATUSES = [s.value for s in WorkflowStatus if s.value not in ("CONTINUED_AS_NEW", "CANCELED")]
SORTS = {
    "created": "Created",
    "updated": "Last updated",
    "id": "Instance id",
    "name": "Workflow",
    "status": "Status",
    "duration": "Duration",
}
PAGE_SIZES = (25, 50, 100, 200)
HISTORY_PAGE = 200
TIMELINE_PAGE = 150
#: Fixed texts for ``?done=``: a link can never put words of its own on the page.
DONE = {
    "pause": "Paused.",
    "resume": "Resumed.",
    "terminate": "Terminate requested.",
    "raise-event": "Event raised.",
    "purge": "Purged.",
    "rerun": "Rerun started.",
}
_FILTER_KEYS = (
    "status",
    "name",
    "q",
    "parent",
    "created_from",
    "created_to",
    "completed_from",
    "completed_to",
)


class BadInput(ValueError):
    """A filter or form field the dashboard cannot use; shown on the page (400)."""


def _time(text: str, what: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadInput(f"{what}: {text!r} is not a date and time (2025-01-31T12:00)") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def filters_of(params: list[tuple[str, str]]) -> dict[str, Any]:
    """The client's list filters from a query string's parameters."""
    single = {k: v.strip() for k, v in params if k in _FILTER_KEYS and k != "status"}
    statuses = [v for k, v in params if k == "status" and v]
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise BadInput(f"unknown status {unknown[0]!r}; use one of {', '.join(STATUSES)}")
    return {
        "status": statuses or None,
        "name": single.get("name") or None,
        "instance_id_prefix": single.get("q") or None,
        "parent_instance_id": single.get("parent") or None,
        "created_after": _time(single.get("created_from", ""), "created from"),
        "created_before": _time(single.get("created_to", ""), "created to"),
        "completed_after": _time(single.get("completed_from", ""), "completed from"),
        "completed_before": _time(single.get("completed_to", ""), "completed to"),
    }


def row_json(state: WorkflowState, now: datetime) -> dict[str, Any]:
    end = state.completed_at if state.runtime_status.is_terminal else None
    running = not state.runtime_status.is_terminal
    return {
        "id": state.instance_id,
        "name": state.name,
        "status": state.runtime_status.value,
        "created": state.created_at.astimezone(UTC).isoformat(),
        "updated": state.last_updated_at.astimezone(UTC).isoformat(),
        "duration": seconds_between(state.created_at, now if running else end),
        "running": running,
        "parent": state.parent_instance_id,
    }


def percentiles(durations: list[float]) -> dict[str, float] | None:
    if not durations:
        return None
    ordered = sorted(durations)
    if len(ordered) == 1:
        cut = ordered * 99
    else:
        cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "p50": cut[49],
        "p90": cut[89],
        "p99": cut[98],
        "min": ordered[0],
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


class Dashboard:
    """The ``/ui`` pages over one client.

    Args:
        client: the server's client; every page reads through it.
        api_token: when set, browsers sign in with it once (``/ui/login``).
        read_only: hide the actions and refuse their POSTs (403).
    """

    def __init__(
        self,
        client: WorkflowClient,
        *,
        api_token: str | None = None,
        read_only: bool = False,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.client = client
        self.sessions = Sessions(api_token)
        self.read_only = read_only
        self.now = now
        self.env = environment()

    def routes(self) -> list[BaseRoute]:
        p = UI_PREFIX
        return [
            Route("/", self.root, methods=["GET"]),
            Route(p, self.root, methods=["GET"]),
            Route(f"{p}/", self.instances, methods=["GET"]),
            Route(f"{p}/login", self.login, methods=["GET", "POST"]),
            Route(f"{p}/logout", self.logout, methods=["POST"]),
            Route(f"{p}/api/instances", self.instances_json, methods=["GET"]),
            Route(f"{p}/api/instances/{{iid}}", self.instance_json, methods=["GET"]),
            Route(f"{p}/instances/{{iid}}", self.instance, methods=["GET"]),
            Route(f"{p}/instances/{{iid}}/{{action}}", self.act, methods=["POST"]),
            Route(f"{p}/bulk", self.bulk, methods=["GET", "POST"]),
            Route(f"{p}/workflows/", self.workflows, methods=["GET"]),
            Route(f"{p}/workflows/{{name}}", self.workflow, methods=["GET"]),
            Mount(f"{p}/static", StaticFiles(packages=[("wayline.api.ui", "static")])),
        ]

    # ----- plumbing ----------------------------------------------------------------------

    def _session(self, request: Request) -> tuple[str, bool]:
        """The browser's session cookie value, and whether it must be (re)set."""
        value = request.cookies.get(SESSION_COOKIE, "")
        if self.sessions.valid(value):
            return value, False
        if self.sessions.api_token:
            # Only a request that proved the token (its header) gets a signed-in
            # session; anyone else (the login page) gets none.
            if self.sessions.token_matches(request.headers.get("dapr-api-token", "")):
                return self.sessions.signed_in_value(), True
            return "", False
        return self.sessions.anonymous_value(), True

    def _finish(self, request: Request, response: Response, session: str, new: bool) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if new:
            response.set_cookie(
                SESSION_COOKIE,
                session,
                path=UI_PREFIX,
                httponly=True,
                samesite="strict",
                secure=request.url.scheme == "https",
            )
        return response

    def page(
        self, request: Request, template: str, status_code: int = 200, **context: Any
    ) -> Response:
        session, new = self._session(request)
        html = self.env.get_template(template).render(
            read_only=self.read_only,
            signed_in=bool(self.sessions.api_token) and self.sessions.authenticated(request),
            csrf=self.sessions.csrf_token(session),
            path=request.url.path,
            **context,
        )
        return self._finish(request, HTMLResponse(html, status_code), session, new)

    def _gate(self, request: Request, *, api: bool = False) -> Response | None:
        """Sign-in first: a page redirects to the login, an API call gets 401."""
        if self.sessions.authenticated(request):
            return None
        if api or request.method != "GET":
            return self._plain(401, "sign in at /ui/login first")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"{UI_PREFIX}/login?next={quote(target, safe='')}"
        return self._headers(RedirectResponse(location, status_code=303))

    @staticmethod
    def _headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    def _plain(self, status: int, message: str) -> Response:
        return self._headers(JSONResponse({"message": message}, status_code=status))

    async def _form(self, request: Request) -> dict[str, list[str]]:
        body = (await request.body()).decode("utf-8", errors="replace")
        form: dict[str, list[str]] = {}
        for key, value in parse_qsl(body, keep_blank_values=True):
            form.setdefault(key, []).append(value)
        return form

    async def _post_checks(self, request: Request) -> tuple[dict[str, list[str]], Response | None]:
        """Signed in, same origin, a CSRF token bound to the session, not read-only."""
        if (refused := self._gate(request)) is not None:
            return {}, refused
        if not same_origin(request):
            return {}, self._plain(403, "cross-site request refused (Origin/Referer mismatch)")
        form = await self._form(request)
        if not self.sessions.csrf_ok(request, (form.get("csrf") or [""])[0]):
            return form, self._plain(403, "missing or stale CSRF token; reload the page")
        if self.read_only:
            return form, self._plain(403, "the dashboard is read-only (--ui-read-only)")
        return form, None

    # ----- sign-in ---------------------------------------------------------------------------

    async def root(self, request: Request) -> Response:
        return self._headers(RedirectResponse(f"{UI_PREFIX}/", status_code=303))

    async def login(self, request: Request) -> Response:
        next_url = request.query_params.get("next", f"{UI_PREFIX}/")
        if not next_url.startswith(f"{UI_PREFIX}/") or next_url.startswith("//"):
            next_url = f"{UI_PREFIX}/"
        if not self.sessions.api_token:
            return self._headers(RedirectResponse(next_url, status_code=303))
        if request.method == "GET":
            return self.page(request, "login.html", next_url=next_url, error=None)
        if not same_origin(request):
            return self._plain(403, "cross-site request refused (Origin/Referer mismatch)")
        token = ((await self._form(request)).get("token") or [""])[0]
        if not self.sessions.token_matches(token):
            return self.page(
                request, "login.html", 401, next_url=next_url, error="That is not the API token."
            )
        response = RedirectResponse(next_url, status_code=303)
        return self._finish(request, response, self.sessions.signed_in_value(), True)

    async def logout(self, request: Request) -> Response:
        if not same_origin(request):
            return self._plain(403, "cross-site request refused (Origin/Referer mismatch)")
        response = self._headers(RedirectResponse(f"{UI_PREFIX}/login", status_code=303))
        response.delete_cookie(SESSION_COOKIE, path=UI_PREFIX)
        return response

    # ----- the instances list ------------------------------------------------------------------

    def _listing(self, params: list[tuple[str, str]]) -> dict[str, Any]:
        values = dict(params)
        filters = filters_of(params)
        sort = values.get("sort", "created")
        if sort not in SORTS:
            raise BadInput(f"unknown sort {sort!r}; use one of {', '.join(SORTS)}")
        descending = values.get("dir", "desc") != "asc"
        size = _int(values.get("size"), 50)
        size = size if size in PAGE_SIZES else 50
        try:
            page = self.client.list_workflows(
                **filters,
                sort=sort,
                descending=descending,
                page_size=size,
                continuation_token=values.get("after") or None,
            )
        except ValueError as exc:
            raise BadInput(str(exc)) from exc
        others = {k: v for k, v in filters.items() if k != "status"}
        counts = self.client.count_workflows_by_status(**others)
        now = self.now()
        return {
            "rows": [row_json(s, now) for s in page.workflows],
            "next": page.continuation_token,
            "counts": {s: counts.get(WorkflowStatus(s), 0) for s in STATUSES},
            "total": sum(counts.values()),
            "sort": sort,
            "descending": descending,
            "size": size,
            "filters": filters,
        }

    async def instances(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        params = list(request.query_params.multi_items())
        try:
            listing = await run_in_threadpool(self._listing, params)
            error = None
            status_code = 200
        except BadInput as exc:
            listing, error, status_code = None, str(exc), 400
        names = await run_in_threadpool(self.client.workflow_names)
        return self.page(
            request,
            "instances.html",
            status_code,
            listing=listing,
            error=error,
            done=DONE.get(request.query_params.get("done", "")),
            params=[(k, v) for k, v in params if k != "done"],
            values=dict(params),
            selected_statuses=[v for k, v in params if k == "status"],
            statuses=STATUSES,
            sorts=SORTS,
            page_sizes=PAGE_SIZES,
            names=names,
            page_number=_int(request.query_params.get("page"), 1),
            bulk_operations=BULK_OPERATIONS,
        )

    async def instances_json(self, request: Request) -> Response:
        if (refused := self._gate(request, api=True)) is not None:
            return refused
        try:
            params = list(request.query_params.multi_items())
            listing = await run_in_threadpool(self._listing, params)
        except BadInput as exc:
            return self._plain(400, str(exc))
        listing.pop("filters")
        return self._headers(JSONResponse(listing))

    # ----- one instance ----------------------------------------------------------------------

    async def instance_json(self, request: Request) -> Response:
        """What the instance page polls to notice a change."""
        if (refused := self._gate(request, api=True)) is not None:
            return refused
        try:
            state = await run_in_threadpool(self.client.get_workflow, request.path_params["iid"])
        except (InstanceNotFoundError, ValueError):
            return self._plain(404, "no such instance")
        return self._headers(JSONResponse(row_json(state, self.now())))

    def _instance_context(self, iid: str, params: dict[str, str]) -> dict[str, Any]:
        state = self.client.get_workflow(iid)
        events = self.client.get_history(iid)
        now = self.now()
        kinds = sorted({hist.kind_of(e) for e in events})
        kind = params.get("kind", "")
        rows = [r for r in hist.history_rows(events) if not kind or r.kind == kind]
        history_pages = max(1, -(-len(rows) // HISTORY_PAGE))
        hpage = min(max(_int(params.get("hp"), 1), 1), history_pages)
        line = hist.timeline(events, now)
        timeline_pages = max(1, -(-len(line.bars) // TIMELINE_PAGE))
        tpage = min(max(_int(params.get("tp"), 1), 1), timeline_pages)
        children = self.client.list_workflows(parent_instance_id=iid, page_size=50)
        return {
            "state": state,
            "terminal": state.runtime_status in TERMINAL_STATUSES,
            "input": hist.pretty(state.serialized_input),
            "output": hist.pretty(state.serialized_output),
            "custom_status": hist.pretty(state.serialized_custom_status),
            "duration": seconds_between(
                state.created_at,
                state.completed_at if state.runtime_status.is_terminal else now,
            ),
            "waiting": hist.waiting(events),
            "kinds": kinds,
            "kind": kind,
            "history": rows[(hpage - 1) * HISTORY_PAGE : hpage * HISTORY_PAGE],
            "history_count": len(rows),
            "history_page": hpage,
            "history_pages": history_pages,
            "history_offset": (hpage - 1) * HISTORY_PAGE,
            "timeline": line,
            "bars": line.bars[(tpage - 1) * TIMELINE_PAGE : tpage * TIMELINE_PAGE],
            "timeline_page": tpage,
            "timeline_pages": timeline_pages,
            "timeline_offset": (tpage - 1) * TIMELINE_PAGE,
            "overview": hist.overview(line) if timeline_pages > 1 else None,
            "execution_id": hist.execution_of(events),
            "children": children.workflows,
            "more_children": children.continuation_token is not None,
            "version": state.last_updated_at.astimezone(UTC).isoformat(),
        }

    async def instance(
        self,
        request: Request,
        *,
        status_code: int = 200,
        error: str | None = None,
    ) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        iid = request.path_params["iid"]
        params = dict(request.query_params)
        try:
            context = await run_in_threadpool(self._instance_context, iid, params)
        except (InstanceNotFoundError, ValueError):
            return self.page(request, "missing.html", 404, iid=iid)
        done = DONE.get(params.get("done", ""))
        return self.page(
            request,
            "instance.html",
            status_code,
            error=error,
            done=done,
            params=list(request.query_params.multi_items()),
            **context,
        )

    async def act(self, request: Request) -> Response:
        form, refused = await self._post_checks(request)
        if refused is not None:
            return refused
        iid = request.path_params["iid"]
        action = request.path_params["action"]

        def field(name: str) -> str:
            return (form.get(name) or [""])[0]

        try:
            target = await run_in_threadpool(self._apply, iid, action, field)
        except BadInput as exc:
            return await self.instance(request, status_code=400, error=str(exc))
        except InstanceNotFoundError:
            return self.page(request, "missing.html", 404, iid=iid)
        except (WaylineError, ValueError) as exc:
            return await self.instance(request, status_code=409, error=str(exc))
        location = f"{UI_PREFIX}/instances/{quote(target, safe='')}?done={action}"
        if action == "purge":
            location = f"{UI_PREFIX}/?done=purge"
        return self._headers(RedirectResponse(location, status_code=303))

    def _apply(self, iid: str, action: str, field: Callable[[str], str]) -> str:
        """Run one action through the client; returns the instance to show next."""
        client = self.client
        if action == "pause":
            client.pause_workflow(iid)
        elif action == "resume":
            client.resume_workflow(iid)
        elif action == "terminate":
            output, problem = hist.json_text_or_error(field("output"))
            if problem:
                raise BadInput(f"terminate output: {problem}")
            client.terminate_workflow(iid, output=output)
        elif action == "raise-event":
            name = field("event_name").strip()
            if not name:
                raise BadInput("an event name is required")
            data, problem = hist.json_text_or_error(field("data"))
            if problem:
                raise BadInput(problem)
            client.raise_event(iid, name, data)
        elif action == "purge":
            client.purge_workflow(iid)
        elif action == "rerun":
            event_id = _int(field("event_id"), None)
            if event_id is None:
                raise BadInput("rerun needs the event id of an activity or child workflow")
            return client.rerun_workflow_from_event(iid, event_id)
        else:
            raise BadInput(f"unknown action {action!r}")
        return iid

    # ----- bulk ------------------------------------------------------------------------------

    async def bulk(self, request: Request) -> Response:
        if request.method == "GET":
            if (refused := self._gate(request)) is not None:
                return refused
            params = list(request.query_params.multi_items())
        else:
            form, refused = await self._post_checks(request)
            if refused is not None:
                return refused
            params = [(k, v) for k, values in form.items() for v in values]
        values = dict(params)
        operation = values.get("op", "")
        ids = [v for k, v in params if k == "id" and v]
        try:
            if operation not in BULK_OPERATIONS:
                raise BadInput(f"choose a bulk operation: {', '.join(BULK_OPERATIONS)}")
            filters = filters_of(params)
        except BadInput as exc:
            return self.page(request, "bulk.html", 400, error=str(exc), result=None)
        described = [(k, v) for k, v in params if k in _FILTER_KEYS and v]
        if request.method == "GET":
            count = (
                len(ids) if ids else await run_in_threadpool(self.client.count_workflows, **filters)
            )
            return self.page(
                request,
                "bulk.html",
                operation=operation,
                ids=ids,
                count=count,
                described=described,
                params=[(k, v) for k, v in params if k in _FILTER_KEYS],
                error=None,
                result=None,
            )
        result = await run_in_threadpool(self._bulk, operation, ids, filters)
        return self.page(
            request,
            "bulk.html",
            operation=operation,
            result=result,
            error=None,
            described=described,
            ids=ids,
        )

    def _bulk(self, operation: str, ids: list[str], filters: dict[str, Any]) -> dict[str, Any]:
        outcome = (
            self.client.bulk(operation, instance_ids=ids)
            if ids
            else self.client.bulk(operation, **filters)
        )
        return {"affected": outcome.affected, "failed": outcome.failed}

    # ----- workflows ---------------------------------------------------------------------------

    async def workflows(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        names = await run_in_threadpool(self.client.workflow_names)
        return self.page(request, "workflows.html", names=names)

    def _workflow_context(self, name: str) -> dict[str, Any]:
        counts = self.client.count_workflows_by_status(name=name)
        failures = self.client.list_workflows(
            status="FAILED", name=name, page_size=10, sort="updated"
        )
        durations = self.client.workflow_durations(name, limit=1000)
        return {
            "name": name,
            "counts": {s: counts.get(WorkflowStatus(s), 0) for s in STATUSES},
            "total": sum(counts.values()),
            "failures": failures.workflows,
            "stats": percentiles(durations),
            "sample": len(durations),
        }

    async def workflow(self, request: Request) -> Response:
        if (refused := self._gate(request)) is not None:
            return refused
        context = await run_in_threadpool(self._workflow_context, request.path_params["name"])
        return self.page(request, "workflow.html", statuses=STATUSES, **context)


T = TypeVar("T")


def _int(text: str | None, default: T) -> int | T:
    """A whole number given as ASCII digits (a query or form field), else ``default``:
    "²" is a digit to ``str.isdigit`` and 5,000 digits are too many for ``int``."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > 18:
        return default
    return int(text)


def dashboard_routes(
    client: WorkflowClient, *, api_token: str | None = None, read_only: bool = False
) -> list[BaseRoute]:
    """The dashboard's routes, to mount in the server's app (``/`` and ``/ui/...``)."""
    return Dashboard(client, api_token=api_token, read_only=read_only).routes()
