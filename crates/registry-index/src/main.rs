//! `index-builder`: builds the static index.
//!
//! - With no arguments inside AWS Lambda (or `index-builder lambda`): the function
//!   that turns DynamoDB Streams batches into index files and runs the scheduled
//!   roll-up. Settings come from the environment the SAM template sets.
//! - `index-builder rebuild --data DIR --out OUT`: the full rebuild from an embedded
//!   registry's catalog into a directory.
//! - `index-builder verify --index DIR`: checks the signed snapshot chain and every
//!   file's hash, with the public key from the index's own `config.json` or a
//!   pinned one.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};
use registry_aws::secrets::read_secret_with;
use registry_aws::{AwsClients, AwsSettings, CloudFrontInvalidator, s3_needs_path_style};
use registry_core::downloads::{RETENTION_SETTING, Retention};
use registry_core::store::{
    ArtifactStore, CatalogStore, CdnInvalidator, FileArtifactStore, IndexStore,
};
use registry_core::timestamp::{Clock, SystemClock};
use registry_index::format::IndexConfig;
use registry_index::lambda::IndexFunction;
use registry_index::verify::verify_index;
use registry_index::{
    FileIndexStore, INDEX_KEY_FILE, IndexBuilder, IndexPublicKey, IndexSettings, IndexSigningKey,
};
use registry_sqlite::SqliteStore;

/// Builds the OpenWorkflow registry's static index.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Runs as the Lambda function (the default inside Lambda).
    Lambda,
    /// Rebuilds the whole index: from an embedded registry's data directory into
    /// `--out`, or with `--table` and `--bucket` from DynamoDB into the bucket's
    /// `index/` prefix.
    Rebuild {
        /// The registry's data directory (catalog.sqlite3 and artifacts).
        #[arg(
            long,
            env = "OPENWORKFLOW_REGISTRY_DATA",
            default_value = "./registry-data"
        )]
        data: PathBuf,
        /// Where to write the index (embedded catalog).
        #[arg(long, required_unless_present = "table")]
        out: Option<PathBuf>,
        /// Rebuild from this DynamoDB table instead (with `--bucket`).
        #[arg(long, requires = "bucket", conflicts_with = "out")]
        table: Option<String>,
        /// The S3 bucket holding the artifacts and the index.
        #[arg(long)]
        bucket: Option<String>,
        /// Base URL written into details and config.json.
        #[arg(
            long,
            env = "OPENWORKFLOW_REGISTRY_PUBLIC_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        public_url: String,
        /// The signing key file (created if missing); default DATA/index.key.
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Rewrite every file, even those the previous index says are unchanged.
        #[arg(long)]
        force: bool,
        /// The index of a private registry: `config.json` says reads need a key.
        #[arg(long)]
        private: bool,
        /// Write no web catalog pages (only the protocol's files).
        #[arg(long)]
        no_pages: bool,
    },
    /// Verifies an index directory: signatures, expiry and every file's hash.
    Verify {
        /// The index directory.
        #[arg(long)]
        index: PathBuf,
        /// The expected public key (hex); default: the one in config.json.
        #[arg(long)]
        public_key: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let in_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    let command = match Cli::parse().command {
        Some(command) => command,
        None if in_lambda => Command::Lambda,
        None => anyhow::bail!("say what to do: index-builder rebuild|verify (see --help)"),
    };
    if matches!(command, Command::Lambda) {
        // JSON logs for CloudWatch.
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter())
            .with_current_span(false)
            .without_time()
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
    }
    match command {
        Command::Lambda => run_lambda()
            .await
            .map_err(|e| anyhow::anyhow!("index-builder function failed: {e}")),
        Command::Rebuild {
            data,
            out,
            table,
            bucket,
            public_url,
            key_file,
            force,
            private,
            no_pages,
        } => {
            let source = match (table, bucket, out) {
                (Some(table), Some(bucket), _) => Source::Aws { table, bucket },
                (_, _, Some(out)) => Source::Embedded { out },
                _ => anyhow::bail!("give --out, or --table with --bucket"),
            };
            let mut settings = IndexSettings::public(public_url);
            settings.auth_required = private;
            settings.pages = !no_pages;
            rebuild(data, source, settings, key_file, force).await
        }
        Command::Verify { index, public_key } => verify(index, public_key).await,
    }
}

/// The function's settings and clients, built once per container; then the
/// runtime loop.
async fn run_lambda() -> Result<(), lambda_runtime::Error> {
    let function = Arc::new(lambda_function().await?);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let function = Arc::clone(&function);
            async move { function.handle(event.payload).await }
        },
    ))
    .await
}

async fn lambda_function() -> anyhow::Result<IndexFunction> {
    let var = |name: &str| std::env::var(name).with_context(|| format!("{name} is not set"));
    let settings = AwsSettings {
        table: var("OPENWORKFLOW_REGISTRY_TABLE")?,
        bucket: var("OPENWORKFLOW_REGISTRY_BUCKET")?,
        force_path_style: s3_needs_path_style(),
    };
    let mut index_settings = IndexSettings::public(var("OPENWORKFLOW_REGISTRY_PUBLIC_URL")?);
    index_settings.auth_required =
        std::env::var("OPENWORKFLOW_REGISTRY_PRIVATE").is_ok_and(|v| v == "1" || v == "true");
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let clients = AwsClients::from_config(&sdk, settings.force_path_style);
    // The key: a hex seed given directly (local runs), else the Secrets Manager
    // secret the template generates, hashed into a seed.
    let key = match std::env::var("OPENWORKFLOW_REGISTRY_INDEX_KEY") {
        Ok(hex) => IndexSigningKey::from_hex(&hex).context("OPENWORKFLOW_REGISTRY_INDEX_KEY")?,
        Err(_) => {
            let secret_id = var("OPENWORKFLOW_REGISTRY_INDEX_KEY_SECRET")?;
            let secret = read_secret_with(&sdk, &secret_id)
                .await
                .with_context(|| format!("reading the index key secret {secret_id}"))?;
            IndexSigningKey::derive_from_secret(&secret)
        }
    };
    let cdn: Option<Arc<dyn CdnInvalidator>> =
        std::env::var("OPENWORKFLOW_REGISTRY_DISTRIBUTION_ID")
            .ok()
            .filter(|id| !id.is_empty())
            .map(|id| {
                Arc::new(CloudFrontInvalidator::from_sdk_config(&sdk, id))
                    as Arc<dyn CdnInvalidator>
            });
    let catalog = clients.dynamo_store(&settings);
    let builder = IndexBuilder::new(
        catalog.clone(),
        clients.s3_store(&settings),
        clients.index_store(&settings),
        key,
        index_settings,
        Arc::new(SystemClock),
    );
    let retention = Retention::from_setting(std::env::var(RETENTION_SETTING).ok().as_deref())
        .map_err(anyhow::Error::msg)?;
    Ok(IndexFunction::new(Arc::new(builder), catalog, cdn).with_download_retention(retention))
}

/// Where a rebuild reads the catalog and writes the index.
enum Source {
    /// The data directory's SQLite catalog and artifacts, into a directory.
    Embedded {
        /// The index directory.
        out: PathBuf,
    },
    /// DynamoDB and S3, into the bucket's `index/` prefix.
    Aws {
        /// The table.
        table: String,
        /// The bucket.
        bucket: String,
    },
}

/// The stores a rebuild reads and writes, and a name for where it writes.
struct RebuildStores {
    catalog: Arc<dyn CatalogStore>,
    artifacts: Arc<dyn ArtifactStore>,
    index: Arc<dyn IndexStore>,
    target: String,
}

async fn rebuild(
    data: PathBuf,
    source: Source,
    settings: IndexSettings,
    key_file: Option<PathBuf>,
    force: bool,
) -> anyhow::Result<()> {
    let key_file = key_file.unwrap_or_else(|| data.join(INDEX_KEY_FILE));
    let (key, created) = IndexSigningKey::load_or_create(&key_file)
        .with_context(|| format!("loading the index key {}", key_file.display()))?;
    if created {
        tracing::info!(file = %key_file.display(), "created a new index signing key");
    }
    let stores = match source {
        Source::Embedded { out } => {
            let db = data.join("catalog.sqlite3");
            anyhow::ensure!(db.exists(), "no catalog at {}", db.display());
            let catalog =
                SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?;
            RebuildStores {
                catalog: Arc::new(catalog),
                artifacts: Arc::new(FileArtifactStore::new(&data)),
                index: Arc::new(FileIndexStore::new(&out)),
                target: out.display().to_string(),
            }
        }
        Source::Aws { table, bucket } => {
            let settings = AwsSettings {
                table,
                bucket,
                force_path_style: s3_needs_path_style(),
            };
            let clients = AwsClients::from_env(settings.force_path_style).await;
            RebuildStores {
                catalog: clients.dynamo_store(&settings),
                artifacts: clients.s3_store(&settings),
                index: clients.index_store(&settings),
                target: format!("s3://{}/index/", settings.bucket),
            }
        }
    };
    let builder = IndexBuilder::new(
        stores.catalog,
        stores.artifacts,
        stores.index,
        key,
        settings,
        Arc::new(SystemClock),
    );
    let started = Instant::now();
    let report = builder
        .rebuild(force)
        .await
        .context("rebuilding the index")?;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "rebuilt {} plugins in {seconds:.2} s: {} files written ({} bytes), {} removed, into {}",
        report.plugins,
        report.written.len(),
        report.bytes_written,
        report.deleted.len(),
        stores.target,
    );
    Ok(())
}

async fn verify(index: PathBuf, public_key: Option<String>) -> anyhow::Result<()> {
    let store = FileIndexStore::new(&index);
    let key = match public_key {
        Some(hex) => IndexPublicKey::from_hex(&hex)?,
        None => {
            let raw = std::fs::read(index.join("config.json"))
                .with_context(|| format!("reading {}/config.json", index.display()))?;
            let config: IndexConfig =
                serde_json::from_slice(&raw).context("parsing config.json")?;
            IndexPublicKey::from_hex(&config.index_public_key.public_key)?
        }
    };
    let verified = verify_index(&store, &key, SystemClock.now())
        .await
        .context("the index failed verification")?;
    eprintln!(
        "index verified: {} files, timestamp issued {} expires {}",
        verified.files_checked, verified.timestamp.issued_at, verified.timestamp.expires_at
    );
    Ok(())
}
