"""The console's data pages in a real browser (Debian's chromium via Playwright, as the tag's
tests): signed in through the sign-in page, the zone chosen with the nav's picker, each page
loaded with data and empty. Screenshots go to tests/artifacts/console/ (git-ignored) for a
person to look at.

SQLite only: these hold what the browser does with the pages (scripts, the zone picker,
layout); the same pages' figures on PostgreSQL are held over HTTP by test_data_pages.py,
and a second browser run would add half a minute for no new database path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright

from tests.conftest import ADMIN_TOKEN, INLINE_WRITER, Server, serving
from tests.ingest.console.seeding import RANGE, create, seed_week
from tests.tag.conftest import CHROMIUM, CHROMIUM_FLAGS

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
KOLKATA = "Asia/Kolkata (UTC+05:30)"
QUERY = "?" + "&".join(f"{k}={v}" for k, v in RANGE.items())
# (page, text the seeded week must show, text the empty project must show)
PAGES = [
    ("events", "Events per day, by traffic class", "No events yet"),
    ("content", "/blog/a", "No events yet"),
    ("journeys", "s3-session-c", "No events yet"),
    ("referrals", "perplexity", "No events yet"),
    ("conversions", "purchase", "No events yet"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("console-browser") / "optiview.db"
    full = create(db, "prj_full", sources=("chatgpt", "perplexity"))
    seed_week(db, full)
    create(db, "prj_empty", sources=("chatgpt",))
    yield from serving(db, **INLINE_WRITER)


def sign_in(page: Page, server: Server) -> None:
    page.goto(server.url + "/console/signin")
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/projects/**")


def watch(page: Page) -> list[str]:
    """Console errors (a CSP refusal shows here) and failed requests of the page."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    # The browser asks for /favicon.ico by itself; the console has none.
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    return problems


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def test_data_pages_with_data_and_empty(browser: BrowserContext, server: Server):
    page = browser.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    problems = watch(page)
    sign_in(page, server)

    # the zone picker (JavaScript submits it on change) is remembered for every page after
    page.goto(f"{server.url}/console/projects/prj_full/events{QUERY}")
    with page.expect_navigation():
        page.select_option("#tz-picker", "Asia/Kolkata")
    assert f"2026-03-01 00:00:00 {KOLKATA}" in page.inner_text("#range-shown")

    for slug, with_data, empty in PAGES:
        answer = page.goto(f"{server.url}/console/projects/prj_full/{slug}{QUERY}")
        assert answer is not None and answer.status == 200
        assert with_data in page.inner_text("main")
        charts = page.locator("svg.chart")
        assert charts.count() >= 1
        assert charts.first.is_visible()
        box = charts.first.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 40
        assert "No events yet" not in page.inner_text("main")
        shot(page, f"{slug}-data")

        answer = page.goto(f"{server.url}/console/projects/prj_empty/{slug}{QUERY}")
        assert answer is not None and answer.status == 200
        assert empty in page.inner_text("main")
        link = page.locator('main a[href="/console/projects/prj_empty/install"]')
        assert link.count() >= 1 and link.first.is_visible()
        shot(page, f"{slug}-empty")

    assert problems == []


def test_the_range_form_works_without_javascript(
    playwright: Playwright,
    server: Server,
):
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS
    )
    try:
        context = chromium.new_context(
            java_script_enabled=False, viewport={"width": 1280, "height": 900}
        )
        page = context.new_page()
        sign_in(page, server)
        page.goto(f"{server.url}/console/projects/prj_full/events")
        page.fill("#r-from", "2026-03-02")
        page.fill("#r-to", "2026-03-03")
        page.select_option("#r-class", "all")
        with page.expect_navigation():
            page.click("form.range button[type=submit]")
        assert "from=2026-03-02" in page.url and "class=all" in page.url
        # March 2 and 3 in UTC (no zone chosen in this browser): GPTBot, then s3's two events
        # and /late (01:00 on March 4 in Kolkata is 19:30 UTC on March 3)
        assert page.inner_text('#class-totals [data-class="total"] .n') == "4"
        shot(page, "events-no-javascript")
    finally:
        chromium.close()
