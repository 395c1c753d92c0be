//! Reading the catalog: plugin details and artifact downloads.

use bytes::Bytes;
use serde::Serialize;

use super::{Registry, is_hidden, latest_version, listed_versions};
use crate::checksum::Sha256Digest;
use crate::downloads::{DownloadClient, DownloadKey};
use crate::error::RegistryError;
use crate::manifest::Manifest;
use crate::slug::Slug;
use crate::store::{Deprecation, PluginRecord, VersionRecord, VersionSummary};
use crate::timestamp::Timestamp;
use crate::version::PluginVersion;

/// The body of `GET /plugins/{slug}`: the version's manifest plus registry fields.
///
/// What describes the plugin as a whole and moves with each change to it (its
/// version list, downloads, router instances, last change) is carried by the
/// latest version's details only. Every other version's details hold what
/// belongs to that version, so publishing, deprecating or a downloads roll-up
/// rewrites one plugin's latest files rather than one file per version it ever had.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PluginDetails {
    /// Every manifest field of this version.
    #[serde(flatten)]
    pub manifest: Manifest,
    /// Live versions, newest first; on the latest version's details only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<String>)]
    pub versions: Option<Vec<PluginVersion>>,
    /// Downloads of the plugin as of the last roll-up; on the latest version's
    /// details only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    pub downloads: Option<u64>,
    /// MCP router instances of the plugin in the routing table (registered and
    /// not removed by failed health checks); on the latest version's details only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    pub healthy_instances: Option<u64>,
    /// First publication of the plugin.
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    /// Last change to the plugin; on the latest version's details only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub updated_at: Option<Timestamp>,
    /// When this version was published.
    #[schema(value_type = String)]
    pub published_at: Timestamp,
    /// Where to download this version's schema document.
    pub schema_url: String,
    /// SHA-256 of the exact bytes `schema_url` serves.
    #[schema(value_type = String)]
    pub sha256: Sha256Digest,
    /// The deprecation notice, or `null`.
    pub deprecated: Option<Deprecation>,
    /// Where to download the bundle, when the version is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_url: Option<String>,
    /// SHA-256 of the bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub bundle_sha256: Option<Sha256Digest>,
}

impl PluginDetails {
    /// The details of `record`, one version of `plugin`, with URLs under
    /// `public_url`: with the plugin's own fields when it is the latest version.
    pub fn of(plugin: &PluginRecord, record: VersionRecord, public_url: &str) -> Self {
        let is_latest =
            latest_version(&plugin.versions).is_some_and(|latest| latest.version == record.version);
        Self::of_version(plugin, record, public_url, is_latest)
    }

    /// [`PluginDetails::of`] for a caller that already knows whether `record` is
    /// the latest version: rendering every version of a plugin then costs no
    /// search of its versions per version.
    pub fn of_version(
        plugin: &PluginRecord,
        record: VersionRecord,
        public_url: &str,
        is_latest: bool,
    ) -> Self {
        let base = format!("{public_url}/plugins/{}/{}", plugin.slug, record.version);
        let plugin_wide = |value| is_latest.then_some(value);
        Self {
            versions: is_latest.then(|| listed_versions(&plugin.versions)),
            downloads: plugin_wide(plugin.downloads),
            healthy_instances: plugin_wide(plugin.healthy_instances),
            created_at: plugin.created_at,
            updated_at: is_latest.then_some(plugin.updated_at),
            published_at: record.published_at,
            schema_url: format!("{base}/schema"),
            sha256: record.schema.sha256,
            deprecated: record.deprecated,
            bundle_url: record.bundle.as_ref().map(|_| format!("{base}/bundle")),
            bundle_sha256: record.bundle.as_ref().map(|b| b.sha256),
            manifest: record.manifest,
        }
    }
}

/// An artifact to send.
#[derive(Debug, Clone)]
pub struct Download {
    /// The plugin it belongs to.
    pub slug: Slug,
    /// The version it belongs to.
    pub version: PluginVersion,
    /// The bytes.
    pub bytes: Bytes,
    /// Their media type.
    pub content_type: String,
    /// Their SHA-256 (also the ETag).
    pub sha256: Sha256Digest,
}

#[derive(Clone, Copy)]
enum ArtifactKind {
    Schema,
    Bundle,
}

impl Registry {
    /// Details of a plugin at `version`, or at its latest version.
    pub async fn plugin_details(
        &self,
        slug: &str,
        version: Option<&str>,
    ) -> Result<PluginDetails, RegistryError> {
        let plugin = self.find_plugin(slug).await?;
        // What an admin quarantined is hidden: to everyone, it is not there.
        if plugin.quarantined.is_some() {
            return Err(RegistryError::PluginNotFound {
                slug: slug.to_owned(),
            });
        }
        let chosen = match version {
            Some(raw) => {
                let wanted = parse_version(raw)?;
                let summary = plugin
                    .versions
                    .iter()
                    .find(|v| v.version == wanted && !is_hidden(v))
                    .ok_or_else(|| RegistryError::VersionNotFound {
                        slug: slug.to_owned(),
                        version: wanted.to_string(),
                    })?;
                if summary.unpublished_at.is_some() {
                    return Err(RegistryError::VersionGone {
                        slug: slug.to_owned(),
                        version: wanted.to_string(),
                    });
                }
                wanted
            }
            None => latest_version(&plugin.versions)
                .map(|v| v.version.clone())
                .ok_or_else(|| RegistryError::PluginNotFound {
                    slug: slug.to_owned(),
                })?,
        };
        let record = self.version_record(&plugin.slug, &chosen).await?;
        Ok(self.details_of(&plugin, record))
    }

    fn details_of(&self, plugin: &PluginRecord, record: VersionRecord) -> PluginDetails {
        PluginDetails::of(plugin, record, &self.config.public_url)
    }

    /// The schema document of a version, exactly as published. Not counted here:
    /// whoever sends it counts it ([`Registry::count_download`]), since only a
    /// body sent is a download (a `HEAD` is not).
    pub async fn download_schema(
        &self,
        slug: &str,
        version: &str,
    ) -> Result<Download, RegistryError> {
        self.download(slug, version, ArtifactKind::Schema).await
    }

    /// The bundle of a version; counted as [`Registry::download_schema`] is.
    pub async fn download_bundle(
        &self,
        slug: &str,
        version: &str,
    ) -> Result<Download, RegistryError> {
        self.download(slug, version, ArtifactKind::Bundle).await
    }

    async fn download(
        &self,
        slug: &str,
        version: &str,
        kind: ArtifactKind,
    ) -> Result<Download, RegistryError> {
        let slug = parse_slug(slug)?;
        let version = parse_version(version)?;
        let record = self.version_record(&slug, &version).await?;
        if is_hidden(&VersionSummary::of(&record))
            || self.find_plugin(slug.as_str()).await?.quarantined.is_some()
        {
            return Err(RegistryError::VersionNotFound {
                slug: slug.to_string(),
                version: version.to_string(),
            });
        }
        if record.unpublished_at.is_some() {
            return Err(RegistryError::VersionGone {
                slug: slug.to_string(),
                version: version.to_string(),
            });
        }
        let artifact = match kind {
            ArtifactKind::Schema => &record.schema,
            ArtifactKind::Bundle => {
                record
                    .bundle
                    .as_ref()
                    .ok_or_else(|| RegistryError::NoBundle {
                        slug: slug.to_string(),
                        version: version.to_string(),
                    })?
            }
        };
        let bytes = self.artifacts.get(&artifact.key).await?.ok_or_else(|| {
            RegistryError::MissingArtifact {
                key: artifact.key.to_string(),
            }
        })?;
        Ok(Download {
            slug,
            version,
            bytes,
            content_type: artifact.content_type.clone(),
            sha256: artifact.sha256,
        })
    }

    /// Counts one download of a version by `client`. Best effort: a lost count
    /// must not cost the user the download, so a failure is logged, not returned.
    pub async fn count_download(
        &self,
        slug: &Slug,
        version: &PluginVersion,
        client: DownloadClient,
    ) {
        let key = DownloadKey {
            slug: slug.clone(),
            version: version.clone(),
            day: self.clock.now().day(),
            client,
        };
        if let Err(error) = self
            .catalog
            .record_download(&key, self.download_retention)
            .await
        {
            tracing::warn!(%slug, %version, error = &error as &dyn std::error::Error, "download not counted");
        }
    }

    pub(super) async fn find_plugin(&self, slug: &str) -> Result<PluginRecord, RegistryError> {
        let parsed = Slug::parse(slug).map_err(|_| RegistryError::PluginNotFound {
            slug: slug.to_owned(),
        })?;
        self.catalog
            .plugin(&parsed)
            .await?
            .ok_or_else(|| RegistryError::PluginNotFound {
                slug: slug.to_owned(),
            })
    }

    pub(super) async fn version_record(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<VersionRecord, RegistryError> {
        if let Some(record) = self.catalog.version(slug, version).await? {
            return Ok(record);
        }
        // Say which of the two is missing: the plugin, or just this version.
        if self.catalog.plugin(slug).await?.is_none() {
            return Err(RegistryError::PluginNotFound {
                slug: slug.to_string(),
            });
        }
        Err(RegistryError::VersionNotFound {
            slug: slug.to_string(),
            version: version.to_string(),
        })
    }
}

/// A slug from a URL: anything that is not a valid slug cannot exist, so 404.
pub(super) fn parse_slug(raw: &str) -> Result<Slug, RegistryError> {
    Slug::parse(raw).map_err(|_| RegistryError::PluginNotFound {
        slug: raw.to_owned(),
    })
}

/// A version from a URL or query: malformed is the caller's mistake, so 400.
pub(super) fn parse_version(raw: &str) -> Result<PluginVersion, RegistryError> {
    PluginVersion::parse(raw).map_err(|detail| RegistryError::InvalidParameter {
        name: "version",
        detail,
    })
}
