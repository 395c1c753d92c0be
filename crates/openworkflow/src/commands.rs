//! The commands: argument parsing (clap) and what each one does.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, CommandFactory, Parser, Subcommand};
use openworkflow::bundle::zip_directory;
use openworkflow::client::{ClientError, PublishPayload, RegistryClient, check_sha256};
use openworkflow::config::{self, ConfigError, ConfigFile, Settings};
use openworkflow::index::{IndexCheck, IndexCheckError, check_schema};
use openworkflow::install::{install_plugin, sniff_format};
use openworkflow::mcp_router::{
    InstanceMetadata, RegisterRequest, RegisterResponse, Registration, RoutingTableResponse,
};
use openworkflow::signature::verify_document_signature;
use openworkflow::store::PluginStore;
use openworkflow::{ApiKey, Problem};
use registry_core::auth::Scope;
use registry_core::bundle::validate_bundle;
use registry_core::manifest::{
    DocumentFormat, FieldError, Manifest, ParsedDocument, parse_document, signed_content,
};
use serde_json::json;

use crate::output::Output;
use crate::progress::ProgressBars;

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

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Download a plugin, check its SHA-256 and install it.
    Install {
        /// `slug` or `slug@version` (default: the latest version).
        plugin: String,
        /// Also write the schema to ./plugins/<slug>.yaml.
        #[arg(long)]
        save: bool,
    },
    /// Check a schema file (or bundle) as the registry would, listing every problem.
    Validate {
        /// A `.yaml`, `.yml` or `.json` schema, or a `.zip` bundle.
        file: PathBuf,
    },
    /// Validate, then publish a new plugin or version (a schema file, a `.zip`
    /// bundle, or a directory zipped on the fly).
    Publish(PublishArgs),
    /// Print the RFC 8785 canonical JSON a GPG signature covers (the manifest
    /// without its `signature` field), to pipe into `gpg --detach-sign --armor`.
    Canonical {
        /// A `.yaml`, `.yml` or `.json` schema, or a `.zip` bundle.
        file: PathBuf,
    },
    /// List installed plugins: `slug version registry`.
    List,
    /// Check an installed plugin (or the registry's copy) against the registry's
    /// SHA-256, and with `--check-signature` its author's GPG signature.
    Verify {
        /// `slug@version`.
        plugin: String,
        /// Also verify the schema's GPG signature against the keyring.
        #[arg(long)]
        check_signature: bool,
        /// Armored public keys to trust (`gpg --export --armor KEYID > keyring.asc`);
        /// default: keyring.asc beside the config file.
        #[arg(long, value_name = "FILE")]
        keyring: Option<PathBuf>,
    },
    /// Search the registry.
    Search {
        /// Words matched against names, descriptions and tags.
        query: Option<String>,
        /// Only plugins with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Results to show (1 to 100).
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Mark a version deprecated (repeat to change the notice).
    Deprecate {
        /// `slug@version`.
        plugin: String,
        /// Why, shown to everyone who installs it.
        #[arg(long)]
        reason: String,
        /// The version to use instead.
        #[arg(long, value_name = "VERSION")]
        replacement: Option<String>,
    },
    /// Remove a version (within 72 hours, or deprecated and unused); its number stays taken.
    Unpublish {
        /// `slug@version`.
        plugin: String,
    },
}

#[derive(Debug, Args)]
struct PublishArgs {
    /// A `.yaml`, `.yml` or `.json` schema, a `.zip` bundle, or a directory with
    /// `plugin.yaml` (or `plugin.json`) at its root.
    file: PathBuf,
    /// Validate and show what would be sent, without sending.
    #[arg(long)]
    dry_run: bool,
    /// Publish a new version of an existing plugin (must be greater than its latest).
    #[arg(long)]
    update: bool,
    /// Return as soon as the registry accepts, without waiting until the version
    /// can be installed.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for the version to become visible.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    wait_timeout: u64,
}

#[derive(Debug, Subcommand)]
enum RouterCommand {
    /// Add an instance to a plugin's routing table, or refresh it (safe to repeat:
    /// the same registration again changes nothing).
    Register {
        /// `slug@version`: the published version the instance runs.
        plugin: String,
        /// The instance's id, unique within the plugin (letters, digits, `.`, `_`,
        /// `-`, `:`).
        #[arg(long, value_name = "ID")]
        instance_id: String,
        /// Where the router sends calls (http or https).
        #[arg(long, value_name = "URL")]
        url: String,
        /// What the registry's health checker calls (http or https).
        #[arg(long, value_name = "URL")]
        health_check_url: String,
        /// An action the instance serves, declared by that version (repeat for more).
        #[arg(long = "action", value_name = "ACTION", required = true)]
        actions: Vec<String>,
        /// Where the instance runs.
        #[arg(long)]
        region: Option<String>,
    },
    /// Take an instance out of a plugin's routing table (on shutdown).
    Deregister {
        /// The plugin's slug.
        plugin: String,
        /// The instance's id.
        instance_id: String,
    },
    /// Show a plugin's routing table: every instance, its actions and its health.
    Table {
        /// The plugin's slug.
        plugin: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuthCommand {
    /// Create an API key for your principal (prints `sk_...` once).
    CreateKey {
        /// A label, such as "CI/CD Pipeline".
        #[arg(long)]
        name: String,
        /// Scopes (`read`, `publish`, `router`, `admin`); default: `publish`.
        #[arg(long = "scope", value_name = "SCOPE", value_parser = Scope::parse)]
        scopes: Vec<Scope>,
    },
    /// List your principal's keys (ids, names, scopes; never secrets).
    ListKeys,
    /// Revoke a key by its id (`key_...`); requests with it fail from then on.
    RevokeKey {
        /// The key's id, as `list-keys` shows it.
        key_id: String,
    },
    /// Check a key and store it for the registry in the config file (mode 0600).
    Login {
        /// The key; default: read from standard input, so it stays out of shell history.
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
    },
}

/// Exit codes, documented in the README.
mod exit {
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const AUTH: u8 = 3;
    pub const NOT_FOUND: u8 = 4;
    pub const CONFLICT: u8 = 5;
    pub const UNAVAILABLE: u8 = 6;
    pub const VERIFICATION: u8 = 7;
}

/// Why a command failed, as it is printed and as the exit code says.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    code: u8,
    /// One line saying what went wrong.
    pub message: String,
    /// Field-by-field problems.
    pub fields: Vec<FieldError>,
    /// What to try.
    pub hint: Option<String>,
    problem: Option<Box<Problem>>,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
            hint: None,
            problem: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        self.code
    }

    /// The failure for `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message,
                "exit_code": self.code,
                "errors": self.fields,
                "hint": self.hint,
                "problem": self.problem,
            }
        })
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        let code = match &error {
            ClientError::Unauthenticated(_) | ClientError::Forbidden(_) => exit::AUTH,
            ClientError::NotFound(_) | ClientError::Gone(_) => exit::NOT_FOUND,
            ClientError::Conflict(_) => exit::CONFLICT,
            ClientError::Server(_) | ClientError::Transport(_) => exit::UNAVAILABLE,
            ClientError::ChecksumMismatch { .. } => exit::VERIFICATION,
            _ => exit::FAILED,
        };
        let hint = match &error {
            ClientError::Unauthenticated(_) => Some(
                "set OPENWORKFLOW_REGISTRY_API_KEY, or store a key with `openworkflow auth login`",
            ),
            ClientError::Conflict(p) if p.code == "version_exists" => {
                Some("every publish needs a new version: raise `version` in the schema")
            }
            ClientError::Conflict(p) if p.code == "version_not_incremented" => {
                Some("an update must be greater than the latest version")
            }
            ClientError::Forbidden(p) if p.code == "missing_scope" => Some(
                "use a key with that scope: an admin makes one with `openworkflow auth create-key --scope SCOPE`",
            ),
            _ => None,
        };
        let problem = error.problem().cloned().map(Box::new);
        Self {
            code,
            message: error.to_string(),
            fields: problem
                .as_ref()
                .map(|p| p.errors.clone())
                .unwrap_or_default(),
            hint: hint.map(str::to_owned),
            problem,
        }
    }
}

impl From<ConfigError> for Failure {
    fn from(error: ConfigError) -> Self {
        Failure::new(exit::USAGE, error.to_string())
    }
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
        Group::Plugin(PluginCommand::Validate { file }) => validate(&file, out),
        Group::Plugin(PluginCommand::Canonical { file }) => canonical(&file, out),
        Group::Plugin(PluginCommand::List) => list(out),
        Group::Plugin(command) => plugin(command, &Context::load(registry, out)?, out).await,
    }
}

async fn plugin(command: PluginCommand, cx: &Context, out: &Output) -> Result<(), Failure> {
    match command {
        PluginCommand::Install { plugin, save } => install(cx, out, &plugin, save).await,
        PluginCommand::Publish(args) => publish(cx, out, &args).await,
        PluginCommand::Verify {
            plugin,
            check_signature,
            keyring,
        } => {
            let keyring = match (check_signature, keyring) {
                (false, _) => None,
                (true, Some(path)) => Some(path),
                (true, None) => Some(cx.config_path.with_file_name("keyring.asc")),
            };
            verify(cx, out, &plugin, keyring.as_deref()).await
        }
        PluginCommand::Search { query, tag, limit } => {
            let page = cx
                .client()?
                .search(query.as_deref(), tag.as_deref(), Some(limit))
                .await?;
            out.result(
                || {
                    let mut lines: Vec<String> = page
                        .results
                        .iter()
                        .map(|r| format!("{} {}  {}", r.slug, r.version, r.description))
                        .collect();
                    lines.push(format!(
                        "({} of {} matches)",
                        page.results.len(),
                        page.total
                    ));
                    lines.join("\n")
                },
                || json!(page),
            );
            Ok(())
        }
        PluginCommand::Deprecate {
            plugin,
            reason,
            replacement,
        } => {
            let (slug, version) = exact_version(&plugin)?;
            let answer = cx
                .client()?
                .deprecate(&slug, &version, &reason, replacement.as_deref())
                .await?;
            out.result(
                || format!("Deprecated {slug} {version}: {reason}"),
                || json!(answer),
            );
            Ok(())
        }
        PluginCommand::Unpublish { plugin } => {
            let (slug, version) = exact_version(&plugin)?;
            let answer = cx.client()?.unpublish(&slug, &version).await?;
            out.result(
                || format!("Unpublished {slug} {version} (the version number stays taken)"),
                || json!(answer),
            );
            Ok(())
        }
        PluginCommand::Validate { file } => validate(&file, out),
        PluginCommand::Canonical { file } => canonical(&file, out),
        PluginCommand::List => list(out),
    }
}

async fn router(command: RouterCommand, cx: &Context, out: &Output) -> Result<(), Failure> {
    let client = cx.client()?;
    match command {
        RouterCommand::Register {
            plugin,
            instance_id,
            url,
            health_check_url,
            actions,
            region,
        } => {
            let (plugin_slug, version) = exact_version(&plugin)?;
            let registration = client
                .register_instance(&RegisterRequest {
                    plugin_slug,
                    version,
                    url,
                    actions,
                    health_check_url,
                    metadata: InstanceMetadata {
                        instance_id,
                        region,
                    },
                })
                .await?;
            out.result(
                || {
                    let Registration { answer, changed } = &registration;
                    let RegisterResponse {
                        plugin_slug,
                        instance_id,
                        registered_at,
                        ..
                    } = answer;
                    if *changed {
                        format!(
                            "Registered {plugin_slug} instance {instance_id} at {registered_at}"
                        )
                    } else {
                        format!(
                            "{plugin_slug} instance {instance_id} was already registered so \
                             (since {registered_at}); nothing changed"
                        )
                    }
                },
                || json!(registration),
            );
        }
        RouterCommand::Deregister {
            plugin,
            instance_id,
        } => {
            let removed = client.deregister_instance(&plugin, &instance_id).await?;
            out.result(
                || {
                    format!(
                        "Deregistered {} instance {}",
                        removed.plugin_slug, removed.instance_id
                    )
                },
                || json!(removed),
            );
        }
        RouterCommand::Table { plugin } => {
            let table = client.routing_table(&plugin).await?;
            out.result(|| routing_table_text(&table), || json!(table));
        }
    }
    Ok(())
}

/// A routing table for people: a heading, then one line per instance, with the
/// last error under a failing one.
fn routing_table_text(table: &RoutingTableResponse) -> String {
    let mut lines = vec![format!(
        "{}: {} instance(s); {} failed checks in a row remove one",
        table.plugin_slug,
        table.instances.len(),
        table.failure_threshold
    )];
    for instance in &table.instances {
        let health = &instance.health;
        let status = match health.consecutive_failures {
            0 => health.status.as_str().to_owned(),
            n => format!(
                "{} ({n} of {})",
                health.status.as_str(),
                table.failure_threshold
            ),
        };
        lines.push(format!(
            "{}  {}  {status}  {}  [{}]",
            instance.instance_id,
            instance.version,
            instance.url,
            instance.actions.join(", ")
        ));
        if let Some(error) = &health.last_error {
            lines.push(format!("    last error: {error}"));
        }
    }
    lines.join("\n")
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

async fn install(cx: &Context, out: &Output, spec: &str, save: bool) -> Result<(), Failure> {
    let (slug, version) = split_plugin(spec)?;
    let client = cx.client()?;
    let installed = install_plugin(&client, &Context::store()?, &slug, version.as_deref()).await?;
    let details = &installed.details;
    if let Some(notice) = &details.deprecated {
        let instead = notice
            .replacement_version
            .as_deref()
            .map(|v| format!("; use {v} instead (openworkflow plugin install {slug}@{v})"))
            .unwrap_or_default();
        out.warn(&format!(
            "{slug} {} is deprecated: {}{instead}",
            details.version, notice.reason
        ));
    }
    let saved = if save {
        let path = PathBuf::from("plugins").join(format!("{}.yaml", details.slug));
        std::fs::create_dir_all("plugins")
            .and_then(|()| std::fs::write(&path, &installed.schema))
            .map_err(|e| Failure::new(exit::FAILED, format!("{}: {e}", path.display())))?;
        Some(path)
    } else {
        None
    };
    out.result(
        || {
            let mut line = format!(
                "Installed {} {} from {}",
                details.slug,
                details.version,
                client.registry_url()
            );
            if let Some(path) = &saved {
                line.push_str(&format!("\nSaved {}", path.display()));
            }
            line
        },
        || {
            json!({
                "slug": details.slug,
                "version": details.version,
                "registry": client.registry_url(),
                "sha256": details.sha256,
                "directory": installed.dir,
                "saved": saved,
                "deprecated": details.deprecated,
            })
        },
    );
    Ok(())
}

/// A file to publish or validate, read and classified.
struct LocalPlugin {
    payload: PublishPayload,
    manifest: Manifest,
    /// The manifest document as written (inside the bundle, for a bundle).
    document: (Bytes, DocumentFormat),
}

fn read_local(file: &Path) -> Result<LocalPlugin, Failure> {
    let bytes = if file.is_dir() {
        zip_directory(file)
            .map_err(|e| Failure::new(exit::FAILED, format!("bundling {}: {e}", file.display())))?
    } else {
        std::fs::read(file)
            .map_err(|e| Failure::new(exit::FAILED, format!("{}: {e}", file.display())))?
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let invalid = |fields: Vec<FieldError>| {
        let count = fields.len();
        Failure {
            fields,
            ..Failure::new(
                exit::FAILED,
                format!(
                    "{} is not a valid plugin ({count} problems)",
                    file.display()
                ),
            )
        }
    };
    if file.is_dir() || name.to_ascii_lowercase().ends_with(".zip") {
        let bundle = validate_bundle(&bytes)
            .map_err(|e| Failure::new(exit::FAILED, format!("{}: {e}", file.display())))?;
        let manifest = match parse_document(&bundle.manifest, bundle.manifest_format) {
            Ok(manifest) => manifest,
            Err(ParsedDocument::Invalid(fields)) => return Err(invalid(fields)),
            Err(malformed) => {
                return Err(Failure::new(
                    exit::FAILED,
                    format!("{}: {malformed}", file.display()),
                ));
            }
        };
        return Ok(LocalPlugin {
            payload: PublishPayload::Bundle {
                bytes: Bytes::from(bytes),
            },
            manifest,
            document: (Bytes::from(bundle.manifest), bundle.manifest_format),
        });
    }
    let format = DocumentFormat::from_file_name(&name).unwrap_or_else(|| sniff_format(&bytes));
    let bytes = Bytes::from(bytes);
    match parse_document(&bytes, format) {
        Ok(manifest) => Ok(LocalPlugin {
            payload: PublishPayload::Document {
                bytes: bytes.clone(),
                format,
            },
            manifest,
            document: (bytes, format),
        }),
        Err(ParsedDocument::Invalid(fields)) => Err(invalid(fields)),
        Err(malformed) => Err(Failure::new(
            exit::FAILED,
            format!("{}: {malformed}", file.display()),
        )),
    }
}

fn validate(file: &Path, out: &Output) -> Result<(), Failure> {
    let local = read_local(file)?;
    let m = &local.manifest;
    out.result(
        || format!("{} is valid: {} {}", file.display(), m.slug, m.version),
        || json!({ "valid": true, "slug": m.slug, "version": m.version.to_string() }),
    );
    Ok(())
}

fn canonical(file: &Path, out: &Output) -> Result<(), Failure> {
    let local = read_local(file)?;
    let (bytes, format) = &local.document;
    let canonical = signed_content(bytes, *format)
        .map_err(|e| Failure::new(exit::FAILED, format!("{}: {e}", file.display())))?;
    // Exactly the signed bytes: no trailing newline, in every output mode.
    out.raw(&canonical);
    Ok(())
}

async fn publish(cx: &Context, out: &Output, args: &PublishArgs) -> Result<(), Failure> {
    let local = read_local(&args.file)?;
    let (slug, version) = (
        local.manifest.slug.to_string(),
        local.manifest.version.to_string(),
    );
    let registry = cx.settings.registry_text();
    let (method, path) = if args.update {
        ("PUT", format!("/plugins/{slug}"))
    } else {
        ("POST", "/plugins".to_owned())
    };
    let kind = match &local.payload {
        PublishPayload::Document { format, .. } => format.content_type(),
        PublishPayload::Bundle { .. } => "application/zip",
    };
    if args.dry_run {
        out.result(
            || {
                format!(
                    "Valid: {slug} {version}\nWould send {method} {registry}{path} ({kind}, {} bytes){}\nNothing was sent (--dry-run).",
                    local.payload.len(),
                    if cx.settings.api_key.is_some() { " with your API key" } else { " without an API key" },
                )
            },
            || {
                json!({
                    "dry_run": true, "slug": slug, "version": version, "method": method,
                    "url": format!("{registry}{path}"), "content_type": kind,
                    "bytes": local.payload.len(), "api_key": cx.settings.api_key.is_some(),
                })
            },
        );
        return Ok(());
    }
    let client = cx.client()?;
    if !client.has_key() {
        return Err(
            Failure::new(exit::AUTH, "publishing needs an API key").hint(
                "set OPENWORKFLOW_REGISTRY_API_KEY, or store a key with `openworkflow auth login`",
            ),
        );
    }
    out.note(&format!("Publishing {slug} {version} to {registry}…"));
    let published = client
        .publish(&local.payload, args.update.then_some(slug.as_str()))
        .await?;
    let visible = if args.no_wait || published.details_etag.is_some() {
        published.details_etag.is_some()
    } else {
        wait_until_visible(
            &client,
            out,
            &slug,
            &version,
            Duration::from_secs(args.wait_timeout),
        )
        .await?;
        true
    };
    out.result(
        || {
            let mut line = match &published.previous_version {
                Some(previous) => format!("Updated {slug} {previous} -> {version} on {registry}"),
                None => format!("Published {slug} {version} to {registry}"),
            };
            if !visible {
                line.push_str("\nNot waiting: it becomes installable once the index catches up.");
            }
            line
        },
        || {
            json!({
                "status": published.status, "slug": slug, "version": version,
                "previous_version": published.previous_version, "registry": registry,
                "visible": visible,
            })
        },
    );
    Ok(())
}

/// Polls the version's details until the registry serves them, as `cargo publish`
/// waits for the index: on AWS the static index is rebuilt moments after a publish.
async fn wait_until_visible(
    client: &RegistryClient,
    out: &Output,
    slug: &str,
    version: &str,
    timeout: Duration,
) -> Result<(), Failure> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        match client.plugin_details(slug, Some(version)).await {
            Ok(_) => return Ok(()),
            Err(ClientError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        if started.elapsed() >= timeout {
            return Err(Failure::new(
                exit::UNAVAILABLE,
                format!(
                    "{slug} {version} was accepted but is not visible after {} s",
                    timeout.as_secs()
                ),
            )
            .hint("it will appear once the index catches up; --wait-timeout waits longer"));
        }
        out.note(&format!("Waiting for {slug} {version} to become visible…"));
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

fn list(out: &Output) -> Result<(), Failure> {
    let mut rows: Vec<(String, String, String)> = Context::store()?
        .list()?
        .into_iter()
        .map(|p| (p.slug, p.version, p.registry))
        .collect();
    // Project files under ./plugins that no registry install accounts for.
    if let Ok(entries) = std::fs::read_dir("plugins") {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(format) = path
                .file_name()
                .and_then(|n| DocumentFormat::from_file_name(&n.to_string_lossy()))
            else {
                continue;
            };
            let Ok(manifest) = std::fs::read(&path)
                .map_err(|_| ())
                .and_then(|bytes| parse_document(&bytes, format).map_err(|_| ()))
            else {
                out.warn(&format!(
                    "{} is not a valid plugin; skipped",
                    path.display()
                ));
                continue;
            };
            let (slug, version) = (manifest.slug.to_string(), manifest.version.to_string());
            if !rows.iter().any(|(s, v, _)| *s == slug && *v == version) {
                rows.push((slug, version, "local".to_owned()));
            }
        }
    }
    rows.sort();
    out.result(
        || {
            rows.iter()
                .map(|(slug, version, from)| format!("{slug} {version} {from}"))
                .collect::<Vec<_>>()
                .join("\n")
        },
        || {
            json!(rows
                .iter()
                .map(|(slug, version, from)| json!({"slug": slug, "version": version, "registry": from}))
                .collect::<Vec<_>>())
        },
    );
    Ok(())
}

async fn verify(
    cx: &Context,
    out: &Output,
    spec: &str,
    keyring: Option<&Path>,
) -> Result<(), Failure> {
    let (slug, version) = exact_version(spec)?;
    let client = cx.client()?;
    let details = client.plugin_details(&slug, Some(&version)).await?;
    let store = Context::store()?;
    // The installed copy when there is one, else the registry's own.
    let (what, bytes) = match store.get(&slug, &version) {
        Some(record) => {
            let path = store.version_dir(&slug, &version).join(&record.schema_file);
            let bytes = std::fs::read(&path)
                .map_err(|e| Failure::new(exit::FAILED, format!("{}: {e}", path.display())))?;
            (format!("installed {}", path.display()), Bytes::from(bytes))
        }
        None => (
            format!("{slug}@{version} from {}", client.registry_url()),
            client.schema(&slug, &version, &details.sha256).await?,
        ),
    };
    check_sha256(&what, &bytes, &details.sha256)?;
    let signed = match keyring {
        None => None,
        Some(path) => {
            let keys = std::fs::read_to_string(path).map_err(|e| {
                Failure::new(exit::FAILED, format!("keyring {}: {e}", path.display())).hint(
                    "export the author's public key: gpg --export --armor KEYID > keyring.asc, then pass --keyring keyring.asc",
                )
            })?;
            let verified = verify_document_signature(&bytes, sniff_format(&bytes), &keys)
                .map_err(|e| Failure::new(exit::VERIFICATION, format!("{slug}@{version}: {e}")))?;
            Some(verified)
        }
    };
    let indexed = check_index(cx, out, &client, &slug, &version, &bytes).await?;
    let short: String = details.sha256.chars().take(12).collect();
    out.result(
        || {
            let mut text = format!("✓ Checksum verified: {short}... ({what})");
            if let Some(check) = &indexed {
                text.push_str(&format!(
                    "\n✓ Index verified: signed snapshot of {}, key {}",
                    check.issued_at,
                    &check.key_id[..16.min(check.key_id.len())]
                ));
            }
            if let Some(signed) = &signed {
                text.push_str(&format!(
                    "\n✓ Signature verified: key {} ({})",
                    signed.fingerprint, signed.key_id
                ));
            }
            text
        },
        || {
            json!({
                "slug": slug, "version": version, "sha256": details.sha256, "checked": what,
                "checksum": "verified",
                "signature": signed.as_ref().map(|s| json!({"fingerprint": s.fingerprint, "key_id": s.key_id})),
                "index": indexed.as_ref().map(|c| json!({"key_id": c.key_id, "issued_at": c.issued_at})),
            })
        },
    );
    Ok(())
}

/// Checks the schema through the registry's signed index, pinning its key on
/// first use; `None` when the registry publishes no index.
async fn check_index(
    cx: &Context,
    out: &Output,
    client: &RegistryClient,
    slug: &str,
    version: &str,
    schema: &Bytes,
) -> Result<Option<IndexCheck>, Failure> {
    let registry = cx.settings.registry_text();
    let pinned = cx.config.index_keys.get(&registry).map(String::as_str);
    match check_schema(client, slug, version, schema, pinned).await {
        Ok(check) => {
            if pinned.is_none() {
                let mut config = cx.config.clone();
                config
                    .index_keys
                    .insert(registry.clone(), check.public_key.clone());
                config.save(&cx.config_path)?;
                out.note(&format!(
                    "Pinned {registry}'s index key {} in {}",
                    check.key_id,
                    cx.config_path.display()
                ));
            }
            Ok(Some(check))
        }
        Err(IndexCheckError::NoIndex) => {
            out.note("The registry publishes no signed index; checked the checksum only.");
            Ok(None)
        }
        Err(IndexCheckError::Client(e)) => Err(e.into()),
        Err(e) => Err(Failure::new(
            exit::VERIFICATION,
            format!("{slug}@{version}: {e}"),
        )),
    }
}

async fn auth(command: AuthCommand, cx: &Context, out: &Output) -> Result<(), Failure> {
    match command {
        AuthCommand::CreateKey { name, scopes } => {
            let client = cx.client()?;
            if !client.has_key() {
                return Err(Failure::new(exit::AUTH, "creating a key needs an existing key")
                    .hint("an admin key is in the registry's data directory (admin.key) on a self-hosted registry"));
            }
            let created = client.create_key(&name, &scopes).await?;
            // The one place a secret is printed: the user asked for it.
            out.result(
                || created.secret.expose().to_owned(),
                || {
                    json!({
                        "key": created.secret.expose(), "id": created.info.id,
                        "name": created.info.name, "scopes": created.info.scopes,
                    })
                },
            );
            out.note("Store it now: the registry cannot show it again.");
            Ok(())
        }
        AuthCommand::ListKeys => {
            let keys = cx.client()?.list_keys().await?;
            out.result(
                || {
                    keys.iter()
                        .map(|k| {
                            let state = k
                                .revoked_at
                                .map_or_else(|| "live".to_owned(), |t| format!("revoked {t}"));
                            format!(
                                "{}  {}  [{}]  created {}  {state}",
                                k.id,
                                k.name,
                                k.scopes
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                k.created_at
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
                || json!({ "keys": keys }),
            );
            Ok(())
        }
        AuthCommand::RevokeKey { key_id } => {
            let revoked = cx.client()?.revoke_key(&key_id).await?;
            out.result(
                || format!("Revoked {} ({})", revoked.id, revoked.name),
                || json!(revoked),
            );
            Ok(())
        }
        AuthCommand::Login { key } => {
            let key = match key {
                Some(key) => key,
                None => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).map_err(|e| {
                        Failure::new(exit::FAILED, format!("reading the key from stdin: {e}"))
                    })?;
                    line
                }
            };
            let key = ApiKey::new(key);
            if key.expose().is_empty() {
                return Err(Failure::new(exit::USAGE, "no key given"));
            }
            let registry = cx.settings.registry_text();
            // A key that does not work is not worth storing.
            RegistryClient::new(&cx.settings.registry, Some(key.clone()))?
                .list_keys()
                .await?;
            let mut config = cx.config.clone();
            config
                .keys
                .insert(registry.clone(), key.expose().to_owned());
            config.save(&cx.config_path)?;
            out.result(
                || {
                    format!(
                        "Logged in to {registry}; key {key} stored in {}",
                        cx.config_path.display()
                    )
                },
                || json!({ "registry": registry, "config": cx.config_path }),
            );
            Ok(())
        }
    }
}
