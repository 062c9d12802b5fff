"""Query parameters of the read API -> a StatsQuery: pure, each refusal a 400 naming the
parameter (a property of another project is a 404, as if it did not exist).

`from` and `to` are ISO 8601 instants or local dates (YYYY-MM-DD) in `tz`: a date as `from`
is the start of that day, a date as `to` includes that whole day (it ends at the next local
midnight). A time without an offset is local to `tz` too. Default: the 7 days ending now.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from ingest.errors import ApiError, ErrorCode, invalid_field
from ingest.fields import positive_id
from ingest.stats import timebuckets
from ingest.stats.query import CLASSES, StatsQuery

DEFAULT_RANGE_MS = 7 * 86_400_000
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
MAX_OFFSET = 1_000_000
MAX_BUCKETS = 5000  # a minute series over 90 days would be 129,600 points
MIN_YEAR, MAX_YEAR = 1970, 2999
HOURLY_UP_TO_MS = 2 * 86_400_000  # the default interval: hours up to two days, else days
METRICS = ("events", "pageviews", "sessions", "conversions", "ai_referrals")
CLASS_CHOICES = (*CLASSES, "all")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DIGITS = re.compile(r"[0-9]{1,9}")


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def time_zone(raw: str | None) -> ZoneInfo:
    if raw is None or raw == "":
        return ZoneInfo("UTC")
    if raw not in _zones():
        raise invalid_field(
            "tz", f"{_shown(raw)} is not an IANA time zone (e.g. UTC, Europe/Berlin)"
        )
    return ZoneInfo(raw)


def instant(raw: str, name: str, tz: ZoneInfo, *, end: bool) -> int:
    """UTC ms of `from` or `to` (see the module's docstring)."""
    try:
        if _DATE.fullmatch(raw):
            day = date.fromisoformat(raw)
            if end:
                day += timedelta(days=1)
            moment = datetime(day.year, day.month, day.day, tzinfo=tz)
        else:
            moment = datetime.fromisoformat(raw)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
    except (ValueError, OverflowError):
        raise invalid_field(
            name,
            f"{_shown(raw)} is not an ISO 8601 time (2026-11-30T14:00:00+01:00) or a date"
            " (2026-11-30)",
        ) from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise invalid_field(name, f"{_shown(raw)} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return timebuckets.to_ms(moment)


def time_range(params: Mapping[str, str], tz: ZoneInfo, now_ms: int) -> tuple[int, int]:
    raw_from, raw_to = params.get("from"), params.get("to")
    end = instant(raw_to, "to", tz, end=True) if raw_to else now_ms
    start = instant(raw_from, "from", tz, end=False) if raw_from else end - DEFAULT_RANGE_MS
    if start >= end:
        name = "from" if raw_from else "to"
        raise invalid_field(
            name,
            f"the range is empty: from ({timebuckets.iso(start, tz)}) must be before to"
            f" ({timebuckets.iso(end, tz)}); a date as `to` includes that whole day",
        )
    return start, end


def choice(params: Mapping[str, str], name: str, choices: Sequence[str], default: str) -> str:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise invalid_field(name, f"{_shown(raw)} is not one of {', '.join(choices)}")
    return raw


def bounded(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = int(raw) if _DIGITS.fullmatch(raw) else None
    if value is None or not low <= value <= high:
        raise invalid_field(name, f"must be a whole number from {low} to {high}, not {_shown(raw)}")
    return value


def property_filter(
    params: Mapping[str, str], project_id: str, properties: Sequence[int]
) -> tuple[int, ...]:
    raw = params.get("property_id")
    if raw is None or raw == "":
        return tuple(properties)
    wanted = positive_id(raw, "property_id")
    if wanted not in properties:
        raise ApiError(
            ErrorCode.NOT_FOUND,
            f"property_id: project {project_id} has no property {wanted}",
        )
    return (wanted,)


def stats_query(
    params: Mapping[str, str], project_id: str, properties: Sequence[int], now_ms: int
) -> StatsQuery:
    """The common parameters; `properties` are the project's (query.project_properties)."""
    tz = time_zone(params.get("tz"))
    start, end = time_range(params, tz, now_ms)
    ua_class = choice(params, "class", CLASS_CHOICES, "human")
    return StatsQuery(
        project_id=project_id,
        property_ids=property_filter(params, project_id, properties),
        start_ms=start,
        end_ms=end,
        tz=tz,
        ua_class=None if ua_class == "all" else ua_class,
        limit=bounded(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        offset=bounded(params, "offset", 0, 0, MAX_OFFSET),
    )


def metric(params: Mapping[str, str]) -> str:
    return choice(params, "metric", METRICS, "events")


def interval(params: Mapping[str, str], q: StatsQuery) -> str:
    """`interval`, by default hours for up to two days and days beyond; refused when the range
    would need more than MAX_BUCKETS of them."""
    span = q.end_ms - q.start_ms
    default = "hour" if span <= HOURLY_UP_TO_MS else "day"
    chosen = choice(params, "interval", timebuckets.INTERVALS, default)
    if timebuckets.count(q.start_ms, q.end_ms, chosen, q.tz, MAX_BUCKETS) > MAX_BUCKETS:
        raise invalid_field(
            "interval",
            f"{chosen} buckets over {span / 86_400_000:.4g} days would be more than"
            f" {MAX_BUCKETS} points: choose a longer interval or a shorter range",
        )
    return chosen


def dimension(
    params: Mapping[str, str],
    metric_name: str,
    supported: Mapping[str, frozenset[str]],
    dimensions: Sequence[str],
) -> str:
    """`dimension` (required), one the metric's table has."""
    raw = params.get("dimension")
    if not raw:
        raise invalid_field("dimension", f"is required: one of {', '.join(dimensions)}")
    chosen = choice(params, "dimension", dimensions, dimensions[0])
    allowed = supported.get(metric_name, frozenset())
    if chosen not in allowed:
        raise invalid_field(
            "dimension",
            f"{chosen} is not available for metric {metric_name}: one of"
            f" {', '.join(d for d in dimensions if d in allowed)}",
        )
    return chosen
