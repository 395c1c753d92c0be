//! The embedded adapter of the router port: instances in the same SQLite file as
//! the catalog, so an instance and its plugin's `healthy_instances` change in one
//! transaction.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::SqliteStore;
use crate::journal::record_change;
use crate::orgs::select_all;
use crate::{backend, from_json, to_json};
use registry_core::downloads::Retention;
use registry_core::mcp_router::{
    DailyHealthyInstances, InstanceHealth, InstanceId, McpRouterInstance,
};
use registry_core::slug::Slug;
use registry_core::store::{ChangeScope, Conflict, McpRouterStore, StorageError};

const INSTANCE_COLUMNS: &str = "record, health";

fn read_instance(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

/// A stored instance: its registration, with the health that changes after it.
fn instance_of((record, health): &(String, String)) -> Result<McpRouterInstance, StorageError> {
    let mut instance: McpRouterInstance = from_json("router instance", record)?;
    instance.health = from_json("instance health", health)?;
    Ok(instance)
}

/// Every instance `filter` (a `WHERE … ORDER BY …` tail) selects.
fn select_instances(
    conn: &rusqlite::Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<McpRouterInstance>, StorageError> {
    select_all(
        conn,
        &format!("SELECT {INSTANCE_COLUMNS} FROM router_instances {filter}"),
        params,
        read_instance,
    )?
    .iter()
    .map(instance_of)
    .collect()
}

/// Moves a plugin's `healthy_instances` by `delta` inside `tx`; `Missing` if the
/// plugin does not exist.
fn move_count(tx: &rusqlite::Transaction<'_>, slug: &str, delta: i64) -> Result<(), StorageError> {
    let changed = tx
        .execute(
            "UPDATE plugins SET healthy_instances = MAX(healthy_instances + ?2, 0) WHERE slug = ?1",
            params![slug, delta],
        )
        .map_err(backend)?;
    if changed == 0 {
        return Err(StorageError::Conflict(Conflict::Missing));
    }
    // The count is in the plugin's details, so the index owes it an update.
    record_change(tx, slug, &ChangeScope::Latest)
}

#[async_trait]
impl McpRouterStore for SqliteStore {
    async fn insert_instance(&self, instance: &McpRouterInstance) -> Result<(), StorageError> {
        let (slug, id, registration) = (
            instance.slug.to_string(),
            instance.instance_id.to_string(),
            instance.registration.clone(),
        );
        let (record, health) = (to_json(instance)?, to_json(&instance.health)?);
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            move_count(&tx, &slug, 1)?;
            let inserted = tx
                .execute(
                    "INSERT OR IGNORE INTO router_instances (slug, instance_id, registration, record, health)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![slug, id, registration, record, health],
                )
                .map_err(backend)?;
            if inserted == 0 {
                // Dropping the transaction rolls the count back.
                return Err(StorageError::Conflict(Conflict::AlreadyExists));
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn replace_instance(
        &self,
        instance: &McpRouterInstance,
        expected_registration: &str,
    ) -> Result<(), StorageError> {
        let (slug, id, registration, expected) = (
            instance.slug.to_string(),
            instance.instance_id.to_string(),
            instance.registration.clone(),
            expected_registration.to_owned(),
        );
        let (record, health) = (to_json(instance)?, to_json(&instance.health)?);
        self.with_conn(move |conn| {
            let replaced = conn
                .execute(
                    "UPDATE router_instances SET registration = ?3, record = ?4, health = ?5
                     WHERE slug = ?1 AND instance_id = ?2 AND registration = ?6",
                    params![slug, id, registration, record, health, expected],
                )
                .map_err(backend)?;
            if replaced == 0 {
                return Err(StorageError::Conflict(Conflict::RevisionChanged));
            }
            Ok(())
        })
        .await
    }

    async fn instance(
        &self,
        slug: &Slug,
        id: &InstanceId,
    ) -> Result<Option<McpRouterInstance>, StorageError> {
        let (slug, id) = (slug.to_string(), id.to_string());
        self.with_conn(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {INSTANCE_COLUMNS} FROM router_instances WHERE slug = ?1 AND instance_id = ?2"
                ),
                params![slug, id],
                read_instance,
            )
            .optional()
            .map_err(backend)?
            .as_ref()
            .map(instance_of)
            .transpose()
        })
        .await
    }

    async fn instances(&self, slug: &Slug) -> Result<Vec<McpRouterInstance>, StorageError> {
        let slug = slug.to_string();
        self.with_conn(move |conn| {
            select_instances(conn, "WHERE slug = ?1 ORDER BY instance_id", [slug])
        })
        .await
    }

    async fn all_instances(&self) -> Result<Vec<McpRouterInstance>, StorageError> {
        self.with_conn(|conn| select_instances(conn, "ORDER BY slug, instance_id", []))
            .await
    }

    async fn record_check(
        &self,
        slug: &Slug,
        id: &InstanceId,
        registration: &str,
        health: &InstanceHealth,
    ) -> Result<(), StorageError> {
        let (slug, id, registration) = (slug.to_string(), id.to_string(), registration.to_owned());
        let health = to_json(health)?;
        self.with_conn(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE router_instances SET health = ?4
                     WHERE slug = ?1 AND instance_id = ?2 AND registration = ?3",
                    params![slug, id, registration, health],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            Ok(())
        })
        .await
    }

    async fn remove_instance(
        &self,
        slug: &Slug,
        id: &InstanceId,
        registration: Option<&str>,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        let (slug, id) = (slug.to_string(), id.to_string());
        let registration = registration.map(str::to_owned);
        let told = crate::webhooks::delivery_rows(told)?;
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            let removed = tx
                .execute(
                    "DELETE FROM router_instances
                     WHERE slug = ?1 AND instance_id = ?2 AND (?3 IS NULL OR registration = ?3)",
                    params![slug, id, registration],
                )
                .map_err(backend)?;
            if removed == 0 {
                return Err(StorageError::Conflict(Conflict::Missing));
            }
            move_count(&tx, &slug, -1)?;
            crate::webhooks::insert_delivery_rows(&tx, &told)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn record_healthy_instances(
        &self,
        day: time::Date,
        counts: &[(Slug, u32)],
        retention: Retention,
    ) -> Result<(), StorageError> {
        let counts: Vec<(String, u32)> = counts
            .iter()
            .map(|(slug, count)| (slug.to_string(), *count))
            .collect();
        let first_kept = retention.first_kept_day(day).to_string();
        let day = day.to_string();
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(backend)?;
            {
                let mut upsert = tx
                    .prepare(
                        "INSERT INTO daily_healthy_instances (slug, day, lowest, highest)
                         VALUES (?1, ?2, ?3, ?3)
                         ON CONFLICT (slug, day) DO UPDATE SET
                             lowest = MIN(lowest, excluded.lowest),
                             highest = MAX(highest, excluded.highest)",
                    )
                    .map_err(backend)?;
                for (slug, count) in &counts {
                    upsert.execute(params![slug, day, count]).map_err(backend)?;
                }
            }
            tx.execute(
                "DELETE FROM daily_healthy_instances WHERE day < ?1",
                params![first_kept],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn healthy_instance_history(
        &self,
        slug: &Slug,
        from: time::Date,
        to: time::Date,
    ) -> Result<Vec<DailyHealthyInstances>, StorageError> {
        let (slug, from, to) = (slug.to_string(), from.to_string(), to.to_string());
        self.with_conn(move |conn| {
            select_all(
                conn,
                "SELECT day, lowest, highest FROM daily_healthy_instances
                 WHERE slug = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day",
                params![slug, from, to],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?
            .iter()
            .map(|(day, lowest, highest)| {
                DailyHealthyInstances::from_stored(day, *lowest, *highest)
            })
            .collect()
        })
        .await
    }
}
