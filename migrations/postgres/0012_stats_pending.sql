-- PostgreSQL twin of migrations/0012_stats_pending.sql: the rollups' pending deltas. Each
-- commit appends its counts here (no ON CONFLICT: no row lock shared between writers or nodes);
-- one node at a time (an advisory lock) folds them into stats_quarters/stats_hours every
-- couple of seconds; readers add what is still here. No index: the tables hold a few seconds
-- of deltas, which readers scan, and every index would cost each commit's insert.

CREATE TABLE stats_quarters_pending (
    property_id   BIGINT NOT NULL,
    quarter       BIGINT NOT NULL,
    ua_class      TEXT NOT NULL,
    events        BIGINT NOT NULL DEFAULT 0,
    pageviews     BIGINT NOT NULL DEFAULT 0,
    conversions   BIGINT NOT NULL DEFAULT 0,
    ai_referrals  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE stats_hours_pending (
    property_id   BIGINT NOT NULL,
    dimension     TEXT NOT NULL,
    hour          BIGINT NOT NULL,
    ua_class      TEXT NOT NULL,
    value         TEXT NOT NULL,
    events        BIGINT NOT NULL DEFAULT 0,
    pageviews     BIGINT NOT NULL DEFAULT 0,
    conversions   BIGINT NOT NULL DEFAULT 0,
    ai_referrals  BIGINT NOT NULL DEFAULT 0
);
