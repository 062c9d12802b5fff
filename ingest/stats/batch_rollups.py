"""The read API's rollups of one group commit's rows, for PostgreSQL: counted inside the commit.

On SQLite a commit's rows are folded later, by id past a watermark (rollups.py). That cannot
work on PostgreSQL: ids are taken at INSERT, not at COMMIT, so with several writers a lower id
can commit after a higher one was folded and would be missed for ever. Here each commit adds
its own rows instead: the group's event and AI referral rows (as `rows.prepare` makes them) are
counted per rollup key in Python, by the rules of rollups.py's SQL ('' for NULL, events by the
quarter or hour of `ts`, referrals by `landed_at`), and each table gets one COPY
into its pending deltas (`stats_quarters_pending`, `stats_hours_pending`; 0012_stats_pending.sql).
Appending locks no shared row: upserting into the rollups themselves made every writer of every
node queue on the same hot rows until COMMIT (4.2k events/s with 3 writers, 2.8k with 6, against
17.5k/20.4k without the rollups: loadtests/RESULTS.md). rollups.fold moves the deltas into the
rollups every couple of seconds, one node at a time; readers add the deltas still pending.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from ingest.collect.rows import Prepared, Row
from ingest.stats.rollups import EVENT_DIMENSIONS, HOUR_MS, QUARTER_MS, REFERRAL_DIMENSIONS
from ingest.storage.postgres_rows import EVENT_COLUMNS, REFERRAL_COLUMNS

Connection = psycopg.Connection[Any]
# The counters: events, pageviews, conversions, ai_referrals.
Counts = list[int]
# Counts per rollup key: (property_id, quarter, ua_class) or (property_id, dimension, hour,
# ua_class, value).
Tally = dict[tuple[Any, ...], Counts]

_E_PROPERTY, _E_TYPE, _E_CLASS, _E_TS = map(
    EVENT_COLUMNS.index, ("property_id", "type", "ua_class", "ts")
)
_EVENT_DIMS = tuple((d, EVENT_COLUMNS.index(d)) for d in EVENT_DIMENSIONS)
_R_PROPERTY, _R_CLASS, _R_LANDED = map(
    REFERRAL_COLUMNS.index, ("property_id", "ua_class", "landed_at")
)
_REFERRAL_DIMS = tuple((d, REFERRAL_COLUMNS.index(d)) for d in REFERRAL_DIMENSIONS)

# Plain appends by COPY (no key, no ON CONFLICT): measured 3-4 times cheaper than one `unnest`
# INSERT each in the writer's pipeline (0.45 against 1.3 ms for a 16-event commit, 1.6 against
# 5.7 ms for 200 events), though a COPY cannot join the pipeline and takes a round trip.
COPY_QUARTERS = """COPY stats_quarters_pending (property_id, quarter, ua_class, events,
    pageviews, conversions, ai_referrals) FROM STDIN"""
COPY_HOURS = """COPY stats_hours_pending (property_id, dimension, hour, ua_class, value, events,
    pageviews, conversions, ai_referrals) FROM STDIN"""


def bucket(ms: int, size: int) -> int:
    """`ms - ms % size` as SQL computes it (% truncates toward zero there, Python's floors)."""
    remainder = abs(ms) % size
    return ms - (remainder if ms >= 0 else -remainder)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _counts(table: Tally, key: tuple[Any, ...]) -> Counts:
    counts = table.get(key)
    if counts is None:
        counts = table[key] = [0, 0, 0, 0]
    return counts


def count_rows(events: Iterable[Row], referrals: Iterable[Row]) -> tuple[list[Row], list[Row]]:
    """stats_quarters and stats_hours rows (key columns, then the four counters) that these
    event and referral rows add, in key order (pure)."""
    quarters: Tally = {}
    hours: Tally = {}
    count_into(quarters, hours, events, referrals)
    return rollup_rows(quarters), rollup_rows(hours)


def count_into(
    quarters: Tally, hours: Tally, events: Iterable[Row], referrals: Iterable[Row]
) -> None:
    """Add these event and referral rows (as `rows.prepare` makes them) to the counts per
    stats_quarters and stats_hours key: the one counting of rows in Python, for PostgreSQL's
    commits and SQLite's writer (unfolded_counts.py). On the writer thread of every commit:
    one dictionary look-up per key, not one per counter (half the time)."""
    for row in events:
        prop, kind, ua_class, ts = row[_E_PROPERTY], row[_E_TYPE], row[_E_CLASS], row[_E_TS]
        # events, and pageviews or conversions by type
        also = 1 if kind == "pageview" else 2 if kind == "conversion" else 0
        counts = _counts(quarters, (prop, bucket(ts, QUARTER_MS), ua_class))
        counts[0] += 1
        if also:
            counts[also] += 1
        hour = bucket(ts, HOUR_MS)
        for dimension, index in _EVENT_DIMS:
            value = row[index]
            counts = _counts(hours, (prop, dimension, hour, ua_class, "" if value is None else
                                     str(value)))  # fmt: skip
            counts[0] += 1
            if also:
                counts[also] += 1
    for row in referrals:
        prop, ua_class, landed = row[_R_PROPERTY], _text(row[_R_CLASS]), row[_R_LANDED]
        _counts(quarters, (prop, bucket(landed, QUARTER_MS), ua_class))[3] += 1
        hour = bucket(landed, HOUR_MS)
        for dimension, index in _REFERRAL_DIMS:
            _counts(hours, (prop, dimension, hour, ua_class, _text(row[index])))[3] += 1


def rollup_rows(tally: Tally) -> list[Row]:
    """A tally as rollup rows: the key's columns, then the four counters, in key order (rows
    locked in one order by an upsert)."""
    return [(*key, *tally[key]) for key in sorted(tally)]


def write_rollups(conn: Connection, group: Sequence[Prepared]) -> None:
    """Append the group's counts to the rollups' pending deltas, inside the caller's
    transaction (PostgreSQL; not in a pipeline: COPY): exact from its COMMIT on, for readers,
    who add them."""
    quarters, hours = count_rows(
        (r for p in group for r in p.events), (r for p in group for r in p.referrals)
    )
    for sql, rows in ((COPY_QUARTERS, quarters), (COPY_HOURS, hours)):
        if rows:
            with conn.cursor().copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)


__all__ = ["Tally", "bucket", "count_into", "count_rows", "rollup_rows", "write_rollups"]
