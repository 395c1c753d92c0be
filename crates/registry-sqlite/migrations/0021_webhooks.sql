-- Webhook subscriptions, each whole as JSON (its secret included: deliveries
-- are signed with it), listed by scope.
CREATE TABLE webhook_subscriptions (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    created_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX webhook_subscriptions_by_scope ON webhook_subscriptions (scope, created_at, id);

-- Deliveries: the log of each subscription and the queue the delivery worker
-- claims from. `due_at` (Unix seconds) is set while pending; `lease_until`
-- while a worker holds it.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL,
    due_at INTEGER,
    lease_until INTEGER,
    record TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (subscription_id, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at) WHERE due_at IS NOT NULL;
