-- How far the read API's rollups (0008_stats_rollups.sql) have folded the rows: the collector
-- folds every couple of seconds rather than in each commit (a commit of a few events would pay
-- a dozen rollup writes per event), and the read API counts the rows past these ids itself.
-- Until now every commit folded its own rows, so everything stored is folded.
CREATE TABLE stats_folded (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    events_id        INTEGER NOT NULL,
    ai_referrals_id  INTEGER NOT NULL
);

INSERT INTO stats_folded (id, events_id, ai_referrals_id) VALUES (
    1,
    (SELECT ifnull(max(id), 0) FROM events),
    (SELECT ifnull(max(id), 0) FROM ai_referrals)
);
