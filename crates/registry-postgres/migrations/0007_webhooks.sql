-- Webhook subscriptions, each whole as JSON (its secret included: deliveries
-- are signed with it), listed by scope.
CREATE TABLE webhook_subscriptions (
    id TEXT COLLATE "C" PRIMARY KEY,
    scope TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX webhook_subscriptions_by_scope ON webhook_subscriptions (scope, created_at, id);

-- Deliveries: the log of each subscription and the queue the delivery workers
-- of every node claim from (FOR UPDATE SKIP LOCKED). `due_at` (Unix seconds)
-- is set while pending; `lease_until` while a worker holds it.
CREATE TABLE webhook_deliveries (
    id TEXT COLLATE "C" PRIMARY KEY,
    subscription_id TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    state TEXT COLLATE "C" NOT NULL,
    due_at BIGINT,
    lease_until BIGINT,
    record TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (subscription_id, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (due_at) WHERE due_at IS NOT NULL;
