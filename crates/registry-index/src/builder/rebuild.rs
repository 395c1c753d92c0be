//! The full rebuild: every plugin rendered from the catalog in batches, giving the
//! same bytes as any sequence of incremental updates.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use registry_core::artifact::ArtifactKey;
use registry_core::search::SearchHit;
use registry_core::slug::Slug;
use registry_core::store::StorageError;

use crate::format::{Bin, FORMAT_VERSION, Signed, Snapshot, VersionBin};
use crate::path::{CONFIG_BIN, IndexPath, JSON_CONTENT_TYPE, Listing, Shard, VersionGroup};
use crate::render::{FileSource, PluginState, RenderedFile, render_plugin, search_entry};
use crate::store::{IndexObject, WriteCondition, delete_path, object_at, put_path};

use super::{
    ChangeReport, Current, IndexBuilder, IndexError, REBUILD_BATCH, REBUILD_CONCURRENCY,
    REBUILD_PAGE, format_error,
};

impl IndexBuilder {
    /// Rebuilds the whole index from the catalog, streaming it page by page.
    ///
    /// Where the store offers it (a directory), the index is written whole into a
    /// fresh generation beside the live one and swapped in at the end, so a crash
    /// during a rebuild leaves the previous index as it was; the fresh directory
    /// needs no per-file care. Elsewhere (S3) it is rebuilt in place, writing only
    /// files that change and removing those no plugin has any more; with `force`,
    /// rewriting every file (repairs a damaged index).
    pub async fn rebuild(&self, force: bool) -> Result<ChangeReport, IndexError> {
        let Some(generation) = self.index.fresh_generation()? else {
            return self.rebuild_in_place(force).await;
        };
        let fresh = Self {
            index: generation.store(),
            ..self.clone()
        };
        let report = fresh.rebuild_in_place(true).await?;
        generation.swap_in().await?;
        Ok(report)
    }

    async fn rebuild_in_place(&self, force: bool) -> Result<ChangeReport, IndexError> {
        let mut report = ChangeReport::default();
        let old = Arc::new(if force {
            OldLists::default()
        } else {
            self.read_old_lists().await?
        });
        let mut bins: BTreeMap<Shard, BTreeMap<String, String>> = BTreeMap::new();
        // Kept only to tell, at the end, which files an in-place rebuild deletes:
        // a rebuild from nothing (a fresh generation) deletes none, and holds none.
        let mut version_bins: BTreeMap<Listing, BTreeMap<String, String>> = BTreeMap::new();
        let mut shards: BTreeMap<Shard, Vec<SearchHit>> = BTreeMap::new();

        let config_sha = self
            .write_json_if_changed(
                &IndexPath::Config,
                self.config_bytes()?,
                old.known_sha(&IndexPath::Config),
                &mut report,
            )
            .await?;
        bins.entry(CONFIG_BIN)
            .or_default()
            .insert(IndexPath::Config.relative(), config_sha);
        let mut site_files = Vec::new();
        for file in self.site_files()? {
            let sha = file.sha256.to_hex();
            bins.entry(CONFIG_BIN)
                .or_default()
                .insert(file.path.relative(), sha.clone());
            if old.known_sha(&file.path) != Some(&sha) {
                site_files.push(file);
            }
        }
        for (path, object) in self.objects_of(site_files).await? {
            report.wrote(&path, object.bytes.len());
            put_path(self.index.as_ref(), &path, &object, &WriteCondition::Always).await?;
        }

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
        // Charts are drawn by the roll-up, for every plugin it gave downloads; a
        // rebuild draws every one there is, so a fresh generation shows them too.
        let mut downloaded: Vec<Slug> = Vec::new();
        loop {
            let page = next_page
                .await
                .map_err(|e| IndexError::Storage(StorageError::Backend(Box::new(e))))??;
            let Some((last, _)) = page.last() else {
                break;
            };
            next_page = read_page(Some(last.slug.clone()));
            downloaded.extend(
                page.iter()
                    .filter(|(plugin, _)| plugin.downloads > 0)
                    .map(|(plugin, _)| plugin.slug.clone()),
            );
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
                    let old = Arc::clone(&old);
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
                    bins.entry(outcome.shard).or_default().extend(outcome.files);
                    version_bins.extend(outcome.version_bins);
                    shards
                        .entry(outcome.shard)
                        .or_default()
                        .extend(outcome.entry);
                }
            }
        }

        let mut snapshot = Snapshot {
            format_version: FORMAT_VERSION,
            bins: BTreeMap::new(),
        };
        // Every shard some plugin hashes to has a search shard, even an empty one.
        // The home page summarises every entry: worked out before the shards take them.
        let home_page = self.home_page_bytes(shards.values().flatten())?;
        for (shard, entries) in shards {
            let path = IndexPath::SearchShard(shard);
            let bytes = self.search_shard_bytes(shard, entries)?;
            let sha = self
                .write_json_if_changed(&path, bytes, old.known_sha(&path), &mut report)
                .await?;
            bins.entry(shard).or_default().insert(path.relative(), sha);
        }
        for (shard, files) in &bins {
            let bytes = self.bin_bytes(*shard, files.clone())?;
            let old_sha = old.bin_shas.get(shard);
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
        self.write_home_page(home_page, &mut report).await?;
        self.draw_download_charts(&downloaded).await?;

        for old_files in old.lists.values() {
            for key in old_files.keys() {
                // Looked up where the file is listed now: an index of an older
                // format listed it elsewhere.
                let Some(path) = IndexPath::parse(key) else {
                    continue;
                };
                let listed = match path.listing() {
                    Some(Listing::Bin(shard)) => bins.get(&shard),
                    Some(listing) => version_bins.get(&listing),
                    None => None,
                }
                .is_some_and(|files| files.contains_key(key));
                if !listed {
                    delete_path(self.index.as_ref(), &path).await?;
                    report.deleted.insert(path);
                }
            }
        }
        for shard in old.bin_shas.keys() {
            if !bins.contains_key(shard) {
                delete_path(self.index.as_ref(), &IndexPath::Bin(*shard)).await?;
                report.deleted.insert(IndexPath::Bin(*shard));
            }
        }
        Ok(report)
    }
    /// Writes a JSON file unless `known` is already the hash of these bytes;
    /// returns their hash.
    pub(super) async fn write_json_if_changed(
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
        old: &OldLists,
    ) -> Result<Vec<PluginOutcome>, IndexError> {
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut changed = Vec::new();
        // How many of `changed` each plugin contributed, in order.
        let mut changed_per_plugin = Vec::with_capacity(batch.len());
        for state in &batch {
            let slug = &state.plugin.slug;
            let rendered = render_plugin(state, &self.settings.public_url, self.site.as_ref())
                .map_err(|e| format_error(&IndexPath::PluginDetails(slug.clone()), e))?;
            let mut outcome = PluginOutcome {
                shard: Shard::of(slug),
                files: Vec::with_capacity(rendered.len()),
                version_bins: Vec::new(),
                written: Vec::new(),
                entry: search_entry(&state.plugin),
            };
            let before = changed.len();
            let mut groups: BTreeMap<VersionGroup, BTreeMap<String, String>> = BTreeMap::new();
            for file in rendered {
                let sha = file.sha256.to_hex();
                let key = file.path.relative();
                let listing = file.path.listing();
                if old.known_sha(&file.path) != Some(&sha) {
                    changed.push(file);
                }
                match listing {
                    Some(Listing::VersionBin(_, group)) => {
                        groups.entry(group).or_default().insert(key, sha);
                    }
                    _ => outcome.files.push((key, sha)),
                }
            }
            for (group, files) in groups {
                let path = IndexPath::VersionBin(slug.clone(), group);
                // Only an in-place rebuild needs the lists afterwards, to decide
                // what to delete.
                let kept = (!old.lists.is_empty()).then(|| files.clone());
                let bytes = self.version_bin_bytes(slug, group, files)?;
                let list = RenderedFile::bytes(path.clone(), bytes, JSON_CONTENT_TYPE, 200);
                let sha = list.sha256.to_hex();
                if old.known_sha(&path) != Some(&sha) {
                    changed.push(list);
                }
                outcome.files.push((path.relative(), sha));
                if let Some(files) = kept {
                    outcome
                        .version_bins
                        .push((Listing::VersionBin(slug.clone(), group), files));
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
    pub(super) async fn objects_of(
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
    /// What the current snapshot lists: every bin, with its hash, and every
    /// version bin they name (one read per version bin: only a rebuild in place,
    /// as on S3, reads them).
    pub(super) async fn read_old_lists(&self) -> Result<OldLists, IndexError> {
        let snapshot: Current<Signed<Snapshot>> = self.read_json(&IndexPath::Snapshot).await?;
        let mut old = OldLists::default();
        for (name, sha) in snapshot.value.map(|s| s.signed.bins).unwrap_or_default() {
            let Some(shard) = Shard::parse(&name) else {
                continue;
            };
            let bin: Current<Signed<Bin>> = self.read_json(&IndexPath::Bin(shard)).await?;
            let Some(bin) = bin.value else {
                continue;
            };
            for key in bin.signed.files.keys() {
                if let Some(IndexPath::VersionBin(slug, group)) = IndexPath::parse(key) {
                    let path = IndexPath::VersionBin(slug.clone(), group);
                    let list: Current<VersionBin> = self.read_json(&path).await?;
                    if let Some(list) = list.value {
                        old.lists
                            .insert(Listing::VersionBin(slug, group), list.files);
                    }
                }
            }
            old.lists.insert(Listing::Bin(shard), bin.signed.files);
            old.bin_shas.insert(shard, sha);
        }
        Ok(old)
    }
}

/// What the index listed when a rebuild started.
#[derive(Default)]
pub(super) struct OldLists {
    /// Each bin's and version bin's files.
    lists: BTreeMap<Listing, BTreeMap<String, String>>,
    /// Each bin's hash, as the snapshot names it.
    bin_shas: BTreeMap<Shard, String>,
}

impl OldLists {
    /// The hash the index lists for `path`, if it lists one.
    fn known_sha(&self, path: &IndexPath) -> Option<&String> {
        self.lists.get(&path.listing()?)?.get(&path.relative())
    }
}

/// One plugin's part of a rebuild.
struct PluginOutcome {
    /// The plugin's search shard, and bin.
    shard: Shard,
    /// What its bin lists of it: its own files and its version bins, with their hashes.
    files: Vec<(String, String)>,
    /// Each of its version bins' files, for an in-place rebuild only.
    version_bins: Vec<(Listing, BTreeMap<String, String>)>,
    written: Vec<(IndexPath, usize)>,
    entry: Option<SearchHit>,
}
