-- PostgreSQL twin of migrations/0010_stats_folded.sql. The row is needed on a fresh database
-- too (the read API reads it), so this insert is no backfill to skip: ifnull is coalesce.
CREATE TABLE stats_folded (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    events_id        BIGINT NOT NULL,
    ai_referrals_id  BIGINT NOT NULL
);

INSERT INTO stats_folded (id, events_id, ai_referrals_id) VALUES (
    1,
    (SELECT coalesce(max(id), 0) FROM events),
    (SELECT coalesce(max(id), 0) FROM ai_referrals)
);
