//! Incremental updates: "this plugin changed" rewrites its own files, then its
//! search shard and bin, then the signed chain.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use registry_core::registry::{latest_version, latest_version_among};
use registry_core::search::SearchHit;
use registry_core::slug::Slug;
use registry_core::store::{
    CatalogStore, ChangeScope, Conflict, PluginRecord, StorageError, VersionRecord,
};
use registry_core::version::PluginVersion;

use crate::canonical::to_canonical_json;
use crate::format::{Bin, FORMAT_VERSION, SearchShard, Signed, Snapshot, VersionBin};
use crate::path::{IndexPath, JSON_CONTENT_TYPE, Listing, Shard, VersionGroup};
use crate::render::{PluginRenderer, RenderedFile, latest_record, search_entry};
use crate::store::{Fetched, WriteCondition, delete_path, get_path, object_at, put_path};

use super::{CAS_ATTEMPTS, ChangeReport, Current, IndexBuilder, IndexError, format_error};

/// A list of file hashes (a plugin's bin or one of its version bins) as an update
/// read it, with the files it is to list.
#[derive(Default)]
struct ListEdit {
    files: BTreeMap<String, String>,
    etag: Option<String>,
    /// Hash of the list as read; `None` when there was none.
    sha256: Option<String>,
    /// Whether `files` differs from what was read.
    changed: bool,
}

impl ListEdit {
    fn insert(&mut self, key: String, sha: String) {
        if self.files.get(&key) != Some(&sha) {
            self.files.insert(key, sha);
            self.changed = true;
        }
    }

    fn remove(&mut self, key: &str) {
        self.changed |= self.files.remove(key).is_some();
    }
}

/// The lists one plugin's update edits: its bin, and the version bins of the
/// versions it answers for.
struct PluginLists {
    bin: ListEdit,
    versions: BTreeMap<VersionGroup, ListEdit>,
}

impl PluginLists {
    fn of(&mut self, listing: &Listing) -> Option<&mut ListEdit> {
        match listing {
            Listing::Bin(_) => Some(&mut self.bin),
            Listing::VersionBin(_, group) => self.versions.get_mut(group),
        }
    }
}

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
    /// `shown_latest` is the version the index shows as the latest now (its
    /// search entry's, written after that version's files in the same update).
    ///
    /// A change to some versions' records moves the latest version at most from
    /// one of them, or from the latest of the others, to the latest now; so the
    /// named versions, the latest of the others and the latest now cover every
    /// version whose files can differ, when the catalog changed only by them.
    /// It may have changed by more: a version committed after the journal was
    /// read is in the catalog but not among the named, and it can displace the
    /// former latest from "the latest of the others" while its own update, later,
    /// sees the former latest as long gone. So the version the index still shows
    /// as the latest is rendered too: whatever the catalog did meanwhile, it is the
    /// one whose files say "latest" and may no longer.
    fn versions_of(
        &self,
        plugin: &PluginRecord,
        shown_latest: Option<&PluginVersion>,
    ) -> Option<BTreeSet<PluginVersion>> {
        let Self::Only(named) = self else {
            return None;
        };
        let others = plugin
            .versions
            .iter()
            .filter(|v| !named.contains(&v.version));
        let listed =
            |version: &PluginVersion| plugin.versions.iter().any(|v| &v.version == version);
        Some(
            named
                .iter()
                .chain(shown_latest)
                .filter(|version| listed(version))
                .chain(latest_version(&plugin.versions).map(|v| &v.version))
                .chain(latest_version_among(others).map(|v| &v.version))
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
        let mut bins = BTreeMap::new();
        for (slug, rerender) in changed {
            report.plugins += 1;
            // A later plugin's answer for a bin they share is the newer one.
            if let Some(sha) = self.update_plugin(slug, rerender, &mut report).await? {
                bins.insert(Shard::of(slug), sha);
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

    /// Updates one plugin's files, its search entry, its version bins and its bin;
    /// returns the hash of its bin as it now is (`None` when it has none).
    ///
    /// The plugin's bin and search shard are read before the catalog and written
    /// last, each only if unchanged since: a writer that read the catalog before
    /// another's update cannot finish, and its retry renders again (and rewrites
    /// every file) from the catalog as it now is.
    ///
    /// Files the plugin no longer has are deleted before the lists that drop them
    /// are written: a crash in between leaves a list naming a missing file, which
    /// the repeated update deletes again and drops, rather than a file no list
    /// names, which nothing would find again.
    async fn update_plugin(
        &self,
        slug: &Slug,
        rerender: &Rerender,
        report: &mut ChangeReport,
    ) -> Result<Option<String>, IndexError> {
        let home = Shard::of(slug);
        let shard_path = IndexPath::SearchShard(home);
        for attempt in 0..CAS_ATTEMPTS {
            let bin: Current<Signed<Bin>> = self.read_json(&IndexPath::Bin(home)).await?;
            let mut lists = PluginLists {
                bin: ListEdit {
                    files: bin.value.map(|b| b.signed.files).unwrap_or_default(),
                    etag: bin.etag,
                    sha256: bin.sha256,
                    changed: false,
                },
                versions: BTreeMap::new(),
            };
            let search: Current<SearchShard> = self.read_json(&shard_path).await?;
            let plugin = self.catalog.plugin(slug).await?;
            // A quarantined plugin keeps no files: they all go below.
            let live = plugin.as_ref().filter(|p| p.quarantined.is_none());
            let shown_latest = search.value.as_ref().and_then(|shard| {
                let entry = shard.plugins.iter().find(|e| e.slug == slug.as_str())?;
                PluginVersion::parse(&entry.version).ok()
            });
            let only = live.and_then(|p| rerender.versions_of(p, shown_latest.as_ref()));
            // The versions whose files this update answers for; any other
            // version's stay as they are.
            let answered: BTreeSet<PluginVersion> = match &only {
                Some(versions) => versions.clone(),
                None => plugin
                    .iter()
                    .flat_map(|p| p.versions.iter().map(|v| v.version.clone()))
                    .collect(),
            };
            for version in &answered {
                let group = VersionGroup::of(version);
                if let Entry::Vacant(entry) = lists.versions.entry(group) {
                    entry.insert(self.read_version_bin(slug, group).await?);
                }
            }
            let answers_for = |key: &String| {
                IndexPath::parse(key).is_some_and(|p| {
                    p.slug() == Some(slug)
                        && !matches!(p, IndexPath::VersionBin(..))
                        && p.version().is_none_or(|v| answered.contains(v))
                })
            };
            let previous: Vec<String> = lists
                .versions
                .values()
                .chain([&lists.bin])
                .flat_map(|list| list.files.keys().filter(|k| answers_for(k)).cloned())
                .collect();
            let mut kept = BTreeSet::new();
            if let Some(plugin) = live {
                let renderer =
                    PluginRenderer::new(plugin, &self.settings.public_url, self.site.as_ref());
                let rendering = |e| format_error(&IndexPath::PluginDetails(slug.clone()), e);
                let mut pages = VersionsToRender::new(self.catalog.as_ref(), plugin, only);
                let mut latest = None;
                // Each file is written as it is rendered, and dropped before the next.
                while let Some(page) = pages.next().await? {
                    for record in &page {
                        for file in renderer.version_files(record).map_err(rendering)? {
                            self.keep_file(file, attempt > 0, &mut lists, &mut kept, report)
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
                        self.keep_file(file, attempt > 0, &mut lists, &mut kept, report)
                            .await?;
                    }
                }
            }
            let mut gone = Vec::new();
            for key in previous.into_iter().filter(|k| !kept.contains(k)) {
                let Some(path) = IndexPath::parse(&key) else {
                    continue;
                };
                if let Some(list) = path.listing().and_then(|l| lists.of(&l)) {
                    list.remove(&key);
                }
                gone.push(path);
            }

            // Every plugin the catalog knows has a search shard and a bin, if only
            // empty, as a rebuild writes them; a slug it does not know creates none.
            let create = plugin.is_some();
            if create || lists.bin.sha256.is_some() {
                let mut entries: BTreeMap<String, SearchHit> = search
                    .value
                    .map(|s| s.plugins.into_iter().map(|e| (e.slug.clone(), e)).collect())
                    .unwrap_or_default();
                match live.and_then(search_entry) {
                    Some(entry) => {
                        entries.insert(slug.to_string(), entry);
                    }
                    None => {
                        entries.remove(slug.as_str());
                    }
                }
                let shard_bytes = self.search_shard_bytes(home, entries.into_values().collect())?;
                let shard_sha = registry_core::checksum::Sha256Digest::of(&shard_bytes).to_hex();
                if (attempt > 0 || lists.bin.files.get(&shard_path.relative()) != Some(&shard_sha))
                    && self
                        .put_unless_changed(
                            &shard_path,
                            shard_bytes,
                            search.etag.as_deref(),
                            report,
                        )
                        .await?
                        .is_none()
                {
                    continue;
                }
                lists.bin.insert(shard_path.relative(), shard_sha);
            }

            for path in &gone {
                delete_path(self.index.as_ref(), path).await?;
                report.deleted.insert(path.clone());
            }
            if !self.write_version_bins(slug, &mut lists, report).await? {
                continue;
            }
            let bin = lists.bin;
            if !(bin.changed || (create && bin.sha256.is_none())) {
                return Ok(bin.sha256);
            }
            let bin_bytes = self.bin_bytes(home, bin.files)?;
            let written = self
                .put_unless_changed(
                    &IndexPath::Bin(home),
                    bin_bytes,
                    bin.etag.as_deref(),
                    report,
                )
                .await?;
            if written.is_some() {
                return Ok(written);
            }
        }
        Err(IndexError::Contended(IndexPath::Bin(home).relative()))
    }

    /// One of a plugin's version bins as stored now.
    async fn read_version_bin(
        &self,
        slug: &Slug,
        group: VersionGroup,
    ) -> Result<ListEdit, IndexError> {
        let path = IndexPath::VersionBin(slug.clone(), group);
        let list: Current<VersionBin> = self.read_json(&path).await?;
        Ok(ListEdit {
            files: list.value.map(|l| l.files).unwrap_or_default(),
            etag: list.etag,
            sha256: list.sha256,
            changed: false,
        })
    }

    /// Writes the version bins that changed, each unless another writer changed it
    /// since it was read, deletes those left empty, and records what it did in the
    /// plugin's bin; `false` when another writer came first.
    async fn write_version_bins(
        &self,
        slug: &Slug,
        lists: &mut PluginLists,
        report: &mut ChangeReport,
    ) -> Result<bool, IndexError> {
        for (group, list) in std::mem::take(&mut lists.versions) {
            let path = IndexPath::VersionBin(slug.clone(), group);
            if list.files.is_empty() {
                if list.sha256.is_some() {
                    delete_path(self.index.as_ref(), &path).await?;
                    report.deleted.insert(path.clone());
                }
                lists.bin.remove(&path.relative());
                continue;
            }
            let sha = match (list.changed, list.sha256) {
                (false, Some(sha)) => sha,
                _ => {
                    let bytes = self.version_bin_bytes(slug, group, list.files)?;
                    let written = self
                        .put_unless_changed(&path, bytes, list.etag.as_deref(), report)
                        .await?;
                    let Some(sha) = written else {
                        return Ok(false);
                    };
                    sha
                }
            };
            lists.bin.insert(path.relative(), sha);
        }
        Ok(true)
    }

    /// Writes a JSON file unless another writer changed it since it had `etag`
    /// (`None`: it was not there); returns the hash of the bytes written, or `None`
    /// when another writer came first.
    async fn put_unless_changed(
        &self,
        path: &IndexPath,
        bytes: Vec<u8>,
        etag: Option<&str>,
        report: &mut ChangeReport,
    ) -> Result<Option<String>, IndexError> {
        let sha = registry_core::checksum::Sha256Digest::of(&bytes).to_hex();
        let size = bytes.len();
        let put = put_path(
            self.index.as_ref(),
            path,
            &object_at(path, bytes, JSON_CONTENT_TYPE, 200),
            &WriteCondition::unchanged_since(etag),
        )
        .await;
        match put {
            Ok(_) => {
                report.wrote(path, size);
                Ok(Some(sha))
            }
            Err(StorageError::Conflict(Conflict::RevisionChanged)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `file` unless its list already records its bytes (always, on a
    /// `rewrite`), and records it in that list and in `kept`.
    async fn keep_file(
        &self,
        file: RenderedFile,
        rewrite: bool,
        lists: &mut PluginLists,
        kept: &mut BTreeSet<String>,
        report: &mut ChangeReport,
    ) -> Result<(), IndexError> {
        let key = file.path.relative();
        let listing = file.path.listing().ok_or_else(|| {
            IndexError::Storage(StorageError::Corrupt(format!("{key} is listed nowhere")))
        })?;
        if let Listing::VersionBin(slug, group) = &listing
            && let Entry::Vacant(entry) = lists.versions.entry(*group)
        {
            entry.insert(self.read_version_bin(slug, *group).await?);
        }
        let Some(list) = lists.of(&listing) else {
            return Err(IndexError::Storage(StorageError::Corrupt(format!(
                "{key} is listed outside its plugin"
            ))));
        };
        let sha = file.sha256.to_hex();
        if rewrite || list.files.get(&key) != Some(&sha) {
            let size = self.write_rendered(&file).await?;
            report.wrote(&file.path, size);
        }
        list.insert(key.clone(), sha);
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
    pub(super) fn version_bin_bytes(
        &self,
        slug: &Slug,
        group: VersionGroup,
        files: BTreeMap<String, String>,
    ) -> Result<Vec<u8>, IndexError> {
        let list = VersionBin {
            format_version: FORMAT_VERSION,
            plugin: slug.to_string(),
            group: group.to_string(),
            files,
        };
        to_canonical_json(&list)
            .map_err(|e| format_error(&IndexPath::VersionBin(slug.clone(), group), e))
    }
}
