"""Timestamps as access logs write them, to ms since the epoch (None when unreadable)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_EPOCH = datetime(1970, 1, 1)
_ONE_SECOND = datetime(1970, 1, 1, 0, 0, 1) - _EPOCH
# Below these, an epoch number is in seconds, ms or µs (1e11 s is the year 5138); above, ns.
_SECONDS_BELOW = 10**11
_MS_BELOW = 10**14
_US_BELOW = 10**17


@lru_cache(maxsize=512)
def _day_start(day: str, month: str, year: str, zone: str) -> int | None:
    """Seconds since the epoch at midnight of the day, in the zone (`+0100`)."""
    try:
        moment = datetime(int(year), _MONTHS[month], int(day))
        sign = -1 if zone[0] == "-" else 1 if zone[0] == "+" else 0
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
    except (ValueError, KeyError, IndexError):
        return None
    if not sign or len(zone) != 5:
        return None
    return (moment - _EPOCH) // _ONE_SECOND - offset


# A busy log's lines share their second with their neighbours: each is worked out once.
@lru_cache(maxsize=4096)
def clf_time(text: str) -> int | None:
    """Common Log Format's `10/Oct/2000:13:55:36 -0700`: fixed widths, so sliced, and each
    day (with its zone) worked out once."""
    if len(text) != 26 or text[2] != "/" or text[6] != "/" or text[11] != ":":
        return None
    start = _day_start(text[0:2], text[3:6], text[7:11], text[21:26])
    clock = text[12:14] + text[15:17] + text[18:20]
    if start is None or text[14] != ":" or text[17] != ":" or text[20] != " ":
        return None
    if not (clock.isascii() and clock.isdigit()):
        return None
    hour, minute, second = int(clock[0:2]), int(clock[2:4]), int(clock[4:6])
    if hour > 23 or minute > 59 or second > 60:
        return None
    return (start + hour * 3600 + minute * 60 + second) * 1000


def epoch_number(value: float) -> int | None:
    """Seconds, ms, µs or ns since the epoch, told apart by magnitude."""
    if value != value or value < 0 or value == float("inf"):  # NaN, negative, infinite
        return None
    if value < _SECONDS_BELOW:
        return int(value * 1000)
    if value < _MS_BELOW:
        return int(value)
    if value < _US_BELOW:
        return int(value // 1000)
    return int(value // 1_000_000)


@lru_cache(maxsize=4096)
def rfc3339(text: str) -> int | None:
    """`2026-12-01T10:00:00Z`, with or without fractions or an offset (no offset: UTC)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return int((moment - _EPOCH).total_seconds() * 1000)
    return int(moment.timestamp() * 1000)


def any_time(value: object) -> int | None:
    """A JSON log's timestamp: an epoch number (or digit string) or an RFC 3339 string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return epoch_number(value)
    if isinstance(value, str):
        if value.isdigit():
            return epoch_number(int(value))
        return rfc3339(value)
    return None
