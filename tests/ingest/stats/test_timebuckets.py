"""Local buckets: half-hour zones, daylight-saving days of 23 and 25 hours, real hours."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from ingest.stats.timebuckets import boundaries, count, floor, iso, to_ms

KOLKATA = ZoneInfo("Asia/Kolkata")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def ms(text: str) -> int:
    return to_ms(datetime.fromisoformat(text))


def local(edges: list[int], tz: ZoneInfo) -> list[str]:
    return [iso(edge, tz) for edge in edges]


def hours(edges: list[int]) -> list[float]:
    return [(b - a) / 3_600_000 for a, b in pairwise(edges)]


@pytest.mark.parametrize(
    ("start", "end", "interval", "tz", "expected"),
    [
        # Kolkata's days start at 18:30 UTC.
        (
            "2026-11-29T18:30:00+00:00",
            "2026-12-01T18:30:00+00:00",
            "day",
            KOLKATA,
            ["2026-11-30T00:00:00+05:30", "2026-12-01T00:00:00+05:30", "2026-12-02T00:00:00+05:30"],
        ),
        # A range starting mid-day: the first bucket is clipped to the start.
        (
            "2026-11-30T06:00:00+00:00",
            "2026-12-01T00:00:00+00:00",
            "day",
            KOLKATA,
            ["2026-11-30T11:30:00+05:30", "2026-12-01T00:00:00+05:30", "2026-12-01T05:30:00+05:30"],
        ),
        # Hours in Kolkata start at half past the UTC hour.
        (
            "2026-11-29T18:47:00+00:00",
            "2026-11-29T21:00:00+00:00",
            "hour",
            KOLKATA,
            [
                "2026-11-30T00:17:00+05:30",
                "2026-11-30T01:00:00+05:30",
                "2026-11-30T02:00:00+05:30",
                "2026-11-30T02:30:00+05:30",
            ],
        ),
        # Berlin's spring day: 23 hours; then a 24-hour day.
        (
            "2026-03-29T00:00:00+01:00",
            "2026-03-31T00:00:00+02:00",
            "day",
            BERLIN,
            ["2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", "2026-03-31T00:00:00+02:00"],
        ),
        # Berlin's autumn day: 25 hours.
        (
            "2026-10-25T00:00:00+02:00",
            "2026-10-26T00:00:00+01:00",
            "day",
            BERLIN,
            ["2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00"],
        ),
        # New York across its autumn change, by minute at the repeated 01:59.
        (
            "2026-11-01T01:59:00-04:00",
            "2026-11-01T01:01:00-05:00",
            "minute",
            NEW_YORK,
            ["2026-11-01T01:59:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:01:00-05:00"],
        ),
        (
            "2026-01-01T00:00:30+00:00",
            "2026-01-01T00:02:00+00:00",
            "minute",
            UTC,
            ["2026-01-01T00:00:30+00:00", "2026-01-01T00:01:00+00:00", "2026-01-01T00:02:00+00:00"],
        ),
    ],
)
def test_boundaries(start: str, end: str, interval: str, tz: ZoneInfo, expected: list[str]) -> None:
    assert local(boundaries(ms(start), ms(end), interval, tz), tz) == expected


def test_berlin_days_of_23_and_25_hours() -> None:
    spring = boundaries(
        ms("2026-03-29T00:00:00+01:00"), ms("2026-03-30T00:00:00+02:00"), "day", BERLIN
    )
    autumn = boundaries(
        ms("2026-10-25T00:00:00+02:00"), ms("2026-10-26T00:00:00+01:00"), "day", BERLIN
    )
    assert hours(spring) == [23.0]
    assert hours(autumn) == [25.0]


def test_hours_across_daylight_saving_are_real_hours() -> None:
    autumn = boundaries(
        ms("2026-10-25T00:00:00+02:00"), ms("2026-10-26T00:00:00+01:00"), "hour", BERLIN
    )
    assert len(autumn) - 1 == 25 and set(hours(autumn)) == {1.0}
    # 02:00 comes twice: once in summer time, once in winter time.
    assert local(autumn, BERLIN)[2:5] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]
    spring = boundaries(
        ms("2026-03-08T00:00:00-05:00"), ms("2026-03-09T00:00:00-04:00"), "hour", NEW_YORK
    )
    assert len(spring) - 1 == 23 and set(hours(spring)) == {1.0}
    assert "2026-03-08T02:00:00-04:00" not in local(spring, NEW_YORK)


@pytest.mark.parametrize(
    ("instant", "interval", "tz", "expected"),
    [
        ("2026-11-30T05:00:00+00:00", "day", KOLKATA, "2026-11-30T00:00:00+05:30"),
        ("2026-11-29T18:29:59+00:00", "day", KOLKATA, "2026-11-29T00:00:00+05:30"),
        ("2026-10-25T02:30:00+01:00", "hour", BERLIN, "2026-10-25T02:00:00+01:00"),
        ("2026-10-25T02:30:00+02:00", "hour", BERLIN, "2026-10-25T02:00:00+02:00"),
        ("2026-10-25T23:59:00+01:00", "day", BERLIN, "2026-10-25T00:00:00+02:00"),
    ],
)
def test_floor(instant: str, interval: str, tz: ZoneInfo, expected: str) -> None:
    assert iso(floor(ms(instant), interval, tz), tz) == expected


def test_iso_keeps_milliseconds_only_when_there_are_some() -> None:
    assert iso(ms("2026-11-29T18:30:00.123+00:00"), KOLKATA) == "2026-11-30T00:00:00.123+05:30"
    assert iso(0, UTC) == "1970-01-01T00:00:00+00:00"


def test_count_stops_early_past_the_cap() -> None:
    start = ms("2026-01-01T00:00:00+00:00")
    assert count(start, start + 90 * 86_400_000, "minute", UTC, 5000) == 5001
    assert count(start, start + 3 * 86_400_000, "hour", UTC, 5000) == 72
