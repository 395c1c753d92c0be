-- The verified e-mail address a provider gave at the last sign-in: where the
-- registry's notices to the person go (a lifted trusted-publishing lock).
ALTER TABLE accounts ADD COLUMN email TEXT;
