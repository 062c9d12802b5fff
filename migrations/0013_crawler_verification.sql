-- Crawler verification, and hits from server and CDN logs.
-- crawler_verified: for a hit that claims a known crawler, how the claim was checked:
--   'web_bot_auth' (a valid HTTP message signature by the operator's published key),
--   'ip_range' (the client address is in the operator's published ranges), 'none' (nothing to
--   check it by) or 'failed' (the evidence contradicts it: such a hit is stored with ua_class
--   'bot' and the claimed crawler kept). NULL when no known crawler is claimed. Raw client
--   addresses are never stored, only this outcome.
-- hit_source: 'collector' (POST /v1/events) or 'log' (POST /v1/logs, `optiview logs import`).
-- log_digest: a log line's digest, unique per property, so importing a file again adds nothing.
--   Partial: the collector's events carry none, so their inserts never touch the index.
-- No CHECK (... IN ...): on SQLite 3.40 each such check builds a small temporary B-tree per
-- inserted row (measured in issue 14); the collector is the only writer of these values.
ALTER TABLE events ADD COLUMN crawler_verified TEXT;
ALTER TABLE events ADD COLUMN hit_source TEXT NOT NULL DEFAULT 'collector';
ALTER TABLE events ADD COLUMN log_digest TEXT;
CREATE UNIQUE INDEX events_property_log_digest ON events (property_id, log_digest)
    WHERE log_digest IS NOT NULL;
