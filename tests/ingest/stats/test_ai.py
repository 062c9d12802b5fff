"""stats/ai: AI sources for human visitors (sessions, their pageviews, conversions attributed to
the landing's source) and AI crawlers grouped by token with their operator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.stats.endpoints import ai
from ingest.stats.operators import operator_of
from tests.ingest.collect.conftest import GPTBOT
from tests.ingest.stats.funnel_seeding import crawl
from tests.ingest.stats.seeding import (
    CHATGPT_USER,
    CLAUDEBOT,
    CURL,
    DAY,
    HOUR,
    D,
    Site,
)

MINUTE = 60_000
CHATGPT = "https://chatgpt.com/"


@pytest.fixture(scope="module")
def site(db_location: Path | str) -> Iterator[Site]:
    site = Site(db_location)
    # a: lands from ChatGPT, reads a second page, converts later with no referrer at all.
    site.send(D + HOUR, path="/blog/hello", session="a", referrer=CHATGPT)
    site.send(D + HOUR + MINUTE, path="/pricing", session="a")
    site.send(D + HOUR + 5 * MINUTE, type="conversion", name="signup", session="a")
    # b: ChatGPT through utm_source, one page, no conversion.
    site.send(D + 2 * HOUR, path="/blog/x?utm_source=chatgpt.com", session="b")
    # c: Perplexity, one page, converts.
    site.send(D + 3 * HOUR, path="/", session="c", referrer="https://www.perplexity.ai/")
    site.send(D + 3 * HOUR + MINUTE, type="conversion", name="signup", session="c")
    # d: direct, converts: no AI source.
    site.send(D + 4 * HOUR, path="/", session="d")
    site.send(D + 4 * HOUR + MINUTE, type="conversion", name="signup", session="d")
    # e: a bot with a ChatGPT referrer that "converts": never counted.
    site.send(D + 5 * HOUR, path="/", session="e", ua=CURL, referrer=CHATGPT)
    site.send(D + 5 * HOUR + MINUTE, type="conversion", name="signup", session="e", ua=CURL)
    # f: Claude, landed the day before, converts in the range: a conversion, no session.
    site.send(D - HOUR, path="/", session="f", referrer="https://claude.ai/")
    site.send(D + 6 * HOUR, type="conversion", name="signup", session="f")
    # g: Gemini, lands in the range, converts the day after.
    site.send(D + 7 * HOUR, path="/", session="g", referrer="https://gemini.google.com/")
    site.send(D + DAY + HOUR, type="conversion", name="signup", session="g")
    # h: ChatGPT on the other property, two pages.
    site.send(D + 8 * HOUR, path="/", session="h", referrer=CHATGPT, property_id=site.other)
    site.send(D + 8 * HOUR + MINUTE, path="/a", session="h", property_id=site.other)
    # A later pageview with an AI referrer does not change the session's landing source.
    site.send(D + 9 * HOUR, path="/", session="i")
    site.send(D + 9 * HOUR + MINUTE, path="/b", session="i", referrer="https://claude.ai/")
    # Crawlers and agents.
    for hour in (1, 2, 3):
        site.send(D + hour * HOUR, path=f"/docs/{hour}", ua=GPTBOT)
    site.send(D + 4 * HOUR, path="/docs/1", ua=CLAUDEBOT)
    site.send(D + 4 * HOUR, path="/docs/1", ua=CHATGPT_USER)
    site.send(D + 5 * HOUR, type="click", name="x", path="/docs/1", ua=CHATGPT_USER)
    site.send(D - HOUR, path="/docs/1", ua=GPTBOT)  # before the range
    yield site
    site.conn.close()


def sources(site: Site, **query: Any) -> list[tuple[str, int, int, int]]:
    answer = ai.answer(site.conn, site.query(**query))
    return [
        (r["source"], r["sessions"], r["pageviews"], r["conversions"]) for r in answer["sources"]
    ]


def test_sources_humans_only_with_attributed_conversions(site: Site) -> None:
    assert sources(site) == [
        ("chatgpt", 3, 5, 1),  # a (2 pages, converts), b (1), h (2 on the other property)
        ("perplexity", 1, 1, 1),
        ("gemini", 1, 1, 0),  # its conversion is the day after
        ("claude", 0, 0, 1),  # landed the day before, converted in the range
    ]


def test_conversion_attributed_to_the_landing_source_in_its_range(site: Site) -> None:
    assert sources(site, start_ms=D + DAY, end_ms=D + 2 * DAY) == [("gemini", 0, 0, 1)]
    assert sources(site, start_ms=D - DAY, end_ms=D) == [("claude", 1, 1, 0)]


def test_sources_ignore_the_class_filter(site: Site) -> None:
    assert sources(site, ua_class="bot") == sources(site) == sources(site, ua_class=None)


def test_sources_of_one_property(site: Site) -> None:
    assert sources(site, property_ids=(site.other,)) == [("chatgpt", 1, 2, 0)]
    assert sources(site, property_ids=()) == []


def test_crawlers_grouped_by_token_with_operator(site: Site) -> None:
    crawlers = ai.answer(site.conn, site.query())["crawlers"]
    assert crawlers == [
        {"operator": "OpenAI", "crawler": "GPTBot", "kind": "training", "hits": 3, "verified": 0},
        {"operator": "OpenAI", "crawler": "ChatGPT-User", "kind": "user", "hits": 2,
         "verified": 0},
        {"operator": "Anthropic", "crawler": "ClaudeBot", "kind": "training", "hits": 1,
         "verified": 0},
    ]  # fmt: skip


def test_limit_offset_apply_to_each_list(site: Site) -> None:
    answer = ai.answer(site.conn, site.query(limit=1, offset=1))
    assert [r["source"] for r in answer["sources"]] == ["perplexity"]
    assert [r["crawler"] for r in answer["crawlers"]] == ["ChatGPT-User"]


def test_verified_counts_verified_hits_once_recorded(site: Site) -> None:
    later = D + 40 * DAY  # a day of its own, that no other test reads
    for _ in range(3):
        site.send(later + HOUR, ua=GPTBOT)
    hits = [row[0] for row in site.conn.execute(
        "SELECT id FROM events WHERE ts >= ? ORDER BY id", (later,)
    )]  # fmt: skip
    # What crawler verification records per hit (0013_crawler_verification.sql).
    site.conn.execute(
        "UPDATE events SET crawler_verified = CASE id WHEN ? THEN 'ip_range'"
        " WHEN ? THEN 'web_bot_auth' ELSE 'none' END WHERE ts >= ?",
        (hits[0], hits[1], later),
    )
    (gptbot,) = ai.answer(site.conn, site.query(later, later + DAY))["crawlers"]
    assert (gptbot["hits"], gptbot["verified"]) == (3, 2)


def test_failed_claims_are_no_operator_crawler(site: Site) -> None:
    later = D + 50 * DAY  # a day of its own, that no other test reads
    for outcome in ("ip_range", "web_bot_auth", "none", "failed", "failed"):
        crawl(site, later + HOUR, "/docs/1", GPTBOT, outcome)
    crawl(site, later + HOUR, "/docs/1", CLAUDEBOT, "failed")
    assert ai.answer(site.conn, site.query(later, later + DAY))["crawlers"] == [
        {"operator": "OpenAI", "crawler": "GPTBot", "kind": "training", "hits": 3, "verified": 2}
    ]  # ClaudeBot's only hit was a failed claim: no row at all


def test_operator_from_robots_json() -> None:
    assert operator_of("GPTBot") == operator_of("gptbot") == "OpenAI"
    assert operator_of("ClaudeBot") == "Anthropic"
    assert operator_of("PerplexityBot") == "Perplexity"
    assert operator_of("NoSuchBot") is None
    assert operator_of(None) is None
