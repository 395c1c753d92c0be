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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::StreamExt;
use registry_core::artifact::ArtifactKey;
use registry_core::registry::ChangeListener;
use registry_core::search::SearchHit;
use registry_core::slug::Slug;
use registry_core::store::{ArtifactStore, BackendError, CatalogStore, Conflict, StorageError};
use registry_core::timestamp::Clock;
use registry_core::version::PluginVersion;

use crate::canonical::to_canonical_json;
use crate::format::{
    Bin, FORMAT_VERSION, IndexConfig, SearchShard, Signed, Snapshot, TimestampDocument,
};
use crate::path::{CONFIG_BIN, IndexPath, JSON_CONTENT_TYPE, Shard};
use crate::render::{
    FileSource, PluginState, RenderedFile, load_plugin_state, render_plugin, search_entry,
};
use crate::signing::{IndexSigningKey, SigningError};
use crate::store::{
    Fetched, IndexObject, IndexStore, WriteCondition, delete_path, get_path, object_at, put_path,
};

/// How often a conditional write is retried after losing a race.
const CAS_ATTEMPTS: usize = 16;
/// Catalog page size of the full rebuild.
const REBUILD_PAGE: usize = 500;
/// Plugins a rebuild renders, reads and writes as one batch: one trip to the
/// artifact store and one to the index store per batch, not per plugin.
const REBUILD_BATCH: usize = 50;
/// Batches a rebuild works on at once.
const REBUILD_CONCURRENCY: usize = 8;

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

fn format_error(path: &IndexPath, error: impl std::fmt::Display) -> IndexError {
    IndexError::Format {
        path: path.relative(),
        detail: error.to_string(),
    }
}

/// Settings of the index.
#[derive(Debug, Clone)]
pub struct IndexSettings {
    /// Base URL written into details and `config.json` (no trailing `/`).
    pub public_url: String,
    /// Whether reads need a key (written into `config.json`).
    pub auth_required: bool,
    /// How long a signed timestamp stays valid.
    pub timestamp_lifetime: time::Duration,
}

impl IndexSettings {
    /// Settings for `public_url`, public, with a one-day timestamp.
    pub fn public(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            auth_required: false,
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
    clock: Arc<dyn Clock>,
}

/// A shared file as read: its decoded content and the ETag to write against.
struct Current<T> {
    value: Option<T>,
    etag: Option<String>,
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
        Self {
            catalog,
            artifacts,
            index,
            key,
            settings,
            clock,
        }
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

    async fn read_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &IndexPath,
    ) -> Result<Current<T>, IndexError> {
        match get_path(self.index.as_ref(), path, None).await? {
            Fetched::Found { object, etag } => Ok(Current {
                value: Some(
                    serde_json::from_slice(&object.bytes).map_err(|e| format_error(path, e))?,
                ),
                etag: Some(etag),
            }),
            Fetched::Missing | Fetched::NotModified => Ok(Current {
                value: None,
                etag: None,
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

    /// Brings the index up to date with these plugins (as the catalog now holds
    /// them): their own files, their search shards and bins, the snapshot and the
    /// timestamp. Writes nothing that would not change.
    ///
    /// An index with no snapshot yet is built in full instead, so `config.json` and
    /// every plugin already in the catalog are in it from the first update on.
    pub async fn update_plugins(&self, slugs: &[Slug]) -> Result<ChangeReport, IndexError> {
        if matches!(
            get_path(self.index.as_ref(), &IndexPath::Snapshot, None).await?,
            Fetched::Missing
        ) {
            return self.rebuild(false).await;
        }
        let mut report = ChangeReport::default();
        let mut by_shard: BTreeMap<Shard, BTreeSet<Slug>> = BTreeMap::new();
        for slug in slugs {
            by_shard
                .entry(Shard::of(slug))
                .or_default()
                .insert(slug.clone());
        }
        let mut changed_bins = BTreeMap::new();
        let mut removed = Vec::new();
        for (shard, group) in by_shard {
            report.plugins += group.len();
            if let Some(bin_sha) = self
                .update_shard(shard, &group, &mut report, &mut removed)
                .await?
            {
                changed_bins.insert(shard, bin_sha);
            }
        }
        if !changed_bins.is_empty() {
            self.update_snapshot(&changed_bins, &mut report).await?;
        }
        for path in removed {
            delete_path(self.index.as_ref(), &path).await?;
            report.deleted.insert(path);
        }
        Ok(report)
    }

    /// Updates one shard's plugins; returns the new bin's hash if the bin changed.
    async fn update_shard(
        &self,
        shard: Shard,
        slugs: &BTreeSet<Slug>,
        report: &mut ChangeReport,
        removed: &mut Vec<IndexPath>,
    ) -> Result<Option<String>, IndexError> {
        let bin_path = IndexPath::Bin(shard);
        let shard_path = IndexPath::SearchShard(shard);
        for attempt in 0..CAS_ATTEMPTS {
            // Read the shared files before the catalog: a writer that read the
            // catalog earlier cannot then win the conditional write below.
            let bin: Current<Signed<Bin>> = self.read_json(&bin_path).await?;
            let search: Current<SearchShard> = self.read_json(&shard_path).await?;
            let old_files = bin
                .value
                .as_ref()
                .map(|b| b.signed.files.clone())
                .unwrap_or_default();
            let mut files = old_files.clone();
            let mut entries: BTreeMap<String, SearchHit> = search
                .value
                .map(|s| s.plugins.into_iter().map(|e| (e.slug.clone(), e)).collect())
                .unwrap_or_default();
            let mut gone = Vec::new();
            for slug in slugs {
                let state = load_plugin_state(self.catalog.as_ref(), slug).await?;
                let rendered = match &state {
                    Some(state) => render_plugin(state, &self.settings.public_url)
                        .map_err(|e| format_error(&IndexPath::PluginDetails(slug.clone()), e))?,
                    None => Vec::new(),
                };
                let previous: Vec<String> = files
                    .keys()
                    .filter(|k| IndexPath::parse(k).is_some_and(|p| p.slug() == Some(slug)))
                    .cloned()
                    .collect();
                let mut kept = BTreeSet::new();
                for file in &rendered {
                    let key = file.path.relative();
                    let sha = file.sha256.to_hex();
                    // A retry rewrites everything: a losing attempt may have left
                    // older bytes behind the hashes the winner recorded.
                    if attempt > 0 || files.get(&key) != Some(&sha) {
                        let size = self.write_rendered(file).await?;
                        report.wrote(&file.path, size);
                    }
                    files.insert(key.clone(), sha);
                    kept.insert(key);
                }
                for key in previous.into_iter().filter(|k| !kept.contains(k)) {
                    files.remove(&key);
                    gone.extend(IndexPath::parse(&key));
                }
                match state.as_ref().and_then(|s| search_entry(&s.plugin)) {
                    Some(entry) => {
                        entries.insert(slug.to_string(), entry);
                    }
                    None => {
                        entries.remove(slug.as_str());
                    }
                }
            }
            if state_is_empty(&files, &shard_path) && bin.value.is_none() {
                return Ok(None);
            }
            let shard_bytes = self.search_shard_bytes(shard, entries.into_values().collect())?;
            let shard_sha = registry_core::checksum::Sha256Digest::of(&shard_bytes).to_hex();
            if attempt > 0 || files.get(&shard_path.relative()) != Some(&shard_sha) {
                let size = shard_bytes.len();
                let put = put_path(
                    self.index.as_ref(),
                    &shard_path,
                    &object_at(&shard_path, shard_bytes, JSON_CONTENT_TYPE, 200),
                    &WriteCondition::unchanged_since(search.etag.as_deref()),
                )
                .await;
                match put {
                    Ok(_) => report.wrote(&shard_path, size),
                    Err(StorageError::Conflict(Conflict::RevisionChanged)) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            files.insert(shard_path.relative(), shard_sha);
            if files == old_files {
                return Ok(None);
            }
            let bin_bytes = self.bin_bytes(shard, files)?;
            let bin_sha = registry_core::checksum::Sha256Digest::of(&bin_bytes).to_hex();
            let size = bin_bytes.len();
            match put_path(
                self.index.as_ref(),
                &bin_path,
                &object_at(&bin_path, bin_bytes, JSON_CONTENT_TYPE, 200),
                &WriteCondition::unchanged_since(bin.etag.as_deref()),
            )
            .await
            {
                Ok(_) => {
                    report.wrote(&bin_path, size);
                    removed.extend(gone);
                    return Ok(Some(bin_sha));
                }
                Err(StorageError::Conflict(Conflict::RevisionChanged)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(IndexError::Contended(bin_path.relative()))
    }

    fn search_shard_bytes(
        &self,
        shard: Shard,
        mut plugins: Vec<SearchHit>,
    ) -> Result<Vec<u8>, IndexError> {
        plugins.sort_by(|a, b| a.slug.cmp(&b.slug));
        let doc = SearchShard {
            format_version: FORMAT_VERSION,
            shard: shard.to_string(),
            plugins,
        };
        to_canonical_json(&doc).map_err(|e| format_error(&IndexPath::SearchShard(shard), e))
    }

    fn bin_bytes(
        &self,
        shard: Shard,
        files: BTreeMap<String, String>,
    ) -> Result<Vec<u8>, IndexError> {
        let signed = self.key.sign(Bin {
            format_version: FORMAT_VERSION,
            bin: shard.to_string(),
            files,
        })?;
        to_canonical_json(&signed).map_err(|e| format_error(&IndexPath::Bin(shard), e))
    }

    /// Records new bin hashes in the snapshot, then re-signs the timestamp.
    async fn update_snapshot(
        &self,
        bins: &BTreeMap<Shard, String>,
        report: &mut ChangeReport,
    ) -> Result<(), IndexError> {
        for _ in 0..CAS_ATTEMPTS {
            let current: Current<Signed<Snapshot>> = self.read_json(&IndexPath::Snapshot).await?;
            let mut snapshot = current.value.map(|s| s.signed).unwrap_or(Snapshot {
                format_version: FORMAT_VERSION,
                bins: BTreeMap::new(),
            });
            for (shard, sha) in bins {
                snapshot.bins.insert(shard.to_string(), sha.clone());
            }
            match self
                .write_signed(
                    &IndexPath::Snapshot,
                    snapshot,
                    WriteCondition::unchanged_since(current.etag.as_deref()),
                    report,
                )
                .await
            {
                Ok(()) => return self.update_timestamp(report, false).await,
                Err(IndexError::Storage(StorageError::Conflict(Conflict::RevisionChanged))) => {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(IndexError::Contended(IndexPath::Snapshot.relative()))
    }

    async fn write_signed<T: serde::Serialize>(
        &self,
        path: &IndexPath,
        payload: T,
        condition: WriteCondition,
        report: &mut ChangeReport,
    ) -> Result<(), IndexError> {
        let bytes =
            to_canonical_json(&self.key.sign(payload)?).map_err(|e| format_error(path, e))?;
        let size = bytes.len();
        put_path(
            self.index.as_ref(),
            path,
            &object_at(path, bytes, JSON_CONTENT_TYPE, 200),
            &condition,
        )
        .await?;
        report.wrote(path, size);
        Ok(())
    }

    /// Signs a timestamp naming the current snapshot, unless the current timestamp
    /// already names it (and `renew` is off).
    async fn update_timestamp(
        &self,
        report: &mut ChangeReport,
        renew: bool,
    ) -> Result<(), IndexError> {
        for _ in 0..CAS_ATTEMPTS {
            let snapshot_sha =
                match get_path(self.index.as_ref(), &IndexPath::Snapshot, None).await? {
                    Fetched::Found { object, .. } => {
                        registry_core::checksum::Sha256Digest::of(&object.bytes).to_hex()
                    }
                    _ => return Ok(()),
                };
            let current: Current<Signed<TimestampDocument>> =
                self.read_json(&IndexPath::Timestamp).await?;
            if !renew
                && current
                    .value
                    .as_ref()
                    .is_some_and(|t| t.signed.snapshot_sha256 == snapshot_sha)
            {
                return Ok(());
            }
            let now = self.clock.now();
            let doc = TimestampDocument {
                format_version: FORMAT_VERSION,
                snapshot_sha256: snapshot_sha,
                issued_at: now,
                expires_at: now.plus(self.settings.timestamp_lifetime),
            };
            match self
                .write_signed(
                    &IndexPath::Timestamp,
                    doc,
                    WriteCondition::unchanged_since(current.etag.as_deref()),
                    report,
                )
                .await
            {
                Ok(()) => return Ok(()),
                Err(IndexError::Storage(StorageError::Conflict(Conflict::RevisionChanged))) => {
                    continue;
                }
                Err(e) => return Err(e),
            }
        }
        Err(IndexError::Contended(IndexPath::Timestamp.relative()))
    }

    /// Re-signs the timestamp with a fresh expiry (the scheduled job), so readers
    /// can tell a live index from a replayed one.
    pub async fn renew_timestamp(&self) -> Result<ChangeReport, IndexError> {
        let mut report = ChangeReport::default();
        self.update_timestamp(&mut report, true).await?;
        Ok(report)
    }

    /// Renews the timestamp when less than half its lifetime is left (or there is
    /// none while a snapshot exists); says whether it did.
    pub async fn renew_timestamp_if_due(&self) -> Result<bool, IndexError> {
        let current: Current<Signed<TimestampDocument>> =
            self.read_json(&IndexPath::Timestamp).await?;
        let half = self.settings.timestamp_lifetime / 2;
        let due = current
            .value
            .is_none_or(|t| t.signed.expires_at.since(self.clock.now()) < half);
        if due {
            self.update_timestamp(&mut ChangeReport::default(), true)
                .await?;
        }
        Ok(due)
    }

    /// Rebuilds the whole index from the catalog, streaming it page by page, and
    /// removes files no plugin has any more. With `force`, rewrites every file even
    /// where the previous bins say it is unchanged (repairs a damaged index).
    pub async fn rebuild(&self, force: bool) -> Result<ChangeReport, IndexError> {
        let mut report = ChangeReport::default();
        let old_bins = Arc::new(if force {
            BTreeMap::new()
        } else {
            self.read_all_bins().await?
        });
        let mut bins: BTreeMap<Shard, BTreeMap<String, String>> = BTreeMap::new();
        let mut shards: BTreeMap<Shard, Vec<SearchHit>> = BTreeMap::new();

        let config_sha = self
            .write_json_if_changed(
                &IndexPath::Config,
                self.config_bytes()?,
                known_sha(&old_bins, &IndexPath::Config),
                &mut report,
            )
            .await?;
        bins.entry(CONFIG_BIN)
            .or_default()
            .insert(IndexPath::Config.relative(), config_sha);

        // The next page is read while this one renders.
        let read_page = |after: Option<Slug>| {
            let catalog = Arc::clone(&self.catalog);
            tokio::spawn(async move {
                catalog
                    .plugins_with_versions_page(after.as_ref(), REBUILD_PAGE)
                    .await
            })
        };
        let mut next_page = read_page(None);
        loop {
            let page = next_page
                .await
                .map_err(|e| IndexError::Storage(StorageError::Backend(Box::new(e))))??;
            let Some((last, _)) = page.last() else {
                break;
            };
            next_page = read_page(Some(last.slug.clone()));
            // Each batch on its own task, so rendering and hashing use every core;
            // `buffered` keeps the catalog's order.
            let mut page = page.into_iter();
            let batches = std::iter::from_fn(|| {
                let batch: Vec<PluginState> = page
                    .by_ref()
                    .take(REBUILD_BATCH)
                    .map(|(plugin, versions)| PluginState { plugin, versions })
                    .collect();
                (!batch.is_empty()).then_some(batch)
            });
            let results: Vec<_> = futures_util::stream::iter(batches)
                .map(|batch| {
                    let this = self.clone();
                    let old = Arc::clone(&old_bins);
                    tokio::spawn(async move { this.rebuild_plugins(batch, &old).await })
                })
                .buffered(REBUILD_CONCURRENCY)
                .collect()
                .await;
            for result in results {
                let outcomes = result
                    .map_err(|e| IndexError::Storage(StorageError::Backend(Box::new(e))))??;
                for outcome in outcomes {
                    report.plugins += 1;
                    for (path, size) in &outcome.written {
                        report.wrote(path, *size);
                    }
                    let shard = outcome.shard;
                    let bin = bins.entry(shard).or_default();
                    bin.extend(outcome.files);
                    let entries = shards.entry(shard).or_default();
                    entries.extend(outcome.entry);
                }
            }
        }

        let mut snapshot = Snapshot {
            format_version: FORMAT_VERSION,
            bins: BTreeMap::new(),
        };
        // Every shard some plugin hashes to has a search shard, even an empty one.
        for (shard, entries) in shards {
            let path = IndexPath::SearchShard(shard);
            let bytes = self.search_shard_bytes(shard, entries)?;
            let sha = self
                .write_json_if_changed(&path, bytes, known_sha(&old_bins, &path), &mut report)
                .await?;
            bins.entry(shard).or_default().insert(path.relative(), sha);
        }
        for (shard, files) in &bins {
            let bytes = self.bin_bytes(*shard, files.clone())?;
            let old_sha = old_bins.get(shard).map(|(_, sha)| sha);
            let sha = self
                .write_json_if_changed(&IndexPath::Bin(*shard), bytes, old_sha, &mut report)
                .await?;
            snapshot.bins.insert(shard.to_string(), sha);
        }
        self.write_signed(
            &IndexPath::Snapshot,
            snapshot,
            WriteCondition::Always,
            &mut report,
        )
        .await?;
        self.update_timestamp(&mut report, false).await?;

        for (shard, (old_files, _)) in old_bins.iter() {
            let new_files = bins.get(shard);
            for key in old_files.keys() {
                if new_files.is_none_or(|f| !f.contains_key(key))
                    && let Some(path) = IndexPath::parse(key)
                {
                    delete_path(self.index.as_ref(), &path).await?;
                    report.deleted.insert(path);
                }
            }
            if new_files.is_none() {
                delete_path(self.index.as_ref(), &IndexPath::Bin(*shard)).await?;
                report.deleted.insert(IndexPath::Bin(*shard));
            }
        }
        Ok(report)
    }

    /// Writes a JSON file unless `known` is already the hash of these bytes;
    /// returns their hash.
    async fn write_json_if_changed(
        &self,
        path: &IndexPath,
        bytes: Vec<u8>,
        known: Option<&String>,
        report: &mut ChangeReport,
    ) -> Result<String, IndexError> {
        let sha = registry_core::checksum::Sha256Digest::of(&bytes).to_hex();
        if known != Some(&sha) {
            let size = bytes.len();
            let object = object_at(path, bytes, JSON_CONTENT_TYPE, 200);
            put_path(self.index.as_ref(), path, &object, &WriteCondition::Always).await?;
            report.wrote(path, size);
        }
        Ok(sha)
    }

    /// Renders a batch of plugins and writes whatever of theirs changed, reading
    /// their artifacts in one go and writing in one go.
    async fn rebuild_plugins(
        &self,
        batch: Vec<PluginState>,
        old_bins: &BTreeMap<Shard, (BTreeMap<String, String>, String)>,
    ) -> Result<Vec<PluginOutcome>, IndexError> {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut changed = Vec::new();
        // How many of `changed` each plugin contributed, in order.
        let mut changed_per_plugin = Vec::with_capacity(batch.len());
        for state in &batch {
            let slug = &state.plugin.slug;
            let rendered = render_plugin(state, &self.settings.public_url)
                .map_err(|e| format_error(&IndexPath::PluginDetails(slug.clone()), e))?;
            let mut outcome = PluginOutcome {
                shard: Shard::of(slug),
                files: Vec::with_capacity(rendered.len()),
                written: Vec::new(),
                entry: search_entry(&state.plugin),
            };
            let before = changed.len();
            for file in rendered {
                let sha = file.sha256.to_hex();
                outcome.files.push((file.path.relative(), sha.clone()));
                if known_sha(old_bins, &file.path) != Some(&sha) {
                    changed.push(file);
                }
            }
            changed_per_plugin.push(changed.len() - before);
            outcomes.push(outcome);
        }
        let objects = self.objects_of(changed).await?;
        let mut written = objects
            .iter()
            .map(|(path, object)| (path.clone(), object.bytes.len()));
        for (outcome, count) in outcomes.iter_mut().zip(changed_per_plugin) {
            outcome.written.extend(written.by_ref().take(count));
        }
        let objects: Vec<(String, IndexObject)> = objects
            .into_iter()
            .map(|(path, object)| (path.relative(), object))
            .collect();
        self.index.put_all(&objects).await?;
        Ok(outcomes)
    }

    /// The objects to write for `files`, with every artifact copy read in one go.
    async fn objects_of(
        &self,
        files: Vec<RenderedFile>,
    ) -> Result<Vec<(IndexPath, IndexObject)>, IndexError> {
        let keys: Vec<ArtifactKey> = files
            .iter()
            .filter_map(|file| match &file.source {
                FileSource::Artifact(key) => Some(key.clone()),
                FileSource::Bytes(_) => None,
            })
            .collect();
        let mut copies = self.artifacts.get_many(&keys).await?.into_iter();
        files
            .into_iter()
            .map(|file| {
                let bytes = match file.source {
                    FileSource::Bytes(bytes) => bytes,
                    FileSource::Artifact(key) => copies
                        .next()
                        .flatten()
                        .ok_or_else(|| IndexError::MissingArtifact(key.to_string()))?,
                };
                let object = object_at(&file.path, bytes, &file.content_type, file.status);
                Ok((file.path, object))
            })
            .collect()
    }

    /// Every bin the current snapshot names, with its hash.
    async fn read_all_bins(
        &self,
    ) -> Result<BTreeMap<Shard, (BTreeMap<String, String>, String)>, IndexError> {
        let snapshot: Current<Signed<Snapshot>> = self.read_json(&IndexPath::Snapshot).await?;
        let mut bins = BTreeMap::new();
        for (name, sha) in snapshot.value.map(|s| s.signed.bins).unwrap_or_default() {
            let Some(shard) = Shard::parse(&name) else {
                continue;
            };
            let bin: Current<Signed<Bin>> = self.read_json(&IndexPath::Bin(shard)).await?;
            if let Some(bin) = bin.value {
                bins.insert(shard, (bin.signed.files, sha));
            }
        }
        Ok(bins)
    }
}

/// One plugin's part of a rebuild.
struct PluginOutcome {
    shard: Shard,
    files: Vec<(String, String)>,
    written: Vec<(IndexPath, usize)>,
    entry: Option<SearchHit>,
}

fn known_sha<'a>(
    old_bins: &'a BTreeMap<Shard, (BTreeMap<String, String>, String)>,
    path: &IndexPath,
) -> Option<&'a String> {
    old_bins.get(&path.bin()?)?.0.get(&path.relative())
}

fn state_is_empty(files: &BTreeMap<String, String>, shard_path: &IndexPath) -> bool {
    let shard_key = shard_path.relative();
    files.keys().all(|k| *k == shard_key)
}

/// The local server's listener: updates the index right after each catalog write.
/// Updates are serialised, so the directory store sees one writer.
pub struct InProcessIndexer {
    builder: Arc<IndexBuilder>,
    serial: tokio::sync::Mutex<()>,
}

impl InProcessIndexer {
    /// A listener driving `builder`.
    pub fn new(builder: Arc<IndexBuilder>) -> Self {
        Self {
            builder,
            serial: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait::async_trait]
impl ChangeListener for InProcessIndexer {
    async fn plugin_changed(
        &self,
        slug: &Slug,
        version: Option<&PluginVersion>,
    ) -> Result<Option<String>, BackendError> {
        let _one_at_a_time = self.serial.lock().await;
        self.builder
            .update_plugins(std::slice::from_ref(slug))
            .await
            .map_err(|e| Box::new(e) as BackendError)?;
        let Some(version) = version else {
            return Ok(None);
        };
        let path = IndexPath::VersionDetails(slug.clone(), version.clone());
        match get_path(self.builder.index.as_ref(), &path, None).await {
            Ok(Fetched::Found { etag, .. }) => Ok(Some(etag)),
            Ok(_) => Ok(None),
            Err(e) => Err(Box::new(e)),
        }
    }
}
