-- PostgreSQL twin of migrations/0006_events_off_site.sql.
ALTER TABLE events ADD COLUMN off_site INTEGER NOT NULL DEFAULT 0 CHECK (off_site IN (0, 1));
