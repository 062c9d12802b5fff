-- Collector request rollups keyed per node: (minute, node) instead of minute alone, so that
-- several `optiview serve` nodes on one database each add to their own row rather than all
-- waiting on one row lock per minute. Readers (the alert rules) sum the nodes of a minute.
-- `node` is OPTIVIEW_NODE (default host:pid); rows from before this migration get ''.
-- SQLite cannot change a primary key in place: the table is rebuilt (D1 allows no PRAGMA or
-- transaction control here; wrangler runs the file as one batch).

CREATE TABLE request_rollups_per_node (
    minute       INTEGER NOT NULL,
    node         TEXT NOT NULL DEFAULT '',
    requests     INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,
    events       INTEGER NOT NULL DEFAULT 0,
    latency_ms_sum REAL NOT NULL DEFAULT 0,
    le_1         INTEGER NOT NULL DEFAULT 0,
    le_2_5       INTEGER NOT NULL DEFAULT 0,
    le_5         INTEGER NOT NULL DEFAULT 0,
    le_10        INTEGER NOT NULL DEFAULT 0,
    le_25        INTEGER NOT NULL DEFAULT 0,
    le_50        INTEGER NOT NULL DEFAULT 0,
    le_100       INTEGER NOT NULL DEFAULT 0,
    le_150       INTEGER NOT NULL DEFAULT 0,
    le_200       INTEGER NOT NULL DEFAULT 0,
    le_250       INTEGER NOT NULL DEFAULT 0,
    le_300       INTEGER NOT NULL DEFAULT 0,
    le_500       INTEGER NOT NULL DEFAULT 0,
    le_1000      INTEGER NOT NULL DEFAULT 0,
    le_2500      INTEGER NOT NULL DEFAULT 0,
    le_5000      INTEGER NOT NULL DEFAULT 0,
    le_10000     INTEGER NOT NULL DEFAULT 0,
    le_inf       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, node)
);

INSERT INTO request_rollups_per_node (minute, node,
    requests, errors, events, latency_ms_sum, le_1, le_2_5, le_5, le_10, le_25,
    le_50, le_100, le_150, le_200, le_250, le_300, le_500, le_1000, le_2500, le_5000, le_10000,
    le_inf)
SELECT minute, '',
    requests, errors, events, latency_ms_sum, le_1, le_2_5, le_5, le_10, le_25,
    le_50, le_100, le_150, le_200, le_250, le_300, le_500, le_1000, le_2500, le_5000, le_10000,
    le_inf
FROM request_rollups;

DROP TABLE request_rollups;

ALTER TABLE request_rollups_per_node RENAME TO request_rollups;
