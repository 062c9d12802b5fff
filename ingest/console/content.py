"""Content (runbook 8.2): the pages the tag discovered, with their content type, and how much of
their traffic came from AI assistants (people referred) and AI crawlers (machines reading)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest.console import charts
from ingest.console.data_view import data_page, ms_of, pager
from ingest.stats.endpoints import content
from ingest.stats.query import StatsQuery
from ingest.storage.sql import Conn

WEB = ("https://", "http://")


def build(conn: Conn, q: StatsQuery, params: Mapping[str, str]) -> dict[str, Any]:
    answer = content.answer(conn, q)
    rows = [
        {
            **row,
            # Only a web address becomes a link: a stored url is the visitor's to choose.
            "href": row["url"] if str(row["url"] or "").startswith(WEB) else None,
            "first_seen_ms": ms_of(row["first_seen_at"]),
            "last_seen_ms": ms_of(row["last_seen_at"]),
        }
        for row in answer["rows"]
    ]
    types = answer["content_types"]
    views = [(t["content_type"], int(t["views"])) for t in types]
    machine = [(t["content_type"], int(t["crawler_views"])) for t in types]
    referred = [(t["content_type"], int(t["ai_views"])) for t in types]
    return {
        "rows": rows,
        "types": types,
        "total": answer["total"],
        "pages": pager(params, q, len(rows), answer["total"]),
        "type_charts": [
            ("Views by content type", charts.bar_list("Views by content type", views)),
            (
                "AI-referred views by content type",
                charts.bar_list(
                    "AI-referred views by content type",
                    referred,
                    empty="No visits from AI assistants in this range",
                ),
            ),
            (
                "AI crawler views by content type",
                charts.bar_list(
                    "AI crawler views by content type",
                    machine,
                    empty="No AI crawlers in this range",
                ),
            ),
        ],
        "meta": answer["meta"],
    }


async def content_page(request: Request) -> Response:
    return await data_page(request, "content.html", build)
