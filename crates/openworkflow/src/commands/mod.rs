//! The commands: argument parsing (clap) and what each one does.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};
use openworkflow::client::RegistryClient;
use openworkflow::config::{self, ConfigFile, Settings};
use openworkflow::store::PluginStore;

use crate::output::Output;

mod audit;
mod auth;
mod failure;
mod mcp_router;
mod owners;
mod plugin;
mod publishers;
mod reports;
mod reviews;
mod stats;
mod webhooks;

use crate::progress::ProgressBars;
use audit::{AuditPage, audit};
use auth::{AuthCommand, auth};
pub use failure::Failure;
use failure::exit;
use mcp_router::{RouterCommand, router};
use owners::{TeamCommand, team};
use plugin::{PluginCommand, canonical, list, plugin, validate};
use reports::{ReportCommand, report};
use reviews::{ReviewCommand, review};
use webhooks::{WebhookCommand, webhook};

/// Install, validate, publish and verify OpenWorkflow plugins.
///
/// The registry is chosen by `--registry`, then OPENWORKFLOW_REGISTRY_URL, then the
/// config file, then the public registry; the key by OPENWORKFLOW_REGISTRY_API_KEY,
/// then the key `auth login` stored for that registry.
#[derive(Debug, Parser)]
#[command(name = "openworkflow", version, about, long_about = None)]
pub struct Cli {
    /// Registry URL (overrides OPENWORKFLOW_REGISTRY_URL and the config file).
    #[arg(long, global = true, value_name = "URL")]
    registry: Option<String>,
    /// Print one JSON document (results on stdout, errors too) for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but warnings and errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    command: Group,
}

#[derive(Debug, Subcommand)]
enum Group {
    /// Find, install, publish and verify plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// API keys.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Teams: they own plugins for their members.
    #[command(subcommand)]
    Team(TeamCommand),
    /// The whole audit log, newest first (an admin key).
    Audit(AuditPage),
    /// Reports of plugins: list and resolve them, quarantine what is harmful (an admin key).
    #[command(subcommand)]
    Report(ReportCommand),
    /// Versions held for review: list, show, approve and reject them (a key with
    /// the `review` scope; owners list and show their own).
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Webhooks: signed HTTP callbacks when versions are published, reviewed,
    /// deprecated or unpublished (a plugin's owners, an org's reviewers, or admins).
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// The MCP router: register running plugin instances and read routing tables
    /// (a key with the `router` scope).
    #[command(subcommand)]
    Router(RouterCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// What the process environment says, for settings.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

struct Context {
    settings: Settings,
    config_path: PathBuf,
    config: ConfigFile,
    /// Draw progress bars: people are reading a terminal.
    progress_bars: bool,
}

impl Context {
    fn load(registry_flag: Option<&str>, out: &Output) -> Result<Self, Failure> {
        let config_path = config::config_path(env_var)?;
        let config = ConfigFile::load(&config_path)?;
        let settings = Settings::resolve(registry_flag, env_var, &config)?;
        Ok(Self {
            settings,
            config_path,
            config,
            progress_bars: out.is_human() && std::io::stderr().is_terminal(),
        })
    }

    fn client(&self) -> Result<RegistryClient, Failure> {
        let mut client =
            RegistryClient::new(&self.settings.registry, self.settings.api_key.clone())?;
        if let Ok(dir) = config::cache_dir(env_var) {
            client = client.with_cache(dir.join("http"));
        }
        if self.progress_bars {
            client = client.with_progress(std::sync::Arc::new(ProgressBars::default()));
        }
        Ok(client)
    }

    fn store() -> Result<PluginStore, Failure> {
        Ok(PluginStore::new(config::plugin_dir(env_var)?))
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli, out: &Output) -> Result<(), Failure> {
    let registry = cli.registry.as_deref();
    match cli.command {
        Group::Completions { shell } => {
            let mut buffer = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "openworkflow", &mut buffer);
            out.raw(&buffer);
            Ok(())
        }
        Group::Auth(command) => auth(command, &Context::load(registry, out)?, out).await,
        Group::Router(command) => router(command, &Context::load(registry, out)?, out).await,
        Group::Team(command) => team(command, &Context::load(registry, out)?, out).await,
        Group::Audit(page) => audit(None, page, &Context::load(registry, out)?, out).await,
        Group::Report(command) => report(command, &Context::load(registry, out)?, out).await,
        Group::Review(command) => review(command, &Context::load(registry, out)?, out).await,
        Group::Webhook(command) => webhook(command, &Context::load(registry, out)?, out).await,
        Group::Plugin(PluginCommand::Validate { file }) => validate(&file, out),
        Group::Plugin(PluginCommand::Canonical { file }) => canonical(&file, out),
        Group::Plugin(PluginCommand::List) => list(out),
        Group::Plugin(command) => plugin(command, &Context::load(registry, out)?, out).await,
    }
}

/// `slug` or `slug@version`.
fn split_plugin(spec: &str) -> Result<(String, Option<String>), Failure> {
    let (slug, version) = match spec.split_once('@') {
        Some((slug, version)) => (slug, Some(version.to_owned())),
        None => (spec, None),
    };
    if slug.is_empty() || version.as_deref() == Some("") {
        return Err(Failure::new(
            exit::USAGE,
            format!("{spec:?} is not `slug` or `slug@version`"),
        ));
    }
    Ok((slug.to_owned(), version))
}

fn exact_version(spec: &str) -> Result<(String, String), Failure> {
    match split_plugin(spec)? {
        (slug, Some(version)) => Ok((slug, version)),
        (slug, None) => Err(Failure::new(
            exit::USAGE,
            format!("name the version: {slug}@<version>"),
        )),
    }
}
