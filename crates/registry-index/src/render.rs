//! Each plugin's index files, rendered from the catalog alone: the same catalog
//! state always gives the same files, byte for byte.

use std::sync::OnceLock;

use bytes::Bytes;
use registry_core::artifact::{ArtifactKey, StoredArtifact};
use registry_core::checksum::Sha256Digest;
use registry_core::registry::{PluginDetails, latest_version};
use registry_core::search::SearchHit;
use registry_core::store::{PluginListing, PluginRecord, VersionRecord};
use registry_core::version::PluginVersion;

use crate::canonical::to_canonical_json;
use crate::format::{GONE_CONTENT_TYPE, GONE_STATUS, unpublished_problem};
use crate::path::{HTML_CONTENT_TYPE, IndexPath, JSON_CONTENT_TYPE};
use registry_pages::{PluginPages, Site};

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

    pub(crate) fn bytes(path: IndexPath, bytes: Vec<u8>, content_type: &str, status: u16) -> Self {
        Self {
            sha256: Sha256Digest::of(&bytes),
            path,
            content_type: content_type.to_owned(),
            status,
            source: FileSource::Bytes(Bytes::from(bytes)),
        }
    }
}

/// Why a plugin's files could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderFileError {
    /// A JSON document could not be encoded.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// A page could not be rendered.
    #[error(transparent)]
    Page(#[from] registry_pages::RenderError),
}

/// Every file `state` should have, in the order to write them: each version's
/// files (see [`PluginRenderer::version_files`]), then the plugin's own (see
/// [`PluginRenderer::latest_files`]).
pub fn render_plugin(
    state: &PluginState,
    public_url: &str,
    site: Option<&Site>,
) -> Result<Vec<RenderedFile>, RenderFileError> {
    // A quarantined plugin has no files: every one it had is deleted.
    if state.plugin.quarantined.is_some() {
        return Ok(Vec::new());
    }
    let renderer = PluginRenderer::new(&state.plugin, public_url, site);
    let mut files = Vec::with_capacity(state.versions.len() * 4 + 2);
    for record in &state.versions {
        files.extend(renderer.version_files(record)?);
    }
    if let Some(latest) = latest_record(&state.plugin, &state.versions) {
        files.extend(renderer.latest_files(latest)?);
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

/// Renders one plugin's files, version by version.
///
/// Only the latest version's details and page carry what moves with the plugin
/// (its version list, downloads, router instances), so a change to a plugin
/// changes its latest files and the version it touched, never every version's.
pub struct PluginRenderer<'a> {
    plugin: &'a PluginRecord,
    public_url: &'a str,
    /// Present on a public registry: only its index has pages.
    pages: Option<PluginPages<'a>>,
    /// The version `GET /plugins/{slug}` shows, if any.
    latest: Option<PluginVersion>,
    /// The latest version's details and page, each rendered once: the plugin's
    /// URL and that version's URL answer the same bytes (and a fresh directory
    /// generation writes them once, linking the second name).
    latest_details: OnceLock<RenderedFile>,
    latest_page: OnceLock<RenderedFile>,
}

impl<'a> PluginRenderer<'a> {
    /// The renderer of `plugin`'s files, with pages when `site` is given.
    pub fn new(plugin: &'a PluginRecord, public_url: &'a str, site: Option<&'a Site>) -> Self {
        Self {
            pages: site.map(|site| PluginPages::new(site, plugin)),
            latest: latest_version(&plugin.versions).map(|summary| summary.version.clone()),
            latest_details: OnceLock::new(),
            latest_page: OnceLock::new(),
            plugin,
            public_url,
        }
    }

    /// The page of `record` at `path`: the latest version's is rendered once for
    /// both of its URLs, any other version's each time.
    fn version_page(
        &self,
        pages: &PluginPages<'_>,
        record: &VersionRecord,
        path: IndexPath,
    ) -> Result<RenderedFile, RenderFileError> {
        self.once_for_latest(&self.latest_page, record, path, |path, is_latest| {
            let html = pages.page(record, is_latest)?;
            Ok(RenderedFile::bytes(
                path,
                html.into_bytes(),
                HTML_CONTENT_TYPE,
                200,
            ))
        })
    }

    /// `render(path, is_latest)`, except that the latest version's rendering is
    /// made once and shared by both of its URLs.
    fn once_for_latest(
        &self,
        latest: &OnceLock<RenderedFile>,
        record: &VersionRecord,
        path: IndexPath,
        render: impl FnOnce(IndexPath, bool) -> Result<RenderedFile, RenderFileError>,
    ) -> Result<RenderedFile, RenderFileError> {
        let is_latest = self.latest.as_ref() == Some(&record.version);
        if !is_latest {
            return render(path, false);
        }
        if let Some(rendered) = latest.get() {
            return Ok(RenderedFile {
                path,
                ..rendered.clone()
            });
        }
        let rendered = render(path, true)?;
        let _ = latest.set(rendered.clone());
        Ok(rendered)
    }

    /// One version's files, in the order to write them: its schema and bundle,
    /// then its details and page, so neither points at a file not there yet; an
    /// unpublished version's 410 answer at each of those paths.
    pub fn version_files(
        &self,
        record: &VersionRecord,
    ) -> Result<Vec<RenderedFile>, RenderFileError> {
        let (slug, v) = (&self.plugin.slug, &record.version);
        let details = IndexPath::VersionDetails(slug.clone(), v.clone());
        let schema = IndexPath::Schema(slug.clone(), v.clone());
        let page = IndexPath::VersionPage(slug.clone(), v.clone());
        let bundle = record
            .bundle
            .as_ref()
            .map(|b| (IndexPath::Bundle(slug.clone(), v.clone()), b));
        // A quarantined version, or one under review, has no files: to readers
        // it is not there.
        if record.quarantined.is_some() || record.review.is_some() {
            return Ok(Vec::new());
        }
        if record.unpublished_at.is_some() {
            let problem = to_canonical_json(&unpublished_problem(slug.as_str(), &v.to_string()))?;
            let gone =
                |path| RenderedFile::bytes(path, problem.clone(), GONE_CONTENT_TYPE, GONE_STATUS);
            let mut files = vec![gone(schema)];
            files.extend(bundle.map(|(path, _)| gone(path)));
            files.push(gone(details));
            if let Some(pages) = &self.pages {
                let html = registry_pages::gone_page(pages.site(), slug.as_str(), &v.to_string())?;
                files.push(RenderedFile::bytes(
                    page,
                    html.into_bytes(),
                    HTML_CONTENT_TYPE,
                    GONE_STATUS,
                ));
            }
            return Ok(files);
        }
        let mut files = vec![RenderedFile::artifact(schema, &record.schema)];
        files.extend(bundle.map(|(path, artifact)| RenderedFile::artifact(path, artifact)));
        files.push(self.details_file(details, record)?);
        if let Some(pages) = &self.pages {
            files.push(self.version_page(pages, record, page)?);
        }
        Ok(files)
    }

    /// The plugin's own files, at its latest version `latest`: its details
    /// (`GET /plugins/{slug}`) and its page.
    pub fn latest_files(
        &self,
        latest: &VersionRecord,
    ) -> Result<Vec<RenderedFile>, RenderFileError> {
        let slug = &self.plugin.slug;
        let mut files = vec![self.details_file(IndexPath::PluginDetails(slug.clone()), latest)?];
        if let Some(pages) = &self.pages {
            files.push(self.version_page(pages, latest, IndexPath::PluginPage(slug.clone()))?);
        }
        Ok(files)
    }

    fn details_file(
        &self,
        path: IndexPath,
        record: &VersionRecord,
    ) -> Result<RenderedFile, RenderFileError> {
        self.once_for_latest(&self.latest_details, record, path, |path, is_latest| {
            let details =
                PluginDetails::of_version(self.plugin, record.clone(), self.public_url, is_latest);
            Ok(RenderedFile::bytes(
                path,
                to_canonical_json(&details)?,
                JSON_CONTENT_TYPE,
                200,
            ))
        })
    }
}

/// The plugin's entry in its search shard; `None` when nothing is published or
/// the plugin is quarantined.
pub fn search_entry(plugin: &PluginRecord) -> Option<SearchHit> {
    if plugin.quarantined.is_some() {
        return None;
    }
    SearchHit::of_listing(PluginListing {
        slug: plugin.slug.clone(),
        created_at: plugin.created_at,
        updated_at: plugin.updated_at,
        downloads: plugin.downloads,
        latest: plugin.latest.clone(),
    })
}
