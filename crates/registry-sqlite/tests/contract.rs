//! The storage contract, run against the SQLite adapters and the file artifact store.
#![allow(missing_docs)]

use std::sync::Arc;

use registry_core::store::FileArtifactStore;
use registry_core::store::contract::faults::failed_publishes_leave_nothing_visible;
use registry_core::store::contract::{
    artifact_store_contract, catalog_contract, key_store_contract,
};
use registry_core::store::org_contract::{org_catalog_store_contract, org_store_contract};
use registry_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_catalog_keeps_the_catalog_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("catalog.sqlite3")).unwrap();
    catalog_contract(Arc::new(store), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_keys_keep_the_key_store_contract() {
    let store = SqliteStore::in_memory().unwrap();
    key_store_contract(Arc::new(store), "sqlite").await;
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
    registry_core::store::mcp_router_contract::mcp_router_store_contract(
        store.clone(),
        store,
        "sqlite",
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
    // Opening again finds the column there and leaves it.
    SqliteStore::open(&path).unwrap();
}

#[tokio::test]
async fn embedded_stores_never_show_a_half_published_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let artifacts = Arc::new(FileArtifactStore::new(dir.path()));
    failed_publishes_leave_nothing_visible(store.clone(), artifacts, store, "sqlite").await;
}
