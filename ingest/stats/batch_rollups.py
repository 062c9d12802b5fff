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

The counting here is also the SQLite writer's: it keeps the rows it committed since its last
fold and counts them there (`count_bulk`, unfolded_counts.py) instead of reading them back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from operator import itemgetter
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
_EVENT_GETS = tuple((d, itemgetter(index)) for d, index in _EVENT_DIMS)
# The counter an event adds to besides `events` (index into Counts), by type.
_SLOT = {"pageview": 1, "conversion": 2}

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
    stats_quarters and stats_hours key. Row by row: for a commit's rows (PostgreSQL's writer,
    on its thread in every commit), one dictionary look-up per key, not one per counter."""
    for row in events:
        prop, ua_class, ts = row[_E_PROPERTY], row[_E_CLASS], row[_E_TS]
        also = _SLOT.get(row[_E_TYPE], 0)  # pageviews or conversions, besides events
        counts = _counts(quarters, (prop, bucket(ts, QUARTER_MS), ua_class))
        counts[0] += 1
        if also:
            counts[also] += 1
        hour = bucket(ts, HOUR_MS)
        for dimension, index in _EVENT_DIMS:
            # Inlined, no call per dimension (a fifth of the time): _text(value).
            value = row[index]
            if value is None:
                value = ""
            elif value.__class__ is not str:
                value = str(value)
            key = (prop, dimension, hour, ua_class, value)
            found = hours.get(key)
            if found is None:
                found = hours[key] = [0, 0, 0, 0]
            found[0] += 1
            if also:
                found[also] += 1
    for row in referrals:
        prop, ua_class, landed = row[_R_PROPERTY], _text(row[_R_CLASS]), row[_R_LANDED]
        _counts(quarters, (prop, bucket(landed, QUARTER_MS), ua_class))[3] += 1
        hour = bucket(landed, HOUR_MS)
        for dimension, index in _REFERRAL_DIMS:
            _counts(hours, (prop, dimension, hour, ua_class, _text(row[index])))[3] += 1


def count_bulk(
    quarters: Tally, hours: Tally, events: Sequence[Row], referrals: Iterable[Row]
) -> None:
    """`count_into`'s counts, for seconds of rows at once (the SQLite writer's tally, at its
    fold): the events grouped by property, quarter, class and type, then each dimension's
    values counted per group by Counter (in C) instead of one dictionary look-up per row and
    dimension. A third of the time over a couple of seconds of traffic, whose values repeat;
    slower than row by row for one commit's rows (bench figures in loadtests/RESULTS.md)."""
    groups: dict[tuple[Any, int, Any, int], list[Row]] = {}
    for row in events:
        key = (row[_E_PROPERTY], bucket(row[_E_TS], QUARTER_MS), row[_E_CLASS],
               _SLOT.get(row[_E_TYPE], 0))  # fmt: skip
        rows = groups.get(key)
        if rows is None:
            groups[key] = [row]
        else:
            rows.append(row)
    by_hour: dict[tuple[Any, int, Any, int], list[Row]] = {}
    for (prop, quarter, ua_class, also), rows in groups.items():
        counts = _counts(quarters, (prop, quarter, ua_class))
        counts[0] += len(rows)
        if also:
            counts[also] += len(rows)
        # The hour of a quarter is the hour of its rows (both truncate toward zero).
        key = (prop, bucket(quarter, HOUR_MS), ua_class, also)
        if key in by_hour:
            by_hour[key] += rows
        else:
            by_hour[key] = rows
    for (prop, hour, ua_class, also), rows in by_hour.items():
        for dimension, get in _EVENT_GETS:
            for value, n in Counter(map(get, rows)).items():
                counts = _counts(hours, (prop, dimension, hour, ua_class, _text(value)))
                counts[0] += n
                if also:
                    counts[also] += n
    count_into(quarters, hours, (), referrals)  # a few per hundred events


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


__all__ = [
    "Tally",
    "bucket",
    "count_bulk",
    "count_into",
    "count_rows",
    "rollup_rows",
    "write_rollups",
]
