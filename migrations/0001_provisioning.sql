-- Provisioning: organisations, projects, properties, API keys and per-project AI sources.
-- D1 rules: no PRAGMA, transactions, TEMP tables, ATTACH or VACUUM here; connection pragmas
-- are set in code. Times are integer milliseconds since the epoch, UTC.

CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    domain      TEXT NOT NULL,
    plan        TEXT NOT NULL CHECK (plan IN ('starter', 'growth', 'pro')),
    created_at  INTEGER NOT NULL
);

CREATE TABLE projects (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    domain       TEXT NOT NULL,
    description  TEXT,
    created_at   INTEGER NOT NULL,
    UNIQUE (org_id, domain)
);

CREATE TABLE properties (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    domain      TEXT NOT NULL,
    type        TEXT NOT NULL CHECK (type IN ('website', 'app', 'api')),
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at  INTEGER NOT NULL,
    UNIQUE (project_id, domain)
);

CREATE INDEX properties_domain ON properties (domain);

-- Only the HMAC-SHA256 of a key's secret is stored (KEY_HASH_SECRET is the pepper).
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    property_id   INTEGER NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    rotated_at    INTEGER,
    last_used_at  INTEGER
);

CREATE INDEX api_keys_property ON api_keys (property_id);

CREATE TABLE project_ai_sources (
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    source      TEXT NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (project_id, source)
);
