"""stats/content: per page views in the range (by class), AI-referred views, crawler views,
lifetime first/last seen, on a real migrated SQLite file written by the collector's code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.stats.endpoints import content
from tests.ingest.collect.conftest import GPTBOT
from tests.ingest.stats.seeding import CHATGPT_USER, CURL, DAY, HOUR, D, Site


@pytest.fixture(scope="module")
def site(db_location: Path | str) -> Iterator[Site]:
    site = Site(db_location)
    # The day before the range: lifetime only.
    site.send(D - DAY, path="/blog/hello", title="Hello")
    site.send(D - DAY + HOUR, path="/blog/hello")
    # In the range (the UTC day D).
    site.send(D + HOUR, path="/blog/hello", referrer="https://chatgpt.com/", session="s1")
    site.send(D + 2 * HOUR, path="/blog/hello")
    site.send(D + 3 * HOUR, path="/blog/hello")
    site.send(D + 3 * HOUR, path="/blog/hello", ua=CURL)
    site.send(D + 4 * HOUR, path="/blog/hello", ua=GPTBOT)
    site.send(D + 5 * HOUR, path="/blog/hello", ua=GPTBOT)
    site.send(D + 5 * HOUR, path="/blog/hello", ua=CHATGPT_USER)
    site.send(D + 6 * HOUR, path="/pricing", title="Pricing")
    site.send(D + 7 * HOUR, path="/pricing", referrer="https://www.perplexity.ai/")
    site.send(D + 7 * HOUR, path="/pricing", type="click", name="buy")
    site.send(D + 8 * HOUR, path="/docs/start", ua=GPTBOT)
    site.send(D + 9 * HOUR, path="/", ua=CURL)
    # A bot with an AI referrer is no AI-referred view.
    site.send(D + 9 * HOUR, path="/pricing", ua=CURL, referrer="https://chatgpt.com/")
    # Another site's URL, flagged off_site: never a page, never a view of /blog/hello.
    site.send(D + 10 * HOUR, url="https://elsewhere.org/blog/hello")
    # The other property has its own /pricing page.
    site.send(D + 11 * HOUR, path="/pricing", property_id=site.other)
    # After the range: lifetime only.
    site.send(D + DAY + HOUR, path="/pricing")
    yield site
    site.conn.close()


def rows(site: Site, **query: Any) -> list[tuple[Any, ...]]:
    answer = content.answer(site.conn, site.query(**query))
    return [
        (r["path"], r["property_id"], r["views"], r["ai_views"], r["crawler_views"])
        for r in answer["rows"]
    ]


def test_views_in_range_by_class_ai_and_crawler_views(site: Site) -> None:
    assert rows(site) == [
        ("/blog/hello", site.main, 3, 1, 3),
        ("/pricing", site.main, 2, 1, 0),
        ("/pricing", site.other, 1, 0, 0),
        ("/docs/start", site.main, 0, 0, 1),
    ]


def test_class_filter_counts_views_of_that_class(site: Site) -> None:
    # "/" has only a bot view: listed for class=bot, left out for humans; the other
    # property's /pricing has only a human view: left out for bots.
    assert rows(site, ua_class="bot") == [
        ("/", site.main, 1, 0, 0),
        ("/blog/hello", site.main, 1, 1, 3),
        ("/pricing", site.main, 1, 1, 0),
        ("/docs/start", site.main, 0, 0, 1),
    ]
    assert rows(site, ua_class=None) == [
        ("/blog/hello", site.main, 7, 1, 3),
        ("/pricing", site.main, 3, 1, 0),
        ("/", site.main, 1, 0, 0),
        ("/docs/start", site.main, 1, 0, 1),
        ("/pricing", site.other, 1, 0, 0),
    ]


def test_page_details_are_lifetime_and_in_the_zone(site: Site) -> None:
    answer = content.answer(site.conn, site.query(tz="Asia/Kolkata"))
    hello = answer["rows"][0]
    assert hello == {
        "property_id": site.main,
        "path": "/blog/hello",
        "url": "https://example.com/blog/hello",
        "title": "Hello",
        "content_type": "blog",
        "views": 3,
        "ai_views": 1,
        "crawler_views": 3,
        "first_seen_at": "2026-03-09T05:30:00+05:30",  # the day before, 00:00 UTC
        "last_seen_at": "2026-03-10T10:30:00+05:30",  # D + 5 h
    }
    pricing = answer["rows"][1]
    assert (pricing["title"], pricing["content_type"]) == ("Pricing", "pricing")
    assert pricing["last_seen_at"] == "2026-03-11T06:30:00+05:30"  # after the range


def test_range_decides_views(site: Site) -> None:
    assert rows(site, start_ms=D - DAY, end_ms=D) == [("/blog/hello", site.main, 2, 0, 0)]
    assert rows(site, start_ms=D + DAY, end_ms=D + 2 * DAY) == [("/pricing", site.main, 1, 0, 0)]
    assert rows(site, start_ms=D + 4 * HOUR, end_ms=D + 5 * HOUR) == [
        ("/blog/hello", site.main, 0, 0, 1)
    ]


def test_property_filter(site: Site) -> None:
    assert rows(site, property_ids=(site.other,)) == [("/pricing", site.other, 1, 0, 0)]
    assert rows(site, property_ids=()) == []


def test_limit_offset_and_total(site: Site) -> None:
    answer = content.answer(site.conn, site.query(limit=2, offset=1))
    assert answer["total"] == 4
    assert [(r["path"], r["property_id"]) for r in answer["rows"]] == [
        ("/pricing", site.main),
        ("/pricing", site.other),
    ]
    assert content.answer(site.conn, site.query(offset=10))["rows"] == []


def test_content_types_every_type_listed(site: Site) -> None:
    by_type = {
        r["content_type"]: r for r in content.answer(site.conn, site.query())["content_types"]
    }
    assert list(by_type) == ["home", "blog", "docs", "product", "pricing", "other"]
    assert by_type["blog"] == {
        "content_type": "blog", "pages": 1, "views": 3, "ai_views": 1, "crawler_views": 3
    }  # fmt: skip
    assert by_type["pricing"] == {
        "content_type": "pricing", "pages": 2, "views": 3, "ai_views": 1, "crawler_views": 0
    }  # fmt: skip
    assert by_type["docs"]["crawler_views"] == 1
    assert by_type["home"]["pages"] == 0  # the bot-only home page is no human page


def test_answer_has_meta(site: Site) -> None:
    meta = content.answer(site.conn, site.query(tz="Europe/Berlin"))["meta"]
    assert meta["tz"] == "Europe/Berlin"
    assert {"from", "to", "data_through", "excluded"} <= set(meta)


def test_off_site_url_is_no_page(site: Site) -> None:
    later = D + 40 * DAY  # a day of its own, that no other test reads
    site.send(later + HOUR, url="https://elsewhere.org/guide/x")
    assert content.answer(site.conn, site.query(later, later + DAY))["rows"] == []
    site.send(later + HOUR, path="/guide/x")
    assert rows(site, start_ms=later, end_ms=later + DAY) == [("/guide/x", site.main, 1, 0, 0)]
