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
use crate::webhook::Delivery;
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
    /// Whether the process "dies" right after a version write commits: the
    /// write stands, and nothing after it in the request runs.
    pub crash_after_commit: AtomicBool,
}

impl FailingCatalog {
    /// `inner`, its writes not failing yet.
    pub fn new(inner: Arc<dyn CatalogStore>) -> Self {
        Self {
            inner,
            fail: AtomicBool::new(false),
            whole_plugin_reads: AtomicUsize::new(0),
            crash_after_commit: AtomicBool::new(false),
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

    /// Ends the task (a panic) if a crash after the commit is asked for.
    fn committed(&self, written: Result<(), StorageError>) -> Result<(), StorageError> {
        if written.is_ok() && self.crash_after_commit.load(Ordering::SeqCst) {
            panic!("injected crash right after the catalog commit");
        }
        written
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
        told: &[Delivery],
    ) -> Result<(), StorageError> {
        self.check()?;
        let written = self
            .inner
            .create_plugin(slug, owner, first, latest, told)
            .await;
        self.committed(written)
    }
    async fn add_version(
        &self,
        slug: &Slug,
        expected: u64,
        record: &VersionRecord,
        latest: Option<&LatestSummary>,
        told: &[Delivery],
    ) -> Result<(), StorageError> {
        self.check()?;
        let written = self
            .inner
            .add_version(slug, expected, record, latest, told)
            .await;
        self.committed(written)
    }
    async fn change_version(
        &self,
        slug: &Slug,
        expected: u64,
        version: &PluginVersion,
        change: &VersionChange,
        latest: Option<&LatestSummary>,
        at: Timestamp,
        told: &[Delivery],
    ) -> Result<(), StorageError> {
        let written = self
            .inner
            .change_version(slug, expected, version, change, latest, at, told)
            .await;
        self.committed(written)
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

/// Stands in for the network: nothing is sent (these checks read the stored
/// deliveries), and nothing is woken.
struct NoDelivery;

#[async_trait]
impl crate::webhook::WebhookSender for NoDelivery {
    async fn resolve(&self, host: &str, _port: u16) -> Result<Vec<std::net::IpAddr>, String> {
        Err(format!("{host}: these checks resolve no name"))
    }

    async fn post(
        &self,
        url: &crate::mcp_router::TargetUrl,
        _headers: &[(&'static str, String)],
        _body: &str,
    ) -> Result<u16, String> {
        Err(format!("{url}: these checks send nothing"))
    }
}

#[async_trait]
impl crate::webhook::DeliveryQueue for NoDelivery {
    async fn enqueue(&self, _deliveries: &[Delivery]) -> Result<(), crate::store::BackendError> {
        Ok(())
    }
}

/// A publish or a deprecation whose process dies right after the catalog
/// commits still tells its subscribers: the change's deliveries were
/// committed with it, so a crash cannot leave a live version untold.
pub async fn a_crash_after_the_commit_loses_no_event(
    catalog: Arc<dyn CatalogStore>,
    artifacts: Arc<dyn ArtifactStore>,
    keys: Arc<dyn KeyStore>,
    hooks: Arc<dyn crate::store::WebhookStore>,
    prefix: &str,
) {
    use crate::webhook::{EventKind, HookScope, SigningSecret, Subscription, SubscriptionId};

    let crashing = Arc::new(FailingCatalog::new(catalog));
    let registry = Arc::new(registry(crashing.clone(), artifacts, keys).with_webhooks(
        crate::registry::WebhookParts {
            store: hooks.clone(),
            sender: Arc::new(NoDelivery),
            queue: Arc::new(NoDelivery),
            settings: crate::registry::WebhookSettings::default(),
        },
    ));
    let slug = format!("{prefix}-crashing");
    let parsed = Slug::parse(&slug).expect("slug");
    let subscription = Subscription {
        id: SubscriptionId::generate().expect("entropy"),
        scope: HookScope::Plugin(parsed.clone()),
        url: crate::mcp_router::TargetUrl::parse("https://hooks.example.com/told").expect("url"),
        events: [EventKind::VersionPublished, EventKind::VersionDeprecated].into(),
        secret: SigningSecret::generate().expect("entropy"),
        created_by: PrincipalId::from_stored("prn_author"),
        created_at: crate::timestamp::Clock::now(&SystemClock),
        check: None,
    };
    hooks
        .insert_subscription(&subscription)
        .await
        .expect("subscribe");
    registry
        .publish_version(&publisher(), document(&slug, "1.0.0"))
        .await
        .expect("publish");

    crashing.crash_after_commit.store(true, Ordering::SeqCst);
    let publishing = Arc::clone(&registry);
    let document_slug = slug.clone();
    let crashed = tokio::spawn(async move {
        publishing
            .publish_version(&publisher(), document(&document_slug, "1.1.0"))
            .await
    })
    .await;
    assert!(crashed.is_err_and(|e| e.is_panic()), "the publish died");
    let deprecating = Arc::clone(&registry);
    let deprecated_slug = slug.clone();
    let crashed = tokio::spawn(async move {
        deprecating
            .deprecate_version(
                &publisher(),
                &deprecated_slug,
                "1.0.0",
                "use 1.1.0",
                Some("1.1.0"),
            )
            .await
    })
    .await;
    assert!(crashed.is_err_and(|e| e.is_panic()), "the deprecation died");
    crashing.crash_after_commit.store(false, Ordering::SeqCst);

    let details = registry
        .plugin_details(&slug, Some("1.0.0"))
        .await
        .expect("committed");
    assert!(details.deprecated.is_some(), "the deprecation committed");
    let mut told: Vec<(EventKind, String)> = hooks
        .deliveries(&subscription.id, 100)
        .await
        .expect("deliveries")
        .into_iter()
        .map(|d| {
            let body: serde_json::Value = serde_json::from_str(&d.body).expect("json");
            (
                d.kind,
                body["data"]["version"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    told.sort();
    let mut committed = vec![
        (EventKind::VersionPublished, "1.0.0".to_owned()),
        (EventKind::VersionPublished, "1.1.0".to_owned()),
        (EventKind::VersionDeprecated, "1.0.0".to_owned()),
    ];
    committed.sort();
    assert_eq!(
        told, committed,
        "every committed change is told, the crashed ones too"
    );
}
