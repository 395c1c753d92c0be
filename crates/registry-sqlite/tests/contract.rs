//! The storage contract, run against the SQLite adapters and the file artifact
//! store; and the schema migrations, from an empty database and from databases
//! made before migrations were versioned.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;

use registry_core::auth::{Principal, PrincipalId, PrincipalKind};
use registry_core::downloads::{DownloadClient, DownloadCount, DownloadKey};
use registry_core::ownership::{Role, RosterEntry, RosterKey};
use registry_core::store::FileArtifactStore;
use registry_core::store::contract::faults::{
    failed_publishes_leave_nothing_visible, publishes_read_no_version_history,
};
use registry_core::store::contract::sample_version;
use registry_core::store::contract::{
    DailyExpiry, account_store_contract, artifact_store_contract, catalog_contract,
    key_store_contract,
};
use registry_core::store::contract::{org_catalog_store_contract, org_store_contract};
use registry_core::store::{
    CatalogStore, DownloadCounters, KeyStore, LatestSummary, OwnershipStore,
};
use registry_core::timestamp::Timestamp;
use registry_sqlite::SqliteStore;
use registry_sqlite::migrations::MIGRATIONS;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_catalog_keeps_the_catalog_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    catalog_contract(Arc::new(store), "sqlite", DailyExpiry::RollUpDeletes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_journal_keeps_the_change_journal_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    registry_core::store::contract::change_journal_contract(&store, &store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_deliveries_commit_with_their_change() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    registry_core::store::contract::deliveries_commit_with_their_change_contract(
        &store, &store, &store, &store, "sqlite",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_crash_after_the_commit_loses_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap());
    registry_core::store::contract::faults::a_crash_after_the_commit_loses_no_event(
        store.clone(),
        Arc::new(FileArtifactStore::new(dir.path())),
        store.clone(),
        store,
        "sqlite",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_keeps_the_node_coordination_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    registry_core::store::contract::node_coordination_contract(
        vec![Arc::new(store.clone()), Arc::new(store)],
        "sqlite",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_keys_keep_the_key_store_contract() {
    let store = SqliteStore::in_memory().unwrap();
    key_store_contract(Arc::new(store), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_accounts_keep_the_account_store_contract() {
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    account_store_contract(store.clone(), store, "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_ownership_keeps_the_ownership_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    registry_core::store::contract::ownership_store_contract(Arc::new(store), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_audit_log_keeps_the_audit_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    registry_core::store::contract::audit_store_contract(Arc::new(store), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_webhooks_keep_the_webhook_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    registry_core::store::contract::webhook_store_contract(Arc::new(store), "sqlite", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_reports_keep_the_report_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    registry_core::store::contract::report_store_contract(Arc::new(store), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_trusted_publishing_keeps_its_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    registry_core::store::contract::trusted_publishing_store_contract(Arc::new(store), "sqlite")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_rate_limits_keep_the_rate_limit_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    registry_core::store::contract::rate_limit_store_contract(Arc::new(store), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_artifacts_keep_the_artifact_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    artifact_store_contract(Arc::new(FileArtifactStore::new(dir.path())), "files").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_orgs_keep_the_org_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    org_store_contract(Arc::new(store), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_org_catalog_keeps_the_org_catalog_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    org_catalog_store_contract(Arc::new(store), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_router_keeps_the_router_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap());
    registry_core::store::contract::mcp_router_store_contract(
        store.clone(),
        store,
        "sqlite",
        DailyExpiry::RollUpDeletes,
    )
    .await;
}

#[test]
fn sqlite_adds_the_health_column_to_a_catalog_from_an_earlier_release() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite3");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE plugins (slug TEXT PRIMARY KEY, owner TEXT NOT NULL, created_at TEXT NOT NULL,
             updated_at TEXT NOT NULL, downloads INTEGER NOT NULL DEFAULT 0, revision INTEGER NOT NULL, latest TEXT);
             INSERT INTO plugins VALUES ('old', 'prn_1', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 7, 1, NULL);",
        )
        .unwrap();
    }
    SqliteStore::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let (downloads, healthy): (i64, i64) = conn
        .query_row(
            "SELECT downloads, healthy_instances FROM plugins WHERE slug = 'old'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((downloads, healthy), (7, 0));
    assert_eq!(recorded_migrations(&path), every_migration());
    // Opening again finds the column there and leaves it.
    SqliteStore::open(&path).unwrap();
    assert_eq!(recorded_migrations(&path), every_migration());
}

fn recorded_migrations(path: &std::path::Path) -> Vec<(u32, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut statement = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn every_migration() -> Vec<(u32, String)> {
    MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned()))
        .collect()
}

#[test]
fn an_empty_database_gets_every_migration_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite3");
    SqliteStore::open(&path).unwrap();
    assert_eq!(recorded_migrations(&path), every_migration());
    SqliteStore::open(&path).unwrap();
    assert_eq!(recorded_migrations(&path), every_migration());
}

/// A database as the release before versioned migrations left it: its schema is
/// migration 1's (taken verbatim from that release) and it has no
/// `schema_migrations`. It is made here by today's code, then stripped of the
/// record, so its rows are the ones the store really writes.
#[tokio::test]
async fn a_database_from_before_versioned_migrations_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite3");
    let principal = Principal {
        id: PrincipalId::from_stored("prn_0123456789abcdef"),
        name: "ci".to_owned(),
        kind: PrincipalKind::Team,
        created_at: Timestamp::parse("2026-11-30T12:00:00Z").unwrap(),
    };
    let published = sample_version("migrated", "1.0.0");
    let slug = published.manifest.slug.clone();
    // Every character the skeleton maps, so migration 8's SQL is held to the Rust.
    let odd = sample_version("r1-5-0rnvv-i", "1.0.0");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.create_principal(&principal).await.unwrap();
        store
            .create_plugin(
                &odd.manifest.slug,
                &principal.id,
                &odd,
                Some(&LatestSummary::of(&odd)),
                &[],
            )
            .await
            .unwrap();
        store
            .create_plugin(
                &slug,
                &principal.id,
                &published,
                Some(&LatestSummary::of(&published)),
                &[],
            )
            .await
            .unwrap();
    }
    // That release had neither the record nor what later migrations add.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP TABLE schema_migrations; DROP TABLE change_journal;
             ALTER TABLE api_keys DROP COLUMN expires_at;
             ALTER TABLE api_keys DROP COLUMN last_used_at;
             ALTER TABLE api_keys DROP COLUMN plugins;
             DROP TABLE accounts; DROP TABLE sessions; DROP TABLE login_attempts;
             DROP TABLE device_grants;
             DROP TABLE rosters; DROP TABLE roster_entries; DROP TABLE owner_invitations;
             DROP TABLE rate_marks; DROP TABLE slug_skeletons; DROP TABLE audit_log;
             DROP TABLE plugin_reports; DROP TABLE trusted_publishers; DROP TABLE publish_tokens;
             DROP TABLE publishing_locks; DROP TABLE scheduled_runs;
             ALTER TABLE plugins DROP COLUMN quarantine;
             DROP TABLE monthly_downloads; DROP TABLE sealed_download_months;
             DROP TABLE counted_log_parts; DROP TABLE counted_log_files;
             DROP TABLE daily_healthy_instances; DROP TABLE webhook_subscriptions; DROP TABLE webhook_deliveries;
             DROP INDEX versions_in_review; ALTER TABLE versions DROP COLUMN review;
             DROP TABLE daily_downloads;
             CREATE TABLE daily_downloads (slug TEXT NOT NULL, version TEXT NOT NULL,
                 day TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (slug, version, day));
             INSERT INTO daily_downloads VALUES ('migrated', '1.0.0', '2026-11-30', 4);",
        )
        .unwrap();

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store.principal(&principal.id).await.unwrap(),
        Some(principal.clone())
    );
    let owners = store
        .roster(&RosterKey::PluginOwners(slug.clone()))
        .await
        .unwrap();
    assert_eq!(
        owners.entries,
        vec![RosterEntry {
            principal: principal.id.clone(),
            role: Role::Owner,
            since: published.published_at,
        }],
        "a plugin from before owners existed is owned by its first publisher"
    );
    assert_eq!(
        store.rosters_of(&principal.id).await.unwrap().len(),
        2,
        "and they are among that publisher's plugins"
    );
    for claimed in [&slug, &odd.manifest.slug] {
        assert_eq!(
            store.slug_with_skeleton(&claimed.skeleton()).await.unwrap(),
            Some(claimed.clone()),
            "migration 8 claims {claimed}'s skeleton as the Rust computes it"
        );
    }
    let day = time::macros::date!(2026 - 11 - 30);
    assert_eq!(
        store.download_counts(&slug, day, day).await.unwrap(),
        vec![DownloadCount {
            key: DownloadKey {
                slug: slug.clone(),
                version: published.version.clone(),
                day,
                client: DownloadClient::Other,
            },
            count: 4,
        }],
        "downloads counted before clients were are kept, as other clients'"
    );
    assert_eq!(recorded_migrations(&path), every_migration());
}

#[test]
fn a_database_migrated_by_a_newer_build_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.sqlite3");
    SqliteStore::open(&path).unwrap();
    let newest = MIGRATIONS.last().unwrap().version;
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, 'from_the_future', '2030-01-01T00:00:00Z')",
            [newest + 1],
        )
        .unwrap();
    let Err(error) = SqliteStore::open(&path) else {
        panic!("a newer schema was opened");
    };
    let message = std::error::Error::source(&error).unwrap().to_string();
    assert!(
        message.contains(&format!("migration {}", newest + 1)),
        "{message}"
    );
    assert_eq!(recorded_migrations(&path).len(), MIGRATIONS.len() + 1);
}

#[tokio::test]
async fn embedded_stores_never_show_a_half_published_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let artifacts = Arc::new(FileArtifactStore::new(dir.path()));
    failed_publishes_leave_nothing_visible(
        store.clone(),
        artifacts.clone(),
        store.clone(),
        "sqlite",
    )
    .await;
    publishes_read_no_version_history(store.clone(), artifacts, store, "sqlite").await;
}
