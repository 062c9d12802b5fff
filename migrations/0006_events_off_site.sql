-- An event whose url is not on its property's site (the property domain or www. of it) is
-- stored, flagged, rather than refused: nothing is dropped silently, yet no content row is
-- made for another site's pages. The collector fills it; rows stored before are on-site (0),
-- as they were counted then.
ALTER TABLE events ADD COLUMN off_site INTEGER NOT NULL DEFAULT 0 CHECK (off_site IN (0, 1));
