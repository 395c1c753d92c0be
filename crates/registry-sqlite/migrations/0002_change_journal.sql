-- The change journal: each catalog write appends the plugin it changed, in the
-- same transaction; the index builder deletes entries once their files are written.
CREATE TABLE change_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
-- Plugins already in the catalog are owed nothing: the index was built from them.
