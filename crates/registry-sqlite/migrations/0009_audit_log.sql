-- The audit log: append-only records, each whole as JSON, filed under its
-- subject (`plugin:{slug}` or `principal:{id}`). Ids sort in time, so both
-- readings (one subject, everything) walk an index newest first.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    record TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX audit_log_by_subject ON audit_log (subject, id);
