-- Pending deltas of the read API's rollups (0008_stats_rollups.sql), for PostgreSQL: there each
-- commit appends its own counts here instead of updating the shared rollup rows (whose row locks
-- every writer of every node queued on), and one node at a time folds them into the rollups
-- every couple of seconds; readers add the rows still here (ingest/stats/rollups.py).
-- On SQLite (and D1) these tables exist only to keep the two schemas equal and stay EMPTY: the
-- SQLite collector folds its rows past a watermark (0010_stats_folded.sql) and never writes here.
-- Append-only, so no primary key: the same key appears once per commit until it is folded.

CREATE TABLE stats_quarters_pending (
    property_id   INTEGER NOT NULL,
    quarter       INTEGER NOT NULL,
    ua_class      TEXT NOT NULL,
    events        INTEGER NOT NULL DEFAULT 0,
    pageviews     INTEGER NOT NULL DEFAULT 0,
    conversions   INTEGER NOT NULL DEFAULT 0,
    ai_referrals  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE stats_hours_pending (
    property_id   INTEGER NOT NULL,
    dimension     TEXT NOT NULL,
    hour          INTEGER NOT NULL,
    ua_class      TEXT NOT NULL,
    value         TEXT NOT NULL,
    events        INTEGER NOT NULL DEFAULT 0,
    pageviews     INTEGER NOT NULL DEFAULT 0,
    conversions   INTEGER NOT NULL DEFAULT 0,
    ai_referrals  INTEGER NOT NULL DEFAULT 0
);
