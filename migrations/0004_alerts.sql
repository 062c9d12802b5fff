-- Alerts: every notification (firing, resolved, test) with its delivery to Slack, and the
-- state per rule and subject that deduplicates them across runs, restarts and nodes.

CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    rule             TEXT NOT NULL,
    subject          TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('firing', 'resolved', 'test')),
    value            REAL,
    threshold        REAL,
    window_start     INTEGER,
    window_end       INTEGER,
    message          TEXT NOT NULL,
    payload          TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    delivery         TEXT NOT NULL
        CHECK (delivery IN ('pending', 'sending', 'sent', 'failed', 'no_webhook', 'abandoned')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_attempt_at  INTEGER,
    last_error       TEXT,
    delivered_at     INTEGER
);

CREATE INDEX alerts_created_at ON alerts (created_at);
CREATE INDEX alerts_delivery ON alerts (delivery, created_at);

CREATE TABLE alert_states (
    rule              TEXT NOT NULL,
    subject           TEXT NOT NULL,
    firing            INTEGER NOT NULL DEFAULT 0 CHECK (firing IN (0, 1)),
    since             INTEGER,
    last_fired_at     INTEGER,
    episode_notified  INTEGER NOT NULL DEFAULT 0 CHECK (episode_notified IN (0, 1)),
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (rule, subject)
);
