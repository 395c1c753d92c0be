//! `openworkflow-registry`: run the registry, manage its keys, sync its catalog
//! artifacts, or create its AWS resources, from the command line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use openworkflow_registry::probe::{Probe, probe_address, probe_server};
use openworkflow_registry::{
    ADMIN_KEY_FILE, Backend, CiService, ConnectionLimits, GitHubSettings, MailSettings,
    OidcSettings, ServerConfig, Storage, bootstrap_admin_key, ensure_all_catalog_plugins_local,
    init_aws, open_registry_now, s3_needs_path_style, serve, shutdown_signal,
};
use registry_aws::AwsSettings;
use registry_aws::replicated::{LocalCopy, SyncProgress};
use registry_core::artifact::StoredArtifact;
use registry_core::auth::{PrincipalId, Scope, Scopes};
use registry_core::downloads::Retention;
use std::time::Duration;

use registry_core::mcp_router::TargetPolicy;
use registry_core::rate_limit::{Rate, RateLimits, parse_setting};
use registry_core::registry::WebhookSettings;
use registry_core::registry::{
    DEFAULT_CHECK_CONCURRENCY, DEFAULT_FAILURE_THRESHOLD, McpRouterSettings, NewKey,
};
use registry_core::review::{AutoApproval, ReviewPolicy};
use registry_core::webhook::RetrySchedule;
use tracing_subscriber::EnvFilter;

/// jemalloc, as crates.io's server runs: it purges freed pages on a timer, where glibc
/// keeps each thread arena's high-water mark and a server's resident size creeps up.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's figures for `/metrics`: what live objects hold beside what the
/// allocator keeps resident, so a growing resident size can be told apart from
/// a growing heap.
#[cfg(not(target_env = "msvc"))]
fn jemalloc_figures() -> Option<openworkflow_registry::HeapFigures> {
    use tikv_jemalloc_ctl::{epoch, stats};
    // The figures are cached until the epoch moves.
    epoch::advance().ok()?;
    let read = |figure: tikv_jemalloc_ctl::Result<usize>| figure.ok().map(|n| n as u64);
    Some(openworkflow_registry::HeapFigures {
        allocated: read(stats::allocated::read())?,
        active: read(stats::active::read())?,
        resident: read(stats::resident::read())?,
        metadata: read(stats::metadata::read())?,
    })
}

/// A download retention in days, refused below the minimum when parsed.
fn parse_retention_days(raw: &str) -> Result<u16, String> {
    Retention::from_setting(Some(raw)).map(Retention::in_days)
}

/// The OpenWorkflow plugin registry, self-hosted: one process, embedded storage or AWS.
#[derive(Debug, Parser)]
#[command(name = "openworkflow-registry", version, about)]
struct Cli {
    /// Log lines on stderr: `text` for a person, `json` (one object per line) for a log collector.
    #[arg(
        long,
        global = true,
        env = "OPENWORKFLOW_REGISTRY_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.json().with_current_span(false).init(),
    }
}

/// Where the registry keeps its data; shared by every command that opens it.
#[derive(Debug, Args)]
struct StorageArgs {
    /// Data directory (SQLite catalog, local artifacts, admin.key).
    #[arg(
        long = "data",
        env = "OPENWORKFLOW_REGISTRY_DATA",
        default_value = "./registry-data"
    )]
    data: PathBuf,
    /// Catalog backend: `embedded` (SQLite), `postgres` or `aws` (DynamoDB + S3); by default whatever the database URL names, else `embedded`.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_BACKEND", value_enum)]
    backend: Option<BackendKind>,
    /// The catalog's database: `postgres://user:password@host:port/database`, or `sqlite://PATH` for the embedded store (default: catalog.sqlite3 in the data directory).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Where artifacts and the index live: `filesystem` (the data directory) or `s3` (the bucket; needed by several nodes); the aws backend is always `s3`.
    #[arg(long, env = "STORAGE_BACKEND", value_enum)]
    storage: Option<StorageKind>,
    /// DynamoDB table (the aws backend).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_TABLE")]
    table: Option<String>,
    /// S3 bucket: where artifacts and the index live with `s3` storage, else where artifacts are copied to.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_BUCKET")]
    bucket: Option<String>,
    /// The spec's name for the bucket (`S3_BUCKET`); give it or --bucket, or both the same.
    #[arg(long = "s3-bucket", env = "S3_BUCKET", hide = true)]
    s3_bucket: Option<String>,
    /// File holding the index signing key (64 hex characters: `openssl rand -hex 32`); required, and the same file on every node, when the catalog is in PostgreSQL and the index in a bucket; default: index.key in the data directory, created on first start.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_INDEX_KEY_FILE")]
    index_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StorageKind {
    Filesystem,
    S3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendKind {
    Embedded,
    Postgres,
    Aws,
}

impl StorageArgs {
    fn config(&self, public_url: String, private: bool) -> anyhow::Result<ServerConfig> {
        let named = self
            .database_url
            .as_deref()
            .map(Backend::from_database_url)
            .transpose()?;
        let backend = match (self.backend, named) {
            (None, Some(backend)) => backend,
            (None | Some(BackendKind::Embedded), None) => Backend::Embedded { file: None },
            (Some(BackendKind::Embedded), Some(file @ Backend::Embedded { .. })) => file,
            (Some(BackendKind::Postgres), Some(url @ Backend::Postgres { .. })) => url,
            (Some(BackendKind::Postgres), None) => anyhow::bail!(
                "the postgres backend needs its database: set --database-url or DATABASE_URL to postgres://user:password@host:port/database"
            ),
            (Some(BackendKind::Aws), None) => Backend::Aws {
                table: self.table.clone().context(
                    "the aws backend needs a table: set --table or OPENWORKFLOW_REGISTRY_TABLE",
                )?,
            },
            (Some(kind), Some(_)) => anyhow::bail!(
                "the {kind:?} backend was chosen (--backend / OPENWORKFLOW_REGISTRY_BACKEND), but DATABASE_URL names another catalog: unset one of the two",
                kind = kind
                    .to_possible_value()
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default()
            ),
        };
        let bucket = match (&self.bucket, &self.s3_bucket) {
            (Some(ours), Some(spec)) if ours != spec => anyhow::bail!(
                "OPENWORKFLOW_REGISTRY_BUCKET (or --bucket) is {ours:?} but S3_BUCKET is {spec:?}: set one of them"
            ),
            (ours, spec) => ours.clone().or_else(|| spec.clone()),
        };
        let storage = match (self.storage, &backend) {
            (Some(StorageKind::Filesystem), Backend::Aws { .. }) => anyhow::bail!(
                "the aws backend keeps artifacts and the index in its bucket: unset STORAGE_BACKEND or set it to s3"
            ),
            (Some(StorageKind::S3), _) | (None, Backend::Aws { .. }) => Storage::S3,
            (Some(StorageKind::Filesystem) | None, _) => Storage::Filesystem,
        };
        if storage == Storage::S3 && bucket.is_none() {
            anyhow::bail!(
                "artifacts and the index go in a bucket (STORAGE_BACKEND=s3, or the aws backend): set S3_BUCKET (or --bucket / OPENWORKFLOW_REGISTRY_BUCKET)"
            );
        }
        let mut config = ServerConfig::embedded(self.data.clone(), public_url);
        config.private = private;
        config.backend = backend;
        config.storage = storage;
        config.bucket = bucket;
        config.index_key_file = self.index_key_file.clone();
        Ok(config)
    }
}

/// The MCP router's health checks and the addresses instances may name.
#[derive(Debug, Args)]
struct RouterArgs {
    /// Seconds between health passes over every registered router instance.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_HEALTH_INTERVAL_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    health_interval_secs: u64,
    /// Consecutive failed health checks that take an instance out of the routing table.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_HEALTH_FAILURES", default_value_t = DEFAULT_FAILURE_THRESHOLD, value_parser = clap::value_parser!(u32).range(1..))]
    health_failures: u32,
    /// Health checks in flight at once.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_HEALTH_CONCURRENCY", default_value_t = DEFAULT_CHECK_CONCURRENCY as u64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    health_concurrency: u64,
    /// One health check's time limit, in milliseconds.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_HEALTH_TIMEOUT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    health_timeout_ms: u64,
    /// Let router instances and webhook subscriptions name loopback addresses (local development and tests only; link-local and metadata addresses stay refused).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_ALLOW_LOOPBACK_TARGETS", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    allow_loopback_targets: bool,
}

impl RouterArgs {
    fn apply(&self, config: &mut ServerConfig) {
        config.router = McpRouterSettings {
            policy: TargetPolicy {
                allow_loopback: self.allow_loopback_targets,
                allow_private: true,
            },
            failure_threshold: self.health_failures,
            check_concurrency: usize::try_from(self.health_concurrency)
                .unwrap_or(DEFAULT_CHECK_CONCURRENCY),
        };
        config.health_interval = Duration::from_secs(self.health_interval_secs);
        config.check_timeout = Duration::from_millis(self.health_timeout_ms);
    }
}

/// How often one principal may publish (admin keys are not limited).
#[derive(Debug, Args)]
struct RateLimitArgs {
    /// New plugins per principal: a burst, then one per period (`5/10m`), or `off`.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_RATE_NEW_PLUGINS", value_name = "BURST/PERIOD", value_parser = RateSetting::parse, default_value = "5/10m")]
    rate_new_plugins: RateSetting,
    /// New versions per principal (`64/1m`: a CI matrix never trips it), or `off`.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_RATE_NEW_VERSIONS", value_name = "BURST/PERIOD", value_parser = RateSetting::parse, default_value = "64/1m")]
    rate_new_versions: RateSetting,
    /// Reports of plugins per principal, or `off`.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_RATE_REPORTS", value_name = "BURST/PERIOD", value_parser = RateSetting::parse, default_value = "10/6m")]
    rate_reports: RateSetting,
}

/// A configured rate: `BURST/PERIOD`, or `off` (`None`).
#[derive(Debug, Clone, Copy)]
struct RateSetting(Option<Rate>);

impl RateSetting {
    fn parse(raw: &str) -> Result<Self, String> {
        parse_setting(raw).map(Self)
    }
}

impl RateLimitArgs {
    fn apply(&self, config: &mut ServerConfig) {
        config.rate_limits = RateLimits {
            new_plugins: self.rate_new_plugins.0,
            new_versions: self.rate_new_versions.0,
            reports: self.rate_reports.0,
        };
    }
}

/// Whether new versions wait for a reviewer, and which skip the wait.
#[derive(Debug, Args)]
struct ReviewArgs {
    /// `none` (every valid publish is live at once) or `required` (a new version waits for a reviewer: a key with the `review` scope).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_REVIEW_POLICY", value_name = "none|required", value_parser = ReviewPolicy::parse_mode, default_value = "none")]
    review_policy: bool,
    /// Publishes by this principal, or by members of this team, skip review (`prn_...`; repeat, or separate with commas).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_REVIEW_AUTO_APPROVE", value_name = "PRINCIPAL", value_delimiter = ',', value_parser = parse_principal)]
    review_auto_approve: Vec<PrincipalId>,
    /// Publishes through trusted publishing (a CI job's token) skip review.
    #[arg(
        long,
        env = "OPENWORKFLOW_REGISTRY_REVIEW_AUTO_APPROVE_TRUSTED_PUBLISHING"
    )]
    review_auto_approve_trusted_publishing: bool,
    /// Patch releases of a plugin readers already see (same major and minor as its latest) skip review.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_REVIEW_AUTO_APPROVE_PATCHES")]
    review_auto_approve_patches: bool,
}

impl ReviewArgs {
    fn apply(&self, config: &mut ServerConfig) {
        config.review = ReviewPolicy {
            required: self.review_policy,
            auto_approve: AutoApproval {
                publishers: self.review_auto_approve.clone(),
                trusted_publishing: self.review_auto_approve_trusted_publishing,
                patch_releases: self.review_auto_approve_patches,
            },
        };
    }
}

/// Webhook deliveries: which addresses subscriptions may name, and how failed
/// deliveries are retried.
#[derive(Debug, Args)]
struct WebhookArgs {
    /// Let webhook subscriptions name private networks (10/8, 172.16/12, 192.168/16, fc00::/7): only where every plugin owner may reach your network.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_WEBHOOK_ALLOW_PRIVATE_TARGETS", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
    webhook_allow_private_targets: bool,
    /// Seconds before a failed delivery's first retry; each later wait doubles.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_WEBHOOK_RETRY_FIRST_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    webhook_retry_first_secs: u64,
    /// The longest wait between retries, in seconds.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_WEBHOOK_RETRY_LONGEST_SECS", default_value_t = 7200, value_parser = clap::value_parser!(u64).range(1..))]
    webhook_retry_longest_secs: u64,
    /// Seconds after it is made that a delivery is still retried; then it is dead.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_WEBHOOK_RETRY_WINDOW_SECS", default_value_t = 86400, value_parser = clap::value_parser!(u64).range(1..))]
    webhook_retry_window_secs: u64,
    /// One delivery attempt's time limit, in milliseconds.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    webhook_timeout_ms: u64,
    /// Milliseconds between looks for due deliveries (retries, and those other nodes stored).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_WEBHOOK_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..))]
    webhook_poll_ms: u64,
}

impl WebhookArgs {
    /// After [`RouterArgs::apply`]: loopback targets are allowed for both or neither.
    fn apply(&self, config: &mut ServerConfig) {
        config.webhooks = WebhookSettings {
            policy: TargetPolicy {
                allow_loopback: config.router.policy.allow_loopback,
                allow_private: self.webhook_allow_private_targets,
            },
            retry: RetrySchedule {
                first: Duration::from_secs(self.webhook_retry_first_secs),
                longest: Duration::from_secs(self.webhook_retry_longest_secs),
                window: Duration::from_secs(self.webhook_retry_window_secs),
            },
            attempt_timeout: Duration::from_millis(self.webhook_timeout_ms),
        };
        config.webhook_poll = Duration::from_millis(self.webhook_poll_ms);
    }
}

/// A principal id as an operator writes it.
fn parse_principal(raw: &str) -> Result<PrincipalId, String> {
    PrincipalId::parse(raw.trim())
        .ok_or_else(|| format!("{raw:?} is not a principal id (prn_ and 16 hex characters)"))
}

/// Who may sign in with a browser, and through which provider.
#[derive(Debug, Args)]
struct SignInArgs {
    /// Issuer URL of an OpenID Connect provider people sign in with (discovery
    /// is at `{issuer}/.well-known/openid-configuration`).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_OIDC_ISSUER", requires_all = ["oidc_client_id", "oidc_client_secret"])]
    oidc_issuer: Option<String>,
    /// The registry's client id at that provider.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    /// The registry's client secret at that provider.
    #[arg(
        long,
        env = "OPENWORKFLOW_REGISTRY_OIDC_CLIENT_SECRET",
        hide_env_values = true
    )]
    oidc_client_secret: Option<String>,
    /// The provider's name on the sign-in button.
    #[arg(
        long,
        env = "OPENWORKFLOW_REGISTRY_OIDC_NAME",
        default_value = "OpenID Connect"
    )]
    oidc_name: String,
    /// Client id of a GitHub OAuth app people sign in with.
    #[arg(
        long,
        env = "OPENWORKFLOW_REGISTRY_GITHUB_CLIENT_ID",
        requires = "github_client_secret"
    )]
    github_client_id: Option<String>,
    /// That OAuth app's client secret.
    #[arg(
        long,
        env = "OPENWORKFLOW_REGISTRY_GITHUB_CLIENT_SECRET",
        hide_env_values = true
    )]
    github_client_secret: Option<String>,
    /// GitHub's web address (a GitHub Enterprise Server's, if not github.com).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_GITHUB_URL", default_value = registry_identity::GITHUB_WEB_URL)]
    github_url: String,
    /// GitHub's REST API (`{github_url}/api/v3` on GitHub Enterprise Server).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_GITHUB_API_URL", default_value = registry_identity::GITHUB_API_URL)]
    github_api_url: String,
    /// The GitHub Actions OIDC issuer whose tokens trusted publishing accepts
    /// (empty: none).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_GITHUB_ACTIONS_ISSUER", default_value = registry_identity::GITHUB_ACTIONS_ISSUER)]
    github_actions_issuer: String,
    /// The GitLab OIDC issuer whose CI tokens trusted publishing accepts (a
    /// self-managed GitLab's URL; empty: none).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_GITLAB_ISSUER", default_value = registry_identity::GITLAB_COM_ISSUER)]
    gitlab_issuer: String,
    /// The SMTP relay owners' notices go through: `smtps://user:password@host`,
    /// `smtp://user:password@host?tls=required` (STARTTLS), or `smtp://host:port`
    /// (no TLS: a relay on this host only). Unset: no e-mail, the audit log only.
    #[arg(
        long,
        env = "OPENWORKFLOW_REGISTRY_SMTP_URL",
        hide_env_values = true,
        requires = "mail_from"
    )]
    smtp_url: Option<String>,
    /// The From of every notice (`OpenWorkflow Registry <registry@example.com>`).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_MAIL_FROM", requires = "smtp_url")]
    mail_from: Option<String>,
}

impl SignInArgs {
    fn apply(self, config: &mut ServerConfig) {
        config.ci_issuers = [
            (CiService::GithubActions, self.github_actions_issuer),
            (CiService::GitlabCi, self.gitlab_issuer),
        ]
        .into_iter()
        .filter(|(_, issuer)| !issuer.trim().is_empty())
        .collect();
        if let (Some(issuer), Some(client_id), Some(client_secret)) = (
            self.oidc_issuer,
            self.oidc_client_id,
            self.oidc_client_secret,
        ) {
            config.sign_in.oidc = Some(OidcSettings {
                id: "oidc".to_owned(),
                display_name: self.oidc_name,
                issuer,
                client_id,
                client_secret,
            });
        }
        if let (Some(smtp_url), Some(from)) = (self.smtp_url, self.mail_from) {
            config.mail = Some(MailSettings { smtp_url, from });
        }
        if let (Some(client_id), Some(client_secret)) =
            (self.github_client_id, self.github_client_secret)
        {
            config.sign_in.github = Some(GitHubSettings {
                client_id,
                client_secret,
                web_url: self.github_url,
                api_url: self.github_api_url,
            });
        }
    }
}

/// The HTTP server's bounds on waits and connections.
#[derive(Debug, Args)]
struct ConnectionArgs {
    /// Seconds a request's head may take to arrive (also how long a keep-alive connection may idle).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_HEADER_TIMEOUT_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout_secs: u64,
    /// Seconds a request's whole body may take to arrive.
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_BODY_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    body_timeout_secs: u64,
    /// Most connections open at once (lowered to fit the file-descriptor limit).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Most connections open at once from one client address (an IPv6 client is its /64); 0 for no limit, behind a reverse proxy.
    #[arg(
        long,
        env = "OPENWORKFLOW_REGISTRY_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 256
    )]
    max_connections_per_client: u64,
    /// Megabytes of recently read index files kept in memory, so hot reads skip the disk (0: none).
    #[arg(long, env = "OPENWORKFLOW_REGISTRY_INDEX_CACHE_MB", default_value_t = (registry_index::DEFAULT_INDEX_CACHE_BYTES / (1024 * 1024)) as u64, value_parser = clap::value_parser!(u64).range(0..=65_536))]
    index_cache_mb: u64,
}

impl ConnectionArgs {
    fn apply(&self, config: &mut ServerConfig) {
        let count = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        config.connections = ConnectionLimits {
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            max_connections: count(self.max_connections),
            max_connections_per_client: count(self.max_connections_per_client),
        };
        config.index_cache_bytes = count(self.index_cache_mb.saturating_mul(1024 * 1024));
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the registry API.
    Serve {
        #[command(flatten)]
        storage: StorageArgs,
        /// Address to listen on.
        #[arg(
            long,
            env = "OPENWORKFLOW_REGISTRY_LISTEN",
            default_value = "127.0.0.1:8080"
        )]
        listen: String,
        /// Base URL written into responses (default: http://{listen}, or http://localhost:{port} when listening on every interface).
        #[arg(long, env = "OPENWORKFLOW_REGISTRY_PUBLIC_URL")]
        public_url: Option<String>,
        /// Require a key with the `read` scope for every read.
        #[arg(long, env = "OPENWORKFLOW_REGISTRY_PRIVATE", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
        private: bool,
        #[command(flatten)]
        router: RouterArgs,
        #[command(flatten)]
        connections: ConnectionArgs,
        // Boxed: the flags of sign-in make this variant much larger than the others.
        #[command(flatten)]
        sign_in: Box<SignInArgs>,
        #[command(flatten)]
        rate_limits: RateLimitArgs,
        #[command(flatten)]
        review: ReviewArgs,
        #[command(flatten)]
        webhooks: WebhookArgs,
        /// Days daily download counters are kept (at least 90); monthly totals are kept forever.
        #[arg(long, env = registry_core::downloads::RETENTION_SETTING, default_value_t = registry_core::downloads::MIN_RETENTION_DAYS, value_parser = parse_retention_days)]
        download_retention_days: u16,
    },
    /// Ask the running server whether it is ready (`GET /readyz` on loopback): exit 0 when it is, 1 with the reason when not. The container image's HEALTHCHECK.
    Healthcheck {
        /// Address the server listens on (its --listen); a wildcard address such as `0.0.0.0:8080` is probed on loopback.
        #[arg(
            long,
            env = "OPENWORKFLOW_REGISTRY_LISTEN",
            default_value = "127.0.0.1:8080"
        )]
        listen: String,
        /// Only ask whether the process answers (`/healthz`), not whether its database and storage do.
        #[arg(long)]
        live: bool,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Run one health pass over every registered MCP router instance now and print its report (JSON) on stdout.
    #[command(alias = "health-check")]
    CheckRouters {
        #[command(flatten)]
        storage: StorageArgs,
        #[command(flatten)]
        router: RouterArgs,
    },
    /// Create an API key and print it alone on stdout.
    CreateKey {
        #[command(flatten)]
        storage: StorageArgs,
        /// Label for the key ("CI/CD Pipeline").
        #[arg(long)]
        name: String,
        /// Scope to grant; repeat for several (read, publish, router, admin).
        #[arg(long = "scope", default_value = "publish", value_parser = Scope::parse)]
        scopes: Vec<Scope>,
        /// Attach to this existing principal (to rotate a key); default: a new principal named after the key.
        #[arg(long)]
        principal: Option<String>,
        /// Days until the key stops working; default: never (an operator's key).
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
        /// Limit the key to this plugin (repeat for more); default: every plugin of
        /// its principal.
        #[arg(long = "plugin", value_name = "SLUG")]
        plugins: Vec<String>,
    },
    /// Make every org-catalog artifact local: check each against its SHA-256 and pull the missing or corrupt ones from S3 (the same sync `serve` runs at start).
    Sync {
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Copy an embedded registry into PostgreSQL (every table: catalog, keys, accounts, orgs, org catalog, router, counters, audit log) and, with --bucket, its artifacts into the bucket; check every table's rows and every file's SHA-256 in both, and print what was copied (JSON) on stdout. Safe to re-run: a second run writes nothing. Stop the embedded registry first.
    MigrateStore {
        /// The embedded catalog: `sqlite:///path/to/catalog.sqlite3` (in the data directory unless configured otherwise).
        #[arg(long, value_name = "SQLITE_URL")]
        from: String,
        /// The PostgreSQL database: `postgres://user:password@host:port/database` (empty, or filled by an earlier run from the same registry).
        #[arg(long, value_name = "POSTGRES_URL")]
        to: String,
        /// The embedded registry's data directory, whose artifacts go to --bucket (default: the directory holding the catalog file).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Copy the artifacts into this bucket, where the registry on PostgreSQL keeps them with STORAGE_BACKEND=s3 (default: they stay in the data directory, for STORAGE_BACKEND=filesystem).
        #[arg(long)]
        bucket: Option<String>,
    },
    /// Create the DynamoDB table (stream enabled) and S3 bucket, for local testing and self-hosting.
    InitAws {
        /// DynamoDB table to create.
        #[arg(long, env = "OPENWORKFLOW_REGISTRY_TABLE")]
        table: String,
        /// S3 bucket to create.
        #[arg(long, env = "OPENWORKFLOW_REGISTRY_BUCKET")]
        bucket: String,
    },
}

// Background work (index updates, health checks, roll-ups) needs few blocking
// threads; requests run on the HTTP threads' own runtimes (see `serve_http`).
#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    #[cfg(not(target_env = "msvc"))]
    openworkflow_registry::report_heap_figures(jemalloc_figures);
    match cli.command {
        Command::Serve {
            storage,
            listen,
            public_url,
            private,
            router,
            connections,
            sign_in,
            rate_limits,
            review,
            webhooks,
            download_retention_days,
        } => {
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let local = listener.local_addr().context("reading the bound address")?;
            if public_url.is_none() && local.ip().is_unspecified() {
                tracing::warn!(
                    %local,
                    "no public URL is set, so links name localhost: set OPENWORKFLOW_REGISTRY_PUBLIC_URL to the address clients use"
                );
            }
            let mut config = storage.config(
                public_url.unwrap_or_else(|| openworkflow_registry::default_public_url(local)),
                private,
            )?;

            router.apply(&mut config);
            connections.apply(&mut config);
            sign_in.apply(&mut config);
            rate_limits.apply(&mut config);
            review.apply(&mut config);
            webhooks.apply(&mut config);
            config.download_retention =
                Retention::days(download_retention_days).map_err(anyhow::Error::msg)?;
            let opened = open_registry_now(&config).await?;
            // As the one writer, so nodes started together make one admin key.
            let bootstrapped = opened
                .builder
                .as_sole_writer(bootstrap_admin_key(&opened.registry, &storage.data))
                .await?;
            if let Some(created) = bootstrapped {
                announce_admin_key(&storage.data.join(ADMIN_KEY_FILE), created.secret.expose());
            }
            tracing::info!(
                %local,
                public_url = %config.public_url,
                private,
                backend = ?config.backend,
                data = %storage.data.display(),
                "registry listening"
            );
            serve(opened, listener, shutdown_signal()).await
        }
        Command::CreateKey {
            storage,
            name,
            scopes,
            principal,
            expires_in_days,
            plugins,
        } => {
            let opened = open_registry_now(&storage.config(String::new(), false)?).await?;
            let created = opened
                .registry
                .create_key_locally(NewKey {
                    name,
                    scopes: scopes.into_iter().collect::<Scopes>(),
                    principal: principal.map(PrincipalId::from_stored),
                    new_principal: None,
                    expires_in_days,
                    plugins: (!plugins.is_empty()).then_some(plugins),
                })
                .await
                .context("creating the key")?;
            tracing::info!(key_id = %created.info.id, principal = %created.info.principal, "key created");
            print_secret(created.secret.expose());
            Ok(())
        }
        Command::Healthcheck {
            listen,
            live,
            timeout,
        } => {
            let listen = tokio::net::lookup_host(&listen)
                .await
                .with_context(|| format!("resolving {listen}"))?
                .next()
                .with_context(|| format!("{listen} names no address"))?;
            let probe = if live { Probe::Live } else { Probe::Ready };
            let body = probe_server(probe_address(listen), probe, Duration::from_secs(timeout))
                .await
                .context("the registry is not healthy")?;
            print_report(body.trim());
            Ok(())
        }
        Command::MigrateStore {
            from,
            to,
            data,
            bucket,
        } => {
            let Backend::Embedded { file: Some(file) } = Backend::from_database_url(&from)? else {
                anyhow::bail!(
                    "--from names the embedded registry's catalog: sqlite:///path/to/catalog.sqlite3"
                );
            };
            let Backend::Postgres { url } = Backend::from_database_url(&to)? else {
                anyhow::bail!(
                    "--to names a PostgreSQL database: postgres://user:password@host:port/database"
                );
            };
            let tables = openworkflow_registry::migrate_store::migrate_catalog(&file, &url).await?;
            let artifacts = match &bucket {
                Some(bucket) => {
                    let data = data
                        .or_else(|| file.parent().map(Path::to_path_buf))
                        .context("the catalog file has no directory: give --data")?;
                    let store = openworkflow_registry::bucket_artifacts(bucket).await?;
                    Some(
                        openworkflow_registry::migrate_store::migrate_artifacts(&data, store)
                            .await?,
                    )
                }
                None => None,
            };
            let report = serde_json::json!({
                "tables": tables.iter().map(|t| serde_json::json!({
                    "table": t.table,
                    "rows": t.rows,
                    "written": t.written,
                    "sha256": t.sha256,
                })).collect::<Vec<_>>(),
                "artifacts": artifacts.map(|a| serde_json::json!({
                    "files": a.files,
                    "copied": a.copied,
                    "bytes": a.bytes,
                })),
            });
            print_report(&report.to_string());
            Ok(())
        }
        Command::CheckRouters { storage, router } => {
            let mut config = storage.config(String::new(), false)?;
            router.apply(&mut config);
            let opened = open_registry_now(&config).await?;
            let report = opened
                .registry
                .run_health_pass()
                .await
                .context("running the health checks")?;
            print_report(&serde_json::to_string(&report).context("rendering the report")?);
            Ok(())
        }
        Command::Sync { storage } => {
            let opened = open_registry_now(&storage.config(String::new(), false)?).await?;
            let report = ensure_all_catalog_plugins_local(&opened, &SyncBar::new()).await?;
            tracing::info!(
                checked = report.checked,
                present = report.present,
                restored = report.restored,
                repaired = report.repaired,
                unrecoverable = report.unrecoverable.len(),
                from_s3 = report.replicated,
                "catalog artifacts synced"
            );
            if !report.unrecoverable.is_empty() {
                anyhow::bail!(
                    "{} catalog artifacts are missing or corrupt and could not be restored (see the warnings above)",
                    report.unrecoverable.len()
                );
            }
            Ok(())
        }
        Command::InitAws { table, bucket } => {
            let settings = AwsSettings {
                table,
                bucket,
                force_path_style: s3_needs_path_style(),
            };
            let report = init_aws(&settings).await?;
            tracing::info!(
                table = %settings.table,
                table_created = report.table_created,
                bucket = %settings.bucket,
                bucket_created = report.bucket_created,
                "AWS resources ready"
            );
            Ok(())
        }
    }
}

/// The sync's progress bar on stderr (hidden when stderr is not a terminal).
struct SyncBar(indicatif::ProgressBar);

impl SyncBar {
    fn new() -> Self {
        let bar =
            indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} syncing catalog artifacts [{bar:30}] {pos}/{len} {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        Self(bar)
    }
}

impl SyncProgress for SyncBar {
    fn start(&self, total: usize) {
        self.0.set_length(total as u64);
    }

    fn checked(&self, artifact: &StoredArtifact, outcome: &LocalCopy) {
        if !matches!(outcome, LocalCopy::Present) {
            self.0.set_message(format!("{outcome:?}: {}", artifact.key));
        }
        self.0.inc(1);
        if self.0.position() == self.0.length().unwrap_or(0) {
            self.0.finish_and_clear();
        }
    }
}

/// Reports go to stdout alone, for scripts.
#[allow(clippy::print_stdout)]
fn print_report(json: &str) {
    println!("{json}");
}

/// Secrets go to stdout alone, so `KEY=$(openworkflow-registry create-key ...)` works.
#[allow(clippy::print_stdout)]
fn print_secret(secret: &str) {
    println!("{secret}");
}

/// Shows the first admin key to a person at a terminal; when stdout is captured
/// (systemd, a container's log driver, CI), the key would outlive the screen in a log,
/// so only its file is named.
fn announce_admin_key(file: &Path, secret: &str) {
    if std::io::stdout().is_terminal() {
        print_secret(&format!(
            "Created the first admin key (also written to {}):\n{secret}",
            file.display()
        ));
    } else {
        print_report(&format!(
            "Created the first admin key in {} (mode 0600); it is not printed because \
             standard output is not a terminal and may be logged. Read it with: cat {}",
            file.display(),
            file.display()
        ));
    }
}
