-- PostgreSQL twin of migrations/0008_stats_rollups.sql.

CREATE TABLE stats_quarters (
    property_id   BIGINT NOT NULL,
    quarter       BIGINT NOT NULL,
    ua_class      TEXT NOT NULL,
    events        BIGINT NOT NULL DEFAULT 0,
    pageviews     BIGINT NOT NULL DEFAULT 0,
    conversions   BIGINT NOT NULL DEFAULT 0,
    ai_referrals  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (property_id, quarter, ua_class)
);

CREATE TABLE stats_hours (
    property_id   BIGINT NOT NULL,
    dimension     TEXT NOT NULL,
    hour          BIGINT NOT NULL,
    ua_class      TEXT NOT NULL,
    value         TEXT NOT NULL,
    events        BIGINT NOT NULL DEFAULT 0,
    pageviews     BIGINT NOT NULL DEFAULT 0,
    conversions   BIGINT NOT NULL DEFAULT 0,
    ai_referrals  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (property_id, dimension, hour, ua_class, value)
);

CREATE INDEX stats_quarters_empty ON stats_quarters (property_id)
    WHERE events = 0 AND ai_referrals = 0;
CREATE INDEX stats_hours_empty ON stats_hours (property_id)
    WHERE events = 0 AND ai_referrals = 0;

CREATE INDEX events_property_ts ON events (property_id, ts);
CREATE INDEX sessions_property_started_at ON sessions (property_id, started_at, ua_class);
CREATE INDEX events_property_conversions ON events (property_id, ts)
    WHERE type = 'conversion';

-- The backfill, translated (a no-op on a database created with these files, whose events are
-- empty; kept so that the twins stay equal in effect). The tables are new and every row is
-- grouped by its key, so the event rows are plain inserts and only the referral rows upsert
-- (one statement never touches a row twice, as PostgreSQL's ON CONFLICT requires).
-- sum(type = 'pageview') is count(*) FILTER; ifnull is coalesce.
INSERT INTO stats_quarters (property_id, quarter, ua_class, events, pageviews, conversions)
    SELECT property_id, ts - ts % 900000, ua_class, count(*),
        count(*) FILTER (WHERE type = 'pageview'), count(*) FILTER (WHERE type = 'conversion')
    FROM events GROUP BY 1, 2, 3;
INSERT INTO stats_hours (property_id, dimension, hour, ua_class, value, events, pageviews,
        conversions)
    SELECT e.property_id, d.dimension, e.ts - e.ts % 3600000, e.ua_class, coalesce(d.value, ''),
        count(*), count(*) FILTER (WHERE e.type = 'pageview'),
        count(*) FILTER (WHERE e.type = 'conversion')
    FROM events AS e CROSS JOIN LATERAL (VALUES
        ('country', e.country), ('device', e.device), ('browser', e.browser), ('os', e.os),
        ('ua_class', e.ua_class), ('crawler', e.crawler), ('crawler_kind', e.crawler_kind),
        ('ai_source', e.ai_source), ('referrer_host', e.referrer_host), ('path', e.path),
        ('type', e.type), ('name', e.name)
    ) AS d (dimension, value)
    GROUP BY 1, 2, 3, 4, 5;
INSERT INTO stats_quarters (property_id, quarter, ua_class, ai_referrals)
    SELECT property_id, landed_at - landed_at % 900000, coalesce(ua_class, ''), count(*)
    FROM ai_referrals GROUP BY 1, 2, 3
    ON CONFLICT (property_id, quarter, ua_class)
    DO UPDATE SET ai_referrals = stats_quarters.ai_referrals + excluded.ai_referrals;
INSERT INTO stats_hours (property_id, dimension, hour, ua_class, value, ai_referrals)
    SELECT r.property_id, d.dimension, r.landed_at - r.landed_at % 3600000,
        coalesce(r.ua_class, ''), coalesce(d.value, ''), count(*)
    FROM ai_referrals AS r CROSS JOIN LATERAL (VALUES
        ('ai_source', r.ai_source), ('ua_class', r.ua_class), ('path', r.path)
    ) AS d (dimension, value)
    GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT (property_id, dimension, hour, ua_class, value)
    DO UPDATE SET ai_referrals = stats_hours.ai_referrals + excluded.ai_referrals;
