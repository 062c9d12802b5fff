-- PostgreSQL twin of migrations/0011_request_rollups_per_node.sql: the rollups keyed by
-- (minute, node). A column with a constant default is added without rewriting the table.

ALTER TABLE request_rollups ADD COLUMN node TEXT NOT NULL DEFAULT '';

ALTER TABLE request_rollups DROP CONSTRAINT request_rollups_pkey;

ALTER TABLE request_rollups ADD CONSTRAINT request_rollups_pkey PRIMARY KEY (minute, node);
