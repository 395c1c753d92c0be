//! Each plugin's index files, rendered from the catalog alone: the same catalog
//! state always gives the same files, byte for byte.

use bytes::Bytes;
use registry_core::artifact::{ArtifactKey, StoredArtifact};
use registry_core::checksum::Sha256Digest;
use registry_core::registry::{PluginDetails, latest_version, listed_versions};
use registry_core::search::SearchHit;
use registry_core::store::{PluginListing, PluginRecord, VersionRecord};
use registry_core::version::PluginVersion;

use crate::canonical::to_canonical_json;
use crate::format::{GONE_CONTENT_TYPE, GONE_STATUS, unpublished_problem};
use crate::path::{IndexPath, JSON_CONTENT_TYPE};

/// A plugin as the catalog holds it: the plugin row and every version record,
/// unpublished ones included.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginState {
    /// The plugin row.
    pub plugin: PluginRecord,
    /// Every version ever published, in no set order.
    pub versions: Vec<VersionRecord>,
}

/// Where a rendered file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// Rendered here.
    Bytes(Bytes),
    /// Copied from an artifact (read only when the file must be written).
    Artifact(ArtifactKey),
}

/// One file a plugin should have in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Where it goes.
    pub path: IndexPath,
    /// SHA-256 of its bytes.
    pub sha256: Sha256Digest,
    /// Media type.
    pub content_type: String,
    /// HTTP status it is served with.
    pub status: u16,
    /// Its bytes, or the artifact holding them.
    pub source: FileSource,
}

impl RenderedFile {
    /// A copy of an artifact, read only when the file must be written.
    fn artifact(path: IndexPath, artifact: &StoredArtifact) -> Self {
        Self {
            path,
            sha256: artifact.sha256,
            content_type: artifact.content_type.clone(),
            status: 200,
            source: FileSource::Artifact(artifact.key.clone()),
        }
    }

    fn json(path: IndexPath, bytes: Vec<u8>, content_type: &str, status: u16) -> Self {
        Self {
            sha256: Sha256Digest::of(&bytes),
            path,
            content_type: content_type.to_owned(),
            status,
            source: FileSource::Bytes(Bytes::from(bytes)),
        }
    }
}

/// Every file `state` should have, in the order to write them: each version's
/// files (see [`version_files`]), then the plugin's details at its latest version.
pub fn render_plugin(
    state: &PluginState,
    public_url: &str,
) -> Result<Vec<RenderedFile>, serde_json::Error> {
    let plugin = &state.plugin;
    let listed = listed_versions(&plugin.versions);
    let mut files = Vec::with_capacity(state.versions.len() * 3 + 1);
    for record in &state.versions {
        files.extend(version_files(plugin, &listed, record, public_url)?);
    }
    if let Some(latest) = latest_record(plugin, &state.versions) {
        files.push(plugin_details_file(plugin, &listed, latest, public_url)?);
    }
    Ok(files)
}

/// The record of the plugin's latest version among `records`, if it has one.
pub fn latest_record<'a>(
    plugin: &PluginRecord,
    records: &'a [VersionRecord],
) -> Option<&'a VersionRecord> {
    let latest = latest_version(&plugin.versions)?;
    records.iter().find(|r| r.version == latest.version)
}

/// One version's files, in the order to write them: its schema and bundle, then
/// its details, so its details never point at a file not there yet; an
/// unpublished version's 410 answer at each of those paths.
///
/// `listed` is [`listed_versions`] of the plugin: every version's details carry
/// the plugin's version list, so a plugin's version details weigh its number of
/// versions squared together, and callers render them a few at a time.
pub fn version_files(
    plugin: &PluginRecord,
    listed: &[PluginVersion],
    record: &VersionRecord,
    public_url: &str,
) -> Result<Vec<RenderedFile>, serde_json::Error> {
    let (slug, v) = (&plugin.slug, &record.version);
    let details = IndexPath::VersionDetails(slug.clone(), v.clone());
    let schema = IndexPath::Schema(slug.clone(), v.clone());
    let bundle = record
        .bundle
        .as_ref()
        .map(|b| (IndexPath::Bundle(slug.clone(), v.clone()), b));
    if record.unpublished_at.is_some() {
        let problem = to_canonical_json(&unpublished_problem(slug.as_str(), &v.to_string()))?;
        let gone = |path| RenderedFile::json(path, problem.clone(), GONE_CONTENT_TYPE, GONE_STATUS);
        let mut files = vec![gone(schema)];
        files.extend(bundle.map(|(path, _)| gone(path)));
        files.push(gone(details));
        return Ok(files);
    }
    let mut files = vec![RenderedFile::artifact(schema, &record.schema)];
    files.extend(bundle.map(|(path, artifact)| RenderedFile::artifact(path, artifact)));
    files.push(details_file(details, plugin, listed, record, public_url)?);
    Ok(files)
}

/// The plugin's details (`GET /plugins/{slug}`): those of its latest version.
pub fn plugin_details_file(
    plugin: &PluginRecord,
    listed: &[PluginVersion],
    latest: &VersionRecord,
    public_url: &str,
) -> Result<RenderedFile, serde_json::Error> {
    let path = IndexPath::PluginDetails(plugin.slug.clone());
    details_file(path, plugin, listed, latest, public_url)
}

fn details_file(
    path: IndexPath,
    plugin: &PluginRecord,
    listed: &[PluginVersion],
    record: &VersionRecord,
    public_url: &str,
) -> Result<RenderedFile, serde_json::Error> {
    let details = PluginDetails::with_listed(plugin, listed.to_vec(), record.clone(), public_url);
    Ok(RenderedFile::json(
        path,
        to_canonical_json(&details)?,
        JSON_CONTENT_TYPE,
        200,
    ))
}

/// The plugin's entry in its search shard; `None` when nothing is published.
pub fn search_entry(plugin: &PluginRecord) -> Option<SearchHit> {
    SearchHit::of_listing(PluginListing {
        slug: plugin.slug.clone(),
        created_at: plugin.created_at,
        updated_at: plugin.updated_at,
        downloads: plugin.downloads,
        latest: plugin.latest.clone(),
    })
}
