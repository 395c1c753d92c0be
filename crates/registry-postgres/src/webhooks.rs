//! The webhook port in PostgreSQL: subscriptions and deliveries, each whole as
//! JSON, with the columns their listings and the delivery queue select on.
//! Every node's delivery worker claims from the same table; `FOR UPDATE SKIP
//! LOCKED` lets their claims pass each other instead of queueing or colliding.

use async_trait::async_trait;

use registry_core::store::{Conflict, StorageError, WebhookStore};
use registry_core::timestamp::Timestamp;
use registry_core::webhook::{Delivery, DeliveryId, HookScope, Subscription, SubscriptionId};

use crate::{PostgresStore, backend, from_json, signed, to_json};

fn deliveries_of(rows: &[tokio_postgres::Row]) -> Result<Vec<Delivery>, StorageError> {
    rows.iter()
        .map(|row| from_json("delivery", row.get("record")))
        .collect()
}

/// Inserts deliveries from [`DeliveryColumns::params`], one row per element.
const INSERT_DELIVERIES: &str = "INSERT INTO webhook_deliveries
     (id, subscription_id, created_at, state, due_at, record)
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[],
                          $5::bigint[], $6::text[])";

/// Deliveries as one array per column of their table.
struct DeliveryColumns<'a> {
    ids: Vec<&'a str>,
    subscriptions: Vec<&'a str>,
    created: Vec<String>,
    states: Vec<&'static str>,
    due: Vec<Option<i64>>,
    records: Vec<String>,
}

impl<'a> DeliveryColumns<'a> {
    fn of(deliveries: &'a [Delivery]) -> Result<Self, StorageError> {
        Ok(Self {
            ids: deliveries.iter().map(|d| d.id.as_str()).collect(),
            subscriptions: deliveries.iter().map(|d| d.subscription.as_str()).collect(),
            created: deliveries
                .iter()
                .map(|d| d.created_at.to_string())
                .collect(),
            states: deliveries.iter().map(|d| d.state.as_str()).collect(),
            due: deliveries.iter().map(Delivery::due_at_seconds).collect(),
            records: deliveries
                .iter()
                .map(to_json)
                .collect::<Result<Vec<String>, _>>()?,
        })
    }

    fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 6] {
        [
            &self.ids,
            &self.subscriptions,
            &self.created,
            &self.states,
            &self.due,
            &self.records,
        ]
    }
}

/// Inserts deliveries within a catalog change's own transaction, so the change
/// and its deliveries commit together.
pub(crate) async fn insert_delivery_rows(
    tx: &tokio_postgres::Transaction<'_>,
    deliveries: &[Delivery],
) -> Result<(), StorageError> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let columns = DeliveryColumns::of(deliveries)?;
    tx.execute(INSERT_DELIVERIES, &columns.params())
        .await
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn insert_subscription(&self, subscription: &Subscription) -> Result<(), StorageError> {
        self.change_one(
            "INSERT INTO webhook_subscriptions (id, scope, created_at, record)
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[
                &subscription.id.as_str(),
                &subscription.scope.storage_name(),
                &subscription.created_at.to_string(),
                &to_json(subscription)?,
            ],
            Conflict::AlreadyExists,
        )
        .await
    }

    async fn subscription(
        &self,
        id: &SubscriptionId,
    ) -> Result<Option<Subscription>, StorageError> {
        self.select_one(
            "SELECT record FROM webhook_subscriptions WHERE id = $1",
            &[&id.as_str()],
        )
        .await?
        .map(|row| from_json("webhook subscription", row.get(0)))
        .transpose()
    }

    async fn subscriptions(&self, scope: &HookScope) -> Result<Vec<Subscription>, StorageError> {
        self.select_all(
            "SELECT record FROM webhook_subscriptions WHERE scope = $1 ORDER BY created_at, id",
            &[&scope.storage_name()],
        )
        .await?
        .iter()
        .map(|row| from_json("webhook subscription", row.get(0)))
        .collect()
    }

    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<(), StorageError> {
        self.write(id.to_string(), |tx, id| {
            Box::pin(async move {
                let removed = tx
                    .execute("DELETE FROM webhook_subscriptions WHERE id = $1", &[id])
                    .await
                    .map_err(backend)?;
                if removed == 0 {
                    return Err(StorageError::Conflict(Conflict::Missing));
                }
                tx.execute(
                    "DELETE FROM webhook_deliveries
                     WHERE subscription_id = $1 AND state = 'pending'",
                    &[id],
                )
                .await
                .map_err(backend)?;
                Ok(())
            })
        })
        .await
    }

    async fn insert_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StorageError> {
        if deliveries.is_empty() {
            return Ok(());
        }
        let columns = DeliveryColumns::of(deliveries)?;
        // One statement: all rows or none.
        self.execute(INSERT_DELIVERIES, &columns.params()).await?;
        Ok(())
    }

    async fn delivery(
        &self,
        subscription: &SubscriptionId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StorageError> {
        self.select_one(
            "SELECT record FROM webhook_deliveries WHERE id = $1 AND subscription_id = $2",
            &[&id.as_str(), &subscription.as_str()],
        )
        .await?
        .map(|row| from_json("delivery", row.get(0)))
        .transpose()
    }

    async fn deliveries(
        &self,
        subscription: &SubscriptionId,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError> {
        let rows = self
            .select_all(
                "SELECT record FROM webhook_deliveries WHERE subscription_id = $1
                 ORDER BY id DESC LIMIT $2",
                &[&subscription.as_str(), &signed(limit as u64)],
            )
            .await?;
        deliveries_of(&rows)
    }

    async fn claim_due_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError> {
        let rows = self
            .select_all(
                "UPDATE webhook_deliveries SET lease_until = $2
                 WHERE id IN (
                     SELECT id FROM webhook_deliveries
                     WHERE due_at IS NOT NULL AND due_at <= $1
                       AND (lease_until IS NULL OR lease_until <= $1)
                     ORDER BY due_at, id LIMIT $3
                     FOR UPDATE SKIP LOCKED)
                 RETURNING due_at, id, record",
                &[
                    &now.unix_seconds(),
                    &lease_until.unix_seconds(),
                    &signed(limit as u64),
                ],
            )
            .await?;
        // RETURNING comes in no promised order.
        let mut keyed: Vec<(i64, String, &tokio_postgres::Row)> = rows
            .iter()
            .map(|row| (row.get("due_at"), row.get("id"), row))
            .collect();
        keyed.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        keyed
            .into_iter()
            .map(|(_, _, row)| from_json("delivery", row.get("record")))
            .collect()
    }

    async fn claim_delivery(
        &self,
        subscription: &SubscriptionId,
        id: &DeliveryId,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<Delivery>, StorageError> {
        self.select_one(
            "UPDATE webhook_deliveries SET lease_until = $4
             WHERE id = $1 AND subscription_id = $2
               AND due_at IS NOT NULL AND due_at <= $3
               AND (lease_until IS NULL OR lease_until <= $3)
             RETURNING record",
            &[
                &id.as_str(),
                &subscription.as_str(),
                &now.unix_seconds(),
                &lease_until.unix_seconds(),
            ],
        )
        .await?
        .map(|row| from_json("delivery", row.get(0)))
        .transpose()
    }

    async fn record_delivery(&self, delivery: &Delivery) -> Result<(), StorageError> {
        self.change_one(
            "UPDATE webhook_deliveries
             SET state = $2, due_at = $3, lease_until = NULL, record = $4
             WHERE id = $1",
            &[
                &delivery.id.as_str(),
                &delivery.state.as_str(),
                &delivery.due_at_seconds(),
                &to_json(delivery)?,
            ],
            Conflict::Missing,
        )
        .await
    }

    async fn prune_deliveries(&self, before: Timestamp) -> Result<usize, StorageError> {
        let removed = self
            .execute(
                "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND created_at < $1",
                &[&before.to_string()],
            )
            .await?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }
}
