-- Plugins locked to trusted publishing: API keys may not publish them.
CREATE TABLE publishing_locks (
    plugin TEXT PRIMARY KEY,
    record TEXT NOT NULL
) WITHOUT ROWID;
