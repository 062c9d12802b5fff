-- Cron bookkeeping (purge, alerts): a heartbeat per run, a lease per job so that two runs
-- never overlap, and the purge log. Times are integer ms since the epoch.

CREATE TABLE cron_runs (
    id           INTEGER PRIMARY KEY,
    job          TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    status       TEXT NOT NULL CHECK (status IN ('running', 'ok', 'failed')),
    error        TEXT,
    holder       TEXT NOT NULL,
    summary      TEXT
);

CREATE INDEX cron_runs_job_started_at ON cron_runs (job, started_at);

CREATE TABLE cron_leases (
    job         TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    run_id      INTEGER,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE purge_log (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL,
    table_name    TEXT NOT NULL,
    org_id        TEXT,
    plan          TEXT,
    cutoff        INTEGER NOT NULL,
    rows_deleted  INTEGER NOT NULL,
    duration_ms   REAL NOT NULL,
    logged_at     INTEGER NOT NULL
);

CREATE INDEX purge_log_logged_at ON purge_log (logged_at);

-- The purge deletes per property and time: these let it find expired rows without a scan.
CREATE INDEX sessions_property_last_seen_at ON sessions (property_id, last_seen_at);
CREATE INDEX content_property_last_seen_at ON content (property_id, last_seen_at);
