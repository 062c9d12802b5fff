-- PostgreSQL twin of migrations/0007_read_tokens.sql.

CREATE TABLE read_tokens (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE INDEX read_tokens_project ON read_tokens (project_id);
