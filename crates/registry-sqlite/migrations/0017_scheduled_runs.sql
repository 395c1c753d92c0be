-- The last period of each scheduled job that some process claimed (see
-- `NodeCoordination::claim_scheduled_run`).
CREATE TABLE scheduled_runs (
    job    TEXT PRIMARY KEY,
    period INTEGER NOT NULL
);
