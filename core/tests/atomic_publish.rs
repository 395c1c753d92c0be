//! A failed write never leaves a half-published version: with the artifact store or
//! the catalog failing on purpose, a publish fails and nothing becomes visible.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use registry_core::artifact::ArtifactKey;
use registry_core::auth::{Caller, KeyId, PrincipalId, Scope, Scopes};
use registry_core::manifest::DocumentFormat;
use registry_core::registry::PublishBody;
use registry_core::slug::Slug;
use registry_core::store::{
    ArtifactStore, CatalogStore, FileArtifactStore, LatestSummary, PluginListing, PluginRecord,
    PutOutcome, SqliteStore, StorageError, VersionChange, VersionRecord,
};
use registry_core::timestamp::{SystemClock, Timestamp};
use registry_core::version::PluginVersion;
use registry_core::{Registry, RegistryConfig, RegistryError};

const DOC: &str = "slug: fragile\nversion: 1.0.0\nname: F\ndescription: D\nauthor: A\nhomepage: https://h.io\n\
                   repository: https://r.io\nlicense: MIT\nicon: https://i.io\ntags: [t]\nactions:\n  - name: run\n    description: r\n";

/// Fails every write while `fail` is set.
struct FlakyArtifacts {
    inner: FileArtifactStore,
    fail: AtomicBool,
}

#[async_trait]
impl ArtifactStore for FlakyArtifacts {
    async fn put_if_absent(
        &self,
        key: &ArtifactKey,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<PutOutcome, StorageError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StorageError::Unavailable(
                "injected artifact failure".into(),
            ));
        }
        self.inner.put_if_absent(key, bytes, content_type).await
    }

    async fn get(&self, key: &ArtifactKey) -> Result<Option<Bytes>, StorageError> {
        self.inner.get(key).await
    }
}

/// Fails the catalog's publishing writes while `fail` is set; everything else passes through.
struct FlakyCatalog {
    inner: SqliteStore,
    fail: AtomicBool,
}

#[async_trait]
impl CatalogStore for FlakyCatalog {
    async fn plugin(&self, slug: &Slug) -> Result<Option<PluginRecord>, StorageError> {
        self.inner.plugin(slug).await
    }
    async fn version(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<VersionRecord>, StorageError> {
        self.inner.version(slug, version).await
    }
    async fn create_plugin(
        &self,
        slug: &Slug,
        owner: &PrincipalId,
        first: &VersionRecord,
        latest: &LatestSummary,
    ) -> Result<(), StorageError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StorageError::Backend("injected catalog failure".into()));
        }
        self.inner.create_plugin(slug, owner, first, latest).await
    }
    async fn add_version(
        &self,
        slug: &Slug,
        expected: u64,
        record: &VersionRecord,
        latest: &LatestSummary,
    ) -> Result<(), StorageError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StorageError::Backend("injected catalog failure".into()));
        }
        self.inner.add_version(slug, expected, record, latest).await
    }
    async fn change_version(
        &self,
        slug: &Slug,
        expected: u64,
        version: &PluginVersion,
        change: &VersionChange,
        latest: Option<&LatestSummary>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        self.inner
            .change_version(slug, expected, version, change, latest, at)
            .await
    }
    async fn record_download(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        day: time::Date,
    ) -> Result<(), StorageError> {
        self.inner.record_download(slug, version, day).await
    }
    async fn downloads_since(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        since: time::Date,
    ) -> Result<u64, StorageError> {
        self.inner.downloads_since(slug, version, since).await
    }
    async fn roll_up_downloads(&self) -> Result<usize, StorageError> {
        self.inner.roll_up_downloads().await
    }
    async fn catalog_revision(&self) -> Result<u64, StorageError> {
        self.inner.catalog_revision().await
    }
    async fn list_plugins(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<PluginListing>, StorageError> {
        self.inner.list_plugins(after, limit).await
    }
}

fn publisher() -> Caller {
    Caller {
        principal: PrincipalId::from_stored("prn_author"),
        key_id: KeyId::from_stored("key_author"),
        scopes: Scopes::from([Scope::Publish]),
    }
}

fn body() -> PublishBody {
    PublishBody::Document {
        bytes: Bytes::from_static(DOC.as_bytes()),
        format: DocumentFormat::Yaml,
    }
}

#[tokio::test]
async fn an_artifact_failure_publishes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let artifacts = Arc::new(FlakyArtifacts {
        inner: FileArtifactStore::new(dir.path()),
        fail: AtomicBool::new(true),
    });
    let registry = Registry::new(
        store.clone(),
        artifacts.clone(),
        store.clone(),
        Arc::new(SystemClock),
        RegistryConfig {
            public_url: "http://test".into(),
            private: false,
        },
    );
    let failed = registry.publish_version(&publisher(), body()).await;
    assert!(
        matches!(
            failed,
            Err(RegistryError::Storage(StorageError::Unavailable(_)))
        ),
        "{failed:?}"
    );
    assert!(matches!(
        registry.plugin_details("fragile", None).await,
        Err(RegistryError::PluginNotFound { .. })
    ));
    assert_eq!(
        registry
            .search_plugins(None, None, None, None)
            .await
            .unwrap()
            .total,
        0
    );

    artifacts.fail.store(false, Ordering::SeqCst);
    registry
        .publish_version(&publisher(), body())
        .await
        .expect("the retry publishes");
    assert_eq!(
        registry
            .plugin_details("fragile", None)
            .await
            .unwrap()
            .manifest
            .version
            .to_string(),
        "1.0.0"
    );
}

#[tokio::test]
async fn a_catalog_failure_after_the_artifacts_leaves_no_visible_version() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = Arc::new(FlakyCatalog {
        inner: SqliteStore::in_memory().unwrap(),
        fail: AtomicBool::new(true),
    });
    let keys = Arc::new(SqliteStore::in_memory().unwrap());
    let registry = Registry::new(
        catalog.clone(),
        Arc::new(FileArtifactStore::new(dir.path())),
        keys,
        Arc::new(SystemClock),
        RegistryConfig {
            public_url: "http://test".into(),
            private: false,
        },
    );
    assert!(
        registry
            .publish_version(&publisher(), body())
            .await
            .is_err()
    );
    assert!(matches!(
        registry.plugin_details("fragile", None).await,
        Err(RegistryError::PluginNotFound { .. })
    ));
    assert!(matches!(
        registry.download_schema("fragile", "1.0.0").await,
        Err(RegistryError::PluginNotFound { .. })
    ));

    // The orphaned artifact is content-addressed, so the retry reuses it.
    catalog.fail.store(false, Ordering::SeqCst);
    registry
        .publish_version(&publisher(), body())
        .await
        .expect("the retry publishes");
    let download = registry.download_schema("fragile", "1.0.0").await.unwrap();
    assert_eq!(download.bytes.as_ref(), DOC.as_bytes());
}
