-- Keys made by people expire; keys made before expiry existed never do (NULL).
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
-- When a key was last used, recorded at most hourly; NULL until its first use.
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
