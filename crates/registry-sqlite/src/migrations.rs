//! Versioned schema migrations: numbered SQL files in `migrations/`, applied in
//! order when a store opens, each in its own transaction together with its row
//! in `schema_migrations`, so a crash leaves a migration either applied and
//! recorded or neither.
//!
//! A database made before migrations were versioned has the tables but no
//! `schema_migrations`: it is adopted by giving it the columns those releases
//! lacked, then applying migration 1, whose statements all tolerate what exists.
//! A database already migrated past what this build knows is refused, never
//! opened by code that would misread it.

use registry_core::store::StorageError;
use registry_core::timestamp::{Clock, SystemClock};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::backend;

/// One schema change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Applied in increasing order, each exactly once.
    pub version: u32,
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
        name: "catalog_keys_orgs_router",
        sql: include_str!("../migrations/0001_catalog_keys_orgs_router.sql"),
    },
    Migration {
        version: 2,
        name: "change_journal",
        sql: include_str!("../migrations/0002_change_journal.sql"),
    },
    Migration {
        version: 3,
        name: "key_expiry_and_last_use",
        sql: include_str!("../migrations/0003_key_expiry_and_last_use.sql"),
    },
    Migration {
        version: 4,
        name: "accounts_sessions_and_device_grants",
        sql: include_str!("../migrations/0004_accounts_sessions_and_device_grants.sql"),
    },
    Migration {
        version: 5,
        name: "key_plugin_limits",
        sql: include_str!("../migrations/0005_key_plugin_limits.sql"),
    },
    Migration {
        version: 6,
        name: "owners_teams_and_invitations",
        sql: include_str!("../migrations/0006_owners_teams_and_invitations.sql"),
    },
    Migration {
        version: 7,
        name: "rate_limit_marks",
        sql: include_str!("../migrations/0007_rate_limit_marks.sql"),
    },
    Migration {
        version: 8,
        name: "slug_skeletons",
        sql: include_str!("../migrations/0008_slug_skeletons.sql"),
    },
    Migration {
        version: 9,
        name: "audit_log",
        sql: include_str!("../migrations/0009_audit_log.sql"),
    },
    Migration {
        version: 10,
        name: "plugin_reports",
        sql: include_str!("../migrations/0010_plugin_reports.sql"),
    },
    Migration {
        version: 11,
        name: "plugin_quarantine",
        sql: include_str!("../migrations/0011_plugin_quarantine.sql"),
    },
    Migration {
        version: 12,
        name: "trusted_publishing",
        sql: include_str!("../migrations/0012_trusted_publishing.sql"),
    },
    Migration {
        version: 13,
        name: "publishing_locks",
        sql: include_str!("../migrations/0013_publishing_locks.sql"),
    },
    Migration {
        version: 14,
        name: "org_members_by_principal",
        sql: include_str!("../migrations/0014_org_members_by_principal.sql"),
    },
    Migration {
        version: 15,
        name: "account_email",
        sql: include_str!("../migrations/0015_account_email.sql"),
    },
    Migration {
        version: 16,
        name: "change_journal_scope",
        sql: include_str!("../migrations/0016_change_journal_scope.sql"),
    },
    Migration {
        version: 17,
        name: "scheduled_runs",
        sql: include_str!("../migrations/0017_scheduled_runs.sql"),
    },
    Migration {
        version: 18,
        name: "downloads_by_client_and_month",
        sql: include_str!("../migrations/0018_downloads_by_client_and_month.sql"),
    },
    Migration {
        version: 19,
        name: "healthy_instance_history",
        sql: include_str!("../migrations/0019_healthy_instance_history.sql"),
    },
    Migration {
        version: 20,
        name: "version_review",
        sql: include_str!("../migrations/0020_version_review.sql"),
    },
    Migration {
        version: 21,
        name: "webhooks",
        sql: include_str!("../migrations/0021_webhooks.sql"),
    },
];

/// Why a database could not be brought to this build's schema.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The database was migrated by a newer build.
    #[error(
        "the database's schema is at migration {found}, newer than this build's {known}: run a registry at least as new as the one that migrated it"
    )]
    NewerSchema {
        /// The highest migration recorded in the database.
        found: u32,
        /// The highest migration this build has.
        known: u32,
    },
}

/// Brings `conn` to the newest schema.
pub(crate) fn apply(conn: &mut Connection) -> Result<(), StorageError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL
        );",
    )
    .map_err(backend)?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let found: u32 = conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if found > known {
        return Err(StorageError::Backend(Box::new(
            MigrationError::NewerSchema { found, known },
        )));
    }
    if found == 0 && table_exists(conn, "plugins")? {
        add_columns_of_unversioned_releases(conn)?;
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        tx.execute_batch(migration.sql).map_err(backend)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![
                migration.version,
                migration.name,
                SystemClock.now().to_string()
            ],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

fn table_exists(conn: &Connection, table: &str) -> Result<bool, StorageError> {
    conn.query_row(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
    .map_err(backend)
}

/// Columns added to existing tables before migrations were versioned, which
/// `CREATE TABLE IF NOT EXISTS` in migration 1 cannot add.
fn add_columns_of_unversioned_releases(conn: &Connection) -> Result<(), StorageError> {
    let has_health: bool = conn
        .query_row(
            "SELECT COUNT(*) > 0 FROM pragma_table_info('plugins') WHERE name = 'healthy_instances'",
            [],
            |r| r.get(0),
        )
        .map_err(backend)?;
    if !has_health {
        conn.execute(
            "ALTER TABLE plugins ADD COLUMN healthy_instances INTEGER NOT NULL DEFAULT 0",
            [],
        )
        .map_err(backend)?;
    }
    Ok(())
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
