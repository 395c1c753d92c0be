-- The last period of each scheduled job that some node claimed, so work meant once
-- per period (health checks, roll-ups) runs once however many nodes there are
-- (see `NodeCoordination::claim_scheduled_run`).
CREATE TABLE scheduled_runs (
    job    TEXT COLLATE "C" PRIMARY KEY,
    period BIGINT NOT NULL
);
