-- Off-site events (URLs not on the property's site, 0006) by time, for the read API's content
-- answer: the hourly path rollups count every event's path, so the pageviews of another site's
-- URL that shares a path with one of the property's pages are taken back out from these rows.
-- Partial: such events are rare, so the collector's ordinary inserts never touch this index.
CREATE INDEX events_property_off_site_ts ON events (property_id, ts) WHERE off_site = 1;
