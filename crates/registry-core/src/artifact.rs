//! Artifact keys, media types and cache policies: named once, used everywhere.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::catalog::CatalogScope;
use crate::checksum::Sha256Digest;
use crate::manifest::DocumentFormat;
use crate::slug::Slug;
use crate::version::PluginVersion;

/// Media type of bundles.
pub const ZIP_CONTENT_TYPE: &str = "application/zip";
/// Cache policy of content-addressed artifacts: they never change.
pub const IMMUTABLE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";
/// Cache policy of dynamic answers (details, search): short, revalidated by ETag.
pub const SHORT_CACHE_CONTROL: &str = "public, max-age=60, must-revalidate";
/// Cache policy of answers that depend on the caller's key.
pub const PRIVATE_CACHE_CONTROL: &str = "private, no-store";

/// The storage key of an artifact. Content-addressed: the digest is part of the key,
/// so an artifact is written once and never overwritten.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ArtifactKey(String);

impl ArtifactKey {
    /// The key of a published schema document.
    pub fn schema(
        slug: &Slug,
        version: &PluginVersion,
        sha256: &Sha256Digest,
        format: DocumentFormat,
    ) -> Self {
        Self(format!(
            "artifacts/{slug}/{version}/{sha256}.{}",
            format.extension()
        ))
    }

    /// The key of a published bundle.
    pub fn bundle(slug: &Slug, version: &PluginVersion, sha256: &Sha256Digest) -> Self {
        Self(format!("artifacts/{slug}/{version}/{sha256}.zip"))
    }

    /// The key of an org-catalog bundle (system or one org's).
    pub fn catalog_bundle(
        scope: &CatalogScope,
        pid: &Slug,
        version: &PluginVersion,
        sha256: &Sha256Digest,
    ) -> Self {
        Self(format!(
            "{}/{pid}/{version}/{sha256}.zip",
            scope.artifact_prefix()
        ))
    }

    /// Wraps a key read back from a store.
    pub fn from_stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The key as a relative path / object key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The plugin and version a published schema's or bundle's key names
    /// (`artifacts/{slug}/{version}/{sha256}.{extension}`), or `None` for any
    /// other key (org-catalog bundles included).
    pub fn plugin_version_of(key: &str) -> Option<(Slug, PluginVersion)> {
        match key.split('/').collect::<Vec<_>>().as_slice() {
            ["artifacts", slug, version, file] if file.contains('.') => {
                Some((Slug::parse(slug).ok()?, PluginVersion::parse(version).ok()?))
            }
            _ => None,
        }
    }
}

impl fmt::Display for ArtifactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a stored artifact is and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredArtifact {
    /// Storage key.
    pub key: ArtifactKey,
    /// SHA-256 of the exact stored bytes.
    pub sha256: Sha256Digest,
    /// Size in bytes.
    pub size: u64,
    /// Media type it is served with.
    pub content_type: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_keys_name_their_plugin_and_version() {
        let slug = Slug::parse("github").unwrap();
        let version = PluginVersion::parse("1.2.0-rc.1").unwrap();
        let sha = Sha256Digest::of(b"schema");
        for key in [
            ArtifactKey::schema(&slug, &version, &sha, DocumentFormat::Yaml),
            ArtifactKey::bundle(&slug, &version, &sha),
        ] {
            assert_eq!(
                ArtifactKey::plugin_version_of(key.as_str()),
                Some((slug.clone(), version.clone()))
            );
        }
        let org = ArtifactKey::catalog_bundle(&CatalogScope::System, &slug, &version, &sha);
        for other in [
            org.as_str(),
            "artifacts/github/1.2.0",
            "artifacts/Git Hub/1.2.0/a.zip",
        ] {
            assert_eq!(ArtifactKey::plugin_version_of(other), None, "{other}");
        }
    }
}
