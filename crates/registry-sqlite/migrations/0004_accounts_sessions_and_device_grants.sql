-- People who sign in: one row per identity at a provider, keyed by its stable
-- subject id (never a login name), pointing at their user principal.
CREATE TABLE accounts (
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    principal TEXT NOT NULL UNIQUE,
    login TEXT NOT NULL,
    created_at TEXT NOT NULL,
    signed_in_at TEXT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
-- Browser sessions, by the SHA-256 of the cookie's secret.
CREATE TABLE sessions (
    hash TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    principal TEXT NOT NULL,
    login TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_by_principal ON sessions (principal);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
-- Sign-ins between the redirect to the provider and its callback.
CREATE TABLE login_attempts (
    hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    state TEXT NOT NULL,
    nonce TEXT,
    pkce_verifier TEXT NOT NULL,
    return_to TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
-- Device sign-ins (`openworkflow auth login`), by the SHA-256 of the device
-- code the CLI holds; the person confirms the user code in a browser.
CREATE TABLE device_grants (
    hash TEXT PRIMARY KEY,
    user_code TEXT NOT NULL UNIQUE,
    key_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    state TEXT NOT NULL,
    principal TEXT,
    session TEXT,
    last_polled_at TEXT
);
