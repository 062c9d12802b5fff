"""?debug=1 over real HTTP: a refused origin can read why and what to do, every event says why it
was classified as it was, and what the collector ignored or flagged (a browser's user_agent
field, a url on another site) is said rather than passed over in silence."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.ingest.collect.conftest import CHROME, GPTBOT, Site

DEBUG = {"debug": "1"}
HEADLESS = CHROME.replace("Chrome/", "HeadlessChrome/")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def foreign() -> str:
    return f"https://blog-{uuid.uuid4().hex[:8]}.example.co.uk"


def fates(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 202, answer.text
    events: list[dict[str, Any]] = answer.json()["debug"]["events"]
    return events


def test_a_refused_origin_reads_the_reason_and_the_fix_with_debug(site: Site):
    origin = foreign()
    host = origin.removeprefix("https://")
    answer = site.send(origin=origin, params=DEBUG)
    assert answer.status_code == 403
    assert answer.headers["access-control-allow-origin"] == origin
    assert "origin" in answer.headers["vary"].lower()
    body = answer.json()
    assert body["error"] == "origin_not_allowed"
    assert body["detail"] == (
        f"origin {origin} is not allowed for property {site.property_id} ({site.domain})"
    )
    fix = body["debug"]["fix"]
    assert f"optiview property create --project {site.project_id} --domain {host}" in fix
    assert "use that property's snippet" in fix
    assert body["debug"]["committed"] is False
    assert site.events() == []


def test_without_debug_a_refused_origin_gets_no_allow_header(site: Site):
    answer = site.send(origin=foreign())
    assert answer.status_code == 403
    assert "access-control-allow-origin" not in answer.headers
    assert answer.json()["error"] == "origin_not_allowed"
    assert "debug" not in answer.json()


def test_debug_refusals_from_any_page_are_readable_and_say_what_to_do(site: Site):
    origin = foreign()
    answer = site.send(origin=origin, params=DEBUG, key_id="key_" + "0" * 20)
    assert answer.status_code == 401
    assert answer.headers["access-control-allow-origin"] == origin
    assert "paste it again" in answer.json()["debug"]["fix"]
    # a request without Origin (file:// pages send 'null') is told where a page must be served
    null = site.send(origin="null", params=DEBUG).json()
    assert null["error"] == "origin_not_allowed"
    assert "serve the page from the property's site" in null["debug"]["fix"]


@pytest.mark.parametrize(
    ("user_agent", "ua_class", "reason"),
    [
        (CHROME, "human", "ua-parser: Chrome on Windows"),
        (HEADLESS, "bot", "HeadlessChrome in the User-Agent"),
        (GOOGLEBOT, "bot", "ua-parser: device family Spider"),
        (GPTBOT, "ai_crawler", "robots.json token GPTBot"),
    ],
)
def test_debug_says_which_rule_classified_the_visitor(
    site: Site, user_agent: str, ua_class: str, reason: str
):
    (fate,) = fates(site.send(headers={"User-Agent": user_agent}, params=DEBUG))
    assert (fate["ua_class"], fate["ua_reason"]) == (ua_class, reason)


def test_a_browser_sent_user_agent_is_ignored_and_debug_says_so(site: Site):
    (fate,) = fates(site.send(site.pageview("/ua", user_agent=GPTBOT), params=DEBUG))
    assert fate["ua_class"] == "human"  # the request's own header, not the field
    (note,) = fate["notes"]
    assert note.startswith("the event's user_agent field was ignored")
    assert "server-to-server" in note
    assert site.events("ua_class, user_agent") == [("human", CHROME)]


def test_a_server_may_name_its_visitors_user_agent(site: Site):
    answer = site.send(
        site.pageview("/forwarded", user_agent=GPTBOT),
        origin=None,
        headers={"Authorization": f"Bearer {site.secret}", "Content-Type": "application/json"},
        params=DEBUG,
    )
    (fate,) = fates(answer)
    assert (fate["ua_class"], fate["notes"]) == ("ai_crawler", [])


def test_an_off_site_url_is_stored_flagged_and_is_no_content(site: Site):
    elsewhere = f"https://other-{uuid.uuid4().hex[:8]}.com/pricing"
    answer = site.send(
        {"type": "pageview", "url": elsewhere},
        {"type": "pageview", "url": f"https://www.{site.domain}:8443/own"},
        {"type": "pageview", "url": f"https://shop.{site.domain}/sub"},
        {"type": "click", "name": "link"},
        params=DEBUG,
    )
    off, www, sub, click = fates(answer)
    assert (off["off_site"], www["off_site"], sub["off_site"], click["off_site"]) == (
        True,
        False,
        True,
        False,
    )
    (note,) = off["notes"]
    assert note.startswith(f"url {elsewhere} is not on this property's site ({site.domain} or")
    assert "off_site=1" in note and "no content row" in note
    assert site.events("type, path, off_site") == [
        ("pageview", "/pricing", 1),
        ("pageview", "/own", 0),
        ("pageview", "/sub", 1),
        ("click", None, 0),
    ]
    content = site.rows("SELECT path FROM content WHERE property_id = ?", site.property_id)
    assert content == [("/own",)]


def test_off_site_urls_from_a_server_are_flagged_too(site: Site):
    answer = site.send(
        {"type": "pageview", "url": "https://elsewhere.example/forwarded"},
        origin=None,
        headers={"Authorization": f"Bearer {site.secret}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 202, answer.text
    assert site.events("path, off_site") == [("/forwarded", 1)]
    assert site.rows("SELECT path FROM content WHERE property_id = ?", site.property_id) == []


def test_an_off_site_landing_from_an_ai_assistant_is_no_ai_referral(site: Site):
    answer = site.send(
        {
            "type": "pageview",
            "url": "https://elsewhere.example/a",
            "referrer": "https://chatgpt.com/",
        },
        {"type": "pageview", "url": f"https://{site.domain}/b", "referrer": "https://chatgpt.com/"},
    )
    assert answer.status_code == 202, answer.text
    referrals = site.rows("SELECT path FROM ai_referrals WHERE property_id = ?", site.property_id)
    assert referrals == [("/b",)]
