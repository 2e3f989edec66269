"""The dashboard's server side through HTTP: pages, filters and paging, escaping, the
token sign-in, CSRF and origin checks, read-only mode, bounded big histories."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

import wayline
from support.wait import wait_until
from wayline.api.ui.app import HISTORY_PAGE, TIMELINE_PAGE

XSS_NAME = '<img src=x onerror="alert(1)">'
XSS_TEXT = "</pre><script>alert('payload')</script>"


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def wait_status(client: wayline.WorkflowClient, iid: str, *statuses: str) -> None:
    wait_until(
        lambda: client.get_workflow(iid).runtime_status in statuses, 20, f"{iid} to be {statuses}"
    )


def test_root_redirects_and_pages_carry_the_security_headers(http: TestClient) -> None:
    assert http.get("/").headers["location"] == "/ui/"
    page = http.get("/ui/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # the only script is the package's file
    assert '<script src="/ui/static/wayline.js" defer></script>' in page.text
    assert http.get("/ui/static/wayline.js").status_code == 200
    assert http.get("/ui/static/wayline.css").status_code == 200


def test_filters_sorting_counts_and_keyset_paging(
    http: TestClient, runtime: wayline.WorkflowRuntime
) -> None:
    client = runtime.client()
    for i in range(7):
        client.start_workflow("quick", input=i, instance_id=f"q-{i}")
    for i in range(3):
        client.start_workflow("waiter", instance_id=f"w-{i}")
    for i in range(7):
        wait_status(client, f"q-{i}", "COMPLETED")
    for i in range(3):
        wait_status(client, f"w-{i}", "RUNNING")

    listing = http.get("/ui/api/instances", params={"size": 25}).json()
    assert listing["counts"]["COMPLETED"] == 7 and listing["counts"]["RUNNING"] == 3
    assert listing["total"] == 10

    by_status = http.get("/ui/api/instances", params=[("status", "RUNNING")]).json()
    assert sorted(r["id"] for r in by_status["rows"]) == ["w-0", "w-1", "w-2"]
    # Counts ignore the status filter (they are the chips to pick it with).
    assert by_status["counts"]["COMPLETED"] == 7
    both = [("status", "RUNNING"), ("status", "COMPLETED"), ("q", "w-")]
    assert len(http.get("/ui/api/instances", params=both).json()["rows"]) == 3
    named = http.get("/ui/api/instances", params={"name": "quick", "sort": "id", "dir": "asc"})
    assert [r["id"] for r in named.json()["rows"]] == [f"q-{i}" for i in range(7)]

    seen: list[str] = []
    params: dict[str, str | int] = {"size": 25, "sort": "id", "dir": "desc"}
    page = http.get("/ui/api/instances", params=params).json()
    seen += [r["id"] for r in page["rows"]]
    assert page["next"] is None  # 10 < 25
    small = {"name": "quick", "sort": "id", "dir": "asc"}
    first = http.get("/ui/", params={**small, "size": 25})
    assert "Next page" not in first.text

    # Paging follows the keyset token the page links to.
    for i in range(30):
        client.start_workflow("quick", instance_id=f"z-{i:02d}")
    collected: list[str] = []
    query: dict[str, str | int] = {"q": "z-", "sort": "id", "dir": "asc", "size": 25}
    while True:
        body = http.get("/ui/api/instances", params=query).json()
        collected += [r["id"] for r in body["rows"]]
        if body["next"] is None:
            break
        query["after"] = body["next"]
    assert collected == [f"z-{i:02d}" for i in range(30)]
    page_one = http.get("/ui/", params={"q": "z-", "sort": "id", "dir": "asc", "size": 25})
    assert "Next page" in page_one.text and 'aria-sort="ascending"' in page_one.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "NOPE"}, "unknown status"),
        ({"created_from": "yesterday"}, "not a date and time"),
        ({"sort": "size"}, "unknown sort"),
        ({"after": "garbage!"}, "continuation token"),
    ],
)
def test_bad_filters_say_what_is_wrong(
    http: TestClient, params: dict[str, str], message: str
) -> None:
    page = http.get("/ui/", params=params)
    assert page.status_code == 400
    assert message in html.unescape(page.text)
    assert http.get("/ui/api/instances", params=params).status_code == 400


def test_odd_numbers_in_page_fields_fall_back_instead_of_failing(
    http: TestClient, runtime: wayline.WorkflowRuntime
) -> None:
    client = runtime.client()
    client.start_workflow("quick", input=1, instance_id="n-1")
    wait_status(client, "n-1", "COMPLETED")
    for odd in ("\u00b2", "9" * 5000, "-3", "1e3"):  # "²" is a digit to str.isdigit
        for path, params in (
            ("/ui/", {"size": odd, "page": odd}),
            ("/ui/api/instances", {"size": odd}),
            ("/ui/instances/n-1", {"hp": odd, "tp": odd}),
        ):
            assert http.get(path, params=params).status_code == 200, (path, odd)
    page = http.get("/ui/instances/n-1").text
    refused = http.post(
        "/ui/instances/n-1/rerun", data={"csrf": csrf_of(page), "event_id": "\u00b2"}
    )
    assert refused.status_code == 400 and "event id" in refused.text


def test_user_supplied_text_is_escaped_everywhere(
    http: TestClient, runtime: wayline.WorkflowRuntime
) -> None:
    client = runtime.client()
    # A workflow name nobody registers stays PENDING; it still shows on every page.
    client.start_workflow(XSS_NAME, input={"note": XSS_TEXT}, instance_id="odd")
    client.start_workflow("broken", input=XSS_TEXT, instance_id="bad")
    client.start_workflow("waiter", instance_id="wait")
    wait_status(client, "bad", "FAILED")
    wait_status(client, "wait", "RUNNING")
    client.raise_event("wait", XSS_NAME, {"x": XSS_TEXT})

    pages = [
        http.get("/ui/").text,
        http.get("/ui/instances/odd").text,
        http.get("/ui/instances/bad").text,
        http.get("/ui/instances/wait").text,
        http.get("/ui/workflows/").text,
        http.get("/ui/workflows/broken").text,
        http.get(f"/ui/workflows/{XSS_NAME}").text,
        http.get("/ui/bulk", params={"op": "terminate", "name": XSS_NAME}).text,
    ]
    for page in pages:
        assert "<img src=x" not in page
        assert "<script>alert" not in page
        assert "</pre><script>" not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in pages[0]
    assert "&lt;/pre&gt;&lt;script&gt;alert(&#39;payload&#39;)&lt;/script&gt;" in pages[2]


def test_instance_page_shows_state_waits_history_and_children(
    http: TestClient, runtime: wayline.WorkflowRuntime
) -> None:
    client = runtime.client()
    client.start_workflow("tour", input={"x": 1}, instance_id="tour-1")
    wait_until(
        lambda: "approval" in (client.get_workflow("tour-1").serialized_custom_status or ""),
        20,
        "tour-1 to wait for approval",
    )

    page = http.get("/ui/instances/tour-1").text
    assert "Waiting for" in page and "<b>approval</b>" in page
    for lane in ("lane-activity", "lane-timer", "lane-child", "lane-event", "lane-retry"):
        assert lane in page, lane
    assert "attempt 2" in page and "✕ failed" in page
    assert 'href="/ui/instances/tour-1%3A0006"' in page or "tour-1:0006" in page
    assert "TaskScheduled" in page and "ChildWorkflowCreated" in page
    only_failures = http.get("/ui/instances/tour-1", params={"kind": "TaskFailed"}).text
    assert only_failures.count('<tr class="k-TaskFailed">') == 2
    assert '<tr class="k-TaskScheduled">' not in only_failures
    child = http.get("/ui/instances/tour-1:0006").text
    assert 'href="/ui/instances/tour-1">tour-1</a>' in child  # the parent link

    assert "continued as new" not in page

    client.start_workflow("generations", input=0, instance_id="gen-1")
    wait_status(client, "gen-1", "COMPLETED")
    generations = http.get("/ui/instances/gen-1").text
    execution = client.get_history("gen-1")[1].execution_id  # type: ignore[attr-defined]
    assert "continued as new 3 times" in generations and execution in generations

    assert http.get("/ui/instances/nobody").status_code == 404
    assert http.get("/ui/api/instances/tour-1").json()["status"] == "RUNNING"


def _post(http: TestClient, path: str, page_path: str, **fields: str) -> object:
    csrf = csrf_of(http.get(page_path).text)
    return http.post(path, data={"csrf": csrf, **fields})


def test_actions_change_the_instance(http: TestClient, runtime: wayline.WorkflowRuntime) -> None:
    client = runtime.client()
    client.start_workflow("waiter", input="in", instance_id="act")
    wait_status(client, "act", "RUNNING")
    page = "/ui/instances/act"

    response = _post(http, f"{page}/pause", page)
    assert response.status_code == 303 and response.headers["location"] == f"{page}?done=pause"
    wait_status(client, "act", "SUSPENDED")
    assert _post(http, f"{page}/resume", page).status_code == 303
    wait_status(client, "act", "RUNNING")

    bad = _post(http, f"{page}/raise-event", page, event_name="go", data="{not json")
    assert bad.status_code == 400 and "not valid JSON" in bad.text
    assert _post(http, f"{page}/raise-event", page, event_name="", data="1").status_code == 400
    ok = _post(http, f"{page}/raise-event", page, event_name="go", data='{"ok": true}')
    assert ok.status_code == 303
    wait_status(client, "act", "COMPLETED")
    assert client.get_workflow("act").output == {"input": "in", "got": {"ok": True}}

    refused = _post(http, f"{page}/pause", page)
    assert refused.status_code == 409 and "COMPLETED" in refused.text

    # Rerun from the wait's activity-free history is refused; purge works.
    client.start_workflow("tour", instance_id="stop")
    wait_status(client, "stop", "RUNNING")
    stop = "/ui/instances/stop"
    assert _post(http, f"{stop}/terminate", stop, output='"by hand"').status_code == 303
    wait_status(client, "stop", "TERMINATED")
    assert client.get_workflow("stop").output == "by hand"

    rerun = _post(http, f"{stop}/rerun", stop, event_id="1")
    assert rerun.status_code == 303
    new_id = rerun.headers["location"].split("/ui/instances/")[1].split("?")[0]
    assert new_id != "stop" and client.get_workflow(new_id).name == "tour"

    purged = _post(http, f"{page}/purge", page)
    assert purged.status_code == 303 and purged.headers["location"] == "/ui/?done=purge"
    assert client.get_workflow_state("act") is None


def test_bulk_confirms_the_count_then_acts_on_the_filtered_set(
    http: TestClient, runtime: wayline.WorkflowRuntime
) -> None:
    client = runtime.client()
    for i in range(4):
        client.start_workflow("waiter", instance_id=f"bulk-{i}")
    client.start_workflow("waiter", instance_id="other")
    for i in range(4):
        wait_status(client, f"bulk-{i}", "RUNNING")

    confirm = http.get("/ui/bulk", params={"op": "terminate", "q": "bulk-"})
    assert confirm.status_code == 200
    assert 'data-bulk-count="4"' in confirm.text and "Yes, terminate 4 instances" in confirm.text
    done = http.post(
        "/ui/bulk", data={"csrf": csrf_of(confirm.text), "op": "terminate", "q": "bulk-"}
    )
    assert "4 instances affected" in done.text
    for i in range(4):
        wait_status(client, f"bulk-{i}", "TERMINATED")
    assert client.get_workflow("other").runtime_status == "RUNNING"

    selected = http.get("/ui/bulk", params=[("op", "purge"), ("id", "bulk-0"), ("id", "other")])
    assert 'data-bulk-count="2"' in selected.text
    result = http.post(
        "/ui/bulk",
        data={"csrf": csrf_of(selected.text), "op": "purge", "id": ["bulk-0", "other"]},
    )
    assert "1 instance affected, 1 refused" in result.text
    assert client.get_workflow_state("bulk-0") is None


def test_state_changes_need_csrf_and_same_origin(
    http: TestClient, runtime: wayline.WorkflowRuntime
) -> None:
    client = runtime.client()
    client.start_workflow("waiter", instance_id="guarded")
    wait_status(client, "guarded", "RUNNING")
    page = http.get("/ui/instances/guarded").text
    csrf = csrf_of(page)

    assert http.post("/ui/instances/guarded/pause", data={}).status_code == 403
    assert http.post("/ui/instances/guarded/pause", data={"csrf": "x" * 64}).status_code == 403
    evil = http.post(
        "/ui/instances/guarded/pause",
        data={"csrf": csrf},
        headers={"origin": "https://evil.example"},
    )
    assert evil.status_code == 403
    no_origin = http.post(
        "/ui/instances/guarded/pause", data={"csrf": csrf}, headers={"origin": ""}
    )
    assert no_origin.status_code == 403
    assert http.get("/ui/instances/guarded/pause").status_code == 405
    assert client.get_workflow("guarded").runtime_status == "RUNNING"
    # Another browser (another session cookie) cannot use this page's token.
    other = TestClient(http.app, base_url="http://testserver", follow_redirects=False)
    other.headers["origin"] = "http://testserver"
    other.get("/ui/")
    assert other.post("/ui/instances/guarded/pause", data={"csrf": csrf}).status_code == 403
    assert http.post("/ui/instances/guarded/pause", data={"csrf": csrf}).status_code == 303


def test_token_sign_in_sets_a_derived_cookie_valid_for_the_dashboard_only(
    make_http: Callable[..., TestClient], runtime: wayline.WorkflowRuntime
) -> None:
    http = make_http(api_token="s3cret-token")
    runtime.client().start_workflow("waiter", instance_id="tok")

    redirect = http.get("/ui/instances/tok")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/ui/login?next=%2Fui%2Finstances%2Ftok"
    assert http.get("/ui/api/instances").status_code == 401
    assert http.get("/").status_code == 303  # to /ui/, which asks to sign in

    assert http.get("/ui/login").status_code == 200
    wrong = http.post("/ui/login?next=/ui/instances/tok", data={"token": "nope"})
    assert wrong.status_code == 401 and "not the API token" in wrong.text
    # Seeing the login page (or failing it) gives no session.
    assert "set-cookie" not in wrong.headers
    assert http.get("/ui/api/instances").status_code == 401
    assert http.get("/ui/instances/tok").status_code == 303
    crossed = http.post(
        "/ui/login", data={"token": "s3cret-token"}, headers={"origin": "https://evil.example"}
    )
    assert crossed.status_code == 403
    signed = http.post("/ui/login?next=/ui/instances/tok", data={"token": "s3cret-token"})
    assert signed.status_code == 303 and signed.headers["location"] == "/ui/instances/tok"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert "s3cret-token" not in cookie
    assert http.get("/ui/instances/tok").status_code == 200
    assert http.get("/ui/api/instances").status_code == 200
    # The cookie is no credential for the JSON APIs (nor would a browser send it there).
    value = http.cookies.get("wayline_ui")
    assert value
    api = http.get("/wayline/v1/instances", headers={"cookie": f"wayline_ui={value}"})
    assert api.status_code == 401
    dapr = http.get("/v1.0/workflows/dapr/tok", headers={"cookie": f"wayline_ui={value}"})
    assert dapr.status_code == 401
    # The header still works for scripts, and a redirect never leaves the dashboard.
    assert http.get("/wayline/v1/instances", headers={"dapr-api-token": "s3cret-token"}).is_success
    off_site = http.post("/ui/login?next=//evil.example/", data={"token": "s3cret-token"})
    assert off_site.headers["location"] == "/ui/"
    out = http.post("/ui/logout")
    assert out.status_code == 303 and 'wayline_ui=""' in out.headers["set-cookie"]


def test_non_ascii_tokens_cookies_and_csrf_values_are_refused_not_errors(
    make_http: Callable[..., TestClient], runtime: wayline.WorkflowRuntime
) -> None:
    http = make_http(api_token="jeton-\u00e9t\u00e9")  # a non-ASCII token works too
    runtime.client().start_workflow("waiter", instance_id="na")
    forged = [(b"cookie", "wayline_ui=s.\u00e9\u00e9\u00e9".encode())]  # raw UTF-8 bytes
    assert http.get("/ui/api/instances", headers=forged).status_code == 401
    wrong = http.post("/ui/login", data={"token": "\u00e9t\u00e9"})
    assert wrong.status_code == 401
    signed = http.post("/ui/login", data={"token": "jeton-\u00e9t\u00e9"})
    assert signed.status_code == 303
    bad_csrf = http.post("/ui/instances/na/pause", data={"csrf": "\u00e9" * 64})
    assert bad_csrf.status_code == 403
    assert runtime.client().get_workflow("na").runtime_status != "SUSPENDED"


def test_read_only_hides_actions_and_refuses_them(
    make_http: Callable[..., TestClient], runtime: wayline.WorkflowRuntime
) -> None:
    client = runtime.client()
    client.start_workflow("waiter", instance_id="ro")
    wait_status(client, "ro", "RUNNING")
    http = make_http(ui_read_only=True)
    page = http.get("/ui/instances/ro").text
    assert "read-only" in page
    assert 'data-action="pause"' not in page and "Raise an event" not in page
    assert "Bulk action" not in http.get("/ui/").text
    session_page = http.get("/ui/").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', session_page)
    token = csrf.group(1) if csrf else "none"
    assert http.post("/ui/instances/ro/pause", data={"csrf": token}).status_code == 403
    assert http.post("/ui/bulk", data={"csrf": token, "op": "terminate"}).status_code == 403
    assert client.get_workflow("ro").runtime_status == "RUNNING"


def test_no_ui(make_http: Callable[..., TestClient]) -> None:
    http = make_http(ui=False)
    assert http.get("/ui/").status_code == 404
    assert http.get("/").status_code == 404


def test_workflow_page_counts_failures_and_percentiles(
    http: TestClient, runtime: wayline.WorkflowRuntime
) -> None:
    client = runtime.client()
    for i in range(5):
        client.start_workflow("quick", instance_id=f"wq-{i}")
        client.start_workflow("broken", input=f"broke number {i}", instance_id=f"wb-{i}")
    for i in range(5):
        wait_status(client, f"wq-{i}", "COMPLETED")
        wait_status(client, f"wb-{i}", "FAILED")
    quick = http.get("/ui/workflows/quick").text
    assert 'data-count="COMPLETED"' in quick and "<b>5</b>" in quick
    assert 'data-stat="p50"' in quick and 'data-stat="p99"' in quick
    broken = http.get("/ui/workflows/broken").text
    assert "broke number 4" in broken and "No completed instance yet" in broken
    names = http.get("/ui/workflows/").text
    for name in ("broken", "quick", "tour", "many_steps"):
        assert f">{name}</a>" in names


def test_a_history_of_thousands_of_steps_renders_bounded(
    http: TestClient, runtime: wayline.WorkflowRuntime
) -> None:
    client = runtime.client()
    client.start_workflow("many_steps", input=2000, instance_id="long")
    state = client.wait_for_workflow_completion("long", timeout=120)
    assert state.output == 2000
    assert len(client.get_history("long")) > 6000

    started = time.perf_counter()
    page = http.get("/ui/instances/long")
    elapsed = time.perf_counter() - started
    assert page.status_code == 200
    assert page.text.count('<li class="lane-') == TIMELINE_PAGE
    assert page.text.count('<tr class="k-') == HISTORY_PAGE
    assert "Spans 1\u2013150 of 2000" in page.text and 'class="overview"' in page.text
    last = http.get("/ui/instances/long", params={"tp": 14, "hp": 31}).text
    assert "Spans 1951\u20132000 of 2000" in last
    print(f"2,000-step instance page: {elapsed * 1000:.0f} ms, {len(page.text):,} bytes")
