"""The tag in a real browser (Debian's chromium via Playwright) on partner domains, sending to
a real `optiview serve`: what a partner sees after pasting the snippet (runbook steps 5-6)."""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

import httpx
import orjson
from playwright.sync_api import BrowserContext

from tests.ingest.collect.conftest import Site
from tests.tag.conftest import DESKTOP_CHROME, Console, Pages, eventually, page_html, snippet


def url(pages: Pages, host: str, path: str) -> str:
    return f"http://{host}:{pages.server_address[1]}{path}"


def serve(pages: Pages, path: str, html: str) -> str:
    pages.routes[path] = html
    return path


def unique(prefix: str) -> str:
    return f"/{prefix}-{uuid.uuid4().hex[:8]}"


def rows(site: Site, columns: str, count: int, timeout: float = 8.0) -> list[tuple[Any, ...]]:
    """The property's events, once there are at least `count` of them."""
    return eventually(lambda: site.events(columns), lambda found: len(found) >= count, timeout)


def test_pageview_lands_with_session_cookie(site: Site, pages: Pages, browser: BrowserContext):
    path = serve(pages, unique("landing"), page_html(snippet(site), title="Spring sale"))
    page = browser.new_page()
    page.goto(url(pages, site.domain, path) + "?utm_source=chatgpt.com")

    (event,) = rows(site, "type, url, path, title, ua_class, browser, session_id, ai_source", 1)
    assert event[:6] == (
        "pageview",
        url(pages, site.domain, path) + "?utm_source=chatgpt.com",
        path,
        "Spring sale",
        "human",
        "Chrome",
    )
    assert event[7] == "chatgpt"

    (cookie,) = [c for c in browser.cookies() if c["name"] == "_ov_sid"]
    assert cookie["value"] == event[6]
    assert cookie["domain"] == site.domain
    assert cookie["path"] == "/"
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain http here; the tag adds Secure on https
    assert abs(cookie["expires"] - (time.time() + 1800)) < 120  # 30 minutes, rolling

    # the same visitor, another page: same session, and the cookie's 30 minutes start again
    second = serve(pages, unique("second"), page_html(snippet(site)))
    page.goto(url(pages, site.domain, second))
    events = rows(site, "path, session_id", 2)
    assert [e[1] for e in events] == [event[6], event[6]]

    verify = site.admin.get(f"/projects/{site.project_id}/install/verify").json()
    assert verify["verified"] is True


def test_the_session_cookie_is_secure_on_https(
    site: Site, pages: Pages, tls_pages: Pages, browser: BrowserContext
):
    path = serve(pages, unique("secure"), page_html(snippet(site)))
    page = browser.new_page()
    page.goto(f"https://{site.domain}:{tls_pages.server_address[1]}{path}")
    (event,) = rows(site, "url, session_id", 1)
    assert event[0].startswith("https://")
    (cookie,) = [c for c in browser.cookies() if c["name"] == "_ov_sid"]
    assert (cookie["secure"], cookie["sameSite"], cookie["value"]) == (True, "Lax", event[1])


def test_spa_navigation_lands_once_per_url(site: Site, pages: Pages, browser: BrowserContext):
    path = serve(pages, unique("app"), page_html(snippet(site)))
    page = browser.new_page()
    page.goto(url(pages, site.domain, path))
    rows(site, "url", 1)
    page.evaluate("history.pushState({}, '', '/spa/a')")
    page.evaluate("history.replaceState({}, '', '/spa/a')")  # same URL: no new pageview
    page.evaluate("history.pushState({}, '', '/spa/b')")
    page.evaluate("location.hash = 'pricing'")  # hashchange
    page.evaluate("history.back()")  # popstate (and hashchange) back to /spa/b: once
    page.wait_for_function("location.hash === ''")
    expected = [path, "/spa/a", "/spa/b", "/spa/b#pricing", "/spa/b"]
    rows(site, "url", len(expected))
    time.sleep(0.5)  # nothing more may follow
    found = site.events("url, type, referrer")
    base = url(pages, site.domain, "")
    # each navigation sends at once, so requests may overtake each other: compare as multisets
    assert sorted(u.removeprefix(base) for u, _, _ in found) == sorted(expected)
    assert {t for _, t, _ in found} == {"pageview"}
    # an in-app navigation's referrer is the previous page, not the original referrer
    referrers = {u.removeprefix(base): r for u, _, r in found}
    assert referrers["/spa/a"] == url(pages, site.domain, path)


def test_clicks_land_and_never_delay_navigation(site: Site, pages: Pages, browser: BrowserContext):
    other = f"partner-blog-{uuid.uuid4().hex[:6]}.com"
    target = serve(pages, unique("target"), page_html("", title="Target"))
    serve(pages, "/outbound-target", page_html("", title="Elsewhere"))
    body = (
        f'<a id="internal" href="{target}">next</a>'
        f'<a id="outbound" href="{url(pages, other, "/outbound-target")}">blog</a>'
        '<a id="download" href="/files/report.pdf" download>report</a>'
        '<button id="cta" data-ov-event="signup_click" data-ov-prop-plan="pro"'
        ' data-ov-prop-placement="hero">Sign up</button>'
    )
    path = serve(pages, unique("links"), page_html(snippet(site), body))
    page = browser.new_page()
    page.goto(url(pages, site.domain, path))
    rows(site, "type", 1)

    page.click("#cta")
    rows(site, "type", 2)  # one at a time, so that the order below is the order of clicks
    with page.expect_download():
        page.click("#download")
    found = rows(site, "type, name, props", 3)
    assert found[1][:2] == ("custom", "signup_click")
    assert eval_json(found[1][2]) == {"plan": "pro", "placement": "hero"}
    assert found[2][:2] == ("click", "download")

    # Stall the collector: hold the database's write lock, so every request waits.
    blocker = sqlite3.connect(site.server.db, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        page.click("#internal")
        page.wait_for_url(f"**{target}", timeout=5000)
        navigated_in = time.monotonic() - started
    finally:
        time.sleep(0.3)
        blocker.execute("ROLLBACK")
        blocker.close()
    assert navigated_in < 1.0, f"navigation took {navigated_in:.2f} s behind a stalled collector"
    # the click, sent with keepalive, outlived its page and landed once the lock was gone
    clicks = eventually(
        lambda: site.rows(
            "SELECT name, props FROM events WHERE property_id = ? AND type = 'click' ORDER BY id",
            site.property_id,
        ),
        lambda found: len(found) >= 2,
    )
    assert clicks[1][0] == "link"
    assert eval_json(clicks[1][1])["href"].endswith(target)

    page.goto(url(pages, site.domain, path))
    page.click("#outbound")
    page.wait_for_url("**/outbound-target")
    outbound = eventually(
        lambda: site.rows(
            "SELECT props FROM events WHERE property_id = ? AND name = 'outbound'",
            site.property_id,
        ),
        lambda found: len(found) >= 1,
    )
    assert other in eval_json(outbound[0][0])["href"]


def eval_json(text: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(text)
    return value


def test_custom_events_and_conversions_land_including_calls_made_before_load(
    site: Site, pages: Pages, browser: BrowserContext
):
    stub = (
        "<script>window.optiview=window.optiview||function(){"
        "(optiview.q=optiview.q||[]).push(arguments)};"
        "optiview('event','video_play',{video:'intro',seconds:12});</script>"
    )
    path = serve(pages, unique("events"), page_html(stub + snippet(site)))
    page = browser.new_page()
    page.goto(url(pages, site.domain, path))
    rows(site, "type", 2)
    page.evaluate("optiview('conversion', 'signup', {plan: 'pro', value: 49})")
    found = rows(site, "type, name, props, session_id", 3)
    # the pageview and the queued event leave together, so either may be committed first
    by_type = {kind: (name, props) for kind, name, props, _ in found}
    assert sorted(by_type) == ["conversion", "custom", "pageview"]
    assert by_type["pageview"] == (None, None)
    assert by_type["custom"][0] == "video_play"
    assert eval_json(by_type["custom"][1]) == {"video": "intro", "seconds": 12}
    assert by_type["conversion"][0] == "signup"
    assert eval_json(by_type["conversion"][1]) == {"plan": "pro", "value": 49}
    assert len({s for _, _, _, s in found}) == 1  # one session
    landing = site.rows("SELECT entry_path FROM sessions WHERE property_id = ?", site.property_id)
    assert landing == [(path,)]  # whichever came first, the session's entry is the pageview


def rejections(site: Site, reason: str) -> float:
    """The collector's count of requests refused for `reason` (every worker's)."""
    prefix = f'optiview_collector_rejections_total{{reason="{reason}"}}'
    for line in httpx.get(site.server.url + "/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.split()[-1])
    return 0.0


def requests_refused(site: Site, reason: str, before: float) -> float:
    """How many requests the collector refused for `reason` since `before`, once the browser
    has had time to send any fallback too."""
    eventually(lambda: rejections(site, reason), lambda n: n > before)
    time.sleep(1.0)  # a beacon after a failed fetch would arrive within this
    return rejections(site, reason) - before


def test_debug_on_a_foreign_domain_prints_the_reason_and_the_fix_and_sends_once(
    site: Site, pages: Pages, browser: BrowserContext
):
    before = rejections(site, "origin_not_allowed")
    evil = f"evil-{uuid.uuid4().hex[:8]}.com"
    path = serve(pages, unique("stolen"), page_html(snippet(site, debug=True)))
    page = browser.new_page()
    console = Console(page)
    page.goto(url(pages, evil, path))
    lines = console.wait_for("fix:")
    origin = url(pages, evil, "")
    assert "[optiview] sent; the collector answered 403" in lines
    assert (
        f"[optiview] refused: origin_not_allowed: origin {origin} is not allowed for property"
        f" {site.property_id} ({site.domain})"
    ) in lines
    (fix,) = [line for line in lines if line.startswith("[optiview] fix:")]
    assert f"add a property for {evil} to project {site.project_id}" in fix
    assert f"optiview property create --project {site.project_id} --domain {evil}" in fix
    assert "use that property's snippet" in fix
    # the page could read the answer, so nothing was sent again
    assert requests_refused(site, "origin_not_allowed", before) == 1
    assert not [line for line in console.optiview() if "sendBeacon" in line]
    assert site.events() == []


def test_production_tag_on_a_foreign_domain_costs_one_beacon_and_stores_nothing(
    site: Site, pages: Pages, browser: BrowserContext
):
    """The documented limit: without ?debug=1 the 403 carries no allow header, the browser
    reports it as a network error, and the tag cannot tell it from one: one beacon more."""
    before = rejections(site, "origin_not_allowed")
    evil = f"evil-{uuid.uuid4().hex[:8]}.com"
    path = serve(pages, unique("stolen-prod"), page_html(snippet(site)))
    page = browser.new_page()
    page.goto(url(pages, evil, path))
    assert requests_refused(site, "origin_not_allowed", before) == 2
    assert site.events() == []


def test_production_tag_never_resends_a_refusal_it_could_read(
    site: Site, pages: Pages, browser: BrowserContext
):
    """A registered site's refusals are readable: a revoked key's 401 is sent once, no beacon."""
    before = rejections(site, "key_revoked")
    path = serve(pages, unique("revoked"), page_html(snippet(site)))
    revoked = site.admin.post(f"/keys/{site.key_id}/revoke")
    assert revoked.status_code == 200, revoked.text
    page = browser.new_page()
    page.goto(url(pages, site.domain, path))
    assert requests_refused(site, "key_revoked", before) == 1


def test_debug_says_why_a_visitor_is_a_bot(site: Site, pages: Pages, browser: BrowserContext):
    path = serve(pages, unique("headless"), page_html(snippet(site, debug=True)))
    page = browser.new_page()
    page.set_extra_http_headers(
        {"User-Agent": DESKTOP_CHROME.replace("Chrome/", "HeadlessChrome/")}
    )
    console = Console(page)
    page.goto(url(pages, site.domain, path))
    lines = console.wait_for("event 0: stored")
    assert "[optiview] event 0: stored as bot (HeadlessChrome in the User-Agent)" in lines
    assert rows(site, "ua_class", 1) == [("bot",)]


def test_debug_prints_every_step_to_the_console(site: Site, pages: Pages, browser: BrowserContext):
    path = serve(pages, unique("debug"), page_html(snippet(site, debug=True)))
    page = browser.new_page()
    console = Console(page)
    page.goto(url(pages, site.domain, path))
    lines = console.wait_for("event 0: stored")
    text = "\n".join(lines)
    assert "[optiview] configuration read" in text
    assert "[optiview] event queued" in text
    assert "[optiview] sent; the collector answered 202" in text
    assert "[optiview] event 0: stored as human (ua-parser: Chrome on Linux)" in text
    # the debug build asked the collector to explain itself
    assert rows(site, "type", 1) == [("pageview",)]


def test_opting_out_with_local_storage_sends_nothing(
    site: Site, pages: Pages, browser: BrowserContext
):
    path = serve(pages, unique("optout"), page_html(snippet(site, debug=True)))
    page = browser.new_page()
    console = Console(page)
    page.add_init_script("localStorage.setItem('optiview_ignore', '1')")
    page.goto(url(pages, site.domain, path))
    lines = console.wait_for("not sent")
    assert any("optiview_ignore" in line for line in lines)
    time.sleep(0.5)
    assert site.events() == []
    assert not [c for c in browser.cookies() if c["name"] == "_ov_sid"]
