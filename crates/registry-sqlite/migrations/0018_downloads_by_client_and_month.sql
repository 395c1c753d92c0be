-- Daily counters gain the client (`openworkflow/X.Y.Z` or `other`; counts made
-- before are `other`); monthly totals are kept forever once daily counters expire;
-- CDN log parts and files are remembered so a redelivered log counts nothing twice.
CREATE TABLE daily_downloads_by_client (
    slug TEXT NOT NULL,
    version TEXT NOT NULL,
    day TEXT NOT NULL,
    client TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (slug, version, day, client)
);
INSERT INTO daily_downloads_by_client (slug, version, day, client, count)
    SELECT slug, version, day, 'other', count FROM daily_downloads;
DROP TABLE daily_downloads;
ALTER TABLE daily_downloads_by_client RENAME TO daily_downloads;
CREATE INDEX daily_downloads_by_day ON daily_downloads (slug, day);
CREATE TABLE monthly_downloads (
    slug TEXT NOT NULL,
    version TEXT NOT NULL,
    month TEXT NOT NULL,
    client TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (slug, version, month, client)
);
CREATE TABLE sealed_download_months (
    month TEXT PRIMARY KEY
);
CREATE TABLE counted_log_parts (
    log_file TEXT NOT NULL,
    part INTEGER NOT NULL,
    counted_on TEXT NOT NULL,
    PRIMARY KEY (log_file, part)
);
CREATE TABLE counted_log_files (
    log_file TEXT PRIMARY KEY,
    counted_on TEXT NOT NULL
);
