-- AI referrals carry the visitor class of the pageview that landed, so that every count meant
-- for people (content.ai_views, the onboarding checklist, the read API) leaves out bots and
-- headless browsers that arrive with an AI referrer, while their referrals stay stored.
-- NULL only for a referral stored before this migration whose pageview is no longer there:
-- its class is unknown, and it is not counted as a person.
ALTER TABLE ai_referrals ADD COLUMN ua_class TEXT
    CHECK (ua_class IN ('human', 'bot', 'ai_crawler', 'ai_agent'));

-- Backfill from the pageview each referral was written with: the same request, so the same
-- property, receive time, AI source, url and session (found through the index on events
-- (property_id, received_at)). Should two requests match in the same millisecond, the class
-- that is not human wins: a count for people must not take in a bot.
UPDATE ai_referrals SET ua_class = (
    SELECT e.ua_class FROM events AS e
    WHERE e.property_id = ai_referrals.property_id
        AND e.received_at = ai_referrals.landed_at
        AND e.type = 'pageview'
        AND e.ai_source = ai_referrals.ai_source
        AND e.url IS ai_referrals.url
        AND e.session_id IS ai_referrals.session_id
    ORDER BY e.ua_class = 'human'
    LIMIT 1
);
