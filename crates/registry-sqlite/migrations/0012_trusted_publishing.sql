-- Trusted publishers: each whole as JSON, found by plugin (owners' lists) and by
-- the CI identity's lookup key (a token's exchange).
CREATE TABLE trusted_publishers (
    id TEXT PRIMARY KEY,
    plugin TEXT NOT NULL,
    lookup_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX trusted_publishers_by_plugin ON trusted_publishers (plugin, created_at, id);
CREATE INDEX trusted_publishers_by_ci ON trusted_publishers (lookup_key);

-- Publish tokens, by the hash of their secret. The unique (issuer, jti) makes
-- each CI token exchangeable once; rows past retain_until are pruned on insert.
CREATE TABLE publish_tokens (
    hash TEXT PRIMARY KEY,
    issuer TEXT NOT NULL,
    jti TEXT NOT NULL,
    retain_until TEXT NOT NULL,
    record TEXT NOT NULL,
    UNIQUE (issuer, jti)
) WITHOUT ROWID;

CREATE INDEX publish_tokens_by_retention ON publish_tokens (retain_until);
