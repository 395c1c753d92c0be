-- The whole schema as the embedded store's fifteen migrations leave it, in one:
-- PostgreSQL databases start here. Values are stored as the SQLite store stores
-- them (registry_core::store::codec): times as RFC 3339 text in UTC to the second,
-- records as JSON text, so both stores hold the same text for the same value and
-- `migrate-store` copies rows as they are. Every text key sorts bytewise
-- (COLLATE "C"), as SQLite's do, whatever the database's default collation:
-- keyset pages and time comparisons depend on it.
CREATE TABLE plugins (
    slug TEXT COLLATE "C" PRIMARY KEY,
    owner TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    downloads BIGINT NOT NULL DEFAULT 0,
    revision BIGINT NOT NULL,
    latest TEXT,
    healthy_instances BIGINT NOT NULL DEFAULT 0,
    quarantine TEXT
);
CREATE TABLE versions (
    slug TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    sort_key TEXT COLLATE "C" NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (slug, version)
);
CREATE TABLE daily_downloads (
    slug TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    day TEXT COLLATE "C" NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (slug, version, day)
);
CREATE INDEX daily_downloads_by_day ON daily_downloads (slug, day);
CREATE TABLE slug_skeletons (
    skeleton TEXT COLLATE "C" PRIMARY KEY,
    slug TEXT COLLATE "C" NOT NULL
);
CREATE TABLE meta (
    name TEXT COLLATE "C" PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (name, value) VALUES ('catalog_revision', 0);
CREATE TABLE change_journal (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug TEXT COLLATE "C" NOT NULL,
    recorded_at TEXT COLLATE "C" NOT NULL
);
CREATE TABLE principals (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);
CREATE TABLE principal_permissions (
    principal TEXT COLLATE "C" NOT NULL,
    permission TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (principal, permission)
);
CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    hash TEXT COLLATE "C" NOT NULL UNIQUE,
    principal TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    revoked_at TEXT COLLATE "C",
    expires_at TEXT COLLATE "C",
    last_used_at TEXT COLLATE "C",
    plugins TEXT
);
CREATE INDEX api_keys_by_principal ON api_keys (principal, created_at);
CREATE TABLE orgs (
    id TEXT COLLATE "C" PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE org_members (
    org TEXT COLLATE "C" NOT NULL,
    principal TEXT COLLATE "C" NOT NULL,
    added_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (org, principal)
);
CREATE INDEX org_members_by_principal ON org_members (principal, org);
CREATE TABLE catalog_rows (
    plugin_id TEXT COLLATE "C" PRIMARY KEY,
    scope TEXT COLLATE "C" NOT NULL,
    pid TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    sort_key TEXT COLLATE "C" NOT NULL,
    enabled BOOLEAN NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    record TEXT NOT NULL,
    UNIQUE (scope, pid, version)
);
CREATE INDEX catalog_rows_by_scope ON catalog_rows (scope, pid, sort_key);
CREATE TABLE org_enablements (
    org TEXT COLLATE "C" NOT NULL,
    plugin_id TEXT COLLATE "C" NOT NULL,
    enabled BOOLEAN NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (org, plugin_id)
);
CREATE TABLE router_instances (
    slug TEXT COLLATE "C" NOT NULL,
    instance_id TEXT COLLATE "C" NOT NULL,
    registration TEXT NOT NULL,
    record TEXT NOT NULL,
    health TEXT NOT NULL,
    PRIMARY KEY (slug, instance_id)
);
CREATE TABLE accounts (
    issuer TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL,
    principal TEXT COLLATE "C" NOT NULL UNIQUE,
    login TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    signed_in_at TEXT COLLATE "C" NOT NULL,
    email TEXT,
    PRIMARY KEY (issuer, subject)
);
CREATE TABLE sessions (
    hash TEXT COLLATE "C" PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL,
    principal TEXT COLLATE "C" NOT NULL,
    login TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX sessions_by_principal ON sessions (principal);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE TABLE login_attempts (
    hash TEXT COLLATE "C" PRIMARY KEY,
    provider TEXT NOT NULL,
    state TEXT NOT NULL,
    nonce TEXT,
    pkce_verifier TEXT NOT NULL,
    return_to TEXT NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL
);
CREATE TABLE device_grants (
    hash TEXT COLLATE "C" PRIMARY KEY,
    user_code TEXT COLLATE "C" NOT NULL UNIQUE,
    key_name TEXT NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    state TEXT NOT NULL,
    principal TEXT COLLATE "C",
    session TEXT,
    last_polled_at TEXT COLLATE "C"
);
CREATE TABLE rosters (
    roster TEXT COLLATE "C" PRIMARY KEY,
    revision BIGINT NOT NULL
);
CREATE TABLE roster_entries (
    roster TEXT COLLATE "C" NOT NULL,
    principal TEXT COLLATE "C" NOT NULL,
    role TEXT NOT NULL,
    since TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (roster, principal)
);
CREATE INDEX roster_entries_by_principal ON roster_entries (principal, roster);
CREATE TABLE owner_invitations (
    slug TEXT COLLATE "C" NOT NULL,
    invitee TEXT COLLATE "C" NOT NULL,
    invited_by TEXT COLLATE "C" NOT NULL,
    transfer BOOLEAN NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (slug, invitee)
);
CREATE INDEX owner_invitations_by_invitee ON owner_invitations (invitee, slug);
CREATE TABLE rate_marks (
    key TEXT COLLATE "C" PRIMARY KEY,
    mark BIGINT NOT NULL
);
CREATE TABLE audit_log (
    id TEXT COLLATE "C" PRIMARY KEY,
    subject TEXT COLLATE "C" NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, id);
CREATE TABLE plugin_reports (
    id TEXT COLLATE "C" PRIMARY KEY,
    created_at TEXT COLLATE "C" NOT NULL,
    open BOOLEAN NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX plugin_reports_by_state ON plugin_reports (open, created_at, id);
CREATE TABLE trusted_publishers (
    id TEXT COLLATE "C" PRIMARY KEY,
    plugin TEXT COLLATE "C" NOT NULL,
    lookup_key TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX trusted_publishers_by_plugin ON trusted_publishers (plugin, created_at, id);
CREATE INDEX trusted_publishers_by_ci ON trusted_publishers (lookup_key);
CREATE TABLE publish_tokens (
    hash TEXT COLLATE "C" PRIMARY KEY,
    issuer TEXT COLLATE "C" NOT NULL,
    jti TEXT COLLATE "C" NOT NULL,
    retain_until TEXT COLLATE "C" NOT NULL,
    record TEXT NOT NULL,
    UNIQUE (issuer, jti)
);
CREATE INDEX publish_tokens_by_retention ON publish_tokens (retain_until);
CREATE TABLE publishing_locks (
    plugin TEXT COLLATE "C" PRIMARY KEY,
    record TEXT NOT NULL
);
