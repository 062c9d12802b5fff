"""Events (runbook 8.1): counts over time stacked by traffic class, and where people come from
(country), on what (device, browser, OS), for the range and class chosen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingest.console import charts
from ingest.console.data_view import CHART_ROWS, CLASS_NAMES, data_page, ms_of, zone_note
from ingest.stats import params as stats_params
from ingest.stats.endpoints import breakdown, timeseries
from ingest.stats.query import CLASSES, StatsQuery
from ingest.storage.sql import Conn

BREAKDOWNS = (
    ("country", "Countries"),
    ("device", "Devices"),
    ("browser", "Browsers"),
    ("os", "Operating systems"),
)


def class_series(
    conn: Conn, q: StatsQuery, metric: str, interval: str
) -> tuple[list[int], list[charts.Series]]:
    """Bucket starts (UTC ms) and one series per traffic class, whatever the class filter: the
    chart shows what the filter leaves out too, so bots are seen rather than counted."""
    starts: list[int] = []
    layers = []
    for ua_class in CLASSES:
        series = timeseries.answer(conn, replace(q, ua_class=ua_class), metric, interval)["series"]
        starts = [ms_of(point["t"]) for point in series]
        layers.append(
            charts.Series(
                ua_class,
                tuple(int(point["value"]) for point in series),
                CLASS_NAMES[ua_class],
            )
        )
    return starts, layers


def labels(starts: list[int], q: StatsQuery, interval: str) -> list[str]:
    return [
        charts.bucket_label(datetime.fromtimestamp(ms / 1000, tz=q.tz), interval) for ms in starts
    ]


def build(conn: Conn, q: StatsQuery, params: Mapping[str, str]) -> dict[str, Any]:
    interval = stats_params.interval(params, q)
    starts, layers = class_series(conn, q, "events", interval)
    names = labels(starts, q, interval)
    note = zone_note(q.tz, q.start_ms)
    chart = charts.time_bars(
        f"Events per {interval} by traffic class",
        names,
        layers,
        axis_note=note,
        empty="No events in this range",
    )
    lists = []
    meta: dict[str, Any] = {}
    for dimension, title in BREAKDOWNS:
        answer = breakdown.answer(conn, q, dimension, "events")
        meta = answer["meta"]
        rows = [(row["value"], int(row["count"])) for row in answer["rows"]]
        lists.append(
            {
                "dimension": dimension,
                "title": title,
                "rows": rows,
                "svg": charts.bar_list(
                    title, rows[:CHART_ROWS], empty=f"No {title.lower()} in this range"
                ),
            }
        )
    totals = {layer.name: sum(layer.values) for layer in layers}
    return {
        "interval": interval,
        "chart": chart,
        "zone_note": note,
        "table": [
            {"start": ms, "label": name, **{layer.name: layer.values[i] for layer in layers}}
            for i, (ms, name) in enumerate(zip(starts, names, strict=True))
        ],
        "classes": CLASSES,
        "totals": totals,
        "total": sum(totals.values()),
        "breakdowns": lists,
        "meta": meta,
    }


async def events_page(request: Request) -> Response:
    return await data_page(request, "events.html", build, with_interval=True)
