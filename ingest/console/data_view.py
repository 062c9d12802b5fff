"""What the console's data pages share: the range form, the StatsQuery built from it exactly as
the read API builds one (ingest/stats/params.py), and one read of the database per page.

A page supplies `build(conn, q, params) -> dict` of template values; it runs on a reader thread
and calls the read API's endpoint functions in-process (never over HTTP). A bad parameter
renders the page with the read API's 400 detail beside the form, instead of the data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from ingest import catalog
from ingest.clock import now_ms
from ingest.console import charts
from ingest.console.context import PageContext, page_context, render
from ingest.errors import ApiError
from ingest.http import state
from ingest.stats import params as stats_params
from ingest.stats import timebuckets
from ingest.stats.cache import answers_for
from ingest.stats.endpoints import timeseries
from ingest.stats.query import StatsQuery
from ingest.storage.sql import Conn

Build = Callable[[Conn, StatsQuery, Mapping[str, str]], dict[str, Any]]

CLASS_CHOICES = (
    ("human", "People"),
    ("all", "All traffic"),
    ("bot", "Bots"),
    ("ai_crawler", "AI crawlers"),
    ("ai_agent", "AI agents"),
)
CLASS_NAMES = dict(CLASS_CHOICES)
INTERVAL_CHOICES = (("", "automatic"), ("minute", "minutes"), ("hour", "hours"), ("day", "days"))
CHOICES: dict[str, Any] = {
    "CLASS_CHOICES": CLASS_CHOICES,
    "CLASS_NAMES": CLASS_NAMES,
    "INTERVAL_CHOICES": INTERVAL_CHOICES,
}
CHART_ROWS = 10  # bars drawn per breakdown; the table under it lists them all
# Fields the range form keeps from one request to the next (tz comes from the nav's picker).
FORM_FIELDS = ("from", "to", "class", "property_id", "interval")


@dataclass
class Range:
    """The form's values and what they resolved to, for the template."""

    values: dict[str, str]
    properties: list[tuple[int, str]]
    with_interval: bool
    with_class: bool = True  # False: the page's counts choose their own classes
    start_ms: int | None = None
    end_ms: int | None = None
    class_name: str = "People"
    links: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class MetaView:
    """The answer's `meta` for the page: when the data runs to, and what the filter left out."""

    data_through_ms: int | None
    excluded: list[tuple[str, int]]


def meta_view(meta: Mapping[str, Any] | None) -> MetaView:
    meta = meta or {}
    through = meta.get("data_through")
    excluded = meta.get("excluded") or {}
    return MetaView(
        data_through_ms=ms_of(through) if isinstance(through, str) else None,
        excluded=[(CLASS_NAMES.get(k, k), int(v)) for k, v in excluded.items() if v],
    )


def ms_of(text: str) -> int:
    """UTC ms of an ISO 8601 time with an offset, as the endpoint answers carry them."""
    return timebuckets.to_ms(datetime.fromisoformat(text))


def zone_note(tz: ZoneInfo, at_ms: int) -> str:
    """`Times in Asia/Kolkata (UTC+05:30)`: the offset at `at_ms`, as the chart's axis note."""
    offset = timebuckets.to_local(at_ms, tz).strftime("%z")
    return f"Times in {tz.key} (UTC{offset[:3]}:{offset[3:]})"


def link(params: Mapping[str, str], **changes: str | int | None) -> str:
    """This page's query string with some values changed (None removes one)."""
    merged: dict[str, str] = {k: v for k, v in params.items() if v != ""}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return "?" + urlencode(merged) if merged else "?"


def pager(
    params: Mapping[str, str], q: StatsQuery, shown: int, total: int | None
) -> dict[str, Any]:
    """Previous/next links for a list page (limit/offset as the read API takes them)."""
    has_next = q.offset + shown < total if total is not None else shown >= q.limit
    return {
        "first": q.offset + 1 if shown else 0,
        "last": q.offset + shown,
        "total": total,
        "previous": link(params, offset=max(q.offset - q.limit, 0) or None)
        if q.offset > 0
        else None,
        "next": link(params, offset=q.offset + q.limit) if has_next else None,
    }


def rows_of(answer: Mapping[str, Any]) -> list[tuple[str | None, int]]:
    return [(row["value"], int(row["count"])) for row in answer["rows"]]


def time_chart(
    conn: Conn, q: StatsQuery, params: Mapping[str, str], metric: str, title: str
) -> dict[str, Any]:
    """One metric over time (the class filter applies), with its table and zone."""
    interval = stats_params.interval(params, q)
    series = timeseries.answer(conn, q, metric, interval)["series"]
    starts = [ms_of(point["t"]) for point in series]
    values = tuple(int(point["value"]) for point in series)
    labels = [charts.bucket_label(timebuckets.to_local(ms, q.tz), interval) for ms in starts]
    note = zone_note(q.tz, q.start_ms)
    svg = charts.time_bars(
        f"{title} per {interval}",
        labels,
        [charts.Series(title, values)],
        axis_note=note,
        empty=f"No {title.lower()} in this range",
    )
    return {
        "interval": interval,
        "svg": svg,
        "zone_note": note,
        "table": list(zip(starts, values, strict=True)),
        "total": sum(values),
    }


def _properties(conn: Conn, project_id: str) -> list[tuple[int, str]]:
    return [(p.id, p.domain) for p in catalog.list_properties(conn, project_id)]


def any_events(conn: Conn, property_ids: tuple[int, ...]) -> bool:
    """Whether the project ever received an event: an empty page says "install the tag" only
    when nothing has arrived at all, and "widen the range" otherwise."""
    if not property_ids:
        return False
    marks = ", ".join("?" * len(property_ids))
    sql = f"SELECT 1 FROM events WHERE property_id IN ({marks}) LIMIT 1"
    return conn.execute(sql, property_ids).fetchone() is not None


async def data_page(
    request: Request,
    template: str,
    build: Build,
    *,
    with_interval: bool = False,
    with_class: bool = True,
) -> Response:
    ctx: PageContext = await page_context(request)
    assert ctx.project is not None, "data pages are under /projects/{project_id}/"
    project_id = ctx.project.id
    given = {k: v.strip() for k, v in request.query_params.items()}
    # The zone is the browser's (the nav's picker), so every time on the page has one zone.
    params = {**given, "tz": ctx.tz_name}
    if not with_class:  # no traffic filter to offer, and none to say it left events out
        params["class"] = "all"
    form = Range(
        values={name: given.get(name, "") for name in FORM_FIELDS},
        properties=[],
        with_interval=with_interval,
        with_class=with_class,
    )
    now = now_ms()
    day = 86_400_000
    form.links = [
        (label, link(given, offset=None, to=None, **{"from": since}))
        for label, since in (
            ("Last 24 hours", timebuckets.iso(now - day, ctx.tz)),
            ("Last 7 days", None),
            ("Last 30 days", timebuckets.iso(now - 30 * day, ctx.tz)),
        )
    ]

    app = state(request)
    answers = answers_for(str(app.settings.db), app.settings.stats_cache_ms)

    def read(conn: Conn) -> dict[str, Any]:
        form.properties = _properties(conn, project_id)
        q = stats_params.stats_query(params, project_id, [p for p, _ in form.properties], now)
        form.start_ms, form.end_ms = q.start_ms, q.end_ms
        form.class_name = CLASS_NAMES["all" if q.ua_class is None else q.ua_class]
        asked = (template, q, tuple(sorted(params.items())))
        # A copy: the page adds to the values, the cached answer stays as computed.
        values = dict(answers.get_or_compute(asked, lambda: build(conn, q, params)))
        values.setdefault("ever", any_events(conn, q.property_ids))
        values["meta"] = meta_view(values.get("meta"))
        return values

    try:
        values = await app.db.read_analytics(read)
    except ApiError as exc:
        return render(
            request,
            template,
            status_code=exc.status,
            error=exc.detail,
            form=form,
            meta=None,
            project=ctx.project,
            **CHOICES,
        )
    return render(
        request, template, form=form, project=ctx.project, error=None, **CHOICES, **values
    )
