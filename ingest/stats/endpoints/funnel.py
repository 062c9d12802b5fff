"""`stats/funnel`: per page, what AI crawlers fetched, whom AI assistants sent, what converted.

In [from, to), per page (property and path), whatever the class filter:
- `crawls`: hits (every event type, off-site URLs left out) of `ai_crawler` and `ai_agent`
  events by crawler kind (training, search, user) and by operator (robots.json), `verified`
  when `crawler_verified` is `web_bot_auth` or `ip_range`, `unverified` otherwise (`none`, or
  not recorded); `failed`: hits whose claim to be a known crawler failed verification (stored
  as `bot`): they are counted apart and are never the operator's crawls;
- `referrals`: human sessions that started in the range and landed on the page (the session's
  entry path) from an AI source, by source;
- `conversions`: human conversions in the range whose session landed on the page from an AI
  source (as stats/ai attributes them: the session may have started before the range).
`crawled_not_referred` lists the pages with crawls and no referral session,
`referred_not_crawled` the pages with referral sessions and no crawl. `operators` sums the same
per operator; an operator's referral sessions and conversions are those of the AI sources it
runs (OpenAI -> chatgpt). Orders: pages by crawls, then referral sessions, then conversions
(most first), then path; the two lists by their count, then path; operators by crawls, then
referral sessions, then name. `limit`/`offset` apply to the pages and to each list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from ingest.classify.content import content_type
from ingest.stats.counts import snapshot
from ingest.stats.endpoints.meta import build as build_meta
from ingest.stats.operators import crawler as crawler_entry
from ingest.stats.operators import operator_of
from ingest.stats.query import StatsQuery
from ingest.stats.sql_filters import AI_CLASSES, placeholders
from ingest.storage.sql import Conn

VERIFIED: Final = ("web_bot_auth", "ip_range")
FAILED: Final = "failed"
KINDS: Final = ("training", "search", "user")

# The operator of each assistant (ingest/sources.py ids), spelled as robots.json spells the
# operators of their crawlers, so a source's visits meet its operator's crawls.
SOURCE_OPERATORS: Final[dict[str, str]] = {
    "chatgpt": "OpenAI",
    "claude": "Anthropic",
    "perplexity": "Perplexity",
    "gemini": "Google",
    "copilot": "Microsoft",
    "deepseek": "DeepSeek",
    "grok": "xAI",
    "meta_ai": "Meta",
    "mistral": "Mistral",
    "you": "You",
    "phind": "phind",
    "duckduckgo": "DuckDuckGo",
    "poe": "Quora",
}

PageKey = tuple[int, str | None]


@dataclass
class Crawls:
    hits: int = 0
    verified: int = 0
    failed: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))

    def add(self, kind: str | None, verification: str | None, count: int, failed: bool) -> None:
        if failed:
            self.failed += count
            return
        self.hits += count
        if verification in VERIFIED:
            self.verified += count
        if kind is not None:  # an unrecognised kind still shows, under its own name
            self.by_kind[kind] = self.by_kind.get(kind, 0) + count

    def as_json(self) -> dict[str, Any]:
        return {
            "hits": self.hits,
            "verified": self.verified,
            "unverified": self.hits - self.verified,
            "failed": self.failed,
            "by_kind": dict(self.by_kind),
        }


@dataclass
class Referrals:
    sessions: dict[str, int] = field(default_factory=dict)
    conversions: dict[str, int] = field(default_factory=dict)

    def total_sessions(self) -> int:
        return sum(self.sessions.values())

    def total_conversions(self) -> int:
        return sum(self.conversions.values())

    def by_source(self) -> list[dict[str, Any]]:
        names = set(self.sessions) | set(self.conversions)
        rows: list[dict[str, Any]] = [
            {
                "source": name,
                "sessions": self.sessions.get(name, 0),
                "conversions": self.conversions.get(name, 0),
            }
            for name in names
        ]
        rows.sort(key=lambda r: (-r["sessions"], -r["conversions"], r["source"]))
        return rows


@dataclass
class Page:
    crawls: Crawls = field(default_factory=Crawls)
    operators: dict[str | None, Crawls] = field(default_factory=dict)
    referrals: Referrals = field(default_factory=Referrals)


@dataclass
class Operator:
    crawls: Crawls = field(default_factory=Crawls)
    crawlers: set[str] = field(default_factory=set)
    referrals: Referrals = field(default_factory=Referrals)
    pages_crawled: set[PageKey] = field(default_factory=set)
    pages_referred: set[PageKey] = field(default_factory=set)


def answer(conn: Conn, q: StatsQuery) -> dict[str, Any]:
    pages: dict[PageKey, Page] = {}
    operators: dict[str | None, Operator] = {}
    if q.property_ids and q.start_ms < q.end_ms:
        with snapshot(conn):  # crawls, sessions and conversions from one state
            _add_crawls(conn, q, pages, operators)
            _add_referrals(conn, q, pages, operators)
    ordered = sorted(pages.items(), key=_page_order)
    crawled_not_referred = [
        (key, page) for key, page in ordered if page.crawls.hits and not page.referrals.sessions
    ]
    crawled_not_referred.sort(key=lambda item: (-item[1].crawls.hits, *_path_order(item[0])))
    referred_not_crawled = [
        (key, page) for key, page in ordered if page.referrals.sessions and not page.crawls.hits
    ]
    referred_not_crawled.sort(
        key=lambda item: (-item[1].referrals.total_sessions(), *_path_order(item[0]))
    )
    window = slice(q.offset, q.offset + q.limit)
    totals = Crawls()
    for page in pages.values():
        _merge(totals, page.crawls)
    return {
        "meta": build_meta(conn, q),
        "totals": {
            "pages": len(pages),
            "crawls": totals.as_json(),
            "referral_sessions": sum(p.referrals.total_sessions() for p in pages.values()),
            "conversions": sum(p.referrals.total_conversions() for p in pages.values()),
        },
        "operators": _operator_rows(operators),
        "pages": {"total": len(ordered), "rows": [_page_row(k, p) for k, p in ordered[window]]},
        "crawled_not_referred": {
            "total": len(crawled_not_referred),
            "rows": [
                {**_page_id(key), "crawls": page.crawls.hits}
                for key, page in crawled_not_referred[window]
            ],
        },
        "referred_not_crawled": {
            "total": len(referred_not_crawled),
            "rows": [
                {**_page_id(key), "referral_sessions": page.referrals.total_sessions()}
                for key, page in referred_not_crawled[window]
            ],
        },
    }


def _add_crawls(
    conn: Conn, q: StatsQuery, pages: dict[PageKey, Page], operators: dict[str | None, Operator]
) -> None:
    # Every AI crawler or agent hit, and every failed claim, names its crawler: the term lets
    # an index of crawler hits alone answer (as in stats/ai).
    sql = f"""
        SELECT property_id, path, crawler, crawler_kind, crawler_verified, count(*) FROM events
        WHERE property_id IN ({placeholders(len(q.property_ids))}) AND ts >= ? AND ts < ?
            AND crawler IS NOT NULL AND off_site = 0
            AND (ua_class IN ({placeholders(len(AI_CLASSES))}) OR crawler_verified = ?)
        GROUP BY property_id, path, crawler, crawler_kind, crawler_verified
    """
    params = [*q.property_ids, q.start_ms, q.end_ms, *AI_CLASSES, FAILED]
    for property_id, path, token, kind, verification, count in conn.execute(sql, params):
        entry = crawler_entry(token)
        kind = kind or (entry.kind if entry else None)
        failed = verification == FAILED
        name = operator_of(token)
        key = (property_id, path)
        page = pages.setdefault(key, Page())
        page.crawls.add(kind, verification, count, failed)
        page.operators.setdefault(name, Crawls()).add(kind, verification, count, failed)
        operator = operators.setdefault(name, Operator())
        operator.crawls.add(kind, verification, count, failed)
        if token and not failed:
            operator.crawlers.add(token)
        if not failed:
            operator.pages_crawled.add(key)


def _add_referrals(
    conn: Conn, q: StatsQuery, pages: dict[PageKey, Page], operators: dict[str | None, Operator]
) -> None:
    props = placeholders(len(q.property_ids))
    # last_seen_at >= started_at: the bound lets the (property_id, last_seen_at) index help.
    sessions = f"""
        SELECT property_id, entry_path, ai_source, count(*) FROM sessions
        WHERE property_id IN ({props}) AND ua_class = 'human' AND ai_source IS NOT NULL
            AND last_seen_at >= ? AND started_at >= ? AND started_at < ?
        GROUP BY property_id, entry_path, ai_source
    """
    found = conn.execute(sessions, [*q.property_ids, q.start_ms, q.start_ms, q.end_ms])
    for property_id, path, source, count in found:
        key = (property_id, path)
        pages.setdefault(key, Page()).referrals.sessions[source] = count
        operator = operators.setdefault(SOURCE_OPERATORS.get(source), Operator())
        _count(operator.referrals.sessions, source, count)
        operator.pages_referred.add(key)
    conversions = f"""
        SELECT s.property_id, s.entry_path, s.ai_source, count(*) FROM events AS e
        JOIN sessions AS s ON s.property_id = e.property_id AND s.id = e.session_id
        WHERE e.property_id IN ({props}) AND e.type = 'conversion' AND e.ua_class = 'human'
            AND e.ts >= ? AND e.ts < ? AND s.ai_source IS NOT NULL
        GROUP BY s.property_id, s.entry_path, s.ai_source
    """
    found = conn.execute(conversions, [*q.property_ids, q.start_ms, q.end_ms])
    for property_id, path, source, count in found:
        pages.setdefault((property_id, path), Page()).referrals.conversions[source] = count
        operator = operators.setdefault(SOURCE_OPERATORS.get(source), Operator())
        _count(operator.referrals.conversions, source, count)


def _count(counts: dict[str, int], name: str, count: int) -> None:
    counts[name] = counts.get(name, 0) + count


def _merge(into: Crawls, crawls: Crawls) -> None:
    into.hits += crawls.hits
    into.verified += crawls.verified
    into.failed += crawls.failed
    for kind, count in crawls.by_kind.items():
        _count(into.by_kind, kind, count)


def _path_order(key: PageKey) -> tuple[str, int]:
    return (key[1] or "", key[0])


def _page_order(item: tuple[PageKey, Page]) -> tuple[int, int, int, str, int]:
    key, page = item
    return (
        -page.crawls.hits,
        -page.referrals.total_sessions(),
        -page.referrals.total_conversions(),
        *_path_order(key),
    )


def _page_id(key: PageKey) -> dict[str, Any]:
    property_id, path = key
    return {
        "property_id": property_id,
        "path": path,
        "content_type": content_type(path) if path is not None else None,
    }


def _page_row(key: PageKey, page: Page) -> dict[str, Any]:
    by_operator = [
        {"operator": name, **{k: v for k, v in crawls.as_json().items() if k != "by_kind"}}
        for name, crawls in page.operators.items()
    ]
    by_operator.sort(key=lambda r: (-r["hits"], -r["failed"], r["operator"] or ""))
    return {
        **_page_id(key),
        "crawls": {**page.crawls.as_json(), "by_operator": by_operator},
        "referrals": {
            "sessions": page.referrals.total_sessions(),
            "by_source": page.referrals.by_source(),
        },
        "conversions": page.referrals.total_conversions(),
    }


def _operator_rows(operators: dict[str | None, Operator]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "operator": name,
            "crawlers": sorted(operator.crawlers),
            "crawls": operator.crawls.as_json(),
            "pages_crawled": len(operator.pages_crawled),
            "sources": sorted(
                {source for source, runs in SOURCE_OPERATORS.items() if runs == name}
                | set(operator.referrals.sessions)
                | set(operator.referrals.conversions)
            ),
            "referral_sessions": operator.referrals.total_sessions(),
            "conversions": operator.referrals.total_conversions(),
            "pages_referred": len(operator.pages_referred),
        }
        for name, operator in operators.items()
    ]
    rows.sort(key=lambda r: (-r["crawls"]["hits"], -r["referral_sessions"], r["operator"] or ""))
    return rows
