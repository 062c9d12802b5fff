"""Rollups for the read API: counts per property and time bucket, kept exact with the rows.

`stats_quarters` counts events (by the quarter hour of `ts`) and AI referrals (by the quarter
hour of `landed_at`) per visitor class: every zone's local hours and days start on a quarter
hour, so a series in Asia/Kolkata (+05:30) or Asia/Kathmandu (+05:45) is read from it whole.
`stats_hours` counts them per hour and value of each dimension, for breakdowns.

On SQLite the same fold adds the rows past a watermark (`stats_folded`; the collector's writer
folds in one of its commits every FOLD_EVERY_S: by `add_counted`, from the rows it wrote
itself, when those are exactly the rows past the watermark, unfolded_counts.py; else by
`fold`) and subtracts the rows the purge deletes (inside the chunk's transaction,
`subtract`). Readers add the rows past the watermark themselves, in the same snapshot, so
counts are exact whatever the client clocks said.

On PostgreSQL ids are taken at INSERT, not at COMMIT: with several writers a lower id can
commit after a higher one was folded, so a watermark would miss it. There every commit appends
its own counts to `stats_quarters_pending` / `stats_hours_pending` (batch_rollups.py; no
ON CONFLICT, so no rollup row is locked by the writers, of any node), and `fold` moves them
into the rollups every FOLD_EVERY_S, one node at a time (a transaction-scoped advisory lock;
the others skip): one statement per table deletes the pending rows its snapshot sees and adds
their sums, so a delta committed meanwhile stays pending for the next fold. Readers read each
rollup with its pending rows (`table`), in one snapshot: the fold moves counts atomically.
`folded` answers a watermark past every id (the readers' tail is empty) and `subtract`
appends the negated counts of the rows it is given to the pending tables.
An unknown value or class is stored as '' (the key columns cannot be NULL; the collector
stores no empty strings in these columns).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ingest.storage.multirow import insert_many
from ingest.storage.sql import Conn, Dialect, dialect_of

QUARTER_MS = 900_000
HOUR_MS = 3_600_000

# Event columns that stats_hours rolls up (content types are derived from the path).
EVENT_DIMENSIONS = ("country", "device", "browser", "os", "ua_class", "crawler", "crawler_kind",
                    "ai_source", "referrer_host", "path", "type", "name")  # fmt: skip
REFERRAL_DIMENSIONS = ("ai_source", "ua_class", "path")
ROLLED_UP_TABLES = frozenset({"events", "ai_referrals"})
# Folding every commit cost the collector 40% of its events/s with single-event requests
# (a dozen rollup upserts per event); folding a few seconds of events at once shares them.
FOLD_EVERY_S = 2.0

_ADD = """ON CONFLICT ({key}) DO UPDATE SET {sets}"""
_COUNTERS = ("events", "pageviews", "conversions", "ai_referrals")
_KEYS = {
    "stats_quarters": ("property_id", "quarter", "ua_class"),
    "stats_hours": ("property_id", "dimension", "hour", "ua_class", "value"),
}
# The fold's transaction-scoped advisory lock: one folder at a time across nodes (a key of its
# own, "optifold" in ASCII; the migrations' lock is "optiview", the cron jobs' two-key).
FOLD_LOCK_KEY = 0x6F707469666F6C64


def _upsert(table: str, key: str, columns: Sequence[str]) -> str:
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in columns)
    return _ADD.format(key=key, sets=sets)


def _count_where(dialect: Dialect, condition: str) -> str:
    # PostgreSQL has no sum of booleans; SQLite's sum(bool) is kept (its plan is measured).
    if dialect == "sqlite":
        return f"sum({condition})"
    return f"count(*) FILTER (WHERE {condition})"


def _into(table: str, key: str, columns: Sequence[str], pending: bool) -> tuple[str, str]:
    """The table a fold statement inserts into, and its ON CONFLICT clause (none for the
    append-only pending tables)."""
    if pending:
        return f"{table}_pending", ""
    return table, _upsert(table, key, columns)


def _events_sql(
    selection: str, sign: int, dialect: Dialect = "sqlite", pending: bool = False
) -> list[str]:
    pageviews = _count_where(dialect, "type = 'pageview'")
    conversions = _count_where(dialect, "type = 'conversion'")
    counts = f"{sign} * count(*), {sign} * {pageviews}, {sign} * {conversions}"
    metric_columns = ("events", "pageviews", "conversions")
    events = _table("events", dialect)
    # Grouped per dimension, then put together: twelve sorts of the rows rather than one of
    # twelve times as many (half the fold's time on SQLite, measured; the same sums).
    dims = " UNION ALL ".join(
        f"SELECT property_id, '{d}' AS dimension, ts - ts % {HOUR_MS} AS hour, ua_class,"
        f" coalesce({d}, '') AS value, {counts} FROM {events} WHERE {selection}"
        " GROUP BY 1, 3, 4, 5"
        for d in EVENT_DIMENSIONS
    )
    quarters, on_quarter = _into(
        "stats_quarters", "property_id, quarter, ua_class", metric_columns, pending
    )
    hours, on_hour = _into(
        "stats_hours", "property_id, dimension, hour, ua_class, value", metric_columns, pending
    )
    return [
        f"INSERT INTO {quarters} (property_id, quarter, ua_class, events, pageviews,"
        f" conversions) SELECT property_id, ts - ts % {QUARTER_MS}, ua_class, {counts}"
        f" FROM {events} WHERE {selection} GROUP BY 1, 2, 3 " + on_quarter,
        # WHERE true: an upsert's SELECT must not end in a FROM (its ON would be a join's).
        f"INSERT INTO {hours} (property_id, dimension, hour, ua_class, value, events,"
        f" pageviews, conversions) SELECT * FROM ({dims}) AS picked WHERE true " + on_hour,
    ]


def _referrals_sql(
    selection: str, sign: int, dialect: Dialect = "sqlite", pending: bool = False
) -> list[str]:
    referrals = _table("ai_referrals", dialect)
    dims = " UNION ALL ".join(
        f"SELECT property_id, '{d}' AS dimension, landed_at - landed_at % {HOUR_MS} AS hour,"
        f" coalesce(ua_class, '') AS ua_class, coalesce({d}, '') AS value, {sign} * count(*)"
        f" FROM {referrals} WHERE {selection} GROUP BY 1, 3, 4, 5"
        for d in REFERRAL_DIMENSIONS
    )
    quarters, on_quarter = _into(
        "stats_quarters", "property_id, quarter, ua_class", ("ai_referrals",), pending
    )
    hours, on_hour = _into(
        "stats_hours", "property_id, dimension, hour, ua_class, value", ("ai_referrals",), pending
    )
    return [
        f"INSERT INTO {quarters} (property_id, quarter, ua_class, ai_referrals)"
        f" SELECT property_id, landed_at - landed_at % {QUARTER_MS}, coalesce(ua_class, ''),"
        f" {sign} * count(*) FROM {referrals} WHERE {selection} GROUP BY 1, 2, 3 " + on_quarter,
        f"INSERT INTO {hours} (property_id, dimension, hour, ua_class, value, ai_referrals)"
        f" SELECT * FROM ({dims}) AS picked WHERE true " + on_hour,
    ]


def _table(table: str, dialect: Dialect) -> str:
    # NOT INDEXED: the rows are found by id (the rowid), a few seconds' worth; left to itself,
    # SQLite walks the (property_id, ts) index over the whole table to save the GROUP BY's
    # sort, a stall that grew with the table (46 ms every fold at 1M events). PostgreSQL has
    # no such hint (nor the need: it finds ids by the primary key).
    return f"{table} NOT INDEXED" if dialect == "sqlite" else table


_FOLD = {"events": _events_sql, "ai_referrals": _referrals_sql}
# SQLite folds the events past the watermark by counting them in Python, in one pass over the
# rows, and adding the counts with one multi-row upsert per rollup: grouping them in SQL took
# a sort per dimension of every row. Measured by callgrind (loadtests/bench_writer.py, groups
# of 500): the fold 113,000 -> 88,000 instructions per event, still about half of the writer's
# 181,000. The AI referrals, a few per hundred events, keep their SQL. On PostgreSQL and for
# the purge the statements above are used. The collector's writer now adds the counts of the
# rows it wrote itself instead (unfolded_counts.py: 80k -> 48k); this read is its fallback.
_EVENT_ROWS = (
    f"SELECT property_id, ts - ts % {QUARTER_MS}, ts - ts % {HOUR_MS}, ua_class, type, "
    + ", ".join(EVENT_DIMENSIONS)
    + " FROM events NOT INDEXED WHERE id > ?1"
)
_NEWER = {"events": [_EVENT_ROWS], "ai_referrals": _referrals_sql("id > ?1", 1)}
_ADD_EVENTS = {
    table: (
        f"INSERT INTO {table} ({', '.join(_KEYS[table])}, events, pageviews, conversions) VALUES ",
        " " + _upsert(table, ", ".join(_KEYS[table]), _COUNTERS[:3]),
    )
    for table in ("stats_quarters", "stats_hours")
}
# Rows counted elsewhere (all four counters; SQLite): the writer's own tally of what it
# committed since the watermark (unfolded_counts.py).
_ADD_COUNTED = {
    table: (
        f"INSERT INTO {table} ({', '.join(_KEYS[table])}, {', '.join(_COUNTERS)}) VALUES ",
        " " + _upsert(table, ", ".join(_KEYS[table]), _COUNTERS),
    )
    for table in ("stats_quarters", "stats_hours")
}
_PICKED: dict[Dialect, dict[str, list[str]]] = {
    "sqlite": {
        table: build("id IN (SELECT value FROM json_each(?1))", -1)
        for table, build in _FOLD.items()
    },
    # Appended to the pending tables: the purge locks no rollup row the fold or a node needs.
    "postgres": {
        table: build("id = ANY(?)", -1, "postgres", pending=True) for table, build in _FOLD.items()
    },
}
_NEWER_POSTGRES = {table: build("id > ?", 1, "postgres") for table, build in _FOLD.items()}
# Every stored row, for `rebuild` on PostgreSQL (where there is no watermark to reset).
_EVERY_ROW = {table: build("true", 1, "postgres") for table, build in _FOLD.items()}
# A watermark past every id: PostgreSQL's rows are counted (pending) by their own commit.
EVERY_ID = 2**63 - 1
_EMPTY = (
    "DELETE FROM stats_quarters WHERE events = 0 AND ai_referrals = 0",
    "DELETE FROM stats_hours WHERE events = 0 AND ai_referrals = 0",
)


def _fold_pending_sql(table: str) -> str:
    # One statement: the DELETE and the INSERT share its snapshot, so exactly the deltas that
    # are deleted are added. Keys sorted: the rollup rows are locked in one order.
    keys = ", ".join(_KEYS[table])
    counters = ", ".join(_COUNTERS)
    sums = ", ".join(f"sum({c})" for c in _COUNTERS)
    return (
        f"WITH moved AS (DELETE FROM {table}_pending RETURNING {keys}, {counters})"
        f" INSERT INTO {table} ({keys}, {counters}) SELECT {keys}, {sums} FROM moved"
        f" GROUP BY {keys} ORDER BY {keys} " + _upsert(table, keys, _COUNTERS)
    )


_FOLD_PENDING = tuple(_fold_pending_sql(table) for table in _KEYS)
# What readers read on PostgreSQL instead of a rollup: the rollup with its pending deltas (the
# readers sum and group by key anyway).
_WITH_PENDING = {
    table: f"(SELECT {', '.join(keys + _COUNTERS)} FROM {table} UNION ALL"
    f" SELECT {', '.join(keys + _COUNTERS)} FROM {table}_pending) AS {table}"
    for table, keys in _KEYS.items()
}


def table(conn: Conn, name: str) -> str:
    """The FROM item a reader counts rollup `name` ("stats_quarters" or "stats_hours") from:
    on PostgreSQL the rollup and its pending deltas, in one snapshot (sum() by key)."""
    return name if dialect_of(conn) == "sqlite" else _WITH_PENDING[name]


def last_ids(conn: Conn) -> tuple[int, int]:
    """The newest event and AI referral ids, before a write adds rows after them."""
    row = conn.execute(
        "SELECT (SELECT coalesce(max(id), 0) FROM events),"
        " (SELECT coalesce(max(id), 0) FROM ai_referrals)"
    ).fetchone()
    return int(row[0]), int(row[1])


def folded(conn: Conn) -> tuple[int, int]:
    """The last event and AI referral ids already in the rollups (on PostgreSQL: all)."""
    if dialect_of(conn) == "postgres":
        return EVERY_ID, EVERY_ID
    row = conn.execute(
        "SELECT events_id, ai_referrals_id FROM stats_folded WHERE id = 1"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def fold_new(conn: Conn, after: tuple[int, int]) -> None:
    """Add the rows with ids above `after` (inside a write transaction; SQLite)."""
    quarters, hours = count_events(conn.execute(_EVENT_ROWS, (after[0],)))
    for table, counts in (("stats_quarters", quarters), ("stats_hours", hours)):
        if counts:
            head, tail = _ADD_EVENTS[table]
            insert_many(conn, head, tail, [(*key, *counts[key]) for key in sorted(counts)])
    for sql in _NEWER["ai_referrals"]:
        conn.execute(sql, (after[1],))


Counts = dict[tuple[Any, ...], list[int]]


def count_events(rows: Iterable[Sequence[Any]]) -> tuple[Counts, Counts]:
    """_EVENT_ROWS' rows counted by the rollups' keys: (events, pageviews, conversions) per
    (property_id, quarter, ua_class) and per (property_id, dimension, hour, ua_class, value),
    a missing value counted under '' (as the SQL's coalesce does)."""
    quarters: Counts = {}
    hours: Counts = {}
    for property_id, quarter, hour, ua_class, kind, *values in rows:
        pageview = kind == "pageview"
        conversion = kind == "conversion"
        key: tuple[Any, ...] = (property_id, quarter, ua_class)
        counts = quarters.get(key)
        if counts is None:
            counts = quarters[key] = [0, 0, 0]
        counts[0] += 1
        if pageview:
            counts[1] += 1
        elif conversion:
            counts[2] += 1
        for dimension, value in zip(EVENT_DIMENSIONS, values, strict=True):
            key = (property_id, dimension, hour, ua_class, "" if value is None else value)
            counts = hours.get(key)
            if counts is None:
                counts = hours[key] = [0, 0, 0]
            counts[0] += 1
            if pageview:
                counts[1] += 1
            elif conversion:
                counts[2] += 1
    return quarters, hours


def fold(conn: Conn) -> bool:
    """Add every row past the watermark and move it (inside a write transaction). On
    PostgreSQL: move the pending deltas into the rollups, if no other node is doing so (False
    when one is: the caller's transaction did nothing)."""
    if dialect_of(conn) == "postgres":
        return fold_pending(conn)
    after, newest = folded(conn), last_ids(conn)
    if newest == after:
        return True
    fold_new(conn, after)
    move_watermark(conn, newest)
    return True


def move_watermark(conn: Conn, newest: tuple[int, int]) -> None:
    """The rows up to these event and AI referral ids are in the rollups (SQLite)."""
    conn.execute("UPDATE stats_folded SET events_id = ?, ai_referrals_id = ? WHERE id = 1", newest)


def add_counted(
    conn: Conn, quarters: Sequence[Sequence[Any]], hours: Sequence[Sequence[Any]]
) -> None:
    """Add rows counted in Python (batch_rollups.rollup_rows: key columns, then events,
    pageviews, conversions, AI referrals; in key order) to the rollups (SQLite; the caller
    moves the watermark in the same transaction)."""
    for table, rows in (("stats_quarters", quarters), ("stats_hours", hours)):
        if rows:
            head, tail = _ADD_COUNTED[table]
            insert_many(conn, head, tail, rows)


def fold_pending(conn: Conn, wait: bool = False) -> bool:
    """PostgreSQL: the pending deltas into the rollups, inside the caller's transaction, under
    a transaction-scoped advisory lock (released at its end; a node that dies mid-fold rolls
    back and frees it). False, having done nothing, when another transaction holds it, unless
    `wait` (a node stopping: its last deltas are folded before it goes)."""
    if wait:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (FOLD_LOCK_KEY,))
    elif not conn.execute("SELECT pg_try_advisory_xact_lock(?)", (FOLD_LOCK_KEY,)).fetchone()[0]:
        return False
    for sql in _FOLD_PENDING:
        conn.execute(sql)
    # Rows that negative deltas (the purge's) brought to zero go, as `subtract` does on SQLite.
    for sql in _EMPTY:
        conn.execute(sql)
    return True


def fold_copied(conn: Conn) -> None:
    """After `optiview db copy` into PostgreSQL (inside its transaction): add the copied rows
    that SQLite had not folded yet (past the copied watermark), since from now on PostgreSQL
    counts each commit's rows in that commit (as pending deltas) and folds nothing by id."""
    row = conn.execute(
        "SELECT events_id, ai_referrals_id FROM stats_folded WHERE id = 1"
    ).fetchone()
    after = (int(row[0]), int(row[1])) if row else (0, 0)
    for table, newest in zip(("events", "ai_referrals"), after, strict=True):
        for sql in _NEWER_POSTGRES[table]:
            conn.execute(sql, (newest,) * sql.count("?"))
    conn.execute(
        "UPDATE stats_folded SET events_id = (SELECT coalesce(max(id), 0) FROM events),"
        " ai_referrals_id = (SELECT coalesce(max(id), 0) FROM ai_referrals) WHERE id = 1"
    )


def subtract(conn: Conn, table: str, ids: Sequence[int]) -> None:
    """Take rows about to be deleted out of the rollups (call before the DELETE, inside its
    transaction); rollup rows left at zero go."""
    if table not in ROLLED_UP_TABLES:
        return
    dialect = dialect_of(conn)
    watermark = folded(conn)[0 if table == "events" else 1]
    ids = [i for i in ids if i <= watermark]  # rows past it were never added
    if not ids:
        return
    for sql in _PICKED[dialect][table]:
        if dialect == "sqlite":  # ?1, numbered: one parameter however often it is used
            conn.execute(sql, ("[" + ",".join(str(int(i)) for i in ids) + "]",))
        else:  # PostgreSQL numbers no `?`: the array once per use
            conn.execute(sql, ([int(i) for i in ids],) * sql.count("?"))
    if dialect == "postgres":  # negative pending deltas: the fold removes emptied rows
        return
    # Found through the partial indexes on empty rows (0008_stats_rollups.sql).
    for sql in _EMPTY:
        conn.execute(sql)


def rebuild(conn: Conn) -> None:
    """Empty the rollups and fold every stored row (the migration's backfill, and the bench)."""
    conn.execute("DELETE FROM stats_quarters")
    conn.execute("DELETE FROM stats_hours")
    conn.execute("DELETE FROM stats_quarters_pending")  # stays empty on SQLite
    conn.execute("DELETE FROM stats_hours_pending")
    if dialect_of(conn) == "sqlite":
        conn.execute("UPDATE stats_folded SET events_id = 0, ai_referrals_id = 0")
        fold(conn)
        return
    for statements in _EVERY_ROW.values():
        for sql in statements:
            conn.execute(sql)


__all__ = [
    "FOLD_EVERY_S",
    "FOLD_LOCK_KEY",
    "HOUR_MS",
    "QUARTER_MS",
    "add_counted",
    "fold",
    "fold_copied",
    "fold_pending",
    "folded",
    "move_watermark",
    "rebuild",
    "subtract",
    "table",
]
