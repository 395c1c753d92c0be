-- Which of a plugin's files each journal entry can have changed (see
-- `ChangeScope`): entries written before it mean the whole plugin.
ALTER TABLE change_journal ADD COLUMN scope TEXT NOT NULL DEFAULT 'plugin';
