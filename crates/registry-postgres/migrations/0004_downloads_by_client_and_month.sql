-- Daily counters gain the client (`openworkflow/X.Y.Z` or `other`; counts made
-- before are `other`); monthly totals are kept forever once daily counters expire;
-- CDN log parts and files are remembered so a redelivered log counts nothing twice.
ALTER TABLE daily_downloads ADD COLUMN client TEXT COLLATE "C" NOT NULL DEFAULT 'other';
ALTER TABLE daily_downloads ALTER COLUMN client DROP DEFAULT;
ALTER TABLE daily_downloads DROP CONSTRAINT daily_downloads_pkey;
ALTER TABLE daily_downloads ADD PRIMARY KEY (slug, version, day, client);
CREATE TABLE monthly_downloads (
    slug TEXT COLLATE "C" NOT NULL,
    version TEXT COLLATE "C" NOT NULL,
    month TEXT COLLATE "C" NOT NULL,
    client TEXT COLLATE "C" NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (slug, version, month, client)
);
CREATE TABLE sealed_download_months (
    month TEXT COLLATE "C" PRIMARY KEY
);
CREATE TABLE counted_log_parts (
    log_file TEXT COLLATE "C" NOT NULL,
    part BIGINT NOT NULL,
    counted_on TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (log_file, part)
);
CREATE TABLE counted_log_files (
    log_file TEXT COLLATE "C" PRIMARY KEY,
    counted_on TEXT COLLATE "C" NOT NULL
);
