-- A plugin an admin keeps in quarantine: the reason, who and since when, as
-- JSON; NULL for every plugin in good standing. (A version's quarantine lives
-- in its record, with its deprecation.)
ALTER TABLE plugins ADD COLUMN quarantine TEXT;
