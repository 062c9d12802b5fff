"""The console's admin pages in a real browser (Debian's chromium via Playwright, as the tag's
tests): sign in, install (the verification turns green by itself while a partner page sends
the first event), sources, data policy and health (the test-alert button reaches a local
Slack stand-in), each empty and with data; and a read token that cannot reach another
project or an admin action. Screenshots go to tests/artifacts/console/ (git-ignored).

SQLite only: these hold the browser's side (the polling verification, forms, buttons); the
same pages on PostgreSQL are held over HTTP by test_admin_pages.py and test_auth.py, and the
cross-node sources change by test_sources_nodes.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.alerts.conftest import SlackStandIn
from tests.conftest import ADMIN_TOKEN, INLINE_WRITER, Server, optiview, serving
from tests.ingest.collect.conftest import Site, provision
from tests.ingest.console.helpers import read_token
from tests.tag.conftest import Pages, page_html, snippet

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, slack_module: SlackStandIn
) -> Iterator[Server]:
    db = tmp_path_factory.mktemp("console-admin-browser") / "optiview.db"
    yield from serving(db, SLACK_WEBHOOK_URL=slack_module.url, **INLINE_WRITER)


@pytest.fixture(scope="module")
def admin(server: Server) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=server.url + "/api/admin", headers=headers, timeout=10) as client:
        yield client


def shot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"admin-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def watch(page: Page) -> list[str]:
    """Script errors and CSP refusals on the console's pages."""
    problems: list[str] = []
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def sign_in(page: Page, server: Server, token: str, name: str | None = None) -> None:
    page.goto(server.url + "/console/signin")
    page.fill("#token", token)
    if name:
        shot(page, name)
    page.click("main button[type=submit]")
    page.wait_for_url("**/console/projects/**")


def sign_out(page: Page) -> None:
    page.click("form.signout button")
    page.wait_for_url("**/console/signin")


def test_admin_pages_in_a_browser(
    browser: BrowserContext,
    server: Server,
    admin: httpx.Client,
    pages: Pages,
    slack_module: SlackStandIn,
) -> None:
    site: Site = provision(server, admin)
    console = browser.new_page()
    console.set_viewport_size({"width": 1280, "height": 900})
    problems = watch(console)
    sign_in(console, server, ADMIN_TOKEN, "signin")
    base = f"{server.url}/console/projects/{site.project_id}"

    # install: waiting, then green by itself while a partner page sends the first event
    console.goto(f"{base}/install")
    assert console.inner_text("#verification [data-field=state]") == "waiting"
    copy = console.locator("button[data-copy=snippet]")
    assert copy.is_visible()  # the script shows it
    assert "data-key-id" in console.inner_text("#snippet")
    shot(console, "install-waiting")
    partner = browser.new_page()
    pages.routes["/welcome"] = page_html(snippet(site), title="Welcome")
    partner.goto(f"http://{site.domain}:{pages.server_address[1]}/welcome")
    console.bring_to_front()
    console.wait_for_selector("#verification.verified", timeout=20_000)  # no reload
    assert "Verified" in console.inner_text("#verification")
    assert not console.locator("text=Nothing after a minute").is_visible()
    assert "UTC" in console.inner_text("#verification [data-field=first_event_at]")
    shot(console, "install-verified")
    partner.close()
    copy.click()
    # (no wait_for_function: the console's CSP forbids evaluating strings)
    expect(copy).not_to_have_text("Copy")

    # sources: a toggle that saves, and the empty state when none is enabled
    console.goto(f"{base}/sources")
    shot(console, "sources")
    console.uncheck("input[value=claude]")
    console.click("text=Save sources")
    console.wait_for_url("**/sources?saved=1")
    assert "Saved: chatgpt, perplexity, gemini" in console.inner_text("main")
    assert admin.get(f"/projects/{site.project_id}/sources").json()["enabled"] == [
        "chatgpt",
        "perplexity",
        "gemini",
    ]
    for name in ("chatgpt", "perplexity", "gemini"):
        console.uncheck(f"input[value={name}]")
    console.click("text=Save sources")
    console.wait_for_url("**/sources?saved=1")
    assert "No AI source is enabled" in console.inner_text("main")
    shot(console, "sources-empty")

    # the time zone picker submits by itself and is remembered for the next pages
    console.goto(f"{base}/data-policy")
    assert "The purge has never run" in console.inner_text("main")
    with console.expect_navigation():
        console.select_option("#tz-picker", "Asia/Kolkata")
    assert "Times in Asia/Kolkata" in console.inner_text("footer")
    assert "Asia/Kolkata (UTC+05:30)" in console.inner_text("main")
    shot(console, "data-policy-empty")
    assert optiview("purge", "run", env=server.env).returncode == 0
    console.reload()
    assert "events" in console.inner_text("main table") and "running" in console.inner_text("main")
    assert console.locator("text=Purge log").is_visible()
    shot(console, "data-policy")

    # health: no alert yet, then the button reaches the Slack stand-in
    slack_module.reset()
    console.goto(f"{server.url}/console/health")
    assert "No alert yet" in console.inner_text("main")
    shot(console, "health-empty")
    console.click("text=Send test alert")
    console.wait_for_url("**/console/health?test_alert=*")
    assert "delivered to Slack" in console.inner_text("main")
    assert len(slack_module.wait_for(1)) == 1
    shot(console, "health")
    assert problems == []

    # a read token: its project only, and no admin action
    other = provision(server, admin)
    token = read_token(admin, site.project_id)["token"]
    sign_out(console)
    sign_in(console, server, token)
    assert console.url.endswith(f"/console/projects/{site.project_id}/install")
    assert console.locator("nav.pages >> text=Health").count() == 0
    assert other.project_id not in console.inner_html("#project-picker")
    refused = console.goto(f"{server.url}/console/projects/{other.project_id}/install")
    assert refused is not None and refused.status == 403
    assert "Not allowed" in console.inner_text("main")
    shot(console, "read-token-other-project")
    refused = console.goto(f"{server.url}/console/health")
    assert refused is not None and refused.status == 403
    console.goto(f"{base}/sources")
    assert console.locator("text=Save sources").count() == 0
    assert console.locator("fieldset[disabled]").count() == 1
    shot(console, "read-token-sources")
    # a form built by hand with the session's own CSRF token is still refused
    with console.expect_navigation():
        console.evaluate(
            """() => { const f = document.querySelector('form[action$="/sources"]');
                       f.querySelector('fieldset').disabled = false; f.submit(); }"""
        )
    assert "Not allowed" in console.inner_text("main")
    assert admin.get(f"/projects/{site.project_id}/sources").json()["enabled"] == []
