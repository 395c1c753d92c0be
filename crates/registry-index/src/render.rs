//! Each plugin's index files, rendered from the catalog alone: the same catalog
//! state always gives the same files, byte for byte.

use bytes::Bytes;
use registry_core::artifact::ArtifactKey;
use registry_core::checksum::Sha256Digest;
use registry_core::registry::{PluginDetails, latest_version};
use registry_core::search::SearchHit;
use registry_core::slug::Slug;
use registry_core::store::{
    CatalogStore, PluginListing, PluginRecord, StorageError, VersionRecord,
};

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

/// Reads a plugin's state from the catalog; `None` when there is no such plugin.
pub async fn load_plugin_state(
    catalog: &dyn CatalogStore,
    slug: &Slug,
) -> Result<Option<PluginState>, StorageError> {
    Ok(catalog
        .plugin_with_versions(slug)
        .await?
        .map(|(plugin, versions)| PluginState { plugin, versions }))
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

/// Every file `state` should have, in the order to write them. A live plugin has its details at the
/// latest version; each live version its details, schema and (if any) bundle; each
/// unpublished version a 410 answer at those paths.
pub fn render_plugin(
    state: &PluginState,
    public_url: &str,
) -> Result<Vec<RenderedFile>, serde_json::Error> {
    let plugin = &state.plugin;
    let slug = &plugin.slug;
    let mut files = Vec::with_capacity(state.versions.len() * 2 + 1);
    if let Some(latest) = latest_version(&plugin.versions)
        && let Some(record) = state.versions.iter().find(|r| r.version == latest.version)
    {
        let details = PluginDetails::of(plugin, record.clone(), public_url);
        files.push(RenderedFile::json(
            IndexPath::PluginDetails(slug.clone()),
            to_canonical_json(&details)?,
            JSON_CONTENT_TYPE,
            200,
        ));
    }
    for record in &state.versions {
        let v = &record.version;
        if record.unpublished_at.is_some() {
            let gone = to_canonical_json(&unpublished_problem(slug.as_str(), &v.to_string()))?;
            let mut paths = vec![
                IndexPath::VersionDetails(slug.clone(), v.clone()),
                IndexPath::Schema(slug.clone(), v.clone()),
            ];
            if record.bundle.is_some() {
                paths.push(IndexPath::Bundle(slug.clone(), v.clone()));
            }
            for path in paths {
                files.push(RenderedFile::json(
                    path,
                    gone.clone(),
                    GONE_CONTENT_TYPE,
                    GONE_STATUS,
                ));
            }
            continue;
        }
        let details = PluginDetails::of(plugin, record.clone(), public_url);
        files.push(RenderedFile::json(
            IndexPath::VersionDetails(slug.clone(), v.clone()),
            to_canonical_json(&details)?,
            JSON_CONTENT_TYPE,
            200,
        ));
        files.push(RenderedFile {
            path: IndexPath::Schema(slug.clone(), v.clone()),
            sha256: record.schema.sha256,
            content_type: record.schema.content_type.clone(),
            status: 200,
            source: FileSource::Artifact(record.schema.key.clone()),
        });
        if let Some(bundle) = &record.bundle {
            files.push(RenderedFile {
                path: IndexPath::Bundle(slug.clone(), v.clone()),
                sha256: bundle.sha256,
                content_type: bundle.content_type.clone(),
                status: 200,
                source: FileSource::Artifact(bundle.key.clone()),
            });
        }
    }
    // Leaves first: a version's details never point at a schema or bundle that is
    // not there yet, and the plugin's details come last, so an update that fails
    // half-way never makes a version visible without its files.
    files.sort_by_key(|f| (write_rank(&f.path), f.path.clone()));
    Ok(files)
}

fn write_rank(path: &IndexPath) -> u8 {
    match path {
        IndexPath::Schema(..) | IndexPath::Bundle(..) => 0,
        IndexPath::VersionDetails(..) => 1,
        _ => 2,
    }
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
