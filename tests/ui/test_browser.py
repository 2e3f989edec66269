"""The dashboard in real headless Chromium against a real ``wayline serve``.

Debian's chromium drives through Playwright (``.ci/run`` installs it); screenshots of
the main pages go to ``tests/ui/artifacts/`` (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.server import Server, stop_all
from support.wait import wait_until

from .conftest import ARTIFACTS

UI_APP = Path(__file__).with_name("ui_app.py")
XSS_EVENT = '<img src=x onerror="window.__xss=1">'
XSS_DATA = {"note": "</pre><script>window.__xss=2</script>"}

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    started: dict[str, Server] = {}

    def start(key: str, **kwargs: Any) -> None:
        db = tmp_path_factory.mktemp(f"ui-{key}") / "wayline.db"
        started[key] = Server(db, apps=[UI_APP], **kwargs).start()

    try:
        start("main")
        start("token", env={"DAPR_API_TOKEN": "browser-token"})
        start("ro", extra_args=["--ui-read-only"])
        yield started
    finally:
        stop_all(started.values())


@pytest.fixture(scope="module")
def server(servers: dict[str, Server]) -> Server:
    return servers["main"]


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def shot(page: Any, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    print(f"screenshot: {path}")
    return path


def start(server: Server, workflow: str, iid: str, data: Any = None, **headers: str) -> None:
    response = httpx.post(
        f"{server.url}/v1.0/workflows/dapr/{workflow}/start",
        params={"instanceID": iid},
        json=data,
        headers=headers,
    )
    assert response.status_code == 202, response.text


def status_of(server: Server, iid: str, **headers: str) -> str | None:
    response = httpx.get(f"{server.url}/v1.0/workflows/dapr/{iid}", headers=headers)
    if response.status_code == 404:
        return None
    return str(response.json()["runtimeStatus"])


def wait_for(server: Server, iid: str, *statuses: str, **headers: str) -> None:
    wait_until(lambda: status_of(server, iid, **headers) in statuses, 20, f"{iid} {statuses}")


def finished_tour(server: Server, iid: str) -> None:
    """A ``tour`` instance run to completion (approved once it waits)."""
    start(server, "tour", iid, {"order": 7})
    wait_until(
        lambda: "approval" in httpx.get(f"{server.url}/v1.0/workflows/dapr/{iid}").text,
        20,
        f"{iid} to wait for approval",
    )
    httpx.post(f"{server.url}/v1.0/workflows/dapr/{iid}/raiseEvent/approval", json=True)
    wait_for(server, iid, "COMPLETED")


def test_list_filters_paging_sorting_and_keyboard(server: Server, page: Any) -> None:
    for i in range(30):
        start(server, "quick", f"page-{i:02d}", i)
    start(server, "waiter", "page-wait")
    wait_for(server, "page-29", "COMPLETED")
    wait_for(server, "page-wait", "RUNNING")

    page.goto(f"{server.url}/")
    assert page.url.endswith("/ui/")
    page.fill("input[name=q]", "page-")
    page.check("input[name=status][value=COMPLETED]")
    page.select_option("select[name=sort]", "id")
    page.select_option("select[name=dir]", "asc")
    page.select_option("select[name=size]", "25")
    page.click("form.filters button[type=submit]")
    ids = page.locator("table.instances tbody td.id").all_inner_texts()
    assert ids == [f"page-{i:02d}" for i in range(25)]
    page.click("a[rel=next]")
    assert page.locator("table.instances tbody td.id").all_inner_texts() == [
        f"page-{i:02d}" for i in range(25, 30)
    ]
    assert "Page 2" in page.inner_text("nav.pager")
    # Sorting by a column header flips its direction.
    page.click("th a:has-text('Instance')")
    assert page.locator("table.instances tbody td.id").first.inner_text() == "page-29"
    # A status chip toggles the status filter.
    page.goto(f"{server.url}/ui/?q=page-")
    page.click("a.chip[data-count=RUNNING]")
    assert page.locator("table.instances tbody td.id").all_inner_texts() == ["page-wait"]
    # Times show in the browser's zone with UTC on hover.
    title = page.locator("td.created time").first.get_attribute("title")
    assert title and title.endswith(" UTC")
    # Keyboard: "/" searches, j moves to a row, Enter opens it.
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/ui/instances/page-wait$"))


def test_live_update_keeps_the_selection(server: Server, page: Any) -> None:
    start(server, "waiter", "live-1")
    start(server, "waiter", "live-2")
    wait_for(server, "live-2", "RUNNING")
    page.goto(f"{server.url}/ui/?q=live-")
    row = page.locator("tr[data-id=live-1]")
    assert row.locator(".status").inner_text() == "RUNNING"
    page.check("tr[data-id=live-2] input[type=checkbox]")
    page.evaluate("window.__notReloaded = true")

    httpx.post(f"{server.url}/v1.0/workflows/dapr/live-1/raiseEvent/go", json=1)
    start(server, "waiter", "live-3")

    row.locator(".status", has_text="COMPLETED").wait_for(timeout=10_000)
    page.locator("tr[data-id=live-3]").wait_for(timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
    assert page.is_checked("tr[data-id=live-2] input[type=checkbox]")
    assert page.inner_text("[data-selected-count]") == "1"
    assert page.locator("a.chip[data-count=COMPLETED] b").inner_text() != ""
    shot(page, "instances")


def test_timeline_of_activities_retries_timer_child_and_event(server: Server, page: Any) -> None:
    start(server, "tour", "tour-1", {"order": 7})
    wait_until(
        lambda: "approval" in httpx.get(f"{server.url}/v1.0/workflows/dapr/tour-1").text,
        20,
        "the tour to wait for approval",
    )
    page.goto(f"{server.url}/ui/instances/tour-1")
    waiting = page.inner_text("section[aria-label='Waiting for']")
    assert "approval" in waiting
    httpx.post(f"{server.url}/v1.0/workflows/dapr/tour-1/raiseEvent/approval", json=True)
    wait_for(server, "tour-1", "COMPLETED")
    page.reload()
    timeline = page.locator("ol.timeline")
    for lane in ("activity", "retry", "timer", "child", "event"):
        assert timeline.locator(f"li.lane-{lane}").count() >= 1, lane
    assert timeline.locator("li.failed").count() == 2
    assert timeline.locator("li.retry .attempt").inner_text() == "attempt 2"
    event_bar = timeline.locator("li.lane-event .bar")
    assert "received" in (event_bar.get_attribute("title") or "")
    # Bars are placed on the time axis by the script (CSP allows no inline styles).
    width = event_bar.evaluate("el => el.getBoundingClientRect().width")
    assert width > 0
    starts = [
        b.evaluate("el => el.getBoundingClientRect().left") for b in timeline.locator(".bar").all()
    ]
    assert starts == sorted(starts)
    timeline.locator("li.lane-child a").click()
    page.wait_for_url(re.compile(r"/ui/instances/tour-1%3A0006$|/ui/instances/tour-1:0006$"))
    assert page.locator("dd a", has_text="tour-1").count() == 1
    page.goto(f"{server.url}/ui/instances/tour-1")
    # History: payloads expand; the kind filter narrows the table.
    page.locator("table.history tr.k-ExecutionStarted summary").click()
    assert '"order": 7' in page.locator("table.history tr.k-ExecutionStarted pre").inner_text()
    page.select_option("select[name=kind]", "TaskFailed")
    page.wait_for_url(re.compile(r"kind=TaskFailed"))
    assert page.locator("table.history tbody tr").count() == 2
    page.goto(f"{server.url}/ui/instances/tour-1")
    shot(page, "instance")


def test_each_action_and_its_effect(server: Server, page: Any) -> None:
    start(server, "waiter", "act-1", "in")
    wait_for(server, "act-1", "RUNNING")
    page.goto(f"{server.url}/ui/instances/act-1")
    page.on("dialog", lambda dialog: dialog.accept())

    page.click("button[data-action=pause]")
    assert page.inner_text("p.notice") == "Paused."
    wait_for(server, "act-1", "SUSPENDED")
    page.click("button[data-action=resume]")
    wait_for(server, "act-1", "RUNNING")

    page.click("summary:has-text('Raise an event')")
    page.fill("input[name=event_name]", "go")
    page.fill("textarea[name=data]", "{not json")
    page.click("button[data-action=raise-event]")
    assert "Not valid JSON" in page.inner_text("[data-json-error]")
    assert status_of(server, "act-1") == "RUNNING"
    page.fill("textarea[name=data]", '{"approved": true}')
    page.click("button[data-action=raise-event]")
    wait_for(server, "act-1", "COMPLETED")
    page.goto(f"{server.url}/ui/instances/act-1")
    assert '"approved": true' in page.inner_text("section[aria-label=Output]")

    start(server, "tour", "act-2")
    wait_for(server, "act-2", "RUNNING")
    page.goto(f"{server.url}/ui/instances/act-2")
    page.click("summary:has-text('Terminate')")
    page.fill("textarea[name=output]", '"stopped by the operator"')
    page.click("button[data-action=terminate]")
    wait_for(server, "act-2", "TERMINATED")
    page.goto(f"{server.url}/ui/instances/act-2")
    assert "stopped by the operator" in page.inner_text("section[aria-label=Output]")

    page.locator("tr.k-TaskScheduled button[data-action=rerun]").first.click()
    page.wait_for_url(re.compile(r"done=rerun"))
    new_id = page.inner_text("[data-iid]")
    assert new_id != "act-2"
    assert status_of(server, new_id) is not None

    page.goto(f"{server.url}/ui/instances/act-1")
    page.click("button[data-action=purge]")
    page.wait_for_url(re.compile(r"/ui/\?done=purge"))
    assert status_of(server, "act-1") is None


def test_bulk_terminate_confirms_how_many(server: Server, page: Any) -> None:
    for i in range(3):
        start(server, "waiter", f"bulk-{i}")
    for i in range(3):
        wait_for(server, f"bulk-{i}", "RUNNING")
    page.goto(f"{server.url}/ui/?q=bulk-&status=RUNNING")
    page.select_option("form.bulk select[name=op]", "terminate")
    page.click("form.bulk button[value=filtered]")
    assert "This will terminate 3 instances" in page.inner_text("p.confirm")
    page.click("button[data-confirm-bulk]")
    assert "3 instances affected" in page.inner_text("[data-bulk-result]")
    for i in range(3):
        wait_for(server, f"bulk-{i}", "TERMINATED")

    # On a selection: only the checked rows.
    page.goto(f"{server.url}/ui/?q=bulk-")
    page.check("tr[data-id=bulk-1] input[type=checkbox]")
    page.select_option("form.bulk select[name=op]", "purge")
    page.click("button[data-needs-selection]")
    assert "This will purge 1 instance" in page.inner_text("p.confirm")
    page.click("button[data-confirm-bulk]")
    assert status_of(server, "bulk-1") is None
    assert status_of(server, "bulk-0") == "TERMINATED"


def test_token_login(servers: dict[str, Server], browser: Any) -> None:
    server = servers["token"]
    headers = {"dapr-api-token": "browser-token"}
    start(server, "waiter", "tok-1", **headers)
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/ui/instances/tok-1")
    assert "/ui/login" in page.url
    page.fill("input[name=token]", "wrong")
    page.click("main button[type=submit]")
    assert "not the API token" in page.inner_text("[role=alert]")
    page.fill("input[name=token]", "browser-token")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/ui/instances/tok-1$"))
    cookie = next(c for c in context.cookies() if c["name"] == "wayline_ui")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert "browser-token" not in cookie["value"]
    assert page.evaluate("document.cookie") == ""
    # The session reaches the dashboard's actions, never the JSON API.
    page.click("button[data-action=pause]")
    wait_for(server, "tok-1", "SUSPENDED", **headers)
    api_status = page.evaluate(
        "fetch('/wayline/v1/instances', {credentials: 'include'}).then(r => r.status)"
    )
    assert api_status == 401
    page.click("text=Sign out")
    page.wait_for_url(re.compile(r"/ui/login$"))
    page.goto(f"{server.url}/ui/")
    assert "/ui/login" in page.url
    context.close()


def test_read_only_mode(servers: dict[str, Server], page: Any) -> None:
    server = servers["ro"]
    start(server, "waiter", "ro-1")
    wait_for(server, "ro-1", "RUNNING")
    page.goto(f"{server.url}/ui/instances/ro-1")
    assert page.locator("text=read-only").count() >= 1
    assert page.locator("button[data-action]").count() == 0
    page.goto(f"{server.url}/ui/")
    assert page.locator("form.bulk").count() == 0
    status = page.evaluate(
        "fetch('/ui/instances/ro-1/pause', {method: 'POST', body: 'csrf=x',"
        " headers: {'content-type': 'application/x-www-form-urlencoded'}}).then(r => r.status)"
    )
    assert status == 403
    assert status_of(server, "ro-1") == "RUNNING"


def test_xss_through_an_event_name_and_a_payload_shows_literally(server: Server, page: Any) -> None:
    start(server, "waiter", "xss-1", XSS_DATA)
    wait_for(server, "xss-1", "RUNNING")
    page.goto(f"{server.url}/ui/instances/xss-1")
    page.click("summary:has-text('Raise an event')")
    page.fill("input[name=event_name]", XSS_EVENT)
    page.fill("textarea[name=data]", '{"x": "<script>window.__xss=3</script>"}')
    page.click("button[data-action=raise-event]")
    page.wait_for_url(re.compile(r"done=raise-event"))
    page.select_option("select[name=kind]", "EventRaised")
    page.wait_for_url(re.compile(r"kind=EventRaised"))
    row = page.locator("table.history tr.k-EventRaised")
    assert row.locator(".summary").inner_text() == XSS_EVENT
    row.locator("summary").click()
    assert "<script>window.__xss=3</script>" in row.locator("pre").inner_text()
    page.goto(f"{server.url}/ui/instances/xss-1")
    assert "</pre><script>window.__xss=2</script>" in page.inner_text("section[aria-label=Input]")
    page.goto(f"{server.url}/ui/?q=xss-")
    page.wait_for_timeout(2500)  # a live refresh of the list has run
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator("img[src=x]").count() == 0


def test_workflow_page_dark_mode_and_phone_width(server: Server, browser: Any, page: Any) -> None:
    for i in range(4):
        start(server, "quick", f"wf-{i}", i)
        start(server, "broken", f"wf-broken-{i}", f"no stock for item {i}")
    wait_for(server, "wf-broken-3", "FAILED")
    wait_for(server, "wf-3", "COMPLETED")
    finished_tour(server, "tour-shot")
    page.goto(f"{server.url}/ui/?size=25")
    shot(page, "dashboard", full_page=False)  # the README's (docs/dashboard.png)
    page.goto(f"{server.url}/ui/instances/tour-shot")
    shot(page, "instance-timeline", full_page=False)
    page.goto(f"{server.url}/ui/workflows/broken")
    assert "no stock for item 3" in page.inner_text("section[aria-label='Recent failures']")
    page.goto(f"{server.url}/ui/workflows/quick")
    assert page.locator("[data-stat=p50]").inner_text() != ""
    shot(page, "workflow")

    dark = browser.new_context(color_scheme="dark", viewport={"width": 1280, "height": 800})
    dark_page = dark.new_page()
    dark_page.goto(f"{server.url}/ui/?q=wf-")
    background = dark_page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 18, 23)"
    shot(dark_page, "instances-dark")
    dark_page.goto(f"{server.url}/ui/instances/tour-shot")
    shot(dark_page, "instance-dark")
    dark.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone_page = phone.new_page()
    for path in ("/ui/?q=wf-", "/ui/instances/tour-shot", "/ui/workflows/quick"):
        phone_page.goto(f"{server.url}{path}")
        overflow = phone_page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 390px"
        # Each table's visible headers line up with the visible cells of its rows.
        misaligned = phone_page.evaluate(
            """[...document.querySelectorAll('table')].filter(t => {
                const shown = cells => [...cells].filter(c => c.offsetParent !== null).length;
                const head = t.querySelector('thead tr'), row = t.querySelector('tbody tr');
                return head && row && row.children.length > 1
                    && shown(head.children) !== shown(row.children);
            }).map(t => t.className)"""
        )
        assert misaligned == [], f"{path}: headers and cells differ in {misaligned} at 390px"
    phone_page.goto(f"{server.url}/ui/?q=wf-")
    shot(phone_page, "instances-phone")
    phone_page.goto(f"{server.url}/ui/instances/tour-shot")
    shot(phone_page, "instance-phone")
    phone.close()
