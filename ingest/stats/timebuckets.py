"""Local time buckets over UTC milliseconds: pure functions, no I/O.

A bucket starts at a local wall-clock boundary (minute, hour or midnight) of the zone, so a day
in Asia/Kolkata starts at 18:30 UTC and a day with a daylight-saving change lasts 23 or 25
hours. Hours are real hours: the hour repeated when clocks go back is two buckets, and the
hour skipped when they go forward is none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

INTERVALS = ("minute", "hour", "day")
# The usual length of a bucket; a local day or hour may be longer or shorter (DST).
NOMINAL_MS = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
_HALF_HOUR_MS = 1_800_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_local(ms: int, tz: ZoneInfo) -> datetime:
    # astimezone last: arithmetic on an aware datetime would drop its fold.
    return (_EPOCH + timedelta(milliseconds=ms)).astimezone(tz)


def to_ms(moment: datetime) -> int:
    """UTC ms of an aware datetime (its fold chooses between a repeated hour's two instants)."""
    offset = moment.utcoffset()
    assert offset is not None, "an aware datetime"
    naive_utc = moment.replace(tzinfo=None) - offset
    return (naive_utc - datetime(1970, 1, 1)) // timedelta(milliseconds=1)


def iso(ms: int, tz: ZoneInfo) -> str:
    """ISO 8601 with the zone's offset at that instant: to the second, or to the ms if any."""
    return to_local(ms, tz).isoformat(timespec="milliseconds" if ms % 1000 else "seconds")


def local_midnight(year: int, month: int, day: int, tz: ZoneInfo) -> int:
    """The UTC ms at which the local date starts. Where clocks skip midnight itself, fold=0
    takes the offset before the change, which lands on the instant of the change: the first
    instant of that date."""
    return to_ms(datetime(year, month, day, tzinfo=tz))


def floor(ms: int, interval: str, tz: ZoneInfo) -> int:
    """The start (UTC ms) of the local bucket holding the instant `ms`."""
    local = to_local(ms, tz)
    if interval == "minute":
        start = local.replace(second=0, microsecond=0)
    elif interval == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)  # keeps the fold
    elif interval == "day":
        return local_midnight(local.year, local.month, local.day, tz)
    else:
        raise ValueError(f"unknown interval {interval!r}")
    return min(ms, to_ms(start))


def next_start(start: int, interval: str, tz: ZoneInfo) -> int:
    """The start of the bucket after the one starting at `start`."""
    if interval == "day":
        following = to_local(start, tz).date() + timedelta(days=1)
        return local_midnight(following.year, following.month, following.day, tz)
    probe = start + NOMINAL_MS[interval]
    nxt = floor(probe, interval, tz)
    while nxt <= start:  # a local hour longer than an hour (a half-hour change of offset)
        probe += _HALF_HOUR_MS
        nxt = floor(probe, interval, tz)
    return nxt


def count(start_ms: int, end_ms: int, interval: str, tz: ZoneInfo, cap: int) -> int:
    """How many buckets [start, end) spans, counting no further than cap + 1 (cheap to refuse
    a range too large for its interval before building it)."""
    estimate = (end_ms - start_ms) // NOMINAL_MS[interval]
    if estimate > cap + 2:  # a day is at most 25 hours: the estimate is within a few percent
        return cap + 1
    return len(boundaries(start_ms, end_ms, interval, tz)) - 1


def boundaries(start_ms: int, end_ms: int, interval: str, tz: ZoneInfo) -> list[int]:
    """The UTC instants starting each local bucket that intersects [start, end), the first
    clipped to start_ms, then end_ms: len(result) - 1 buckets."""
    if end_ms <= start_ms:
        return [start_ms, end_ms] if end_ms == start_ms else [start_ms]
    edges = [start_ms]
    edge = next_start(floor(start_ms, interval, tz), interval, tz)
    while edge < end_ms:
        edges.append(edge)
        edge = next_start(edge, interval, tz)
    edges.append(end_ms)
    return edges
