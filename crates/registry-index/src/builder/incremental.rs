//! Incremental updates: "this plugin changed" rewrites its own files, then its
//! search shard and bin, then the signed chain.

use std::collections::{BTreeMap, BTreeSet};

use registry_core::registry::latest_version;
use registry_core::search::SearchHit;
use registry_core::slug::Slug;
use registry_core::store::{
    CatalogStore, ChangeScope, Conflict, PluginRecord, StorageError, VersionRecord,
};
use registry_core::version::PluginVersion;

use crate::canonical::to_canonical_json;
use crate::format::{Bin, FORMAT_VERSION, SearchShard, Signed, Snapshot};
use crate::path::{IndexPath, JSON_CONTENT_TYPE, Shard};
use crate::render::{PluginRenderer, RenderedFile, latest_record, search_entry};
use crate::store::{Fetched, WriteCondition, delete_path, get_path, object_at, put_path};

use super::{
    CAS_ATTEMPTS, ChangeReport, Current, IndexBuilder, IndexError, format_error, state_is_empty,
};

/// Version records an incremental update reads at a time.
const RECORDS_PER_PAGE: usize = 32;

/// Which of a plugin's versions an update renders again. The latest version's
/// files, and so the plugin's details and page, are rendered either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rerender {
    /// Every version the plugin has.
    Every,
    /// These versions, and whichever version was the latest before they changed
    /// (see [`ChangeScope`]: no other version's files can have changed).
    Only(BTreeSet<PluginVersion>),
}

impl Rerender {
    /// What renders whatever `scope` says changed.
    pub fn of(scope: &ChangeScope) -> Self {
        match scope {
            ChangeScope::Plugin => Self::Every,
            ChangeScope::Latest => Self::Only(BTreeSet::new()),
            ChangeScope::Version(version) => Self::Only(BTreeSet::from([version.clone()])),
        }
    }

    /// Widens this to also render what `other` renders.
    pub fn absorb(&mut self, other: Self) {
        match (&mut *self, other) {
            (Self::Only(mine), Self::Only(theirs)) => mine.extend(theirs),
            (_, _) => *self = Self::Every,
        }
    }

    /// The versions of `plugin` to render, or `None` for every one.
    ///
    /// A change to some versions' records moves the latest version at most from
    /// one of them, or from the latest of the others, to the latest now; so the
    /// named versions, the latest of the others and the latest now cover every
    /// version whose files can differ.
    fn versions_of(&self, plugin: &PluginRecord) -> Option<BTreeSet<PluginVersion>> {
        let Self::Only(named) = self else {
            return None;
        };
        let others: Vec<_> = plugin
            .versions
            .iter()
            .filter(|v| !named.contains(&v.version))
            .cloned()
            .collect();
        let listed =
            |version: &PluginVersion| plugin.versions.iter().any(|v| &v.version == version);
        Some(
            named
                .iter()
                .filter(|version| listed(version))
                .chain(latest_version(&plugin.versions).map(|v| &v.version))
                .chain(latest_version(&others).map(|v| &v.version))
                .cloned()
                .collect(),
        )
    }
}

/// A plugin's version records, read [`RECORDS_PER_PAGE`] at a time: an update
/// holds a page of a plugin's versions, not all of them, however many it has.
///
/// Only versions the plugin, read first, lists come out: one published since is
/// left to the update its own change brings, so every file rendered agrees with
/// the plugin's version list.
struct RecordPages<'a> {
    catalog: &'a dyn CatalogStore,
    plugin: &'a PluginRecord,
    listed: BTreeSet<&'a PluginVersion>,
    after: Option<PluginVersion>,
    done: bool,
}

impl<'a> RecordPages<'a> {
    fn new(catalog: &'a dyn CatalogStore, plugin: &'a PluginRecord) -> Self {
        Self {
            catalog,
            plugin,
            listed: plugin.versions.iter().map(|v| &v.version).collect(),
            after: None,
            done: false,
        }
    }

    /// The next page; `None` once every record has come out.
    async fn next(&mut self) -> Result<Option<Vec<VersionRecord>>, StorageError> {
        if self.done {
            return Ok(None);
        }
        let mut page = self
            .catalog
            .version_records_page(&self.plugin.slug, self.after.as_ref(), RECORDS_PER_PAGE)
            .await?;
        self.done = page.len() < RECORDS_PER_PAGE;
        self.after = page.last().map(|r| r.version.clone());
        page.retain(|r| self.listed.contains(&r.version));
        Ok(Some(page))
    }
}

/// The version records an update renders: every one the plugin lists, a page at a
/// time, or only the chosen ones.
enum VersionsToRender<'a> {
    Every(RecordPages<'a>),
    Only {
        catalog: &'a dyn CatalogStore,
        slug: &'a Slug,
        versions: Option<BTreeSet<PluginVersion>>,
    },
}

impl<'a> VersionsToRender<'a> {
    fn new(
        catalog: &'a dyn CatalogStore,
        plugin: &'a PluginRecord,
        only: Option<BTreeSet<PluginVersion>>,
    ) -> Self {
        match only {
            None => Self::Every(RecordPages::new(catalog, plugin)),
            Some(versions) => Self::Only {
                catalog,
                slug: &plugin.slug,
                versions: Some(versions),
            },
        }
    }

    /// The next records; `None` once every one has come out.
    async fn next(&mut self) -> Result<Option<Vec<VersionRecord>>, StorageError> {
        match self {
            Self::Every(pages) => pages.next().await,
            Self::Only {
                catalog,
                slug,
                versions,
            } => {
                let Some(versions) = versions.take() else {
                    return Ok(None);
                };
                let mut records = Vec::with_capacity(versions.len());
                for version in &versions {
                    records.extend(catalog.version(slug, version).await?);
                }
                Ok(Some(records))
            }
        }
    }
}

impl IndexBuilder {
    /// Brings the index up to date with these plugins (as the catalog now holds
    /// them): their own files, their search shards and bins, the snapshot and the
    /// timestamp. Writes nothing that would not change.
    ///
    /// An index with no snapshot yet is built in full instead, so `config.json` and
    /// every plugin already in the catalog are in it from the first update on.
    pub async fn update_plugins(&self, slugs: &[Slug]) -> Result<ChangeReport, IndexError> {
        let every = slugs.iter().map(|slug| (slug.clone(), Rerender::Every));
        self.update_changed(&every.collect()).await
    }

    /// Like [`IndexBuilder::update_plugins`], rendering of each plugin only the
    /// versions its change can have changed.
    pub async fn update_changed(
        &self,
        changed: &BTreeMap<Slug, Rerender>,
    ) -> Result<ChangeReport, IndexError> {
        if matches!(
            get_path(self.index.as_ref(), &IndexPath::Snapshot, None).await?,
            Fetched::Missing
        ) {
            return self.rebuild(false).await;
        }
        let mut report = ChangeReport::default();
        let mut by_shard: BTreeMap<Shard, BTreeMap<Slug, Rerender>> = BTreeMap::new();
        for (slug, rerender) in changed {
            by_shard
                .entry(Shard::of(slug))
                .or_default()
                .insert(slug.clone(), rerender.clone());
        }
        let mut bins = BTreeMap::new();
        for (shard, group) in by_shard {
            report.plugins += group.len();
            if let Some(bin_sha) = self.update_shard(shard, &group, &mut report).await? {
                bins.insert(shard, bin_sha);
            }
        }
        // Each step below is checked against what is stored rather than against
        // what this call changed, so repeating an update a crash interrupted
        // finishes it: a bin written before the crash still reaches the snapshot,
        // and a snapshot still reaches the timestamp.
        let snapshot: Current<Signed<Snapshot>> = self.read_json(&IndexPath::Snapshot).await?;
        let recorded = snapshot.value.map(|s| s.signed.bins).unwrap_or_default();
        bins.retain(|shard, sha| recorded.get(&shard.to_string()) != Some(sha));
        if bins.is_empty() {
            self.update_timestamp(&mut report, false).await?;
        } else {
            self.update_snapshot(&bins, &mut report).await?;
        }
        self.update_home_page(&mut report).await?;
        Ok(report)
    }
    /// Updates one shard's plugins; returns the hash of its bin as it now is
    /// (`None` when the shard has no bin).
    ///
    /// Files a plugin no longer has are deleted before the bin that drops them is
    /// written: a crash in between leaves the bin naming a missing file, which the
    /// repeated update deletes again and drops, rather than a file no bin names,
    /// which nothing would find again.
    pub(super) async fn update_shard(
        &self,
        shard: Shard,
        slugs: &BTreeMap<Slug, Rerender>,
        report: &mut ChangeReport,
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
            for (slug, rerender) in slugs {
                let plugin = self.catalog.plugin(slug).await?;
                // A quarantined plugin keeps no files: they all go below.
                let plugin = plugin.as_ref().filter(|p| p.quarantined.is_none());
                let only = plugin.and_then(|p| rerender.versions_of(p));
                // The files this update answers for: the plugin's own, and those of
                // the versions it renders; any other version's stay as they are.
                let previous: Vec<String> = files
                    .keys()
                    .filter(|k| {
                        IndexPath::parse(k).is_some_and(|p| {
                            p.slug() == Some(slug)
                                && only
                                    .as_ref()
                                    .is_none_or(|only| p.version().is_none_or(|v| only.contains(v)))
                        })
                    })
                    .cloned()
                    .collect();
                let mut kept = BTreeSet::new();
                if let Some(plugin) = plugin {
                    let renderer =
                        PluginRenderer::new(plugin, &self.settings.public_url, self.site.as_ref());
                    let rendering = |e| format_error(&IndexPath::PluginDetails(slug.clone()), e);
                    let mut pages = VersionsToRender::new(self.catalog.as_ref(), plugin, only);
                    let mut latest = None;
                    // Each file is written as it is rendered, and dropped before the next.
                    while let Some(page) = pages.next().await? {
                        for record in &page {
                            for file in renderer.version_files(record).map_err(rendering)? {
                                self.keep_file(file, attempt > 0, &mut files, &mut kept, report)
                                    .await?;
                            }
                        }
                        latest = latest.or_else(|| latest_record(plugin, &page).cloned());
                    }
                    if let Some(summary) = latest_version(&plugin.versions) {
                        // Without it the plugin's details would be dropped as gone.
                        let latest = latest.ok_or_else(|| {
                            StorageError::Corrupt(format!(
                                "{slug}@{} is listed but has no record",
                                summary.version
                            ))
                        })?;
                        for file in renderer.latest_files(&latest).map_err(rendering)? {
                            self.keep_file(file, attempt > 0, &mut files, &mut kept, report)
                                .await?;
                        }
                    }
                }
                for key in previous.into_iter().filter(|k| !kept.contains(k)) {
                    files.remove(&key);
                    gone.extend(IndexPath::parse(&key));
                }
                match plugin.and_then(search_entry) {
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
                return Ok(bin.sha256);
            }
            for path in &gone {
                delete_path(self.index.as_ref(), path).await?;
                report.deleted.insert(path.clone());
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
                    return Ok(Some(bin_sha));
                }
                Err(StorageError::Conflict(Conflict::RevisionChanged)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(IndexError::Contended(bin_path.relative()))
    }
    /// Writes `file` unless the bin already records its bytes (always, on a
    /// `rewrite`), and records it in the bin's `files` and in `kept`.
    async fn keep_file(
        &self,
        file: RenderedFile,
        rewrite: bool,
        files: &mut BTreeMap<String, String>,
        kept: &mut BTreeSet<String>,
        report: &mut ChangeReport,
    ) -> Result<(), IndexError> {
        let key = file.path.relative();
        let sha = file.sha256.to_hex();
        if rewrite || files.get(&key) != Some(&sha) {
            let size = self.write_rendered(&file).await?;
            report.wrote(&file.path, size);
        }
        files.insert(key.clone(), sha);
        kept.insert(key);
        Ok(())
    }

    pub(super) fn search_shard_bytes(
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
    pub(super) fn bin_bytes(
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
}
