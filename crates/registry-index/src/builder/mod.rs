//! Building the index: incremental updates from "this plugin changed", and the
//! full rebuild, which must give the same files byte for byte.
//!
//! Every plugin file is rendered from the catalog (never from the change event),
//! so updates are idempotent and can be replayed in any order. Shared files are
//! rewritten read-modify-write with conditional puts, in chain order: plugin files,
//! then their search shard and bin, then the snapshot, then the timestamp; files
//! that disappear are deleted last, so the chain never names a missing file.
//!
//! Search shard `k` and bin `k` exist exactly when some plugin hashes to `k`
//! (plugins are never removed from the catalog, only their versions unpublished),
//! so shared files are never deleted.

use std::collections::BTreeSet;
use std::sync::Arc;

use registry_core::store::{ArtifactStore, CatalogStore, NodeCoordination, StorageError};
use registry_core::timestamp::Clock;

use crate::canonical::to_canonical_json;
use crate::format::{FORMAT_VERSION, IndexConfig, TrustedPublishingInfo};
use crate::path::IndexPath;
use crate::render::RenderedFile;
use crate::search::IndexedSearch;
use crate::signing::{IndexSigningKey, SigningError};
use crate::store::{Fetched, IndexStore, WriteCondition, get_path, get_path_uncached, put_path};
use registry_pages::Site;
use std::time::Duration;

mod chain;
mod charts;
mod in_process;
mod incremental;
mod journal;
mod pages;
mod rebuild;

pub use in_process::InProcessIndexer;
pub use incremental::Rerender;

/// How often a conditional write is retried after losing a race.
pub(super) const CAS_ATTEMPTS: usize = 16;
/// Catalog page size of the full rebuild.
pub(super) const REBUILD_PAGE: usize = 500;
/// Plugins a rebuild renders, reads and writes as one batch: one trip to the
/// artifact store and one to the index store per batch, not per plugin.
pub(super) const REBUILD_BATCH: usize = 50;
/// Batches a rebuild works on at once.
pub(super) const REBUILD_CONCURRENCY: usize = 8;
/// How long a writer waits for the index writer's lease: longer than any update,
/// shorter than a client's patience with a publish.
pub const LEASE_WAIT: Duration = Duration::from_secs(60);

/// Why an index update failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// Reading the catalog or an artifact, or writing the index, failed.
    #[error("storage failed while building the index")]
    Storage(#[from] StorageError),
    /// Signing failed.
    #[error("signing the index failed")]
    Signing(#[from] SigningError),
    /// A file could not be encoded, or a stored index file decoded.
    #[error("index file {path} is not valid: {detail}")]
    Format {
        /// The file.
        path: String,
        /// What was wrong.
        detail: String,
    },
    /// An artifact the catalog names is missing.
    #[error("artifact {0} is missing")]
    MissingArtifact(String),
    /// Too many concurrent writers kept winning.
    #[error("gave up on {0} after {CAS_ATTEMPTS} conflicting writes")]
    Contended(String),
}

pub(super) fn format_error(path: &IndexPath, error: impl std::fmt::Display) -> IndexError {
    IndexError::Format {
        path: path.relative(),
        detail: error.to_string(),
    }
}

/// The identity of an index another key or address wrote (see
/// [`IndexBuilder::foreign_index`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignIndex {
    /// The id of the key the stored index is signed with.
    pub key_id: String,
    /// The address the stored index names.
    pub api_url: String,
}

/// Settings of the index.
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// Base URL written into details and `config.json` (no trailing `/`).
    pub public_url: String,
    /// Whether reads need a key (written into `config.json`).
    pub auth_required: bool,
    /// Whether the web catalog's pages are written. A private registry has them
    /// too: its server shows them to signed-in readers only.
    pub pages: bool,
    /// How long a signed timestamp stays valid.
    pub timestamp_lifetime: time::Duration,
}

impl IndexSettings {
    /// Settings for `public_url`, public, with a one-day timestamp.
    pub fn public(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            auth_required: false,
            pages: true,
            timestamp_lifetime: time::Duration::days(1),
        }
    }
}

/// What an update or rebuild wrote and deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeReport {
    /// Files written.
    pub written: BTreeSet<IndexPath>,
    /// Files deleted.
    pub deleted: BTreeSet<IndexPath>,
    /// Bytes written in all.
    pub bytes_written: u64,
    /// Plugins visited.
    pub plugins: usize,
}

impl ChangeReport {
    /// Adds what `other` did to this report.
    pub fn absorb(&mut self, other: ChangeReport) {
        self.written.extend(other.written);
        self.deleted.extend(other.deleted);
        self.bytes_written += other.bytes_written;
        self.plugins += other.plugins;
    }

    fn wrote(&mut self, path: &IndexPath, bytes: usize) {
        self.written.insert(path.clone());
        self.bytes_written += bytes as u64;
    }

    /// URL paths a CDN should forget: each changed plugin's protocol URLs (query
    /// variants included) and each changed index file.
    ///
    /// CloudFront takes at most 15 wildcard paths per invalidation, so a change
    /// to more plugins than that invalidates the two prefixes instead.
    pub fn cdn_paths(&self) -> Vec<String> {
        const MAX_WILDCARDS: usize = 15;
        let mut paths = BTreeSet::new();
        for path in self.written.iter().chain(&self.deleted) {
            if let Some(slug) = path.slug() {
                paths.insert(format!("/plugins/{slug}*"));
            }
            paths.insert(format!("/{}", path.key()));
        }
        if paths.iter().filter(|p| p.ends_with('*')).count() > MAX_WILDCARDS {
            return vec!["/index/*".to_owned(), "/plugins/*".to_owned()];
        }
        paths.into_iter().collect()
    }
}

/// Builds and updates the static index. Cloning is cheap (shared stores).
#[derive(Clone)]
pub struct IndexBuilder {
    catalog: Arc<dyn CatalogStore>,
    artifacts: Arc<dyn ArtifactStore>,
    index: Arc<dyn IndexStore>,
    key: IndexSigningKey,
    settings: IndexSettings,
    /// The web catalog's site, on a public registry (a private one has no pages).
    site: Option<Site>,
    /// Every plugin's search entry, kept current, for the home page.
    entries: Option<Arc<IndexedSearch>>,
    clock: Arc<dyn Clock>,
    /// The processes sharing the catalog, which take turns writing the index.
    turns: Option<Arc<dyn NodeCoordination>>,
}

/// A shared file as read: its decoded content and the ETag to write against.
pub(super) struct Current<T> {
    pub(super) value: Option<T>,
    pub(super) etag: Option<String>,
    /// SHA-256 (hex) of the stored bytes, as the signed chain names them.
    pub(super) sha256: Option<String>,
}

impl IndexBuilder {
    /// A builder writing `index` from `catalog` and `artifacts`.
    pub fn new(
        catalog: Arc<dyn CatalogStore>,
        artifacts: Arc<dyn ArtifactStore>,
        index: Arc<dyn IndexStore>,
        key: IndexSigningKey,
        settings: IndexSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let site = settings.pages.then(|| Site::new(&settings.public_url));
        Self {
            entries: site
                .is_some()
                .then(|| Arc::new(IndexedSearch::new(Arc::clone(&index), Duration::ZERO))),
            catalog,
            artifacts,
            index,
            key,
            settings,
            site,
            clock,
            turns: None,
        }
    }

    /// The same builder, writing only as the one writer among the processes
    /// `turns` coordinates (see [`IndexBuilder::as_sole_writer`]).
    pub fn taking_turns(mut self, turns: Arc<dyn NodeCoordination>) -> Self {
        self.turns = Some(turns);
        self
    }

    /// Runs `work` (index writes, or anything else only one process may do at a
    /// time) holding the index writer's lease, so that of the processes sharing the
    /// catalog one writes at a time and the signed chain stays linear; without
    /// coordination, at once. Waits at most [`LEASE_WAIT`].
    pub async fn as_sole_writer<T, E: From<StorageError>>(
        &self,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let Some(turns) = &self.turns else {
            return work.await;
        };
        let lease = turns.lead_index_writes(LEASE_WAIT).await?;
        let result = work.await;
        lease.release().await;
        result
    }

    /// The same builder reading every plugin's search entry, for the home page,
    /// through `search` (which the server also answers searches with) instead of a
    /// copy of its own.
    pub fn sharing_search(mut self, search: Arc<IndexedSearch>) -> Self {
        if self.site.is_some() {
            self.entries = Some(search);
        }
        self
    }

    /// The store written to.
    pub fn index(&self) -> &Arc<dyn IndexStore> {
        &self.index
    }

    /// `config.json` as this builder writes it.
    pub fn config(&self) -> IndexConfig {
        let url = &self.settings.public_url;
        IndexConfig {
            format_version: FORMAT_VERSION,
            api_url: url.clone(),
            details_url: format!("{url}/plugins/{{slug}}"),
            version_url: format!("{url}/plugins/{{slug}}?version={{version}}"),
            download_url: format!("{url}/plugins/{{slug}}/{{version}}/schema"),
            bundle_url: format!("{url}/plugins/{{slug}}/{{version}}/bundle"),
            search_url: format!("{url}/plugins/search"),
            timestamp_url: format!("{url}/{}", IndexPath::Timestamp.key()),
            auth_required: self.settings.auth_required,
            index_public_key: self.key.public_key().info(),
            pages: self
                .site
                .as_ref()
                .map(|_| registry_pages::fingerprint().to_owned()),
            trusted_publishing: Some(TrustedPublishingInfo {
                audience: url.clone(),
                exchange_url: format!("{url}/auth/oidc/exchange"),
            }),
        }
    }

    fn config_bytes(&self) -> Result<Vec<u8>, IndexError> {
        to_canonical_json(&self.config()).map_err(|e| format_error(&IndexPath::Config, e))
    }

    /// Whether the index exists and was built with this builder's settings and key
    /// (else the local server rebuilds it on start).
    pub async fn is_current(&self) -> Result<bool, IndexError> {
        let has_timestamp = matches!(
            get_path(self.index.as_ref(), &IndexPath::Timestamp, None).await?,
            Fetched::Found { .. }
        );
        let config_matches = match get_path(self.index.as_ref(), &IndexPath::Config, None).await? {
            Fetched::Found { object, .. } => {
                object.bytes.as_ref() == self.config_bytes()?.as_slice()
            }
            _ => false,
        };
        Ok(has_timestamp && config_matches)
    }

    /// What identifies the index already in the store, when it is not this
    /// builder's: signed with another key, or naming another address. A node
    /// sharing a bucket must not rebuild such an index as its own (clients pin the
    /// key, and the address is every node's); `None` when the store holds no index
    /// or this builder's.
    pub async fn foreign_index(&self) -> Result<Option<ForeignIndex>, IndexError> {
        let path = IndexPath::Config;
        let stored = match get_path_uncached(self.index.as_ref(), &path, None).await? {
            Fetched::Found { object, .. } => object,
            Fetched::Missing | Fetched::NotModified => return Ok(None),
        };
        let stored: IndexConfig =
            serde_json::from_slice(&stored.bytes).map_err(|e| format_error(&path, e))?;
        let ours = self.config();
        if stored.index_public_key.key_id == ours.index_public_key.key_id
            && stored.api_url == ours.api_url
        {
            return Ok(None);
        }
        Ok(Some(ForeignIndex {
            key_id: stored.index_public_key.key_id,
            api_url: stored.api_url,
        }))
    }

    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &IndexPath,
    ) -> Result<Current<T>, IndexError> {
        // Shared files are read to be rewritten: keeping them in the store's cache
        // would only hold memory until the rewrite drops them again.
        match get_path_uncached(self.index.as_ref(), path, None).await? {
            Fetched::Found { object, etag } => Ok(Current {
                value: Some(
                    serde_json::from_slice(&object.bytes).map_err(|e| format_error(path, e))?,
                ),
                etag: Some(etag),
                sha256: Some(registry_core::checksum::Sha256Digest::of(&object.bytes).to_hex()),
            }),
            Fetched::Missing | Fetched::NotModified => Ok(Current {
                value: None,
                etag: None,
                sha256: None,
            }),
        }
    }

    async fn write_rendered(&self, file: &RenderedFile) -> Result<usize, IndexError> {
        let mut objects = self.objects_of(vec![file.clone()]).await?;
        let Some((path, object)) = objects.pop() else {
            return Ok(0);
        };
        put_path(self.index.as_ref(), &path, &object, &WriteCondition::Always).await?;
        Ok(object.bytes.len())
    }
}
