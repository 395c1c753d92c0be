//! `index-builder`: builds the static index.
//!
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
use registry_core::store::{FileArtifactStore, SqliteStore};
use registry_core::timestamp::{Clock, SystemClock};
use registry_index::format::IndexConfig;
use registry_index::verify::verify_index;
use registry_index::{
    FileIndexStore, INDEX_KEY_FILE, IndexBuilder, IndexPublicKey, IndexSettings, IndexSigningKey,
};

/// Builds the OpenWorkflow registry's static index.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rebuilds the whole index from an embedded registry's data directory.
    Rebuild {
        /// The registry's data directory (catalog.sqlite3 and artifacts).
        #[arg(
            long,
            env = "OPENWORKFLOW_REGISTRY_DATA",
            default_value = "./registry-data"
        )]
        data: PathBuf,
        /// Where to write the index.
        #[arg(long)]
        out: PathBuf,
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Rebuild {
            data,
            out,
            public_url,
            key_file,
            force,
        } => rebuild(data, out, public_url, key_file, force).await,
        Command::Verify { index, public_key } => verify(index, public_key).await,
    }
}

async fn rebuild(
    data: PathBuf,
    out: PathBuf,
    public_url: String,
    key_file: Option<PathBuf>,
    force: bool,
) -> anyhow::Result<()> {
    let db = data.join("catalog.sqlite3");
    anyhow::ensure!(db.exists(), "no catalog at {}", db.display());
    let catalog =
        Arc::new(SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?);
    let key_file = key_file.unwrap_or_else(|| data.join(INDEX_KEY_FILE));
    let (key, created) = IndexSigningKey::load_or_create(&key_file)
        .with_context(|| format!("loading the index key {}", key_file.display()))?;
    if created {
        tracing::info!(file = %key_file.display(), "created a new index signing key");
    }
    let builder = IndexBuilder::new(
        catalog,
        Arc::new(FileArtifactStore::new(&data)),
        Arc::new(FileIndexStore::new(&out)),
        key,
        IndexSettings::public(public_url),
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
        out.display()
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
