//! Wrappers that fail on demand, to prove a failed write never leaves a
//! half-published version on any backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use bytes::Bytes;

use crate::artifact::ArtifactKey;
use crate::auth::{Caller, Credential, KeyId, PrincipalId, Scope, Scopes};
use crate::manifest::DocumentFormat;
use crate::moderation::Quarantine;
use crate::registry::PublishBody;
use crate::slug::Slug;
use crate::store::{
    ArtifactStore, CatalogStore, KeyStore, LatestSummary, PluginHead, PluginListing, PluginRecord,
    PutOutcome, StorageError, VersionChange, VersionRecord,
};
use crate::timestamp::{SystemClock, Timestamp};
use crate::version::PluginVersion;
use crate::{Registry, RegistryConfig, RegistryError};

/// An artifact store whose writes fail while `fail` is set.
pub struct FailingArtifacts {
    /// The real store.
    pub inner: Arc<dyn ArtifactStore>,
    /// Whether writes fail.
    pub fail: AtomicBool,
}

#[async_trait]
impl ArtifactStore for FailingArtifacts {
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

/// A catalog whose publishing writes fail while `fail` is set: the crash
/// between the artifact write and the catalog write. It also counts reads of a
/// whole plugin (every version's state), which a publish must not need.
pub struct FailingCatalog {
    /// The real catalog.
    pub inner: Arc<dyn CatalogStore>,
    /// Whether publishing writes fail.
    pub fail: AtomicBool,
    /// Reads of a plugin with every version's state, so far.
    pub whole_plugin_reads: AtomicUsize,
}

impl FailingCatalog {
    /// `inner`, its writes not failing yet.
    pub fn new(inner: Arc<dyn CatalogStore>) -> Self {
        Self {
            inner,
            fail: AtomicBool::new(false),
            whole_plugin_reads: AtomicUsize::new(0),
        }
    }
}

impl FailingCatalog {
    fn check(&self) -> Result<(), StorageError> {
        if self.fail.load(Ordering::SeqCst) {
            Err(StorageError::Backend("injected catalog failure".into()))
        } else {
            Ok(())
        }
    }
}

crate::delegate_download_counters!(FailingCatalog, inner);

#[async_trait]
impl CatalogStore for FailingCatalog {
    async fn plugin(&self, slug: &Slug) -> Result<Option<PluginRecord>, StorageError> {
        self.whole_plugin_reads.fetch_add(1, Ordering::SeqCst);
        self.inner.plugin(slug).await
    }
    async fn plugin_head(&self, slug: &Slug) -> Result<Option<PluginHead>, StorageError> {
        self.inner.plugin_head(slug).await
    }
    async fn highest_live_version(
        &self,
        slug: &Slug,
    ) -> Result<Option<PluginVersion>, StorageError> {
        self.inner.highest_live_version(slug).await
    }
    async fn version(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<VersionRecord>, StorageError> {
        self.inner.version(slug, version).await
    }
    async fn slug_with_skeleton(&self, skeleton: &str) -> Result<Option<Slug>, StorageError> {
        self.inner.slug_with_skeleton(skeleton).await
    }

    async fn create_plugin(
        &self,
        slug: &Slug,
        owner: &PrincipalId,
        first: &VersionRecord,
        latest: Option<&LatestSummary>,
    ) -> Result<(), StorageError> {
        self.check()?;
        self.inner.create_plugin(slug, owner, first, latest).await
    }
    async fn add_version(
        &self,
        slug: &Slug,
        expected: u64,
        record: &VersionRecord,
        latest: Option<&LatestSummary>,
    ) -> Result<(), StorageError> {
        self.check()?;
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
    async fn versions_pending_review(
        &self,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError> {
        self.check()?;
        self.inner.versions_pending_review(limit).await
    }

    async fn set_plugin_quarantine(
        &self,
        slug: &Slug,
        expected: u64,
        quarantine: Option<&Quarantine>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        self.check()?;
        self.inner
            .set_plugin_quarantine(slug, expected, quarantine, at)
            .await
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

/// A publish, an update and a refused publish read the plugin's row and the
/// versions they weigh, never every version's state: what a publish holds does not
/// grow with the plugin's history.
pub async fn publishes_read_no_version_history(
    catalog: Arc<dyn CatalogStore>,
    artifacts: Arc<dyn ArtifactStore>,
    keys: Arc<dyn KeyStore>,
    prefix: &str,
) {
    let counted = Arc::new(FailingCatalog::new(catalog));
    let registry = registry(counted.clone(), artifacts, keys);
    let slug = format!("{prefix}-history");
    let whole_reads_of = |what: &str, before: usize| {
        assert_eq!(
            counted.whole_plugin_reads.load(Ordering::SeqCst),
            before,
            "{what} read the whole plugin"
        );
    };
    for version in ["1.0.0", "1.1.0", "0.9.0", "2.0.0-rc.1"] {
        registry
            .publish_version(&publisher(), document(&slug, version))
            .await
            .expect("publish");
    }
    whole_reads_of("a publish", 0);
    let parsed = Slug::parse(&slug).expect("slug");
    let updated = registry
        .update_plugin(&publisher(), &parsed, document(&slug, "2.0.0"))
        .await
        .expect("update");
    assert_eq!(
        updated.previous_version.map(|v| v.to_string()).as_deref(),
        Some("2.0.0-rc.1"),
        "an update names the highest version before it"
    );
    whole_reads_of("an update", 0);
    let stale = registry
        .update_plugin(&publisher(), &parsed, document(&slug, "1.5.0"))
        .await;
    assert!(
        matches!(stale, Err(RegistryError::VersionNotIncremented { .. })),
        "{stale:?}"
    );
    let again = registry
        .publish_version(&publisher(), document(&slug, "1.1.0"))
        .await;
    assert!(
        matches!(again, Err(RegistryError::VersionExists { .. })),
        "{again:?}"
    );
    whole_reads_of("a refused publish", 0);
    let details = registry.plugin_details(&slug, None).await.expect("details");
    assert_eq!(
        details.manifest.version.to_string(),
        "2.0.0",
        "the latest moved to the update, over the pre-release"
    );
    assert_eq!(details.versions.map(|v| v.len()), Some(5));
}

fn document(slug: &str, version: &str) -> PublishBody {
    PublishBody::Document {
        bytes: Bytes::from(super::sample_document(slug, version)),
        format: DocumentFormat::Yaml,
    }
}

fn publisher() -> Caller {
    Caller {
        principal: PrincipalId::from_stored("prn_author"),
        credential: Credential::Key(KeyId::from_stored("key_author")),
        scopes: Scopes::from([Scope::Publish]),
        plugins: None,
        request: None,
    }
}

fn registry(
    catalog: Arc<dyn CatalogStore>,
    artifacts: Arc<dyn ArtifactStore>,
    keys: Arc<dyn KeyStore>,
) -> Registry {
    Registry::new(
        catalog,
        artifacts,
        keys,
        Arc::new(SystemClock),
        RegistryConfig {
            public_url: "http://test".into(),
            private: false,
        },
    )
}

/// A publish whose artifact write fails, and one whose catalog write fails after
/// the artifacts landed, leave no visible version; the retries succeed.
pub async fn failed_publishes_leave_nothing_visible(
    catalog: Arc<dyn CatalogStore>,
    artifacts: Arc<dyn ArtifactStore>,
    keys: Arc<dyn KeyStore>,
    prefix: &str,
) {
    let failing_artifacts = Arc::new(FailingArtifacts {
        inner: artifacts,
        fail: AtomicBool::new(true),
    });
    let failing_catalog = Arc::new(FailingCatalog::new(catalog));
    let registry = registry(failing_catalog.clone(), failing_artifacts.clone(), keys);
    let slug = format!("{prefix}-fragile");

    let failed = registry
        .publish_version(&publisher(), document(&slug, "1.0.0"))
        .await;
    assert!(
        matches!(
            failed,
            Err(RegistryError::Storage(StorageError::Unavailable(_)))
        ),
        "{failed:?}"
    );
    assert!(matches!(
        registry.plugin_details(&slug, None).await,
        Err(RegistryError::PluginNotFound { .. })
    ));
    failing_artifacts.fail.store(false, Ordering::SeqCst);
    registry
        .publish_version(&publisher(), document(&slug, "1.0.0"))
        .await
        .expect("the retry publishes");

    // The artifacts of 1.1.0 land, then the catalog write fails.
    failing_catalog.fail.store(true, Ordering::SeqCst);
    assert!(
        registry
            .publish_version(&publisher(), document(&slug, "1.1.0"))
            .await
            .is_err()
    );
    let details = registry
        .plugin_details(&slug, None)
        .await
        .expect("1.0.0 is still there");
    assert_eq!(
        details.manifest.version.to_string(),
        "1.0.0",
        "1.1.0 is not visible"
    );
    assert_eq!(details.versions.map(|v| v.len()), Some(1));
    assert!(matches!(
        registry.plugin_details(&slug, Some("1.1.0")).await,
        Err(RegistryError::VersionNotFound { .. })
    ));
    assert!(matches!(
        registry.download_schema(&slug, "1.1.0").await,
        Err(RegistryError::VersionNotFound { .. })
    ));

    failing_catalog.fail.store(false, Ordering::SeqCst);
    registry
        .publish_version(&publisher(), document(&slug, "1.1.0"))
        .await
        .expect("the retry publishes");
    let download = registry
        .download_schema(&slug, "1.1.0")
        .await
        .expect("visible now");
    assert_eq!(
        download.bytes.as_ref(),
        super::sample_document(&slug, "1.1.0").as_bytes()
    );
}
