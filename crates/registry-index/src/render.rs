//! Each plugin's index files, rendered from the catalog alone: the same catalog
//! state always gives the same files, byte for byte.

use bytes::Bytes;
use registry_core::artifact::{ArtifactKey, StoredArtifact};
use registry_core::checksum::Sha256Digest;
use registry_core::registry::{PluginDetails, latest_version, listed_versions};
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
    plugin_files(state, public_url).collect()
}

/// What one of a plugin's files is made from, before it is rendered.
enum Planned<'a> {
    /// Details at a live version: the plugin's (at its latest) or the version's.
    Details(&'a VersionRecord),
    /// A live version's schema or bundle, copied from its artifact.
    Artifact(&'a StoredArtifact),
    /// The 410 answer of an unpublished version.
    Gone(&'a VersionRecord),
}

/// [`render_plugin`] one file at a time, in the same order: a plugin's version
/// details all carry its version list, so they weigh its number of versions squared
/// together, and a caller that writes each file as it comes holds one at a time.
pub fn plugin_files<'a>(
    state: &'a PluginState,
    public_url: &'a str,
) -> impl Iterator<Item = Result<RenderedFile, serde_json::Error>> + 'a {
    let plugin = &state.plugin;
    let slug = &plugin.slug;
    let mut plan: Vec<(IndexPath, Planned<'a>)> = Vec::with_capacity(state.versions.len() * 3 + 1);
    if let Some(latest) = latest_version(&plugin.versions)
        && let Some(record) = state.versions.iter().find(|r| r.version == latest.version)
    {
        plan.push((
            IndexPath::PluginDetails(slug.clone()),
            Planned::Details(record),
        ));
    }
    for record in &state.versions {
        let v = &record.version;
        let planned = |live| match record.unpublished_at {
            Some(_) => Planned::Gone(record),
            None => live,
        };
        plan.push((
            IndexPath::VersionDetails(slug.clone(), v.clone()),
            planned(Planned::Details(record)),
        ));
        plan.push((
            IndexPath::Schema(slug.clone(), v.clone()),
            planned(Planned::Artifact(&record.schema)),
        ));
        if let Some(bundle) = &record.bundle {
            plan.push((
                IndexPath::Bundle(slug.clone(), v.clone()),
                planned(Planned::Artifact(bundle)),
            ));
        }
    }
    // Leaves first: a version's details never point at a schema or bundle that is
    // not there yet, and the plugin's details come last, so an update that fails
    // half-way never makes a version visible without its files.
    plan.sort_by(|a, b| (write_rank(&a.0), &a.0).cmp(&(write_rank(&b.0), &b.0)));
    let listed = listed_versions(&plugin.versions);
    plan.into_iter().map(move |(path, planned)| {
        let details = |record: &VersionRecord| {
            PluginDetails::with_listed(plugin, listed.clone(), record.clone(), public_url)
        };
        Ok(match planned {
            Planned::Details(record) => RenderedFile::json(
                path,
                to_canonical_json(&details(record))?,
                JSON_CONTENT_TYPE,
                200,
            ),
            Planned::Gone(record) => {
                let problem = unpublished_problem(slug.as_str(), &record.version.to_string());
                RenderedFile::json(
                    path,
                    to_canonical_json(&problem)?,
                    GONE_CONTENT_TYPE,
                    GONE_STATUS,
                )
            }
            Planned::Artifact(artifact) => RenderedFile {
                path,
                sha256: artifact.sha256,
                content_type: artifact.content_type.clone(),
                status: 200,
                source: FileSource::Artifact(artifact.key.clone()),
            },
        })
    })
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
