-- Keys made by people expire; keys made before expiry existed never do (NULL).
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
