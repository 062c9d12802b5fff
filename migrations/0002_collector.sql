-- Collector tables: events, sessions, content discovery, AI-attributed landings, and the
-- per-minute request rollups that the alert rules read. Times are integer ms since the epoch.
-- No foreign keys on the hot tables: every insert would pay for the lookups, and the collector
-- has already checked the key, property and project before writing.

CREATE TABLE events (
    id             INTEGER PRIMARY KEY,
    property_id    INTEGER NOT NULL,
    project_id     TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    type           TEXT NOT NULL CHECK (type IN ('pageview', 'click', 'custom', 'conversion')),
    name           TEXT,
    url            TEXT,
    path           TEXT,
    referrer       TEXT,
    referrer_host  TEXT,
    title          TEXT,
    ai_source      TEXT,
    ai_source_via  TEXT,
    ua_class       TEXT NOT NULL CHECK (ua_class IN ('human', 'bot', 'ai_crawler', 'ai_agent')),
    crawler        TEXT,
    crawler_kind   TEXT,
    browser        TEXT,
    os             TEXT,
    device         TEXT,
    country        TEXT,
    user_agent     TEXT,
    session_id     TEXT,
    props          TEXT,
    ts             INTEGER NOT NULL,
    received_at    INTEGER NOT NULL
);

CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX events_property_received_at ON events (property_id, received_at);

-- One row per session id (from the tag's first-party cookie) and property.
CREATE TABLE sessions (
    property_id   INTEGER NOT NULL,
    id            TEXT NOT NULL,
    project_id    TEXT NOT NULL,
    entry_url     TEXT,
    entry_path    TEXT,
    referrer      TEXT,
    ai_source     TEXT,
    ua_class      TEXT NOT NULL,
    pageviews     INTEGER NOT NULL DEFAULT 0,
    events        INTEGER NOT NULL DEFAULT 0,
    started_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (property_id, id)
);

CREATE INDEX sessions_last_seen_at ON sessions (last_seen_at);

-- Pages discovered from pageviews: one row per property and path.
CREATE TABLE content (
    property_id    INTEGER NOT NULL,
    path           TEXT NOT NULL,
    project_id     TEXT NOT NULL,
    url            TEXT,
    title          TEXT,
    content_type   TEXT NOT NULL,
    views          INTEGER NOT NULL DEFAULT 0,
    ai_views       INTEGER NOT NULL DEFAULT 0,
    crawler_views  INTEGER NOT NULL DEFAULT 0,
    first_seen_at  INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    PRIMARY KEY (property_id, path)
);

CREATE INDEX content_last_seen_at ON content (last_seen_at);

-- Pageviews attributed to an enabled AI source: the landings that AI assistants sent.
CREATE TABLE ai_referrals (
    id           INTEGER PRIMARY KEY,
    property_id  INTEGER NOT NULL,
    project_id   TEXT NOT NULL,
    session_id   TEXT,
    ai_source    TEXT NOT NULL,
    via          TEXT NOT NULL CHECK (via IN ('referrer', 'utm_source')),
    referrer     TEXT,
    url          TEXT,
    path         TEXT,
    landed_at    INTEGER NOT NULL
);

CREATE INDEX ai_referrals_landed_at ON ai_referrals (landed_at);
CREATE INDEX ai_referrals_property_landed_at ON ai_referrals (property_id, landed_at);

-- Collector requests per minute, summed over every worker process. Latency counts are per
-- bucket (not cumulative), bucket upper bounds in ms: 1, 2.5, 5, 10, 25, 50, 100, 150, 200,
-- 250, 300, 500, 1000, 2500, 5000, 10000, and above.
CREATE TABLE request_rollups (
    minute       INTEGER PRIMARY KEY,
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
    le_inf       INTEGER NOT NULL DEFAULT 0
);
