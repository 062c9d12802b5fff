-- Rollups for the read API (ingest/stats/rollups.py keeps them; ingest/stats/counts.py reads
-- them). Counts per property and time bucket, kept exact: the collector adds its rows in the
-- transaction that writes them and the purge subtracts the rows it deletes in the same chunk.
-- Key columns hold '' for an unknown value or class (they cannot be NULL in a key).

-- Events by the quarter hour of ts, AI referrals by the quarter hour of landed_at, per class:
-- local hours and days start on a quarter hour in every zone, so series read this whole.
CREATE TABLE stats_quarters (
    property_id   INTEGER NOT NULL,
    quarter       INTEGER NOT NULL,
    ua_class      TEXT NOT NULL,
    events        INTEGER NOT NULL DEFAULT 0,
    pageviews     INTEGER NOT NULL DEFAULT 0,
    conversions   INTEGER NOT NULL DEFAULT 0,
    ai_referrals  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (property_id, quarter, ua_class)
);

-- The same per hour and value of each dimension (country, path, ai_source...), for breakdowns.
CREATE TABLE stats_hours (
    property_id   INTEGER NOT NULL,
    dimension     TEXT NOT NULL,
    hour          INTEGER NOT NULL,
    ua_class      TEXT NOT NULL,
    value         TEXT NOT NULL,
    events        INTEGER NOT NULL DEFAULT 0,
    pageviews     INTEGER NOT NULL DEFAULT 0,
    conversions   INTEGER NOT NULL DEFAULT 0,
    ai_referrals  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (property_id, dimension, hour, ua_class, value)
);

-- Rows the purge has emptied, found without a scan.
CREATE INDEX stats_quarters_empty ON stats_quarters (property_id)
    WHERE events = 0 AND ai_referrals = 0;
CREATE INDEX stats_hours_empty ON stats_hours (property_id)
    WHERE events = 0 AND ai_referrals = 0;

-- The unaligned edges of a range are counted from the rows themselves.
CREATE INDEX events_property_ts ON events (property_id, ts);
CREATE INDEX sessions_property_started_at ON sessions (property_id, started_at, ua_class);
-- Conversions by the source of their session: few rows, so a partial index costs the
-- collector nothing on the other events.
CREATE INDEX events_property_conversions ON events (property_id, ts)
    WHERE type = 'conversion';

-- Backfill: the rows stored before this migration (the same fold as the collector's).
INSERT INTO stats_quarters (property_id, quarter, ua_class, events, pageviews, conversions) SELECT property_id, ts - ts % 900000, ua_class, 1 * count(*), 1 * sum(type = 'pageview'), 1 * sum(type = 'conversion') FROM events WHERE id > 0 GROUP BY 1, 2, 3 ON CONFLICT (property_id, quarter, ua_class) DO UPDATE SET events = stats_quarters.events + excluded.events, pageviews = stats_quarters.pageviews + excluded.pageviews, conversions = stats_quarters.conversions + excluded.conversions;
INSERT INTO stats_hours (property_id, dimension, hour, ua_class, value, events, pageviews, conversions) SELECT property_id, dimension, hour, ua_class, value, 1 * count(*), 1 * sum(type = 'pageview'), 1 * sum(type = 'conversion') FROM (SELECT property_id, 'country' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(country, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'device' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(device, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'browser' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(browser, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'os' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(os, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'ua_class' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(ua_class, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'crawler' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(crawler, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'crawler_kind' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(crawler_kind, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'ai_source' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(ai_source, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'referrer_host' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(referrer_host, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'path' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(path, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'type' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(type, '') AS value, type FROM events WHERE id > 0 UNION ALL SELECT property_id, 'name' AS dimension, ts - ts % 3600000 AS hour, ua_class, ifnull(name, '') AS value, type FROM events WHERE id > 0) GROUP BY 1, 2, 3, 4, 5 ON CONFLICT (property_id, dimension, hour, ua_class, value) DO UPDATE SET events = stats_hours.events + excluded.events, pageviews = stats_hours.pageviews + excluded.pageviews, conversions = stats_hours.conversions + excluded.conversions;
INSERT INTO stats_quarters (property_id, quarter, ua_class, ai_referrals) SELECT property_id, landed_at - landed_at % 900000, ifnull(ua_class, ''), 1 * count(*) FROM ai_referrals WHERE id > 0 GROUP BY 1, 2, 3 ON CONFLICT (property_id, quarter, ua_class) DO UPDATE SET ai_referrals = stats_quarters.ai_referrals + excluded.ai_referrals;
INSERT INTO stats_hours (property_id, dimension, hour, ua_class, value, ai_referrals) SELECT property_id, dimension, hour, ua_class, value, 1 * count(*) FROM (SELECT property_id, 'ai_source' AS dimension, landed_at - landed_at % 3600000 AS hour, ifnull(ua_class, '') AS ua_class, ifnull(ai_source, '') AS value FROM ai_referrals WHERE id > 0 UNION ALL SELECT property_id, 'ua_class' AS dimension, landed_at - landed_at % 3600000 AS hour, ifnull(ua_class, '') AS ua_class, ifnull(ua_class, '') AS value FROM ai_referrals WHERE id > 0 UNION ALL SELECT property_id, 'path' AS dimension, landed_at - landed_at % 3600000 AS hour, ifnull(ua_class, '') AS ua_class, ifnull(path, '') AS value FROM ai_referrals WHERE id > 0) GROUP BY 1, 2, 3, 4, 5 ON CONFLICT (property_id, dimension, hour, ua_class, value) DO UPDATE SET ai_referrals = stats_hours.ai_referrals + excluded.ai_referrals;
