"""AI referrals carry the visitor class: a headless browser sent by chatgpt.com is stored and
visible, and never counted as a person (content.ai_views, the onboarding checklist)."""

from __future__ import annotations

from typing import Any

from tests.ingest.collect.conftest import Site

HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/131.0.0.0 Safari/537.36"
)
CHATGPT = "https://chatgpt.com/"


def checklist(site: Site) -> dict[str, dict[str, Any]]:
    body = site.admin.get(f"/projects/{site.project_id}/onboarding-status").json()
    return {item["id"]: item for item in body["items"]}


def test_headless_visit_from_chatgpt_is_stored_as_a_bot_referral(site: Site):
    headless = {"User-Agent": HEADLESS}
    site.send(site.pageview("/docs", referrer=CHATGPT, session_id="h"), headers=headless)

    referrals = site.rows(
        "SELECT ai_source, path, ua_class FROM ai_referrals WHERE property_id = ?",
        site.property_id,
    )
    assert referrals == [("chatgpt", "/docs", "bot")]
    content = site.rows(
        "SELECT views, ai_views FROM content WHERE property_id = ?", site.property_id
    )
    assert content == [(0, 0)]
    items = checklist(site)
    assert items["events_arriving"]["done"] is True
    classified = items["events_classified"]
    assert classified["done"] is False
    assert classified["detail"] == "0 human events (0 pageviews), 1 bot events (bot 1)"
    assert "HeadlessChrome" in classified["hint"]
    assert items["ai_sources_enabled"]["detail"].endswith(
        "; 0 AI referrals from people (and 1 from bots or unknown visitors, not counted)"
    )


def test_people_and_bots_agree_between_content_and_ai_referrals(site: Site):
    site.send(site.pageview("/docs", referrer=CHATGPT, session_id="p1"))
    site.send(site.pageview("/docs", referrer=CHATGPT, session_id="p2"))
    site.send(
        site.pageview("/docs", referrer=CHATGPT, session_id="b"), headers={"User-Agent": HEADLESS}
    )

    (ai_views,) = site.rows(
        "SELECT ai_views FROM content WHERE property_id = ? AND path = '/docs'", site.property_id
    )[0]
    by_class = dict(
        site.rows(
            "SELECT ua_class, count(*) FROM ai_referrals WHERE property_id = ? GROUP BY ua_class",
            site.property_id,
        )
    )
    assert by_class == {"human": 2, "bot": 1}
    assert ai_views == by_class["human"]
    items = checklist(site)
    assert items["events_classified"]["done"] is True
    assert items["events_classified"]["detail"] == (
        "2 human events (2 pageviews), 1 bot events (bot 1)"
    )
    assert items["ai_sources_enabled"]["detail"].endswith(
        "; 2 AI referrals from people (and 1 from bots or unknown visitors, not counted)"
    )
