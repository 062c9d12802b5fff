-- PostgreSQL twin of migrations/0013_crawler_verification.sql.
ALTER TABLE events ADD COLUMN crawler_verified TEXT;
ALTER TABLE events ADD COLUMN hit_source TEXT NOT NULL DEFAULT 'collector';
ALTER TABLE events ADD COLUMN log_digest TEXT;
CREATE UNIQUE INDEX events_property_log_digest ON events (property_id, log_digest)
    WHERE log_digest IS NOT NULL;
