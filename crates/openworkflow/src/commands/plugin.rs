//! `openworkflow plugin ...`: install, validate, publish, list, verify and the rest.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, Subcommand};
use openworkflow::bundle::zip_directory;
use openworkflow::client::{
    ApiKey, ClientError, DeprecationNotice, PublishPayload, RegistryClient, check_sha256,
};
use openworkflow::index::{IndexCheck, IndexCheckError, check_schema};
use openworkflow::install::{install_plugin, sniff_format};
use openworkflow::signature::verify_document_signature;
use openworkflow::trusted_publishing::{
    CiTokenSource, TrustedPublishingError, publish_token_from_ci,
};
use registry_core::bundle::validate_bundle;
use registry_core::manifest::{
    DocumentFormat, FieldError, Manifest, ParsedDocument, parse_document, signed_content,
};
use serde::Serialize;

use crate::output::Output;

use super::audit::AuditPage;
use super::failure::{Failure, exit};
use super::owners::OwnerCommand;
use super::publishers::PublisherCommand;
use super::reports::parse_reason;
use super::{Context, exact_version, split_plugin};
use registry_core::api::moderation::ReportReason;

#[derive(Debug, Subcommand)]
pub(super) enum PluginCommand {
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
    /// A plugin's owners: list, invite, remove, and answer invitations.
    #[command(subcommand)]
    Owner(OwnerCommand),
    /// The CI workflows trusted to publish a plugin with no stored secret.
    #[command(subcommand)]
    Publisher(PublisherCommand),
    /// Report a plugin (or `slug@version`) to the registry's admins.
    Report {
        /// `slug` or `slug@version`.
        plugin: String,
        /// malware, spam, impersonation, abuse, license or other.
        #[arg(long, value_parser = parse_reason)]
        reason: ReportReason,
        /// What you saw (the admins read it).
        #[arg(long)]
        details: String,
    },
    /// A plugin's downloads per day as a chart, with its versions and clients
    /// (its owners, or a key with the analytics scope).
    Stats {
        /// The plugin's slug.
        plugin: String,
        /// Days to show, ending today (at most what the registry keeps: 90 by default).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=750))]
        days: u16,
    },
    /// A plugin's audit log, newest first (its owners).
    Audit {
        /// The plugin's slug.
        plugin: String,
        #[command(flatten)]
        page: AuditPage,
    },
}

#[derive(Debug, Args)]
pub(super) struct PublishArgs {
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

pub(super) async fn plugin(
    command: PluginCommand,
    cx: &Context,
    out: &Output,
) -> Result<(), Failure> {
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
                || &page,
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
                || &answer,
            );
            Ok(())
        }
        PluginCommand::Unpublish { plugin } => {
            let (slug, version) = exact_version(&plugin)?;
            let answer = cx.client()?.unpublish(&slug, &version).await?;
            out.result(
                || format!("Unpublished {slug} {version} (the version number stays taken)"),
                || &answer,
            );
            Ok(())
        }
        PluginCommand::Validate { file } => validate(&file, out),
        PluginCommand::Canonical { file } => canonical(&file, out),
        PluginCommand::List => list(out),
        PluginCommand::Owner(command) => super::owners::owner(command, cx, out).await,
        PluginCommand::Publisher(command) => super::publishers::publisher(command, cx, out).await,
        PluginCommand::Report {
            plugin,
            reason,
            details,
        } => super::reports::report_plugin(&plugin, reason, details, cx, out).await,
        PluginCommand::Stats { plugin, days } => super::stats::stats(&plugin, days, cx, out).await,
        PluginCommand::Audit { plugin, page } => {
            super::audit::audit(Some(&plugin), page, cx, out).await
        }
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
        || InstallReport {
            slug: &details.slug,
            version: &details.version,
            registry: client.registry_url(),
            sha256: &details.sha256,
            directory: &installed.dir,
            saved: saved.as_deref(),
            deprecated: details.deprecated.as_ref(),
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
        Failure::new(
            exit::FAILED,
            format!(
                "{} is not a valid plugin ({count} problems)",
                file.display()
            ),
        )
        .with_fields(fields)
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

pub(super) fn validate(file: &Path, out: &Output) -> Result<(), Failure> {
    let local = read_local(file)?;
    let m = &local.manifest;
    out.result(
        || format!("{} is valid: {} {}", file.display(), m.slug, m.version),
        || ValidReport {
            valid: true,
            slug: m.slug.as_str(),
            version: m.version.to_string(),
        },
    );
    Ok(())
}

pub(super) fn canonical(file: &Path, out: &Output) -> Result<(), Failure> {
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
                DryRunReport {
                    dry_run: true,
                    slug: &slug,
                    version: &version,
                    method,
                    url: format!("{registry}{path}"),
                    content_type: kind,
                    bytes: local.payload.len(),
                    api_key: cx.settings.api_key.is_some(),
                }
            },
        );
        return Ok(());
    }
    let mut client = cx.client()?;
    if !client.has_key() {
        let Some(source) = CiTokenSource::from_env(super::env_var) else {
            return Err(
                Failure::new(exit::AUTH, "publishing needs an API key").hint(
                    "set OPENWORKFLOW_REGISTRY_API_KEY, store a key with `openworkflow auth login`, or publish from CI through a trusted publisher: a GitHub Actions job with `permissions: id-token: write`, or a GitLab job with an `id_tokens` entry named OPENWORKFLOW_REGISTRY_ID_TOKEN",
                ),
            );
        };
        out.note(&format!(
            "No API key: exchanging {} (trusted publishing)…",
            source.describe()
        ));
        let issued = publish_token_from_ci(&client, &source)
            .await
            .map_err(|e| match e {
                TrustedPublishingError::Registry(e) => Failure::from(e),
                other => Failure::new(exit::AUTH, other.to_string()),
            })?;
        out.note(&format!(
            "Publish token {} for {} until {}",
            issued.id,
            issued.plugins.join(", "),
            issued.expires_at
        ));
        client = client.with_key(ApiKey::new(issued.token));
    }
    out.note(&format!("Publishing {slug} {version} to {registry}…"));
    let published = client
        .publish(&local.payload, args.update.then_some(slug.as_str()))
        .await?;
    if published.status == "pending_review" {
        // Nothing to wait for: the version appears when a reviewer approves it.
        let review = published.url.clone().unwrap_or_default();
        out.result(
            || {
                format!(
                    "Submitted {slug} {version} to {registry} for review: {review}\nIt becomes installable once a reviewer approves it."
                )
            },
            || PublishReport {
                status: &published.status,
                slug: &slug,
                version: &version,
                previous_version: None,
                registry: &registry,
                visible: false,
            },
        );
        return Ok(());
    }
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
        || PublishReport {
            status: &published.status,
            slug: &slug,
            version: &version,
            previous_version: published.previous_version.as_deref(),
            registry: &registry,
            visible,
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

pub(super) fn list(out: &Output) -> Result<(), Failure> {
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
            rows.iter()
                .map(|(slug, version, from)| ListedPlugin {
                    slug,
                    version,
                    registry: from,
                })
                .collect::<Vec<_>>()
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
        || VerifyReport {
            slug: &slug,
            version: &version,
            sha256: &details.sha256,
            checked: &what,
            checksum: "verified",
            signature: signed.as_ref().map(|s| SignatureReport {
                fingerprint: &s.fingerprint,
                key_id: &s.key_id,
            }),
            index: indexed.as_ref().map(|c| IndexReport {
                key_id: &c.key_id,
                issued_at: &c.issued_at,
            }),
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

/// `plugin install --json`.
#[derive(Debug, Serialize)]
struct InstallReport<'a> {
    /// The plugin.
    slug: &'a str,
    /// The version installed.
    version: &'a str,
    /// The registry it came from.
    registry: String,
    /// SHA-256 of the schema, as checked.
    sha256: &'a str,
    /// Where it was installed.
    directory: &'a Path,
    /// The project file written by `--save`.
    saved: Option<&'a Path>,
    /// The version's deprecation notice, if any.
    deprecated: Option<&'a DeprecationNotice>,
}

/// `plugin validate --json`.
#[derive(Debug, Serialize)]
struct ValidReport<'a> {
    /// Always true: an invalid plugin is a failure.
    valid: bool,
    /// The plugin.
    slug: &'a str,
    /// Its version.
    version: String,
}

/// `plugin publish --dry-run --json`: what would be sent.
#[derive(Debug, Serialize)]
struct DryRunReport<'a> {
    /// Always true.
    dry_run: bool,
    /// The plugin.
    slug: &'a str,
    /// Its version.
    version: &'a str,
    /// `POST` or `PUT`.
    method: &'a str,
    /// Where to.
    url: String,
    /// The body's media type.
    content_type: &'a str,
    /// The body's size.
    bytes: usize,
    /// Whether an API key would be sent.
    api_key: bool,
}

/// `plugin publish --json`.
#[derive(Debug, Serialize)]
struct PublishReport<'a> {
    /// `published` or `updated`.
    status: &'a str,
    /// The plugin.
    slug: &'a str,
    /// The new version.
    version: &'a str,
    /// The highest version before it (updates).
    previous_version: Option<&'a str>,
    /// The registry.
    registry: &'a str,
    /// Whether it was seen installable before the command ended.
    visible: bool,
}

/// One row of `plugin list --json`.
#[derive(Debug, Serialize)]
struct ListedPlugin<'a> {
    /// The plugin.
    slug: &'a str,
    /// Its version.
    version: &'a str,
    /// Its registry, or `local` for a project file no install accounts for.
    registry: &'a str,
}

/// `plugin verify --json`.
#[derive(Debug, Serialize)]
struct VerifyReport<'a> {
    /// The plugin.
    slug: &'a str,
    /// Its version.
    version: &'a str,
    /// The registry's SHA-256 of the schema.
    sha256: &'a str,
    /// Which copy was checked.
    checked: &'a str,
    /// Always `verified`: a mismatch is a failure.
    checksum: &'static str,
    /// The author's GPG signature, when checked.
    signature: Option<SignatureReport<'a>>,
    /// The registry's signed index, when it has one.
    index: Option<IndexReport<'a>>,
}

/// A verified author signature.
#[derive(Debug, Serialize)]
struct SignatureReport<'a> {
    /// The signing key's fingerprint.
    fingerprint: &'a str,
    /// The signing key's id.
    key_id: &'a str,
}

/// A verified index chain.
#[derive(Debug, Serialize)]
struct IndexReport<'a> {
    /// The index key's id.
    key_id: &'a str,
    /// When the verified timestamp was signed.
    issued_at: &'a str,
}
