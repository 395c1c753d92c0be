-- A key may be limited to some plugins (comma-separated slugs); NULL: every
-- plugin of its principal, as every key made before limits existed.
ALTER TABLE api_keys ADD COLUMN plugins TEXT;
