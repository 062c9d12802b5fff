-- Project read tokens for the read API (GET /api/v1/projects/{id}/stats/...): a partner reads
-- its own project and nothing else. Only the HMAC-SHA256 of a token is stored (KEY_HASH_SECRET
-- is the pepper), so it is shown once, when created.

CREATE TABLE read_tokens (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE INDEX read_tokens_project ON read_tokens (project_id);
