//! The org-scoped catalog: ZIP uploads discovered into rows, one list of an org's
//! own plugins and the system plugins, versions, enablement (soft delete) and
//! settings schemas.
//!
//! Enablement: an org row is enabled or not for its org. A system row is usable by
//! an org only when the platform has it enabled *and* the org has enabled it for
//! itself; system plugins start disabled in every org (tenants opt in).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use serde::Serialize;

use super::Registry;
use super::orgs::{CatalogWriter, OrgReader};
use super::publish::prepare_bundle;
use crate::artifact::{ArtifactKey, StoredArtifact, ZIP_CONTENT_TYPE};
use crate::auth::PrincipalId;
use crate::catalog::{CatalogPluginId, CatalogRow, CatalogScope, CatalogSource, OrgChoice};
use crate::checksum::Sha256Digest;
use crate::error::RegistryError;
use crate::manifest::empty_settings_schema;
use crate::review::ReviewState;
use crate::slug::Slug;
use crate::store::{Conflict, StorageError};
use crate::timestamp::Timestamp;
use crate::upload::UploadId;
use crate::version::PluginVersion;

/// How many times an upload retries after drawing a plugin id already taken.
const ID_ATTEMPTS: usize = 4;

/// What a catalog upload carries.
#[derive(Debug, Clone)]
pub enum CatalogUploadBody {
    /// The ZIP itself, with the file name the client gave.
    Bundle {
        /// The ZIP as sent.
        bytes: Bytes,
        /// The uploaded file's name.
        file_name: Option<String>,
    },
    /// A ZIP the caller uploaded through `POST /uploads` (AWS).
    Upload {
        /// The id `POST /uploads` returned.
        upload_id: UploadId,
    },
}

/// One catalog plugin as an org sees it: a pid at one version from one source.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CatalogPlugin {
    /// The row's id: what PATCH and DELETE address.
    #[schema(value_type = String, example = "plg_4f1c2a9b0d3e5f67")]
    pub plugin_id: CatalogPluginId,
    /// The plugin's id (its manifest slug).
    #[schema(value_type = String, example = "web-search")]
    pub pid: Slug,
    /// `org` or `system`.
    pub source: CatalogSource,
    /// The version.
    #[schema(value_type = String, example = "1.2.0")]
    pub version: PluginVersion,
    /// Display name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Tags.
    pub tags: Vec<String>,
    /// What it can do.
    pub capabilities: Vec<String>,
    /// Whether this org may use it.
    pub enabled: bool,
    /// Whether it declares settings (see `.../settings-schema`).
    pub has_settings: bool,
    /// SHA-256 of the ZIP.
    #[schema(value_type = String)]
    pub sha256: Sha256Digest,
    /// Size of the ZIP in bytes.
    pub size: u64,
    /// Who uploaded it.
    #[schema(value_type = String)]
    pub uploaded_by: PrincipalId,
    /// When it was uploaded.
    #[schema(value_type = String)]
    pub uploaded_at: Timestamp,
    /// When its enablement last changed.
    #[schema(value_type = String)]
    pub updated_at: Timestamp,
}

impl CatalogPlugin {
    fn of(row: &CatalogRow, enabled: bool, updated_at: Timestamp) -> Self {
        Self {
            plugin_id: row.plugin_id.clone(),
            pid: row.pid.clone(),
            source: row.scope.source(),
            version: row.version.clone(),
            name: row.name.clone(),
            description: row.description.clone(),
            tags: row.tags.clone(),
            capabilities: row.capabilities.clone(),
            enabled,
            has_settings: row.settings_schema.is_some(),
            sha256: row.artifact.sha256,
            size: row.artifact.size,
            uploaded_by: row.uploaded_by.clone(),
            uploaded_at: row.uploaded_at,
            updated_at,
        }
    }
}

/// The outcome of an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogUploaded {
    /// The row, as its uploader's catalog shows it.
    pub plugin: CatalogPlugin,
    /// `false` when the same ZIP was already there (a retried upload).
    pub created: bool,
    /// Whether the row waits for the org's reviewers (shown in no list until
    /// approved).
    pub pending_review: bool,
}

/// Filters of the catalog list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogFilter {
    /// Only plugins with this tag.
    pub tag: Option<String>,
    /// Only enabled (or only disabled) plugins.
    pub enabled: Option<bool>,
    /// Only plugins from this source.
    pub source: Option<CatalogSource>,
}

impl CatalogFilter {
    /// Whether the list shows `plugin` under this filter (tags compare without
    /// regard to ASCII case).
    pub fn admits(&self, plugin: &CatalogPlugin) -> bool {
        self.source.is_none_or(|s| s == plugin.source)
            && self.enabled.is_none_or(|e| e == plugin.enabled)
            && self
                .tag
                .as_ref()
                .is_none_or(|tag| plugin.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)))
    }
}

/// What an org catalog plugin's page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgPluginOverview {
    /// The settings form of the version asked for, else of the one the list shows.
    pub settings: SettingsSchema,
    /// Every version from the settings form's source, highest first.
    pub versions: Vec<CatalogPlugin>,
}

/// A plugin's settings form.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SettingsSchema {
    /// The row it was read from.
    #[schema(value_type = String)]
    pub plugin_id: CatalogPluginId,
    /// The plugin.
    #[schema(value_type = String)]
    pub pid: Slug,
    /// `org` or `system`.
    pub source: CatalogSource,
    /// The version.
    #[schema(value_type = String)]
    pub version: PluginVersion,
    /// JSON Schema of the settings (an object schema with no properties when the
    /// plugin has none).
    #[schema(value_type = Object)]
    pub settings_schema: serde_json::Value,
}

/// A row as one org sees it.
struct Visible {
    row: CatalogRow,
    /// Whether this org may use it.
    enabled: bool,
    /// When its enablement (for this org) last changed.
    at: Timestamp,
}

impl Visible {
    fn plugin(&self) -> CatalogPlugin {
        CatalogPlugin::of(&self.row, self.enabled, self.at)
    }
}

/// The rows an org can see, with its own view of their enablement.
struct OrgView {
    rows: Vec<Visible>,
}

impl OrgView {
    /// Rows of `pid` (optionally of one source), highest version first, org before
    /// system at equal versions.
    fn versions_of(&self, pid: &Slug, source: Option<CatalogSource>) -> Vec<&Visible> {
        let mut found: Vec<&Visible> = self
            .rows
            .iter()
            .filter(|v| &v.row.pid == pid && source.is_none_or(|s| v.row.scope.source() == s))
            .collect();
        found.sort_by(|a, b| {
            b.row
                .version
                .cmp(&a.row.version)
                .then(a.row.scope.source().cmp(&b.row.scope.source()))
        });
        found
    }

    /// Every version of `pid` the org sees, highest first.
    fn versions(
        &self,
        pid: &str,
        source: Option<CatalogSource>,
    ) -> Result<Vec<CatalogPlugin>, RegistryError> {
        let pid = parse_pid(pid)?;
        let found = self.versions_of(&pid, source);
        if found.is_empty() {
            return Err(pid_not_found(&pid, source));
        }
        Ok(found.into_iter().map(Visible::plugin).collect())
    }

    /// The settings form of `pid` (see [`Registry::org_plugin_settings_schema`]).
    fn settings_schema(
        &self,
        pid: &str,
        version: Option<&str>,
        source: Option<CatalogSource>,
    ) -> Result<SettingsSchema, RegistryError> {
        let pid = parse_pid(pid)?;
        let found = self.versions_of(&pid, source);
        if found.is_empty() {
            return Err(pid_not_found(&pid, source));
        }
        let preferred = source.unwrap_or_else(|| {
            if found
                .iter()
                .any(|v| v.row.scope.source() == CatalogSource::Org)
            {
                CatalogSource::Org
            } else {
                CatalogSource::System
            }
        });
        let candidates: Vec<_> = found
            .into_iter()
            .filter(|v| v.row.scope.source() == preferred)
            .collect();
        let chosen = match version {
            Some(raw) => {
                let wanted = PluginVersion::parse(raw).map_err(|detail| {
                    RegistryError::InvalidParameter {
                        name: "version",
                        detail,
                    }
                })?;
                candidates
                    .into_iter()
                    .find(|v| v.row.version == wanted)
                    .ok_or_else(|| RegistryError::CatalogPluginNotFound {
                        detail: format!(
                            "plugin '{pid}' has no version {wanted} from source {} in this org's catalog",
                            preferred.as_str()
                        ),
                    })?
            }
            None => representative(&candidates).ok_or_else(|| pid_not_found(&pid, source))?,
        };
        let row = &chosen.row;
        Ok(SettingsSchema {
            plugin_id: row.plugin_id.clone(),
            pid: row.pid.clone(),
            source: row.scope.source(),
            version: row.version.clone(),
            settings_schema: row
                .settings_schema
                .clone()
                .unwrap_or_else(empty_settings_schema),
        })
    }
}

/// The entry a list shows for one pid from one source: its highest enabled
/// version, or its highest version when none is enabled.
fn representative<'a>(rows: &[&'a Visible]) -> Option<&'a Visible> {
    let by_version = |a: &&&Visible, b: &&&Visible| a.row.version.cmp(&b.row.version);
    rows.iter()
        .filter(|v| v.enabled)
        .max_by(by_version)
        .or_else(|| rows.iter().max_by(by_version))
        .copied()
}

impl Registry {
    /// Uploads a ZIP into a catalog: the shared bundle checks, then discovery of
    /// the manifest inside, then the artifact, then the row (with a condition, so a
    /// concurrent upload of the same version cannot make two rows). The same ZIP
    /// uploaded again answers with the existing row.
    pub async fn upload_catalog_plugin(
        &self,
        writer: &CatalogWriter,
        body: CatalogUploadBody,
    ) -> Result<CatalogUploaded, RegistryError> {
        let stores = self.org_stores()?;
        let (bytes, file_name, upload) = match body {
            CatalogUploadBody::Bundle { bytes, file_name } => (bytes, file_name, None),
            CatalogUploadBody::Upload { upload_id } => {
                let resolved = self.resolve_upload(&writer.principal, &upload_id).await?;
                (resolved.bytes, None, Some(resolved.key))
            }
        };
        let prepared = prepare_bundle(bytes, file_name.as_deref())?;
        let (bundle_bytes, sha256) = prepared.bundle.ok_or(RegistryError::MissingArtifact {
            key: "bundle".to_owned(),
        })?;
        let manifest = prepared.manifest;
        let scope = writer.scope.clone();
        if let Some(existing) = stores
            .catalog
            .row_by_version(&scope, &manifest.slug, &manifest.version)
            .await?
        {
            return existing_upload(existing, &sha256);
        }
        let artifact = StoredArtifact {
            key: ArtifactKey::catalog_bundle(&scope, &manifest.slug, &manifest.version, &sha256),
            sha256,
            size: bundle_bytes.len() as u64,
            content_type: ZIP_CONTENT_TYPE.to_owned(),
        };
        self.artifacts
            .put_if_absent(&artifact.key, bundle_bytes, ZIP_CONTENT_TYPE)
            .await?;
        let now = self.clock.now();
        let mut row = CatalogRow {
            plugin_id: CatalogPluginId::generate()?,
            scope: scope.clone(),
            pid: manifest.slug.clone(),
            version: manifest.version.clone(),
            name: manifest.name.clone(),
            description: manifest.description.clone(),
            tags: manifest.tags.clone(),
            capabilities: manifest.effective_capabilities(),
            settings_schema: manifest.settings_schema.clone(),
            artifact,
            enabled: true,
            uploaded_by: writer.principal.clone(),
            uploaded_at: now,
            updated_at: now,
            review: None,
        };
        if self
            .org_upload_held(&scope, &writer.principal, &row.pid, &row.version)
            .await?
        {
            row.review = Some(ReviewState::Pending {
                submitted_at: now,
                checks: Vec::new(),
            });
        }
        let event = if row.review.is_some() {
            crate::webhook::EventKind::VersionPendingReview
        } else {
            crate::webhook::EventKind::VersionPublished
        };
        for _ in 0..ID_ATTEMPTS {
            // The event names the row's id, so each attempt at an id has its own.
            let told = self
                .org_row_deliveries(event, &row, &writer.principal, None)
                .await?;
            match stores.catalog.insert_row(&row, &told).await {
                Ok(()) => {
                    tracing::info!(scope = %scope, pid = %row.pid, version = %row.version, plugin_id = %row.plugin_id, "catalog plugin uploaded");
                    if let Some(key) = &upload {
                        self.discard_upload(key).await;
                    }
                    self.told(&told).await;
                    return Ok(CatalogUploaded {
                        plugin: CatalogPlugin::of(&row, row.enabled, row.updated_at),
                        created: true,
                        pending_review: row.review.is_some(),
                    });
                }
                Err(StorageError::Conflict(Conflict::AlreadyExists)) => {
                    row.plugin_id = CatalogPluginId::generate()?;
                }
                Err(StorageError::Conflict(Conflict::VersionExists)) => {
                    let existing = stores
                        .catalog
                        .row_by_version(&scope, &row.pid, &row.version)
                        .await?
                        .ok_or(StorageError::Conflict(Conflict::VersionExists))?;
                    return existing_upload(existing, &sha256);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(RegistryError::Entropy)
    }

    /// Every row an org can see, with the org's own enablement of each.
    async fn org_view(&self, org: &crate::org::OrgId) -> Result<OrgView, RegistryError> {
        let catalog = &self.org_stores()?.catalog;
        let own_scope = CatalogScope::Org(org.clone());
        let (own, system, choices) = tokio::try_join!(
            catalog.rows(&own_scope),
            catalog.rows(&CatalogScope::System),
            catalog.org_enablements(org),
        )?;
        // An upload under review (or rejected) is in no list and no read.
        let mut rows: Vec<Visible> = own
            .into_iter()
            .filter(|row| row.review.is_none())
            .map(|row| Visible {
                enabled: row.enabled,
                at: row.updated_at,
                row,
            })
            .collect();
        rows.extend(system.into_iter().map(|row| {
            let (enabled, at) = system_row_for_org(&row, choices.get(&row.plugin_id));
            Visible { row, enabled, at }
        }));
        Ok(OrgView { rows })
    }

    /// The org's catalog: its own plugins and the system plugins, one entry per
    /// pid and source, sorted by pid (org before system).
    pub async fn list_org_plugins(
        &self,
        reader: &OrgReader,
        filter: &CatalogFilter,
    ) -> Result<Vec<CatalogPlugin>, RegistryError> {
        let view = self.org_view(&reader.org).await?;
        let mut groups: BTreeMap<(&Slug, CatalogSource), Vec<&Visible>> = BTreeMap::new();
        for entry in &view.rows {
            groups
                .entry((&entry.row.pid, entry.row.scope.source()))
                .or_default()
                .push(entry);
        }
        Ok(groups
            .into_values()
            .filter_map(|rows| representative(&rows))
            .map(Visible::plugin)
            .filter(|plugin| filter.admits(plugin))
            .collect())
    }

    /// Every version of a plugin the org can see, enabled or not (a soft-deleted
    /// version stays listed), highest first.
    pub async fn org_plugin_versions(
        &self,
        reader: &OrgReader,
        pid: &str,
        source: Option<CatalogSource>,
    ) -> Result<Vec<CatalogPlugin>, RegistryError> {
        self.org_view(&reader.org).await?.versions(pid, source)
    }

    /// The settings form of a plugin: of `version` when given, else of the
    /// version the list shows. When the pid exists in both sources and none is
    /// named, the org's own plugin wins (a tenant's plugin shadows the platform's).
    pub async fn org_plugin_settings_schema(
        &self,
        reader: &OrgReader,
        pid: &str,
        version: Option<&str>,
        source: Option<CatalogSource>,
    ) -> Result<SettingsSchema, RegistryError> {
        self.org_view(&reader.org)
            .await?
            .settings_schema(pid, version, source)
    }

    /// What an org catalog plugin's page shows, from one read of the catalog:
    /// the settings form [`Self::org_plugin_settings_schema`] answers, and every
    /// version from that form's source.
    pub async fn org_plugin_overview(
        &self,
        reader: &OrgReader,
        pid: &str,
        version: Option<&str>,
        source: Option<CatalogSource>,
    ) -> Result<OrgPluginOverview, RegistryError> {
        let view = self.org_view(&reader.org).await?;
        let settings = view.settings_schema(pid, version, source)?;
        let versions = view.versions(pid, Some(settings.source))?;
        Ok(OrgPluginOverview { settings, versions })
    }

    /// Enables or disables a plugin for the writer's catalog. On an org's route, an
    /// org row changes for that org and a system row changes only that org's
    /// choice; on the system route (platform admins) the system row itself changes.
    /// A row of another org reads as absent.
    pub async fn set_catalog_plugin_enabled(
        &self,
        writer: &CatalogWriter,
        plugin_id: &str,
        enabled: bool,
    ) -> Result<CatalogPlugin, RegistryError> {
        let catalog = &self.org_stores()?.catalog;
        let not_found = || RegistryError::CatalogPluginNotFound {
            detail: format!("no plugin with plugin_id '{plugin_id}' in this catalog"),
        };
        let id = CatalogPluginId::parse(plugin_id).ok_or_else(not_found)?;
        let row = catalog
            .row(&id)
            .await?
            .filter(|row| row.review.is_none())
            .ok_or_else(not_found)?;
        let now = self.clock.now();
        let (effective, at) = match (&writer.scope, &row.scope) {
            (CatalogScope::Org(mine), CatalogScope::Org(owner)) if mine == owner => {
                catalog.set_enabled(&id, enabled, now).await?;
                (enabled, now)
            }
            (CatalogScope::Org(mine), CatalogScope::System) => {
                if enabled && !row.enabled {
                    return Err(RegistryError::SystemPluginDisabled {
                        plugin_id: id.to_string(),
                    });
                }
                catalog.set_org_enablement(mine, &id, enabled, now).await?;
                system_row_for_org(&row, Some(&OrgChoice { enabled, at: now }))
            }
            (CatalogScope::System, CatalogScope::System) => {
                catalog.set_enabled(&id, enabled, now).await?;
                (enabled, now)
            }
            _ => return Err(not_found()),
        };
        tracing::info!(scope = %writer.scope, plugin_id = %id, enabled, "catalog plugin enablement changed");
        Ok(CatalogPlugin::of(&row, effective, at))
    }

    /// Every system row, with the platform's enablement (platform admins).
    pub async fn list_system_plugins(
        &self,
        writer: &CatalogWriter,
    ) -> Result<Vec<CatalogPlugin>, RegistryError> {
        let rows = self.org_stores()?.catalog.rows(&writer.scope).await?;
        Ok(rows
            .iter()
            .map(|row| CatalogPlugin::of(row, row.enabled, row.updated_at))
            .collect())
    }

    /// Every artifact of the org catalog, system rows and every org's, each once:
    /// what `ensure_all_catalog_plugins_local` must find locally.
    pub async fn catalog_artifacts(&self) -> Result<Vec<StoredArtifact>, RegistryError> {
        let stores = self.org_stores()?;
        let mut scopes = vec![CatalogScope::System];
        scopes.extend(
            stores
                .orgs
                .list_orgs()
                .await?
                .into_iter()
                .map(|org| CatalogScope::Org(org.id)),
        );
        let mut seen = BTreeSet::new();
        let mut artifacts = Vec::new();
        for scope in &scopes {
            for row in stores.catalog.rows(scope).await? {
                if seen.insert(row.artifact.key.clone().to_string()) {
                    artifacts.push(row.artifact);
                }
            }
        }
        Ok(artifacts)
    }
}

/// A system row as one org sees it: usable only when the platform has it enabled
/// and the org has chosen to enable it (system plugins start disabled in each org).
fn system_row_for_org(row: &CatalogRow, choice: Option<&OrgChoice>) -> (bool, Timestamp) {
    match choice {
        Some(choice) => (row.enabled && choice.enabled, choice.at.max(row.updated_at)),
        None => (false, row.updated_at),
    }
}

/// A retried upload of the same bytes is answered with the row; other bytes
/// under a used version are a conflict (a version is never reused).
fn existing_upload(
    existing: CatalogRow,
    sha256: &Sha256Digest,
) -> Result<CatalogUploaded, RegistryError> {
    if existing.artifact.sha256 != *sha256 {
        return Err(RegistryError::VersionExists {
            detail: format!(
                "{}@{} is already in this catalog (plugin_id {}) with different content; bump the version to upload changes",
                existing.pid, existing.version, existing.plugin_id
            ),
        });
    }
    // An upload's row is always in the writer's own scope, so its own
    // enablement is what the writer's catalog shows.
    Ok(CatalogUploaded {
        plugin: CatalogPlugin::of(&existing, existing.enabled, existing.updated_at),
        created: false,
        pending_review: existing.review.is_some(),
    })
}

fn parse_pid(raw: &str) -> Result<Slug, RegistryError> {
    Slug::parse(raw).map_err(|_| RegistryError::CatalogPluginNotFound {
        detail: format!("plugin '{raw}' is not in this org's catalog"),
    })
}

fn pid_not_found(pid: &Slug, source: Option<CatalogSource>) -> RegistryError {
    let detail = match source {
        Some(source) => format!(
            "plugin '{pid}' has no {} versions in this org's catalog",
            source.as_str()
        ),
        None => format!("plugin '{pid}' is not in this org's catalog"),
    };
    RegistryError::CatalogPluginNotFound { detail }
}
