"""AI visibility: per operator and per page, what AI crawlers fetched (verified or not), whom the
operators' assistants sent, and what those visits converted: the read API's stats/funnel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest.console import charts
from ingest.console.data_view import CHART_ROWS, data_page, pager
from ingest.stats.endpoints import funnel
from ingest.stats.query import StatsQuery
from ingest.storage.sql import Conn


def crawls_per_referral(crawls: int, sessions: int) -> str:
    """The crawl-to-referral ratio as the page shows it: "12.5", or "—" without a referral."""
    if not sessions:
        return "—"
    return f"{crawls / sessions:,.1f}"


def operators_line(by_operator: list[dict[str, Any]]) -> str:
    """`OpenAI 4 (3 verified), Anthropic 1`: who crawled a page, failed claims left out."""
    parts = []
    for row in by_operator:
        if not row["hits"]:
            continue
        name = row["operator"] or "(unknown operator)"
        verified = f" ({row['verified']} verified)" if row["verified"] else ""
        parts.append(f"{name} {row['hits']}{verified}")
    return ", ".join(parts) or "—"


def kinds_line(by_kind: Mapping[str, int]) -> str:
    """`training 3, user 1`: the crawler kinds with hits, in the API's order."""
    return ", ".join(f"{kind} {count}" for kind, count in by_kind.items() if count) or "—"


def build(conn: Conn, q: StatsQuery, params: Mapping[str, str]) -> dict[str, Any]:
    answer = funnel.answer(conn, q)
    operators = [
        {
            **row,
            "kinds": kinds_line(row["crawls"]["by_kind"]),
            "ratio": crawls_per_referral(row["crawls"]["hits"], row["referral_sessions"]),
        }
        for row in answer["operators"]
    ]
    pages = [
        {
            **row,
            "kinds": kinds_line(row["crawls"]["by_kind"]),
            "who": operators_line(row["crawls"]["by_operator"]),
        }
        for row in answer["pages"]["rows"]
    ]
    crawls_svg = charts.bar_list(
        "AI crawls by operator",
        [(row["operator"] or "(unknown)", row["crawls"]["hits"]) for row in operators][:CHART_ROWS],
        empty="No AI crawls in this range",
    )
    referrals_svg = charts.bar_list(
        "AI referral sessions by operator",
        [(row["operator"] or "(unknown)", row["referral_sessions"]) for row in operators][
            :CHART_ROWS
        ],
        empty="No AI referral sessions in this range",
    )
    return {
        "totals": answer["totals"],
        "operators": operators,
        "pages": pages,
        "total": answer["pages"]["total"],
        "pager": pager(params, q, len(pages), answer["pages"]["total"]),
        "crawled_not_referred": answer["crawled_not_referred"],
        "referred_not_crawled": answer["referred_not_crawled"],
        "crawls_svg": crawls_svg,
        "referrals_svg": referrals_svg,
        "meta": answer["meta"],
    }


async def visibility_page(request: Request) -> Response:
    return await data_page(request, "visibility.html", build, with_class=False)
