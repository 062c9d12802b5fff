"""stats/funnel: per page, AI crawler hits (by kind and operator, verified or not, failed claims
apart), AI referral sessions by source and the conversions they led to; the pages crawled and
never referred and the reverse; the same per operator. A hand-counted property on both
backends, then the endpoint over real HTTP (its 400s and a read token's 403)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from ingest.openapi import build_document
from ingest.stats.endpoints import ai, funnel
from tests.conftest import ADMIN_TOKEN, Server
from tests.ingest.collect.conftest import GPTBOT, provision
from tests.ingest.collect.conftest import Site as HttpSite
from tests.ingest.stats.funnel_seeding import OAI_SEARCHBOT, PERPLEXITYBOT, crawl
from tests.ingest.stats.seeding import CHATGPT_USER, CLAUDEBOT, CURL, DAY, HOUR, D, Site

MINUTE = 60_000
CHATGPT = "https://chatgpt.com/"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def site(db_location: Path | str) -> Iterator[Site]:
    site = Site(db_location)
    # /docs/a: GPTBot 3 (2 by IP range), ClaudeBot 1, ChatGPT-User 1 (signed), 2 failed
    # GPTBot claims; ChatGPT sends r1 (converts after reading /pricing), Claude sends r2.
    crawl(site, D + HOUR, "/docs/a", GPTBOT, "ip_range")
    crawl(site, D + 2 * HOUR, "/docs/a", GPTBOT, "ip_range")
    crawl(site, D + 3 * HOUR, "/docs/a", GPTBOT, "none")
    crawl(site, D + 3 * HOUR, "/docs/a", CLAUDEBOT, "none")
    crawl(site, D + 4 * HOUR, "/docs/a", CHATGPT_USER, "web_bot_auth")
    crawl(site, D + 4 * HOUR, "/docs/a", GPTBOT, "failed")
    crawl(site, D + 5 * HOUR, "/docs/a", GPTBOT, "failed")
    site.send(D + 6 * HOUR, path="/docs/a", session="r1", referrer=CHATGPT)
    site.send(D + 6 * HOUR + MINUTE, path="/pricing", session="r1")
    site.send(D + 6 * HOUR + 2 * MINUTE, type="conversion", name="signup", session="r1")
    site.send(D + 7 * HOUR, path="/docs/a", session="r2", referrer="https://claude.ai/")
    # /llms.txt: GPTBot 1 (IP range), PerplexityBot 2; nobody referred.
    crawl(site, D + HOUR, "/llms.txt", GPTBOT, "ip_range")
    crawl(site, D + 2 * HOUR, "/llms.txt", PERPLEXITYBOT, "none")
    crawl(site, D + 3 * HOUR, "/llms.txt", PERPLEXITYBOT, "none")
    # /blog/b.md: OAI-SearchBot 1 (IP range).
    crawl(site, D + 8 * HOUR, "/blog/b.md", OAI_SEARCHBOT, "ip_range")
    # /docs/a of the other property: GPTBot 1, unverified; a page of its own.
    crawl(site, D + 9 * HOUR, "/docs/a", GPTBOT, "none", property_id=site.other)
    # /pricing: Perplexity sends r3, who converts; never crawled.
    site.send(D + 10 * HOUR, path="/pricing", session="r3", referrer="https://www.perplexity.ai/")
    site.send(D + 10 * HOUR + MINUTE, type="conversion", name="signup", session="r3")
    # /robots.txt: one failed ClaudeBot claim, nothing else.
    crawl(site, D + 11 * HOUR, "/robots.txt", CLAUDEBOT, "failed")
    # /blog/old: r0 landed from ChatGPT the day before and converts in the range.
    site.send(D - HOUR, path="/blog/old", session="r0", referrer=CHATGPT)
    site.send(D + 12 * HOUR, type="conversion", name="signup", session="r0")
    # Never counted: a crawl before the range, a crawl of another site's URL, a bot with a
    # ChatGPT referrer that "converts", a direct visitor who converts.
    crawl(site, D - HOUR, "/docs/a", GPTBOT, "ip_range")
    crawl(site, D + HOUR, "/x", GPTBOT, "ip_range", url="https://elsewhere.example/x")
    site.send(D + 13 * HOUR, path="/pricing", session="bot", ua=CURL, referrer=CHATGPT)
    site.send(D + 13 * HOUR + MINUTE, type="conversion", name="signup", session="bot", ua=CURL)
    site.send(D + 14 * HOUR, path="/docs/a", session="direct")
    site.send(D + 14 * HOUR + MINUTE, type="conversion", name="signup", session="direct")
    yield site
    site.conn.close()


def crawls(hits: int, verified: int, failed: int, kinds: tuple[int, int, int]) -> dict[str, Any]:
    return {
        "hits": hits,
        "verified": verified,
        "unverified": hits - verified,
        "failed": failed,
        "by_kind": dict(zip(("training", "search", "user"), kinds, strict=True)),
    }


def by_operator(name: str, hits: int, verified: int, failed: int = 0) -> dict[str, Any]:
    return {
        "operator": name,
        "hits": hits,
        "verified": verified,
        "unverified": hits - verified,
        "failed": failed,
    }


def test_pages_hand_counted(site: Site) -> None:
    pages = funnel.answer(site.conn, site.query())["pages"]
    assert pages["total"] == 7
    assert [(r["property_id"], r["path"]) for r in pages["rows"]] == [
        (site.main, "/docs/a"),  # 5 crawls
        (site.main, "/llms.txt"),  # 3
        (site.main, "/blog/b.md"),  # 1, and before the other property's /docs/a by path
        (site.other, "/docs/a"),  # 1
        (site.main, "/pricing"),  # no crawl, 1 referral session
        (site.main, "/blog/old"),  # a conversion only
        (site.main, "/robots.txt"),  # a failed claim only
    ]
    docs, llms, markdown, other, pricing, old, robots = pages["rows"]
    assert docs == {
        "property_id": site.main,
        "path": "/docs/a",
        "content_type": "docs",
        "crawls": {
            **crawls(5, 3, 2, (4, 0, 1)),
            "by_operator": [by_operator("OpenAI", 4, 3, 2), by_operator("Anthropic", 1, 0)],
        },
        "referrals": {
            "sessions": 2,
            "by_source": [
                {"source": "chatgpt", "sessions": 1, "conversions": 1},
                {"source": "claude", "sessions": 1, "conversions": 0},
            ],
        },
        "conversions": 1,
    }
    assert llms["content_type"] == "llms_txt"
    assert llms["crawls"] == {
        **crawls(3, 1, 0, (1, 2, 0)),
        "by_operator": [by_operator("Perplexity", 2, 0), by_operator("OpenAI", 1, 1)],
    }
    assert llms["referrals"] == {"sessions": 0, "by_source": []} and llms["conversions"] == 0
    assert markdown["content_type"] == "markdown"
    assert markdown["crawls"]["by_kind"] == {"training": 0, "search": 1, "user": 0}
    assert other["crawls"] == {
        **crawls(1, 0, 0, (1, 0, 0)),
        "by_operator": [by_operator("OpenAI", 1, 0)],
    }
    assert pricing["crawls"] == {**crawls(0, 0, 0, (0, 0, 0)), "by_operator": []}
    assert pricing["referrals"]["by_source"] == [
        {"source": "perplexity", "sessions": 1, "conversions": 1}
    ]
    assert (old["referrals"]["sessions"], old["conversions"]) == (0, 1)
    assert old["referrals"]["by_source"] == [{"source": "chatgpt", "sessions": 0, "conversions": 1}]
    assert robots["content_type"] == "robots_txt"
    # A failed claim is shown apart: no crawl of Anthropic's, no kind.
    assert robots["crawls"] == {
        **crawls(0, 0, 1, (0, 0, 0)),
        "by_operator": [by_operator("Anthropic", 0, 0, 1)],
    }


def test_crawled_not_referred_and_referred_not_crawled(site: Site) -> None:
    answer = funnel.answer(site.conn, site.query())
    assert answer["crawled_not_referred"] == {
        "total": 3,
        "rows": [
            {"property_id": site.main, "path": "/llms.txt", "content_type": "llms_txt",
             "crawls": 3},
            {"property_id": site.main, "path": "/blog/b.md", "content_type": "markdown",
             "crawls": 1},
            {"property_id": site.other, "path": "/docs/a", "content_type": "docs", "crawls": 1},
        ],
    }  # fmt: skip
    assert answer["referred_not_crawled"] == {
        "total": 1,
        "rows": [
            {"property_id": site.main, "path": "/pricing", "content_type": "pricing",
             "referral_sessions": 1},
        ],
    }  # fmt: skip


def test_operators_hand_counted(site: Site) -> None:
    operators = funnel.answer(site.conn, site.query())["operators"]
    assert operators == [
        {
            "operator": "OpenAI",
            "crawlers": ["ChatGPT-User", "GPTBot", "OAI-SearchBot"],
            # GPTBot 3 + 1 + 1 (other property), OAI-SearchBot 1, ChatGPT-User 1
            "crawls": crawls(7, 5, 2, (5, 1, 1)),
            "pages_crawled": 4,
            "sources": ["chatgpt"],
            "referral_sessions": 1,  # r1; r0 started the day before
            "conversions": 2,  # r1 and r0
            "pages_referred": 1,
        },
        {
            "operator": "Perplexity",
            "crawlers": ["PerplexityBot"],
            "crawls": crawls(2, 0, 0, (0, 2, 0)),
            "pages_crawled": 1,
            "sources": ["perplexity"],
            "referral_sessions": 1,
            "conversions": 1,
            "pages_referred": 1,
        },
        {
            "operator": "Anthropic",
            "crawlers": ["ClaudeBot"],
            "crawls": crawls(1, 0, 1, (1, 0, 0)),
            "pages_crawled": 1,
            "sources": ["claude"],
            "referral_sessions": 1,
            "conversions": 0,
            "pages_referred": 1,
        },
    ]


def test_totals(site: Site) -> None:
    totals = funnel.answer(site.conn, site.query())["totals"]
    assert totals == {
        "pages": 7,
        "crawls": crawls(10, 5, 3, (6, 3, 1)),
        "referral_sessions": 3,
        "conversions": 3,
    }


def test_limit_and_offset_apply_to_the_pages_and_each_list(site: Site) -> None:
    answer = funnel.answer(site.conn, site.query(limit=2, offset=1))
    assert [r["path"] for r in answer["pages"]["rows"]] == ["/llms.txt", "/blog/b.md"]
    assert answer["pages"]["total"] == 7
    assert [r["path"] for r in answer["crawled_not_referred"]["rows"]] == ["/blog/b.md", "/docs/a"]
    assert answer["referred_not_crawled"] == {"total": 1, "rows": []}
    assert len(answer["operators"]) == 3  # a short list: never paged


def test_the_class_filter_changes_nothing_but_meta(site: Site) -> None:
    def without_meta(ua_class: str | None) -> dict[str, Any]:
        answer = funnel.answer(site.conn, site.query(ua_class=ua_class))
        del answer["meta"]
        return answer

    assert without_meta("human") == without_meta("bot") == without_meta(None)


def test_one_property_and_other_ranges(site: Site) -> None:
    other = funnel.answer(site.conn, site.query(property_ids=(site.other,)))
    assert [r["path"] for r in other["pages"]["rows"]] == ["/docs/a"]
    assert other["totals"]["crawls"]["hits"] == 1 and other["totals"]["referral_sessions"] == 0
    # The day before: the early GPTBot hit on /docs/a and r0's landing on /blog/old.
    before = funnel.answer(site.conn, site.query(D - DAY, D))
    found = [(r["path"], r["crawls"]["hits"], r["referrals"]["sessions"])
             for r in before["pages"]["rows"]]  # fmt: skip
    assert found == [("/docs/a", 1, 0), ("/blog/old", 0, 1)]
    empty = funnel.answer(site.conn, site.query(property_ids=()))
    assert empty["pages"] == {"total": 0, "rows": []} and empty["operators"] == []


# --- Over HTTP: the route, its parameters and who may read it. ---


def get(server: Server, project_id: str, token: str = ADMIN_TOKEN, **params: str) -> httpx.Response:
    url = f"{server.url}/api/v1/projects/{project_id}/stats/funnel"
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(url, params=params, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def sites(server: Server) -> tuple[HttpSite, HttpSite]:
    with httpx.Client(base_url=server.url + "/api/admin", headers=AUTH, timeout=10) as admin:
        return provision(server, admin), provision(server, admin)


def test_over_http_a_crawl_sent_to_the_collector(
    server: Server, sites: tuple[HttpSite, HttpSite]
) -> None:
    mine, _ = sites
    hit = mine.pageview("/llms.txt", ts=D + HOUR)
    # ClaudeBot: Anthropic publishes no ranges, so its claim from 127.0.0.1 cannot fail.
    assert mine.send(hit, headers={"User-Agent": CLAUDEBOT}).status_code == 202
    answer = get(server, mine.project_id, **{"from": "2026-03-10", "to": "2026-03-10"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["meta"]["from"] == "2026-03-10T00:00:00+00:00"
    (row,) = body["pages"]["rows"]
    assert (row["path"], row["content_type"], row["crawls"]["hits"]) == ("/llms.txt", "llms_txt", 1)
    assert (row["crawls"]["verified"], row["crawls"]["failed"]) == (0, 0)
    assert [o["operator"] for o in body["operators"]] == ["Anthropic"]
    assert body["crawled_not_referred"]["total"] == 1
    # The answer is what the OpenAPI document says it is.
    schema = {"$ref": "#/components/schemas/Funnel", "components": build_document()["components"]}
    jsonschema_rs.validator_for(schema).validate(body)
    assert not jsonschema_rs.validator_for(schema).is_valid({**body, "pages": []})


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"tz": "Mars/Base"}, "tz"),
        ({"limit": "0"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"class": "robots"}, "class"),
        ({"property_id": "abc"}, "property_id"),
    ],
)
def test_bad_parameters_are_400_naming_them(
    server: Server, sites: tuple[HttpSite, HttpSite], params: dict[str, str], named: str
) -> None:
    answer = get(server, sites[0].project_id, **params)
    assert answer.status_code == 400, answer.text
    assert named in answer.text


def test_a_read_token_of_another_project_is_403(
    server: Server, admin: httpx.Client, sites: tuple[HttpSite, HttpSite]
) -> None:
    mine, theirs = sites
    created = admin.post(f"/projects/{mine.project_id}/read-tokens", json={"name": "Partner"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    assert get(server, mine.project_id, token).status_code == 200
    refused = get(server, theirs.project_id, token)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"


# --- Speed: the crawler queries are answered by migration 0014's index alone. ---


def test_crawler_queries_use_the_covering_index_of_crawler_hits(tmp_path: Path) -> None:
    """On SQLite, stats/funnel's and stats/ai's crawler queries read events_property_crawler_ts
    (partial and covering) instead of every event of the range."""
    site = Site(tmp_path / "plan.db")
    assert isinstance(site.conn, sqlite3.Connection)
    statements: list[str] = []
    site.conn.set_trace_callback(statements.append)
    try:
        funnel.answer(site.conn, site.query())
        ai.answer(site.conn, site.query())
    finally:
        site.conn.set_trace_callback(None)
    crawler_queries = [s for s in statements if "crawler IS NOT NULL" in s]
    assert len(crawler_queries) == 2, statements
    for sql in crawler_queries:
        plan = " ".join(row[3] for row in site.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "USING COVERING INDEX events_property_crawler_ts" in plan, (sql, plan)
    site.conn.close()
