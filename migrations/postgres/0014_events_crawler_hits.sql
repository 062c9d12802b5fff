-- PostgreSQL twin of migrations/0014_events_crawler_hits.sql.
CREATE INDEX events_property_crawler_ts
    ON events (property_id, ts, crawler, crawler_kind, ua_class, crawler_verified, off_site, path)
    WHERE crawler IS NOT NULL;
