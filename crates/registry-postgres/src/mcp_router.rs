//! The router port in PostgreSQL: instances in the same database as the catalog,
//! so an instance and its plugin's `healthy_instances` change in one transaction.

use async_trait::async_trait;
use tokio_postgres::{Row, Transaction};

use registry_core::downloads::Retention;
use registry_core::mcp_router::{
    DailyHealthyInstances, InstanceHealth, InstanceId, McpRouterInstance,
};
use registry_core::slug::Slug;
use registry_core::store::{ChangeScope, Conflict, McpRouterStore, StorageError};

use crate::journal::record_change;
use crate::{PostgresStore, backend, from_json, to_json};

const INSTANCE_COLUMNS: &str = "record, health";

/// A stored instance: its registration, with the health that changes after it.
fn instance_of(row: &Row) -> Result<McpRouterInstance, StorageError> {
    let mut instance: McpRouterInstance = from_json("router instance", row.get(0))?;
    instance.health = from_json("instance health", row.get(1))?;
    Ok(instance)
}

/// Moves a plugin's `healthy_instances` by `delta` inside `tx`; `Missing` if the
/// plugin does not exist.
async fn move_count(tx: &Transaction<'_>, slug: &str, delta: i64) -> Result<(), StorageError> {
    let changed = tx
        .execute(
            "UPDATE plugins SET healthy_instances = GREATEST(healthy_instances + $2, 0) WHERE slug = $1",
            &[&slug, &delta],
        )
        .await
        .map_err(backend)?;
    if changed == 0 {
        return Err(StorageError::Conflict(Conflict::Missing));
    }
    // The count is in the plugin's details, so the index owes it an update.
    record_change(tx, slug, &ChangeScope::Latest).await
}

impl PostgresStore {
    /// Every instance `filter` (a `WHERE … ORDER BY …` tail) selects.
    async fn select_instances(
        &self,
        filter: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<McpRouterInstance>, StorageError> {
        let client = self.client().await?;
        client
            .query(
                &format!("SELECT {INSTANCE_COLUMNS} FROM router_instances {filter}"),
                params,
            )
            .await
            .map_err(backend)?
            .iter()
            .map(instance_of)
            .collect()
    }
}

#[async_trait]
impl McpRouterStore for PostgresStore {
    async fn insert_instance(&self, instance: &McpRouterInstance) -> Result<(), StorageError> {
        let (record, health) = (to_json(instance)?, to_json(&instance.health)?);
        self.write(
            (instance, record, health),
            |tx, (instance, record, health)| {
                Box::pin(async move {
                    let slug = instance.slug.to_string();
                    move_count(tx, &slug, 1).await?;
                    let inserted = tx
                        .execute(
                            "INSERT INTO router_instances (slug, instance_id, registration, record, health)
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                            &[
                                &slug,
                                &instance.instance_id.to_string(),
                                &instance.registration,
                                record,
                                health,
                            ],
                        )
                        .await
                        .map_err(backend)?;
                    if inserted == 0 {
                        // The transaction is rolled back, and the count with it.
                        return Err(StorageError::Conflict(Conflict::AlreadyExists));
                    }
                    Ok(())
                })
            },
        )
        .await
    }

    async fn replace_instance(
        &self,
        instance: &McpRouterInstance,
        expected_registration: &str,
    ) -> Result<(), StorageError> {
        self.change_one(
            "UPDATE router_instances SET registration = $3, record = $4, health = $5
                 WHERE slug = $1 AND instance_id = $2 AND registration = $6",
            &[
                &instance.slug.as_str(),
                &instance.instance_id.to_string(),
                &instance.registration,
                &to_json(instance)?,
                &to_json(&instance.health)?,
                &expected_registration,
            ],
            Conflict::RevisionChanged,
        )
        .await
    }

    async fn instance(
        &self,
        slug: &Slug,
        id: &InstanceId,
    ) -> Result<Option<McpRouterInstance>, StorageError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!(
                    "SELECT {INSTANCE_COLUMNS} FROM router_instances WHERE slug = $1 AND instance_id = $2"
                ),
                &[&slug.as_str(), &id.to_string()],
            )
            .await
            .map_err(backend)?
            .as_ref()
            .map(instance_of)
            .transpose()
    }

    async fn instances(&self, slug: &Slug) -> Result<Vec<McpRouterInstance>, StorageError> {
        self.select_instances("WHERE slug = $1 ORDER BY instance_id", &[&slug.as_str()])
            .await
    }

    async fn all_instances(&self) -> Result<Vec<McpRouterInstance>, StorageError> {
        self.select_instances("ORDER BY slug, instance_id", &[])
            .await
    }

    async fn record_check(
        &self,
        slug: &Slug,
        id: &InstanceId,
        registration: &str,
        health: &InstanceHealth,
    ) -> Result<(), StorageError> {
        self.change_one(
            "UPDATE router_instances SET health = $4
                 WHERE slug = $1 AND instance_id = $2 AND registration = $3",
            &[
                &slug.as_str(),
                &id.to_string(),
                &registration,
                &to_json(health)?,
            ],
            Conflict::Missing,
        )
        .await
    }

    async fn remove_instance(
        &self,
        slug: &Slug,
        id: &InstanceId,
        registration: Option<&str>,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        self.write(
            (slug, id.to_string(), registration, told),
            |tx, (slug, id, registration, told)| {
                Box::pin(async move {
                    let removed = tx
                        .execute(
                            "DELETE FROM router_instances
                             WHERE slug = $1 AND instance_id = $2 AND ($3::TEXT IS NULL OR registration = $3)",
                            &[&slug.as_str(), id, registration],
                        )
                        .await
                        .map_err(backend)?;
                    if removed == 0 {
                        return Err(StorageError::Conflict(Conflict::Missing));
                    }
                    move_count(tx, slug.as_str(), -1).await?;
                    crate::webhooks::insert_delivery_rows(tx, told).await
                })
            },
        )
        .await
    }

    async fn record_healthy_instances(
        &self,
        day: time::Date,
        counts: &[(Slug, u32)],
        retention: Retention,
    ) -> Result<(), StorageError> {
        let first_kept = retention.first_kept_day(day).to_string();
        let day = day.to_string();
        self.write(
            (counts, day, first_kept),
            |tx, (counts, day, first_kept)| {
                Box::pin(async move {
                    let upsert = tx
                        .prepare(
                            "INSERT INTO daily_healthy_instances (slug, day, lowest, highest)
                             VALUES ($1, $2, $3, $3)
                             ON CONFLICT (slug, day) DO UPDATE SET
                                 lowest = LEAST(daily_healthy_instances.lowest, excluded.lowest),
                                 highest = GREATEST(daily_healthy_instances.highest, excluded.highest)",
                        )
                        .await
                        .map_err(backend)?;
                    for (slug, count) in counts.iter() {
                        tx.execute(&upsert, &[&slug.as_str(), day, &i64::from(*count)])
                            .await
                            .map_err(backend)?;
                    }
                    tx.execute(
                        "DELETE FROM daily_healthy_instances WHERE day < $1",
                        &[first_kept],
                    )
                    .await
                    .map_err(backend)?;
                    Ok(())
                })
            },
        )
        .await
    }

    async fn healthy_instance_history(
        &self,
        slug: &Slug,
        from: time::Date,
        to: time::Date,
    ) -> Result<Vec<DailyHealthyInstances>, StorageError> {
        let client = self.client().await?;
        client
            .query(
                "SELECT day, lowest, highest FROM daily_healthy_instances
                 WHERE slug = $1 AND day >= $2 AND day <= $3 ORDER BY day",
                &[&slug.as_str(), &from.to_string(), &to.to_string()],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|row| DailyHealthyInstances::from_stored(row.get(0), row.get(1), row.get(2)))
            .collect()
    }
}
