//! A failed write never leaves a half-published version (embedded stores).
#![allow(missing_docs)]

use std::sync::Arc;

use registry_core::store::contract::faults::failed_publishes_leave_nothing_visible;
use registry_core::store::{FileArtifactStore, SqliteStore};

#[tokio::test]
async fn embedded_stores_never_show_a_half_published_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let artifacts = Arc::new(FileArtifactStore::new(dir.path()));
    failed_publishes_leave_nothing_visible(store.clone(), artifacts, store, "sqlite").await;
}
