"""Conversions (runbook 8.4): conversions over time, which AI assistant the converting
sessions came from (a conversion later in a session that landed from ChatGPT counts for
ChatGPT), and the conversion names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest.console import charts
from ingest.console.data_view import CHART_ROWS, data_page, rows_of, time_chart
from ingest.stats import counts
from ingest.stats.endpoints import ai, breakdown
from ingest.stats.query import StatsQuery
from ingest.storage.sql import Conn

NOT_AI = "not AI-referred"


def build(conn: Conn, q: StatsQuery, params: Mapping[str, str]) -> dict[str, Any]:
    over_time = time_chart(conn, q, params, "conversions", "Conversions")
    attributed = counts.attributed_conversions(conn, q.property_ids, q.start_ms, q.end_ms)
    by_source = sorted(
        ((NOT_AI if source is None else source, count) for source, count in attributed.items()),
        key=lambda row: (-row[1], row[0]),
    )
    names = rows_of(breakdown.answer(conn, q, "name", "conversions"))
    visits = ai.answer(conn, q)
    return {
        "over_time": over_time,
        "by_source": by_source,
        "by_source_svg": charts.bar_list(
            "Conversions by AI source (people)",
            by_source[:CHART_ROWS],
            empty="No conversions from people in this range",
        ),
        "names": names,
        "names_svg": charts.bar_list("Conversions by name", names[:CHART_ROWS]),
        "sources": [row for row in visits["sources"] if row["sessions"] or row["conversions"]],
        "attributed_total": sum(attributed.values()),
        "meta": visits["meta"],
    }


async def conversions_page(request: Request) -> Response:
    return await data_page(request, "conversions.html", build, with_interval=True)
