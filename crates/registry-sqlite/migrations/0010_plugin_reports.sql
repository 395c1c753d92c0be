-- Reports of plugins to the admins: each whole as JSON, with what the admins'
-- list walks (open or not, newest first) beside it.
CREATE TABLE plugin_reports (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    open INTEGER NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX plugin_reports_by_state ON plugin_reports (open, created_at, id);
