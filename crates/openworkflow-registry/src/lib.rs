//! The all-in-one local / self-hosted registry: embedded storage, every route, the
//! static index built in process after each write, the download roll-up and the
//! MCP router's health checks on timers. `main.rs` only parses flags and calls in
//! here, so the tests start exactly what users run.

#[cfg(feature = "fault-injection")]
pub mod fault;
mod http_server;
pub mod migrate_store;
pub mod probe;
mod prometheus;
pub mod webhook_worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use registry_aws::replicated::{NoProgress, SyncProgress, SyncReport, credentials_available};
use registry_aws::setup::{SetupReport, ensure_resources};
use registry_aws::{
    AwsClients, AwsSettings, DynamoStore, ReplicatedArtifactStore, S3ArtifactStore, S3IndexStore,
    S3UploadStore,
};
use registry_core::registry::{
    CreatedKey, McpRouterSettings, OrgStores, SignInParts, WebhookParts, WebhookSettings,
};
use registry_core::slug::Slug;
use registry_core::store::{
    AccountStore, ArtifactStore, AuditStore, CatalogStore, ChangeJournal, FileArtifactStore,
    IndexStore, KeyStore, McpRouterStore, NodeCoordination, OrgCatalogStore, OrgStore,
    OwnershipStore, RateLimitStore, ReportStore, TrustedPublishingStore, UploadStore, WebhookStore,
    owner_only,
};
use registry_core::timestamp::{Clock, SystemClock};
use registry_core::{Registry, RegistryConfig};
use registry_http::AppState;
use registry_index::{
    FileIndexStore, INDEX_DIR, INDEX_KEY_FILE, InProcessIndexer, IndexBuilder, IndexSettings,
    IndexSigningKey, IndexedSearch,
};
use registry_outbound::{DEFAULT_CHECK_TIMEOUT, HttpWebhookSender, http_mcp_router};
use registry_postgres::PostgresStore;
use registry_sqlite::SqliteStore;
use tokio::net::TcpListener;
use webhook_worker::{WakeDeliveryWorker, deliver_webhooks_continuously};

/// File name of the catalog database inside the data directory.
pub const CATALOG_FILE: &str = "catalog.sqlite3";
/// File the first admin key is written to inside the data directory.
pub const ADMIN_KEY_FILE: &str = "admin.key";
/// How often daily download counters are folded into plugin totals.
pub const DOWNLOAD_ROLLUP_INTERVAL: Duration = Duration::from_secs(300);
/// How often the MCP router's health checks run, by default.
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(60);

/// Where the catalog lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Embedded {
        /// The file; `None`: [`CATALOG_FILE`] in the data directory.
        file: Option<PathBuf>,
    },
    /// A PostgreSQL database.
    Postgres {
        /// Its URL (`postgres://user:password@host:port/database`).
        url: String,
    },
    /// A DynamoDB table.
    Aws {
        /// The table's name.
        table: String,
    },
}

impl Backend {
    /// The catalog a `DATABASE_URL` names: `postgres://…` (or `postgresql://…`),
    /// or `sqlite://PATH` for the embedded store (`sqlite:///abs/path` is
    /// absolute, `sqlite://rel/path` relative to the working directory).
    pub fn from_database_url(url: &str) -> Result<Self, DatabaseUrlError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres {
                url: url.to_owned(),
            });
        }
        let Some(path) = url.strip_prefix("sqlite://") else {
            return Err(DatabaseUrlError::UnknownScheme);
        };
        // Options in a query string would be silently dropped here, and an
        // in-memory catalog would lose every publish at exit: refuse both.
        if path.is_empty() || path.contains('?') || path.starts_with(':') {
            return Err(DatabaseUrlError::NotAFile);
        }
        Ok(Self::Embedded {
            file: Some(PathBuf::from(path)),
        })
    }
}

/// Why a `DATABASE_URL` names no catalog this registry can open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    /// Neither PostgreSQL nor SQLite.
    #[error(
        "DATABASE_URL must be postgres://user:password@host:port/database or sqlite://PATH (sqlite:///absolute/path)"
    )]
    UnknownScheme,
    /// A `sqlite:` URL without a file, or with options.
    #[error(
        "a sqlite:// DATABASE_URL names the catalog's file and nothing else (sqlite:///var/lib/registry/catalog.sqlite3): no in-memory database, no ?options"
    )]
    NotAFile,
}

/// Where artifacts and the static index live (`STORAGE_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Storage {
    /// The data directory; artifacts are also copied to the bucket when one is
    /// configured.
    #[default]
    Filesystem,
    /// The bucket: artifacts, the signed index and staged uploads, so every node
    /// over the same database and bucket serves the same files.
    S3,
}

/// Everything needed to open a registry.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Data directory (SQLite, local artifacts, admin.key).
    pub data_dir: PathBuf,
    /// Base URL written into responses.
    pub public_url: String,
    /// Whether reads need a `read` key.
    pub private: bool,
    /// Where the catalog lives.
    pub backend: Backend,
    /// Where artifacts and the index live.
    pub storage: Storage,
    /// S3 bucket: the storage with [`Storage::S3`] (and the AWS backend), else
    /// where artifacts replicate to.
    pub bucket: Option<String>,
    /// The MCP router's thresholds and address policy.
    pub router: McpRouterSettings,
    /// How often `serve` runs a health pass.
    pub health_interval: Duration,
    /// One health check's time limit.
    pub check_timeout: Duration,
    /// The HTTP server's bounds on waits and connections.
    pub connections: ConnectionLimits,
    /// The sign-in providers (none: keys only).
    pub sign_in: SignInSettings,
    /// Rate limits per principal.
    pub rate_limits: RateLimits,
    /// The CI issuers whose OIDC tokens trusted publishing accepts (GitHub
    /// Actions' and GitLab.com's unless configured otherwise; none: no exchange).
    pub ci_issuers: Vec<(CiService, String)>,
    /// The SMTP relay owners' notices go through (none: the audit log only).
    pub mail: Option<MailSettings>,
    /// Bytes of recently read index files kept in memory (0: none).
    pub index_cache_bytes: usize,
    /// The index signing key's file, when given rather than kept in the data
    /// directory; read, never created (required when nodes share the index).
    pub index_key_file: Option<PathBuf>,
    /// How long daily download counters are kept (monthly totals stay forever).
    pub download_retention: registry_core::downloads::Retention,
    /// Whether new versions wait for a reviewer (by default none do).
    pub review: registry_core::review::ReviewPolicy,
    /// Webhook targets' address policy, retries and attempt timeout.
    pub webhooks: WebhookSettings,
    /// How often the delivery worker looks for due deliveries unprompted.
    pub webhook_poll: Duration,
}

impl ServerConfig {
    /// An embedded, public registry over `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>, public_url: impl Into<String>) -> Self {
        Self {
            data_dir: data_dir.into(),
            public_url: public_url.into(),
            private: false,
            backend: Backend::Embedded { file: None },
            storage: Storage::Filesystem,
            bucket: None,
            router: McpRouterSettings::default(),
            health_interval: DEFAULT_HEALTH_INTERVAL,
            check_timeout: DEFAULT_CHECK_TIMEOUT,
            connections: ConnectionLimits::default(),
            sign_in: SignInSettings::default(),
            rate_limits: RateLimits::default(),
            ci_issuers: CiTokenSettings::public_ci("").issuers,
            mail: None,
            index_cache_bytes: registry_index::DEFAULT_INDEX_CACHE_BYTES,
            index_key_file: None,
            download_retention: registry_core::downloads::Retention::default(),
            review: registry_core::review::ReviewPolicy::default(),
            webhooks: WebhookSettings::default(),
            webhook_poll: webhook_worker::DEFAULT_WEBHOOK_POLL,
        }
    }

    /// Whether several nodes can serve this registry: a PostgreSQL catalog with
    /// artifacts and the index in a bucket, so nothing a node writes is its own.
    pub fn shares_index(&self) -> bool {
        matches!(self.backend, Backend::Postgres { .. }) && self.storage == Storage::S3
    }
}

pub use http_server::{ConnectionLimits, serve_http};
pub use prometheus::{HeapFigures, report_heap_figures};
pub use registry_aws::s3_needs_path_style;
pub use registry_core::rate_limit::{Rate, RateLimits};
pub use registry_identity::{
    CiService, CiTokenSettings, GitHubSettings, OidcSettings, SignInSettings,
};
pub use registry_mail::MailSettings;

/// An opened registry: its services, its static index and the index's builder.
#[derive(Clone)]
pub struct OpenedRegistry {
    /// The registry services.
    pub registry: Arc<Registry>,
    /// The static index (`DATA/index/`, or `index/` in the bucket on the aws backend).
    pub index: Arc<dyn IndexStore>,
    /// Search over the index, kept in memory.
    pub search: Arc<IndexedSearch>,
    /// Rebuilds and updates the index.
    pub builder: Arc<IndexBuilder>,
    /// The registry's change listener: drains the change journal into the index
    /// after each write, and at start what a crash left.
    pub indexer: Arc<InProcessIndexer>,
    /// Local artifacts, replicated to S3 when a bucket is configured.
    pub artifacts: Arc<ReplicatedArtifactStore>,
    /// How often `serve` runs the router's health checks.
    pub health_interval: Duration,
    /// Wakes the webhook delivery worker `serve` runs.
    pub webhook_wake: Arc<WakeDeliveryWorker>,
    /// How often the delivery worker looks for due deliveries unprompted.
    pub webhook_poll: Duration,
    /// The HTTP server's bounds on waits and connections.
    pub connections: ConnectionLimits,
    /// The PostgreSQL catalog, when it is one (for its pool's metrics).
    pub postgres: Option<Arc<PostgresStore>>,
    /// How processes sharing the catalog take turns (none on the aws backend,
    /// whose index has one writer, the index-builder function).
    pub coordination: Option<Arc<dyn NodeCoordination>>,
    /// Whether other nodes may share the index (see [`ServerConfig::shares_index`]).
    pub shares_index: bool,
}

/// The catalog, keys, artifacts, uploads and index a backend provides.
struct Stores {
    catalog: Arc<dyn CatalogStore>,
    journal: Option<Arc<dyn ChangeJournal>>,
    keys: Arc<dyn KeyStore>,
    accounts: Arc<dyn AccountStore>,
    ownership: Arc<dyn OwnershipStore>,
    audit: Arc<dyn AuditStore>,
    reports: Arc<dyn ReportStore>,
    trusted: Arc<dyn TrustedPublishingStore>,
    rate_limits: Arc<dyn RateLimitStore>,
    orgs: OrgStores,
    router: Arc<dyn McpRouterStore>,
    webhooks: Arc<dyn WebhookStore>,
    artifacts: Arc<ReplicatedArtifactStore>,
    uploads: Option<Arc<dyn UploadStore>>,
    index: Arc<dyn IndexStore>,
    /// The PostgreSQL store, when the catalog is there (its pool's use is a metric).
    postgres: Option<Arc<PostgresStore>>,
    coordination: Option<Arc<dyn NodeCoordination>>,
}

impl Stores {
    /// Every port from one database (`store`), with artifacts and the index
    /// beside it; no change journal and no presigned uploads.
    fn in_one_database<S>(
        store: Arc<S>,
        artifacts: Arc<ReplicatedArtifactStore>,
        index: Arc<dyn IndexStore>,
    ) -> Self
    where
        S: CatalogStore
            + KeyStore
            + AccountStore
            + OwnershipStore
            + AuditStore
            + ReportStore
            + TrustedPublishingStore
            + RateLimitStore
            + OrgStore
            + OrgCatalogStore
            + McpRouterStore
            + WebhookStore
            + 'static,
    {
        Self {
            catalog: store.clone(),
            journal: None,
            keys: store.clone(),
            accounts: store.clone(),
            ownership: store.clone(),
            audit: store.clone(),
            reports: store.clone(),
            trusted: store.clone(),
            rate_limits: store.clone(),
            orgs: OrgStores {
                orgs: store.clone(),
                catalog: store.clone(),
            },
            router: store.clone(),
            webhooks: store,
            artifacts,
            uploads: None,
            index,
            postgres: None,
            coordination: None,
        }
    }
}

/// `url` with any password replaced, for messages and logs.
fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "(an unparseable URL)".to_owned(),
    }
}

/// Opens the configured stores and builds the registry, with the index builder
/// listening to every write.
pub async fn open_registry(
    config: &ServerConfig,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<OpenedRegistry> {
    owner_only::create_private_root(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    #[cfg_attr(not(feature = "fault-injection"), allow(unused_mut))]
    let mut stores = open_stores(config).await?;
    #[cfg(feature = "fault-injection")]
    {
        stores.index = fault::arm(stores.index);
    }
    let key = index_signing_key(config)?;
    let mut settings = IndexSettings::public(config.public_url.clone());
    settings.auth_required = config.private;
    let artifacts: Arc<dyn ArtifactStore> = stores.artifacts.clone();
    // Search revalidates on every query: in process, a conditional read is cheap
    // and a publish is visible to the very next search. The builder draws the
    // home page from the same entries rather than a copy of its own.
    let search = Arc::new(IndexedSearch::new(
        Arc::clone(&stores.index),
        Duration::ZERO,
    ));
    let mut builder = IndexBuilder::new(
        Arc::clone(&stores.catalog),
        Arc::clone(&artifacts),
        Arc::clone(&stores.index),
        key,
        settings,
        Arc::clone(&clock),
    )
    .sharing_search(Arc::clone(&search));
    if let Some(coordination) = &stores.coordination {
        builder = builder.taking_turns(Arc::clone(coordination));
    }
    let builder = Arc::new(builder);
    let indexer = Arc::new(InProcessIndexer::new(Arc::clone(&builder), stores.journal)?);
    let mut registry = Registry::new(
        stores.catalog,
        artifacts,
        stores.keys,
        clock,
        RegistryConfig {
            public_url: config.public_url.clone(),
            private: config.private,
        },
    )
    .with_listener(Arc::clone(&indexer) as Arc<dyn registry_core::registry::ChangeListener>)
    .with_download_retention(config.download_retention)
    .with_review_policy(config.review.clone())
    .with_ownership(stores.ownership)
    .with_audit(stores.audit)
    .with_reports(stores.reports)
    .with_trusted_publishing(stores.trusted)
    .with_rate_limits(stores.rate_limits, config.rate_limits)
    .with_org_catalog(stores.orgs)
    .with_mcp_router(
        http_mcp_router(stores.router, config.router, config.check_timeout)
            .context("building the health-check HTTP client")?,
    );
    if let Some(uploads) = stores.uploads {
        registry = registry.with_uploads(uploads);
    }
    let webhook_wake = Arc::new(WakeDeliveryWorker::default());
    registry = registry.with_webhooks(WebhookParts {
        store: stores.webhooks,
        sender: Arc::new(
            HttpWebhookSender::new(config.webhooks.policy, config.webhooks.attempt_timeout)
                .context("building the webhook HTTP client")?,
        ),
        queue: Arc::clone(&webhook_wake) as Arc<dyn registry_core::webhook::DeliveryQueue>,
        settings: config.webhooks,
    });
    if !config.ci_issuers.is_empty() {
        let http = registry_identity::ProviderHttp::new()
            .context("building the CI token issuers' HTTP client")?;
        registry = registry.with_ci_tokens(Arc::new(registry_identity::CiTokenIssuers::new(
            CiTokenSettings {
                audience: config.public_url.trim_end_matches('/').to_owned(),
                issuers: config.ci_issuers.clone(),
            },
            http,
        )));
    }
    if let Some(mail) = &config.mail {
        let mailer = registry_mail::SmtpMailer::new(mail)
            .map_err(|e| anyhow::anyhow!("configuring e-mail notices: {e}"))?;
        registry = registry.with_mailer(Arc::new(mailer));
    }
    if config.sign_in.any() {
        let providers = config
            .sign_in
            .providers()
            .map_err(|e| anyhow::anyhow!("configuring sign-in: {e}"))?;
        registry = registry.with_sign_in(SignInParts {
            store: stores.accounts,
            providers,
        });
    }
    Ok(OpenedRegistry {
        registry: Arc::new(registry),
        index: stores.index,
        search,
        builder,
        indexer,
        artifacts: stores.artifacts,
        health_interval: config.health_interval,
        webhook_wake,
        webhook_poll: config.webhook_poll,
        connections: config.connections,
        postgres: stores.postgres,
        coordination: stores.coordination,
        shares_index: config.shares_index(),
    })
}

/// The index signing key: the file configured, which every node sharing the index
/// must be given, else the one in the data directory, created on first start
/// (enough for one node: a second node's own key finds the shared index signed by
/// another, and it refuses to start, see [`ensure_index`]).
fn index_signing_key(config: &ServerConfig) -> anyhow::Result<IndexSigningKey> {
    if let Some(file) = &config.index_key_file {
        let text = std::fs::read_to_string(file).with_context(|| {
            format!(
                "reading the index signing key {} (OPENWORKFLOW_REGISTRY_INDEX_KEY_FILE)",
                file.display()
            )
        })?;
        return IndexSigningKey::from_hex(&text).with_context(|| {
            format!(
                "the index signing key {} is not 64 hex characters (make one with `openssl rand -hex 32`)",
                file.display()
            )
        });
    }
    let key_file = config.data_dir.join(INDEX_KEY_FILE);
    let (key, created) = IndexSigningKey::load_or_create(&key_file)
        .with_context(|| format!("loading the index signing key {}", key_file.display()))?;
    if created {
        tracing::info!(file = %key_file.display(), "created the index signing key");
    }
    Ok(key)
}

async fn open_stores(config: &ServerConfig) -> anyhow::Result<Stores> {
    let local = FileArtifactStore::new(&config.data_dir);
    // The SDK is loaded only when something AWS is configured.
    let aws = if !matches!(config.backend, Backend::Aws { .. }) && config.bucket.is_none() {
        None
    } else {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Some((AwsClients::from_config(&sdk, s3_needs_path_style()), sdk))
    };
    let mut stores = match &config.backend {
        Backend::Embedded { file } => {
            let db = file
                .clone()
                .unwrap_or_else(|| config.data_dir.join(CATALOG_FILE));
            let store = Arc::new(
                SqliteStore::open(&db)
                    .with_context(|| format!("opening catalog {}", db.display()))?,
            );
            let mut stores = Stores::in_one_database(
                store.clone(),
                Arc::new(ReplicatedArtifactStore::new(local.clone(), None)),
                local_index(config),
            );
            stores.journal = Some(store.clone());
            stores.coordination = Some(store);
            stores
        }
        Backend::Postgres { url } => {
            let store = Arc::new(PostgresStore::connect(url).await.with_context(|| {
                format!("opening the PostgreSQL catalog at {}", redacted_url(url))
            })?);
            let mut stores = Stores::in_one_database(
                store.clone(),
                Arc::new(ReplicatedArtifactStore::new(local.clone(), None)),
                local_index(config),
            );
            stores.journal = Some(store.clone());
            stores.coordination = Some(store.clone());
            stores.postgres = Some(store);
            stores
        }
        Backend::Aws { table } => {
            let (clients, _) = aws.as_ref().context("the AWS SDK was not loaded")?;
            let bucket = config.bucket.as_deref().context(
                "the aws backend needs a bucket: set --bucket or OPENWORKFLOW_REGISTRY_BUCKET",
            )?;
            require_table(clients, table, bucket).await?;
            let store = Arc::new(DynamoStore::new(clients.dynamodb.clone(), table.clone()));
            let mut stores = Stores::in_one_database(
                store,
                Arc::new(ReplicatedArtifactStore::new(local.clone(), None)),
                local_index(config),
            );
            // The AWS deployment's journal is the table's stream, which the
            // index-builder function reads; this process updates directly.
            stores.journal = None;
            stores
        }
    };
    let in_bucket = config.storage == Storage::S3 || matches!(config.backend, Backend::Aws { .. });
    match (aws, config.bucket.as_deref()) {
        (Some((clients, sdk)), Some(bucket)) if in_bucket => {
            require_credentials(&sdk, bucket, "holds the artifacts and the index").await?;
            require_bucket(&clients, bucket).await?;
            let s3: Arc<dyn ArtifactStore> =
                Arc::new(S3ArtifactStore::new(clients.s3.clone(), bucket.to_owned()));
            stores.artifacts = Arc::new(ReplicatedArtifactStore::new(local, Some(s3)));
            stores.index = Arc::new(S3IndexStore::new(clients.s3.clone(), bucket.to_owned()));
            stores.uploads = Some(Arc::new(S3UploadStore::new(clients.s3, bucket.to_owned())));
        }
        (_, None) if in_bucket => {
            anyhow::bail!(
                "STORAGE_BACKEND=s3 needs a bucket: set S3_BUCKET (or --bucket / OPENWORKFLOW_REGISTRY_BUCKET)"
            );
        }
        // Files stay in the data directory; artifacts are copied to the bucket
        // when credentials reach it.
        (Some((clients, sdk)), Some(bucket)) if credentials_available(&sdk).await => {
            require_bucket(&clients, bucket).await?;
            let s3: Arc<dyn ArtifactStore> =
                Arc::new(S3ArtifactStore::new(clients.s3, bucket.to_owned()));
            stores.artifacts = Arc::new(ReplicatedArtifactStore::new(local, Some(s3)));
        }
        _ => {}
    }
    Ok(stores)
}

/// The public URL when none is configured: the address listened on, except that
/// a wildcard address (`0.0.0.0:8080` in the container image) is no address a
/// client can use, so links name `localhost` and its port instead. Anything
/// serving other machines should set the public URL.
pub fn default_public_url(listening: std::net::SocketAddr) -> String {
    if listening.ip().is_unspecified() {
        format!("http://localhost:{}", listening.port())
    } else {
        format!("http://{listening}")
    }
}

/// The artifact store in `bucket` (its `artifacts/` and `catalog/` keys), checked:
/// credentials found and the bucket there.
pub async fn bucket_artifacts(bucket: &str) -> anyhow::Result<Arc<dyn ArtifactStore>> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    require_credentials(&sdk, bucket, "is to receive the artifacts").await?;
    let clients = AwsClients::from_config(&sdk, s3_needs_path_style());
    require_bucket(&clients, bucket).await?;
    Ok(Arc::new(S3ArtifactStore::new(
        clients.s3,
        bucket.to_owned(),
    )))
}

/// The index in the data directory, with its in-memory cache of hot files.
fn local_index(config: &ServerConfig) -> Arc<dyn IndexStore> {
    Arc::new(FileIndexStore::with_cache_budget(
        config.data_dir.join(INDEX_DIR),
        config.index_cache_bytes,
    ))
}

/// Refuses to go on without AWS credentials for `bucket`, which `role` (what the
/// bucket is for, as the message says it), with where the SDK looks for them.
async fn require_credentials(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    role: &str,
) -> anyhow::Result<()> {
    if credentials_available(sdk).await {
        return Ok(());
    }
    anyhow::bail!(
        "the bucket {bucket:?} {role}, but no AWS credentials were found: give them as the SDK reads them (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or an instance or task role)"
    )
}

/// Refuses to start on a bucket S3 says does not exist, with the fix in words:
/// otherwise every publish would fail later with a 500. Any other answer (no
/// `s3:ListBucket` permission, say) is only logged, since writes may still work.
async fn require_bucket(clients: &AwsClients, bucket: &str) -> anyhow::Result<()> {
    match registry_aws::setup::bucket_exists(clients, bucket).await {
        Ok(true) => Ok(()),
        Ok(false) => anyhow::bail!(
            "S3 bucket {bucket:?} does not exist. Create it (`openworkflow-registry init-aws \
             --table TABLE --bucket {bucket}`, or deploy the SAM stack), or set --bucket / \
             OPENWORKFLOW_REGISTRY_BUCKET to a bucket that exists"
        ),
        Err(error) => {
            tracing::warn!(%bucket, error = &*error as &dyn std::error::Error, "could not check that the bucket exists; starting anyway");
            Ok(())
        }
    }
}

/// As [`require_bucket`], for the aws backend's DynamoDB table.
async fn require_table(clients: &AwsClients, table: &str, bucket: &str) -> anyhow::Result<()> {
    match registry_aws::setup::table_exists(clients, table).await {
        Ok(true) => Ok(()),
        Ok(false) => anyhow::bail!(
            "DynamoDB table {table:?} does not exist. Create it (`openworkflow-registry init-aws \
             --table {table} --bucket {bucket}`, or deploy the SAM stack), or set --table / \
             OPENWORKFLOW_REGISTRY_TABLE to a table that exists"
        ),
        Err(error) => {
            tracing::warn!(%table, error = &*error as &dyn std::error::Error, "could not check that the table exists; starting anyway");
            Ok(())
        }
    }
}

/// Opens the registry on the system clock.
pub async fn open_registry_now(config: &ServerConfig) -> anyhow::Result<OpenedRegistry> {
    open_registry(config, Arc::new(SystemClock)).await
}

/// Creates the DynamoDB table (with its stream) and the S3 bucket unless they exist.
pub async fn init_aws(settings: &AwsSettings) -> anyhow::Result<SetupReport> {
    let clients = AwsClients::from_env(settings.force_path_style).await;
    ensure_resources(&clients, settings).await.with_context(|| {
        format!(
            "creating table {} and bucket {}",
            settings.table, settings.bucket
        )
    })
}

/// On a registry with no keys, creates the admin key and writes it to
/// `DIR/admin.key` (mode 0600). Returns it so the caller can print it once.
pub async fn bootstrap_admin_key(
    registry: &Registry,
    data_dir: &Path,
) -> anyhow::Result<Option<CreatedKey>> {
    let Some(created) = registry
        .bootstrap_admin_key()
        .await
        .context("creating the admin key")?
    else {
        return Ok(None);
    };
    write_secret_file(&data_dir.join(ADMIN_KEY_FILE), created.secret.expose())?;
    Ok(Some(created))
}

fn write_secret_file(path: &Path, secret: &str) -> anyhow::Result<()> {
    owner_only::write(path, format!("{secret}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Catalog artifacts checked or pulled at once by [`ensure_all_catalog_plugins_local`].
pub const SYNC_CONCURRENCY: usize = 16;

/// The spec's `ensure_all_catalog_plugins_local`: every org-catalog artifact (system
/// and every org's) present and intact in the local store, each missing or corrupt
/// one pulled from S3 in parallel. Without S3 it checks, warns once, and reports
/// what it could not restore.
pub async fn ensure_all_catalog_plugins_local(
    opened: &OpenedRegistry,
    progress: &dyn SyncProgress,
) -> anyhow::Result<SyncReport> {
    let artifacts = opened
        .registry
        .catalog_artifacts()
        .await
        .context("listing the catalog's artifacts")?;
    Ok(opened
        .artifacts
        .ensure_local_copies(artifacts, SYNC_CONCURRENCY, progress)
        .await)
}

/// Serves every route on `listener` until `shutdown` resolves. First rebuilds the
/// static index if it is missing or was built with other settings and makes every
/// catalog artifact local; then rolls up download counters (which updates the
/// index), renews the index timestamp and runs the router's health checks every
/// [`OpenedRegistry::health_interval`], in the background.
pub async fn serve(
    opened: OpenedRegistry,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    ensure_index(&opened.builder, opened.shares_index).await?;
    opened
        .indexer
        .catch_up()
        .await
        .map_err(|e| anyhow::anyhow!(e))
        .context("applying the change journal to the index")?;
    let synced = ensure_all_catalog_plugins_local(&opened, &NoProgress).await?;
    tracing::info!(
        checked = synced.checked,
        restored = synced.restored,
        repaired = synced.repaired,
        unrecoverable = synced.unrecoverable.len(),
        "catalog artifacts are local"
    );
    let background = tokio::spawn(maintain_periodically(
        Arc::clone(&opened.registry),
        Arc::clone(&opened.builder),
        Arc::clone(&opened.indexer),
        opened.coordination.clone(),
    ));
    let health = tokio::spawn(check_health_periodically(
        Arc::clone(&opened.registry),
        opened.health_interval,
        opened.coordination.clone(),
    ));
    let deliveries = tokio::spawn(deliver_webhooks_continuously(
        Arc::clone(&opened.registry),
        Arc::clone(&opened.webhook_wake),
        opened.webhook_poll,
    ));
    let mut state = AppState::with_search(opened.registry, opened.index, opened.search);
    let mut upkeep = None;
    match prometheus::PrometheusMetrics::new(opened.postgres) {
        Ok(metrics) => {
            let metrics = Arc::new(metrics);
            upkeep = Some(tokio::spawn(fold_metrics_periodically(Arc::clone(
                &metrics,
            ))));
            state = state.with_metrics(metrics);
        }
        Err(error) => tracing::warn!(%error, "no metrics: /metrics answers 404"),
    }
    let app = registry_http::all_routes(Arc::new(state))
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let result = serve_http(listener, app, opened.connections, shutdown)
        .await
        .context("serving HTTP");
    background.abort();
    health.abort();
    deliveries.abort();
    if let Some(upkeep) = upkeep {
        upkeep.abort();
    }
    result
}

/// Folds recorded histogram samples into their buckets every
/// [`prometheus::UPKEEP_INTERVAL`], so memory stays bounded however rarely
/// anything scrapes.
async fn fold_metrics_periodically(metrics: Arc<prometheus::PrometheusMetrics>) {
    let mut ticker = tokio::time::interval(prometheus::UPKEEP_INTERVAL);
    loop {
        ticker.tick().await;
        metrics.run_upkeep();
    }
}

/// Runs one health pass over every router instance every `interval`; the first
/// after one interval, so instances registering at start-up get a moment to come up.
/// Of the nodes sharing the catalog, one runs each period's pass.
async fn check_health_periodically(
    registry: Arc<Registry>,
    interval: Duration,
    coordination: Option<Arc<dyn NodeCoordination>>,
) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    // A pass slower than the interval delays the next instead of bunching them.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if !claim_this_period(coordination.as_deref(), HEALTH_JOB, interval).await {
            continue;
        }
        match registry.run_health_pass().await {
            Ok(report) if report.checked > 0 => tracing::info!(
                checked = report.checked,
                passed = report.passed,
                failed = report.failed,
                removed = report.removed,
                "health checks done"
            ),
            Ok(_) => {}
            Err(error) => tracing::warn!(
                error = &error as &dyn std::error::Error,
                "health checks failed"
            ),
        }
    }
}

/// Rebuilds the index unless it exists and matches this server's settings: as the
/// index's one writer, so of nodes starting together on a new bucket one builds it
/// and the others find it current. With `shared`, an index another key signed or
/// naming another public URL is refused, not rebuilt: it is other nodes' too.
pub async fn ensure_index(builder: &IndexBuilder, shared: bool) -> anyhow::Result<()> {
    builder
        .as_sole_writer(async {
            if builder.is_current().await.context("reading the index")? {
                return Ok(());
            }
            if shared
                && let Some(foreign) = builder.foreign_index().await.context("reading the index")?
            {
                let ours = builder.config();
                anyhow::bail!(
                    "the index in the bucket is signed with key {} for {}, and this node would sign it with key {} for {}: nodes sharing a bucket share one index key and one public URL, so give every node the same --index-key-file (OPENWORKFLOW_REGISTRY_INDEX_KEY_FILE; `openssl rand -hex 32` makes one) and the same --public-url (OPENWORKFLOW_REGISTRY_PUBLIC_URL). To move the registry to a new key or address on purpose, stop every node, delete index/config.json from the bucket and start one node: it rebuilds the index",
                    foreign.key_id,
                    foreign.api_url,
                    ours.index_public_key.key_id,
                    ours.api_url
                );
            }
            let report = builder
                .rebuild(false)
                .await
                .context("rebuilding the index")?;
            tracing::info!(
                plugins = report.plugins,
                written = report.written.len(),
                removed = report.deleted.len(),
                "index rebuilt"
            );
            Ok(())
        })
        .await
}

/// The scheduled job of the router's health passes.
const HEALTH_JOB: &str = "router-health";
/// The scheduled job of the download roll-up.
const ROLLUP_JOB: &str = "download-rollup";

/// Whether this process runs `job`, done every `interval`, now: a process alone
/// always does; of processes sharing the catalog, the one that claims the current
/// period (wall-clock time in whole intervals) does.
async fn claim_this_period(
    coordination: Option<&dyn NodeCoordination>,
    job: &str,
    interval: Duration,
) -> bool {
    let Some(coordination) = coordination else {
        return true;
    };
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let period = since_epoch.as_millis() / interval.as_millis().max(1);
    match coordination
        .claim_scheduled_run(job, u64::try_from(period).unwrap_or(u64::MAX))
        .await
    {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::warn!(
                job,
                error = &error as &dyn std::error::Error,
                "claiming a scheduled run failed; skipping it"
            );
            false
        }
    }
}

/// Folds the daily download counters into each plugin's total (and so into the
/// index) and draws the downloads chart of every plugin whose total changed;
/// returns those plugins.
pub async fn roll_up_downloads(
    registry: &Registry,
    builder: &IndexBuilder,
) -> anyhow::Result<Vec<Slug>> {
    let changed = registry
        .roll_up_downloads()
        .await
        .context("rolling up the download counters")?;
    builder
        .as_sole_writer(builder.draw_download_charts(&changed))
        .await
        .context("drawing the downloads charts")?;
    Ok(changed)
}

async fn maintain_periodically(
    registry: Arc<Registry>,
    builder: Arc<IndexBuilder>,
    indexer: Arc<InProcessIndexer>,
    coordination: Option<Arc<dyn NodeCoordination>>,
) {
    let mut ticker = tokio::time::interval(DOWNLOAD_ROLLUP_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // Anything an index update failed on stays in the journal until now.
        if let Err(error) = indexer.catch_up().await {
            tracing::warn!(
                error = &*error as &dyn std::error::Error,
                "applying the change journal failed"
            );
        }
        if claim_this_period(
            coordination.as_deref(),
            ROLLUP_JOB,
            DOWNLOAD_ROLLUP_INTERVAL,
        )
        .await
        {
            match roll_up_downloads(&registry, &builder).await {
                Ok(changed) if !changed.is_empty() => {
                    tracing::info!(changed = changed.len(), "download counters rolled up");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(
                    error = &*error as &dyn std::error::Error,
                    "download roll-up failed"
                ),
            }
        }
        match registry.prune_webhook_deliveries().await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "old webhook deliveries dropped"),
            Err(error) => tracing::warn!(
                error = &error as &dyn std::error::Error,
                "dropping old webhook deliveries failed"
            ),
        }
        // Every node asks, as the index's one writer: the first to find the
        // timestamp due renews it, and the rest find it renewed.
        if let Err(error) = builder
            .as_sole_writer(builder.renew_timestamp_if_due())
            .await
        {
            tracing::warn!(
                error = &error as &dyn std::error::Error,
                "renewing the index timestamp failed"
            );
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_default_public_url_never_names_a_wildcard_address() {
        let url = |addr: &str| default_public_url(addr.parse().unwrap());
        assert_eq!(url("0.0.0.0:8080"), "http://localhost:8080");
        assert_eq!(url("[::]:8080"), "http://localhost:8080");
        assert_eq!(url("127.0.0.1:9000"), "http://127.0.0.1:9000");
        assert_eq!(url("[::1]:9000"), "http://[::1]:9000");
    }

    #[test]
    fn a_database_url_names_postgres_or_a_sqlite_file() {
        for url in [
            "postgres://u:p@db:5432/registry",
            "postgresql://db/registry",
        ] {
            assert_eq!(
                Backend::from_database_url(url),
                Ok(Backend::Postgres { url: url.into() })
            );
        }
        let file = |path: &str| Backend::Embedded {
            file: Some(PathBuf::from(path)),
        };
        assert_eq!(
            Backend::from_database_url("sqlite:///var/lib/registry/catalog.sqlite3"),
            Ok(file("/var/lib/registry/catalog.sqlite3"))
        );
        assert_eq!(
            Backend::from_database_url("sqlite://data/catalog.sqlite3"),
            Ok(file("data/catalog.sqlite3"))
        );
        for not_a_file in ["sqlite://", "sqlite://:memory:", "sqlite://c.db?mode=ro"] {
            assert_eq!(
                Backend::from_database_url(not_a_file),
                Err(DatabaseUrlError::NotAFile),
                "{not_a_file}"
            );
        }
        for unknown in ["mysql://db/r", "sqlite:catalog.db", "catalog.sqlite3", ""] {
            assert_eq!(
                Backend::from_database_url(unknown),
                Err(DatabaseUrlError::UnknownScheme),
                "{unknown}"
            );
        }
    }
}
