//! Versioned schema migrations: numbered SQL files in `migrations/`, applied in
//! order when a store connects (or by `openworkflow-registry migrate`), in one
//! transaction together with their rows in `schema_migrations`. PostgreSQL's DDL
//! is transactional, so a crash leaves every pending migration applied and
//! recorded, or none; an advisory lock held by that transaction lets several
//! nodes start at once and only one of them migrate.
//!
//! A database already migrated past what this build knows is refused, never
//! used by code that would misread it.

use registry_core::store::StorageError;
use registry_core::timestamp::{Clock, SystemClock};

use crate::backend;

/// One schema change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Applied in increasing order, each exactly once.
    pub version: i32,
    /// What it does, as recorded beside its version.
    pub name: &'static str,
    /// The statements.
    pub sql: &'static str,
}

/// Every migration, oldest first. A new one is a new file and a new row here;
/// a released one never changes.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry",
        sql: include_str!("../migrations/0001_registry.sql"),
    },
    Migration {
        version: 2,
        name: "change_journal_scope",
        sql: include_str!("../migrations/0002_change_journal_scope.sql"),
    },
    Migration {
        version: 3,
        name: "scheduled_runs",
        sql: include_str!("../migrations/0003_scheduled_runs.sql"),
    },
    Migration {
        version: 4,
        name: "downloads_by_client_and_month",
        sql: include_str!("../migrations/0004_downloads_by_client_and_month.sql"),
    },
    Migration {
        version: 5,
        name: "healthy_instance_history",
        sql: include_str!("../migrations/0005_healthy_instance_history.sql"),
    },
    Migration {
        version: 6,
        name: "version_review",
        sql: include_str!("../migrations/0006_version_review.sql"),
    },
    Migration {
        version: 7,
        name: "webhooks",
        sql: include_str!("../migrations/0007_webhooks.sql"),
    },
];

/// The advisory lock key migrations hold ("owfmigr" in ASCII).
const MIGRATION_LOCK: i64 = 0x006f_7766_6d69_6772;

/// Why a database could not be brought to this build's schema.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The database was migrated by a newer build.
    #[error(
        "the database's schema is at migration {found}, newer than this build's {known}: run a registry at least as new as the one that migrated it"
    )]
    NewerSchema {
        /// The highest migration recorded in the database.
        found: i32,
        /// The highest migration this build has.
        known: i32,
    },
}

/// Brings the database `client` is connected to up to the newest schema;
/// returns the migrations it applied.
pub async fn apply(client: &mut tokio_postgres::Client) -> Result<Vec<Migration>, StorageError> {
    let tx = client.transaction().await.map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(backend)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        )",
    )
    .await
    .map_err(backend)?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let found: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(backend)?
        .get(0);
    if found > known {
        return Err(StorageError::Backend(Box::new(
            MigrationError::NewerSchema { found, known },
        )));
    }
    let pending: Vec<Migration> = MIGRATIONS
        .iter()
        .filter(|m| m.version > found)
        .copied()
        .collect();
    for migration in &pending {
        tx.batch_execute(migration.sql).await.map_err(backend)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[
                &migration.version,
                &migration.name,
                &SystemClock.now().to_string(),
            ],
        )
        .await
        .map_err(backend)?;
    }
    tx.commit().await.map_err(backend)?;
    Ok(pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_rise_by_one_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version as usize, index + 1, "{}", migration.name);
        }
    }
}
