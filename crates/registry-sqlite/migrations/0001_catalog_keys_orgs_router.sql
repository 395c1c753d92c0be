-- The schema as the last release before versioned migrations made it. Every
-- statement tolerates what exists, because databases from those releases are
-- adopted by applying this migration to them (see src/migrations.rs).
CREATE TABLE IF NOT EXISTS plugins (
    slug TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    downloads INTEGER NOT NULL DEFAULT 0,
    revision INTEGER NOT NULL,
    latest TEXT,
    healthy_instances INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS versions (
    slug TEXT NOT NULL,
    version TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (slug, version)
);
CREATE TABLE IF NOT EXISTS daily_downloads (
    slug TEXT NOT NULL,
    version TEXT NOT NULL,
    day TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (slug, version, day)
);
CREATE TABLE IF NOT EXISTS principals (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    principal TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_by_principal ON api_keys (principal, created_at);
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (name, value) VALUES ('catalog_revision', 0);
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS org_members (
    org TEXT NOT NULL,
    principal TEXT NOT NULL,
    added_at TEXT NOT NULL,
    PRIMARY KEY (org, principal)
);
CREATE TABLE IF NOT EXISTS principal_permissions (
    principal TEXT NOT NULL,
    permission TEXT NOT NULL,
    PRIMARY KEY (principal, permission)
);
CREATE TABLE IF NOT EXISTS catalog_rows (
    plugin_id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    pid TEXT NOT NULL,
    version TEXT NOT NULL,
    sort_key TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    record TEXT NOT NULL,
    UNIQUE (scope, pid, version)
);
CREATE INDEX IF NOT EXISTS catalog_rows_by_scope ON catalog_rows (scope, pid, sort_key);
CREATE TABLE IF NOT EXISTS org_enablements (
    org TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org, plugin_id)
);
CREATE TABLE IF NOT EXISTS router_instances (
    slug TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    registration TEXT NOT NULL,
    record TEXT NOT NULL,
    health TEXT NOT NULL,
    PRIMARY KEY (slug, instance_id)
);
