//! The webhook port in SQLite: subscriptions and deliveries, each whole as JSON,
//! with the columns their listings and the delivery queue select on.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use registry_core::store::{Conflict, StorageError, WebhookStore};
use registry_core::timestamp::Timestamp;
use registry_core::webhook::{Delivery, DeliveryId, HookScope, Subscription, SubscriptionId};

use crate::{SqliteStore, backend, from_json, to_json};

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn read_deliveries(rows: Vec<String>) -> Result<Vec<Delivery>, StorageError> {
    rows.iter().map(|raw| from_json("delivery", raw)).collect()
}

/// Deliveries as their table's columns: id, subscription, created, state, due
/// and the whole record.
pub(crate) type DeliveryRow = (String, String, String, &'static str, Option<i64>, String);

/// `deliveries` as rows to insert (encoded before a connection is taken).
pub(crate) fn delivery_rows(deliveries: &[Delivery]) -> Result<Vec<DeliveryRow>, StorageError> {
    deliveries
        .iter()
        .map(|d| {
            Ok((
                d.id.to_string(),
                d.subscription.to_string(),
                d.created_at.to_string(),
                d.state.as_str(),
                d.due_at_seconds(),
                to_json(d)?,
            ))
        })
        .collect()
}

/// Inserts delivery rows within a caller's transaction (a catalog change's
/// own, so the change and its deliveries commit together).
pub(crate) fn insert_delivery_rows(
    conn: &rusqlite::Connection,
    rows: &[DeliveryRow],
) -> Result<(), StorageError> {
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO webhook_deliveries
             (id, subscription_id, created_at, state, due_at, record)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(backend)?;
    for (id, subscription, created_at, state, due, record) in rows {
        insert
            .execute(params![id, subscription, created_at, state, due, record])
            .map_err(backend)?;
    }
    Ok(())
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn insert_subscription(&self, subscription: &Subscription) -> Result<(), StorageError> {
        let (id, scope, created_at, record) = (
            subscription.id.to_string(),
            subscription.scope.storage_name(),
            subscription.created_at.to_string(),
            to_json(subscription)?,
        );
        self.with_conn(move |conn| {
            let added = conn
                .execute(
                    "INSERT OR IGNORE INTO webhook_subscriptions (id, scope, created_at, record)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, scope, created_at, record],
                )
                .map_err(backend)?;
            if added == 0 {
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            Ok(())
        })
        .await
    }

    async fn subscription(
        &self,
        id: &SubscriptionId,
    ) -> Result<Option<Subscription>, StorageError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT record FROM webhook_subscriptions WHERE id = ?1",
                [id],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)?
            .map(|raw| from_json("webhook subscription", &raw))
            .transpose()
        })
        .await
    }

    async fn subscriptions(&self, scope: &HookScope) -> Result<Vec<Subscription>, StorageError> {
        let scope = scope.storage_name();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT record FROM webhook_subscriptions WHERE scope = ?1
                     ORDER BY created_at, id",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map([scope], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            rows.map(|raw| from_json("webhook subscription", &raw.map_err(backend)?))
                .collect()
        })
        .await
    }

    async fn delete_subscription(&self, id: &SubscriptionId) -> Result<(), StorageError> {
        let id = id.to_string();
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let removed = tx
                .execute("DELETE FROM webhook_subscriptions WHERE id = ?1", [&id])
                .map_err(backend)?;
            if removed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE subscription_id = ?1 AND state = 'pending'",
                [&id],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn insert_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StorageError> {
        let rows = delivery_rows(deliveries)?;
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            insert_delivery_rows(&tx, &rows)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn delivery(
        &self,
        subscription: &SubscriptionId,
        id: &DeliveryId,
    ) -> Result<Option<Delivery>, StorageError> {
        let (subscription, id) = (subscription.to_string(), id.to_string());
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT record FROM webhook_deliveries WHERE id = ?1 AND subscription_id = ?2",
                [id, subscription],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)?
            .map(|raw| from_json("delivery", &raw))
            .transpose()
        })
        .await
    }

    async fn deliveries(
        &self,
        subscription: &SubscriptionId,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError> {
        let subscription = subscription.to_string();
        let limit = limit_of(limit);
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT record FROM webhook_deliveries WHERE subscription_id = ?1
                     ORDER BY id DESC LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(params![subscription, limit], |r| r.get::<_, String>(0))
                .map_err(backend)?
                .collect::<Result<Vec<String>, _>>()
                .map_err(backend)?;
            read_deliveries(rows)
        })
        .await
    }

    async fn claim_due_deliveries(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Delivery>, StorageError> {
        let (now, lease_until, limit) = (
            now.unix_seconds(),
            lease_until.unix_seconds(),
            limit_of(limit),
        );
        self.with_conn(move |conn| {
            // One statement: SQLite's single writer makes the pick and the
            // lease one step, so two claimers never take the same delivery.
            let mut statement = conn
                .prepare_cached(
                    "UPDATE webhook_deliveries SET lease_until = ?2
                     WHERE id IN (
                         SELECT id FROM webhook_deliveries
                         WHERE due_at IS NOT NULL AND due_at <= ?1
                           AND (lease_until IS NULL OR lease_until <= ?1)
                         ORDER BY due_at, id LIMIT ?3)
                     RETURNING due_at, id, record",
                )
                .map_err(backend)?;
            let mut rows = statement
                .query_map(params![now, lease_until, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })
                .map_err(backend)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(backend)?;
            // RETURNING comes in no promised order.
            rows.sort();
            read_deliveries(rows.into_iter().map(|(_, _, record)| record).collect())
        })
        .await
    }

    async fn claim_delivery(
        &self,
        subscription: &SubscriptionId,
        id: &DeliveryId,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<Delivery>, StorageError> {
        let (subscription, id) = (subscription.to_string(), id.to_string());
        let (now, lease_until) = (now.unix_seconds(), lease_until.unix_seconds());
        self.with_conn(move |conn| {
            conn.query_row(
                "UPDATE webhook_deliveries SET lease_until = ?4
                 WHERE id = ?1 AND subscription_id = ?2
                   AND due_at IS NOT NULL AND due_at <= ?3
                   AND (lease_until IS NULL OR lease_until <= ?3)
                 RETURNING record",
                params![id, subscription, now, lease_until],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)?
            .map(|raw| from_json("delivery", &raw))
            .transpose()
        })
        .await
    }

    async fn record_delivery(&self, delivery: &Delivery) -> Result<(), StorageError> {
        let (id, state, due, record) = (
            delivery.id.to_string(),
            delivery.state.as_str(),
            delivery.due_at_seconds(),
            to_json(delivery)?,
        );
        self.with_conn(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE webhook_deliveries
                     SET state = ?2, due_at = ?3, lease_until = NULL, record = ?4
                     WHERE id = ?1",
                    params![id, state, due, record],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn prune_deliveries(&self, before: Timestamp) -> Result<usize, StorageError> {
        let before = before.to_string();
        self.with_conn(move |conn| {
            conn.execute(
                "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND created_at < ?1",
                [before],
            )
            .map_err(backend)
        })
        .await
    }
}
