"""Query parameters -> StatsQuery; every bad one a 400 naming it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ingest.errors import ApiError
from ingest.stats import params
from ingest.stats.query import StatsQuery
from ingest.stats.timebuckets import iso, to_ms

NOW = to_ms(datetime.fromisoformat("2026-11-30T12:00:00+00:00"))
PROPERTIES = (3, 7)
SUPPORTED = {"events": frozenset({"country", "path"}), "sessions": frozenset({"path"})}
DIMENSIONS = ("country", "path", "browser")


def parse(**query: str) -> StatsQuery:
    return params.stats_query(query, "prj_a", PROPERTIES, NOW)


def refusal(**query: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        q = parse(**{k: v for k, v in query.items() if k not in ("metric", "interval")})
        params.metric(query)
        params.interval(query, q)
        params.dimension(query, params.metric(query), SUPPORTED, DIMENSIONS)
    return caught.value


def test_defaults() -> None:
    q = parse()
    assert q.property_ids == PROPERTIES
    assert (q.start_ms, q.end_ms) == (NOW - 7 * 86_400_000, NOW)
    assert q.tz == ZoneInfo("UTC") and q.ua_class == "human"
    assert (q.limit, q.offset) == (50, 0)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        # A date is local midnight; `to` as a date includes that day.
        (
            {"from": "2026-11-30", "to": "2026-11-30", "tz": "Asia/Kolkata"},
            "2026-11-30T00:00:00+05:30",
            "2026-12-01T00:00:00+05:30",
        ),
        (
            {"from": "2026-10-25", "to": "2026-10-25", "tz": "Europe/Berlin"},
            "2026-10-25T00:00:00+02:00",
            "2026-10-26T00:00:00+01:00",
        ),
        # A time without an offset is local to tz; one with an offset is that instant.
        (
            {"from": "2026-11-01T00:30", "to": "2026-11-02T03:00:00Z", "tz": "America/New_York"},
            "2026-11-01T00:30:00-04:00",
            "2026-11-01T22:00:00-05:00",
        ),
        (
            {"from": "2026-11-29T12:00:00Z"},
            "2026-11-29T12:00:00+00:00",
            "2026-11-30T12:00:00+00:00",
        ),
        ({"to": "2026-11-02"}, "2026-10-27T00:00:00+00:00", "2026-11-03T00:00:00+00:00"),
    ],
)
def test_range(query: dict[str, str], start: str, end: str) -> None:
    q = parse(**query)
    assert (iso(q.start_ms, q.tz), iso(q.end_ms, q.tz)) == (start, end)


def test_class_property_limit_offset() -> None:
    q = parse(**{"class": "all", "property_id": "7", "limit": "1000", "offset": "20"})
    assert (q.ua_class, q.property_ids, q.limit, q.offset) == (None, (7,), 1000, 20)
    assert parse(**{"class": "ai_crawler"}).ua_class == "ai_crawler"


@pytest.mark.parametrize(
    ("query", "named", "says"),
    [
        ({"tz": "Mars/Base"}, "tz", "'Mars/Base' is not an IANA time zone"),
        ({"tz": "../../etc/passwd"}, "tz", "is not an IANA time zone"),
        ({"from": "yesterday"}, "from", "is not an ISO 8601 time"),
        ({"to": "2026-02-30"}, "to", "is not an ISO 8601 time"),
        ({"to": "9999-12-31"}, "to", "is not an ISO 8601 time"),
        ({"from": "0001-01-01"}, "from", "outside the years"),
        ({"from": "2026-11-30", "to": "2026-11-29"}, "from", "the range is empty"),
        ({"from": "2026-11-30T00:00Z", "to": "2026-11-30T00:00Z"}, "from", "the range is empty"),
        ({"from": "2026-11-30T13:00Z"}, "from", "the range is empty"),
        ({"class": "robot"}, "class", "not one of human, bot, ai_crawler, ai_agent, all"),
        ({"limit": "0"}, "limit", "from 1 to 1000"),
        ({"limit": "1001"}, "limit", "from 1 to 1000"),
        ({"limit": "ten"}, "limit", "from 1 to 1000"),
        ({"offset": "-1"}, "offset", "from 0 to"),
        ({"property_id": "x"}, "property_id", "must be a positive integer"),
        ({"metric": "visits"}, "metric", "not one of events, pageviews"),
        ({"interval": "week"}, "interval", "not one of minute, hour, day"),
        (
            {"from": "2026-09-01", "to": "2026-11-29", "interval": "minute"},
            "interval",
            "more than 5000 points",
        ),
        ({}, "dimension", "is required"),
        ({"dimension": "planet"}, "dimension", "not one of country, path, browser"),
        ({"dimension": "country", "metric": "sessions"}, "dimension", "not available for metric"),
    ],
)
def test_each_bad_parameter_is_named(query: dict[str, str], named: str, says: str) -> None:
    error = refusal(**query)
    assert error.status == 400
    assert error.detail.startswith(f"{named}: ") and says in error.detail, error.detail


def test_a_property_of_another_project_is_not_found() -> None:
    with pytest.raises(ApiError) as caught:
        parse(property_id="8")
    assert caught.value.status == 404 and caught.value.detail.startswith("property_id: ")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"from": "2026-11-29"}, "hour"),
        ({"from": "2026-11-01"}, "day"),
        ({"interval": "minute", "from": "2026-11-28"}, "minute"),
    ],
)
def test_interval_default_follows_the_range(query: dict[str, str], expected: str) -> None:
    assert params.interval(query, parse(**query)) == expected
