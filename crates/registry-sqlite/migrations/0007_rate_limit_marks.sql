-- Rate limits: one mark per principal and action (`new-plugin:prn_...`), the
-- time in epoch seconds when its allowance is full again.
CREATE TABLE rate_marks (
    key TEXT PRIMARY KEY,
    mark INTEGER NOT NULL
);
