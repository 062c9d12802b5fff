"""Journeys (runbook 8.3): sessions that started in the range, newest first, each with its
steps in order, so an operator can see that session tracking works and the sequences make
sense (landing page first, then the pages and events that followed)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest.console.data_view import data_page, ms_of, pager, time_chart
from ingest.stats.endpoints import journeys
from ingest.stats.query import StatsQuery
from ingest.storage.sql import Conn


def clock(text: str) -> str:
    """A step's time of day with its offset (`09:30:05 UTC+05:30`): the session's row above
    gives the date and the zone's name."""
    moment = datetime.fromisoformat(text)
    offset = moment.strftime("%z")
    return f"{moment:%H:%M:%S} UTC{offset[:3]}:{offset[3:]}"


def build(conn: Conn, q: StatsQuery, params: Mapping[str, str]) -> dict[str, Any]:
    answer = journeys.answer(conn, q)
    rows = [
        {
            **row,
            "started_ms": ms_of(row["started_at"]),
            "steps": [{**step, "clock": clock(step["ts"])} for step in row["steps"]],
        }
        for row in answer["rows"]
    ]
    return {
        "over_time": time_chart(conn, q, params, "sessions", "Sessions"),
        "rows": rows,
        "pages": pager(params, q, len(rows), None),
        "meta": answer["meta"],
    }


async def journeys_page(request: Request) -> Response:
    return await data_page(request, "journeys.html", build, with_interval=True)
