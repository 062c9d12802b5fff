"""The enrich step `crawler` on its own: which hits it looks at, and what it changes."""

from __future__ import annotations

import pytest

from ingest.collect.enrich import RequestContext, enrich
from ingest.collect.parse import IncomingEvent

GPTBOT = "Mozilla/5.0 (compatible; GPTBot/1.2; +https://openai.com/gptbot)"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def event(user_agent: str | None = None, ip: str | None = None) -> IncomingEvent:
    return IncomingEvent(
        "pageview", None, "https://shop.example/", None, None, 1, None, None, user_agent, ip
    )


def context(server: bool, header_user_agent: str = CHROME, peer: str = "1.1.1.1") -> RequestContext:
    return RequestContext(header_user_agent, server, "shop.example", frozenset(), None, peer=peer)


@pytest.mark.parametrize(
    ("user_agent", "ip", "ua_class", "crawler", "verified", "result"),
    [
        (CHROME, "20.171.206.9", "human", None, None, "not_claimed"),
        ("curl/8.5.0", "20.171.206.9", "bot", None, None, "not_claimed"),
        (GPTBOT, "20.171.206.9", "ai_crawler", "GPTBot", "ip_range", "ip_range"),
        (GPTBOT, "1.1.1.1", "bot", "GPTBot", "failed", "failed"),
        (GPTBOT, None, "ai_crawler", "GPTBot", "none", "none"),
        (GPTBOT, "192.168.0.9", "ai_crawler", "GPTBot", "none", "none"),
        (GOOGLEBOT, "66.249.66.1", "bot", "Googlebot", "ip_range", "ip_range"),
        (GOOGLEBOT, "1.1.1.1", "bot", "Googlebot", "failed", "failed"),
    ],
)
def test_server_to_server(
    user_agent: str,
    ip: str | None,
    ua_class: str,
    crawler: str | None,
    verified: str | None,
    result: str,
) -> None:
    (item,) = enrich([event(user_agent, ip)], context(server=True))
    assert (item.user_agent.ua_class, item.user_agent.crawler) == (ua_class, crawler)
    assert item.crawler_verified == verified
    assert ("crawler", result) in item.steps
    assert item.steps[1][0] == "crawler"  # right after user_agent


def test_a_failed_claim_keeps_the_crawler_and_says_why() -> None:
    (item,) = enrich([event(GPTBOT, "1.1.1.1")], context(server=True))
    assert item.user_agent.crawler_kind == "training"
    assert item.user_agent.reason.endswith("a claim that failed verification")
    assert any(note.startswith("stored as bot, not as GPTBot") for note in item.notes)
    explained = item.explain()
    assert explained["crawler_verified"] == "failed"
    assert "openai-gptbot" in explained["crawler_verified_why"]


def test_from_a_browser_the_peer_counts_and_the_ip_field_is_ignored() -> None:
    inside = context(server=False, header_user_agent=GPTBOT, peer="20.171.206.9")
    (item,) = enrich([event(ip="1.1.1.1")], inside)
    assert item.crawler_verified == "ip_range"
    assert any("ip and signature fields were ignored" in note for note in item.notes)
    outside = context(server=False, header_user_agent=GPTBOT, peer="1.1.1.1")
    (item,) = enrich([event(ip="20.171.206.9")], outside)
    assert item.crawler_verified == "failed"
