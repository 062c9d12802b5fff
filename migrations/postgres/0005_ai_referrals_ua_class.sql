-- PostgreSQL twin of migrations/0005_ai_referrals_ua_class.sql.
ALTER TABLE ai_referrals ADD COLUMN ua_class TEXT
    CHECK (ua_class IN ('human', 'bot', 'ai_crawler', 'ai_agent'));

-- The backfill, translated (a no-op on a database created with this file, whose ai_referrals
-- are empty; kept so that the twins stay equal in effect): SQLite's `IS` is
-- IS NOT DISTINCT FROM, and false sorts before true in both, so a class that is not human wins.
UPDATE ai_referrals SET ua_class = (
    SELECT e.ua_class FROM events AS e
    WHERE e.property_id = ai_referrals.property_id
        AND e.received_at = ai_referrals.landed_at
        AND e.type = 'pageview'
        AND e.ai_source = ai_referrals.ai_source
        AND e.url IS NOT DISTINCT FROM ai_referrals.url
        AND e.session_id IS NOT DISTINCT FROM ai_referrals.session_id
    ORDER BY e.ua_class = 'human'
    LIMIT 1
);
