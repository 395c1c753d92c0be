//! `openworkflow-registry`: run the registry, or manage its keys, from the command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use openworkflow_registry::{
    ServerConfig, bootstrap_admin_key, open_registry_now, serve, shutdown_signal,
};
use registry_core::auth::{PrincipalId, Scope, Scopes};
use registry_core::registry::NewKey;
use tracing_subscriber::EnvFilter;

/// The OpenWorkflow plugin registry, self-hosted: one process, embedded storage.
#[derive(Debug, Parser)]
#[command(name = "openworkflow-registry", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the registry API.
    Serve {
        /// Data directory (SQLite catalog, artifacts, admin.key).
        #[arg(
            long = "data",
            env = "OPENWORKFLOW_REGISTRY_DATA",
            default_value = "./registry-data"
        )]
        data: PathBuf,
        /// Address to listen on.
        #[arg(
            long,
            env = "OPENWORKFLOW_REGISTRY_LISTEN",
            default_value = "127.0.0.1:8080"
        )]
        listen: String,
        /// Base URL written into responses (default: http://{listen}).
        #[arg(long, env = "OPENWORKFLOW_REGISTRY_PUBLIC_URL")]
        public_url: Option<String>,
        /// Require a key with the `read` scope for every read.
        #[arg(long, env = "OPENWORKFLOW_REGISTRY_PRIVATE", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false")]
        private: bool,
    },
    /// Create an API key and print it alone on stdout.
    CreateKey {
        /// Data directory of the registry.
        #[arg(
            long = "data",
            env = "OPENWORKFLOW_REGISTRY_DATA",
            default_value = "./registry-data"
        )]
        data: PathBuf,
        /// Label for the key ("CI/CD Pipeline").
        #[arg(long)]
        name: String,
        /// Scope to grant; repeat for several (read, publish, router, admin).
        #[arg(long = "scope", default_value = "publish", value_parser = Scope::parse)]
        scopes: Vec<Scope>,
        /// Attach to this existing principal (to rotate a key); default: a new principal named after the key.
        #[arg(long)]
        principal: Option<String>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match Cli::parse().command {
        Command::Serve {
            data,
            listen,
            public_url,
            private,
        } => {
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            let local = listener.local_addr().context("reading the bound address")?;
            let config = ServerConfig {
                data_dir: data.clone(),
                public_url: public_url.unwrap_or_else(|| format!("http://{local}")),
                private,
            };
            let registry = open_registry_now(&config)?;
            if let Some(created) = bootstrap_admin_key(&registry, &data).await? {
                print_secret(&format!(
                    "Created the first admin key (also written to {}):\n{}",
                    data.join(openworkflow_registry::ADMIN_KEY_FILE).display(),
                    created.secret.expose()
                ));
            }
            tracing::info!(%local, public_url = %config.public_url, private, data = %data.display(), "registry listening");
            serve(registry, listener, shutdown_signal()).await
        }
        Command::CreateKey {
            data,
            name,
            scopes,
            principal,
        } => {
            let config = ServerConfig {
                data_dir: data,
                public_url: String::new(),
                private: false,
            };
            let registry = open_registry_now(&config)?;
            let created = registry
                .create_key_locally(NewKey {
                    name,
                    scopes: scopes.into_iter().collect::<Scopes>(),
                    principal: principal.map(PrincipalId::from_stored),
                    new_principal: None,
                })
                .await
                .context("creating the key")?;
            tracing::info!(key_id = %created.info.id, principal = %created.info.principal, "key created");
            print_secret(created.secret.expose());
            Ok(())
        }
    }
}

/// Secrets go to stdout alone, so `KEY=$(openworkflow-registry create-key ...)` works.
#[allow(clippy::print_stdout)]
fn print_secret(text: &str) {
    println!("{text}");
}
