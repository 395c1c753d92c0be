//! The storage contract, run against the embedded adapters.
#![allow(missing_docs)]

use std::sync::Arc;

use registry_core::store::contract::{
    artifact_store_contract, catalog_contract, key_store_contract,
};
use registry_core::store::org_contract::{org_catalog_store_contract, org_store_contract};
use registry_core::store::{FileArtifactStore, SqliteStore};

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
