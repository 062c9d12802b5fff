"""Referrals (runbook 8.4): people sent by AI assistants over time, which assistants, the pages
they landed on; and the AI crawlers and agents that came by themselves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest import catalog
from ingest.console import charts
from ingest.console.data_view import CHART_ROWS, data_page, rows_of, time_chart
from ingest.stats.endpoints import ai, breakdown
from ingest.stats.query import StatsQuery
from ingest.storage.sql import Conn


def build(conn: Conn, q: StatsQuery, params: Mapping[str, str]) -> dict[str, Any]:
    over_time = time_chart(conn, q, params, "ai_referrals", "AI referrals")
    by_source = rows_of(breakdown.answer(conn, q, "ai_source", "ai_referrals"))
    landings = rows_of(breakdown.answer(conn, q, "path", "ai_referrals"))
    visits = ai.answer(conn, q)
    return {
        "over_time": over_time,
        "by_source": by_source,
        "by_source_svg": charts.bar_list("AI referrals by source", by_source[:CHART_ROWS]),
        "landings": landings,
        "landings_svg": charts.bar_list("Landing pages", landings[:CHART_ROWS]),
        "sources": visits["sources"],
        "crawlers": visits["crawlers"],
        "enabled": sorted(catalog.enabled_sources(conn, q.project_id)),
        "meta": visits["meta"],
    }


async def referrals_page(request: Request) -> Response:
    return await data_page(request, "referrals.html", build, with_interval=True)
