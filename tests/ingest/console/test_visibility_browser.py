"""The AI visibility page in a real browser (Debian's chromium via Playwright, as the other
console pages): with data and empty, no script or style refused, the charts drawn, the wide
tables kept inside the page. A screenshot goes to tests/artifacts/console/ for a person to look
at. SQLite only, as test_browser_data.py: the figures on both backends are held over HTTP by
test_visibility.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext

from tests.conftest import INLINE_WRITER, Server, serving
from tests.ingest.console.seeding import create
from tests.ingest.console.test_browser_data import QUERY, shot, sign_in, watch
from tests.ingest.stats.funnel_seeding import seed_visibility


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("visibility-browser") / "optiview.db"
    seed_visibility(db, create(db, "prj_vis", sources=("chatgpt", "perplexity")))
    create(db, "prj_vis_empty", sources=("chatgpt",))
    yield from serving(db, **INLINE_WRITER)  # it only reads what was seeded


def test_the_page_with_data_and_empty(browser: BrowserContext, server: Server) -> None:
    page = browser.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    problems = watch(page)
    sign_in(page, server)
    page.goto(f"{server.url}/console/projects/prj_vis/content{QUERY}")
    page.click('nav a:has-text("AI visibility")')
    page.wait_for_url("**/console/projects/prj_vis/visibility**")
    assert "from=2026-03-01" not in page.url  # the nav link starts from the default range
    answer = page.goto(f"{server.url}/console/projects/prj_vis/visibility{QUERY}")
    assert answer is not None and answer.status == 200

    assert page.inner_text('[data-total="crawls"] .n') == "5"
    assert page.inner_text('[data-total="failed"] .n') == "1"
    assert page.locator("#operators tbody tr").count() == 3
    assert page.inner_text('#operators tr[data-operator="OpenAI"] td:nth-child(3)') == "2"
    assert page.inner_text("#crawled-not-referred-table tbody tr td:first-child") == "/llms.txt"
    assert page.locator("#verification-legend").is_visible()
    charts = page.locator("svg.chart")
    assert charts.count() == 2
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 40
    # At 1280 pixels the wide tables fit their cards; narrower, they scroll inside them
    # rather than widening the page.
    for table in ("#operators", "#pages"):
        fits = f"document.querySelector('{table}').parentElement"
        inner, outer = page.evaluate(f"[{fits}.scrollWidth, {fits}.clientWidth]")
        assert inner <= outer, (table, inner, outer)
    page.set_viewport_size({"width": 800, "height": 900})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 800, width
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "visibility-data")

    answer = page.goto(f"{server.url}/console/projects/prj_vis_empty/visibility{QUERY}")
    assert answer is not None and answer.status == 200
    assert "No events yet" in page.inner_text("main")
    shot(page, "visibility-empty")
    assert problems == []
