-- PostgreSQL twin of migrations/0009_events_off_site_index.sql.
CREATE INDEX events_property_off_site_ts ON events (property_id, ts) WHERE off_site = 1;
