//! The static index end to end over embedded stores: every file kind, the
//! incremental == full rebuild invariant, replay and reordering, the signed chain,
//! and search from the shards.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use proptest::prelude::*;
use registry_core::auth::Caller;
use registry_core::auth::PrincipalId;
use registry_core::downloads::DownloadClient;
use registry_core::manifest::DocumentFormat;
use registry_core::registry::PublishBody;
use registry_core::search::{SearchQuery, index_of_catalog};
use registry_core::slug::Slug;
use registry_core::store::contract::sample_document;
use registry_core::store::{
    CatalogStore, ChangeJournal, ChangeScope, Fetched, FileArtifactStore, IndexObject, IndexStore,
    JournalEntry, LatestSummary, PluginListing, PluginRecord, StorageError, VersionChange,
    VersionRecord, WriteCondition,
};
use registry_core::timestamp::{Clock, ManualClock, Timestamp};
use registry_core::version::PluginVersion;
use registry_core::{Registry, RegistryConfig};
use registry_index::canonical::to_canonical_json;
use registry_index::format::{Bin, Signed, Snapshot, VersionBin};
use registry_index::path::{IndexPath, Shard, VersionGroup};
use registry_index::verify::{VerifyError, verify_file, verify_index};
use registry_index::{
    FileIndexStore, InProcessIndexer, IndexBuilder, IndexSettings, IndexSigningKey, IndexedSearch,
    Rerender,
};
use registry_sqlite::SqliteStore;

const PUBLIC_URL: &str = "https://registry.example.com";

/// A registry over embedded stores whose index is kept by the in-process listener
/// in `dir/incremental`, with a fixed clock and a fixed index key.
struct Env {
    dir: tempfile::TempDir,
    catalog: Arc<SqliteStore>,
    artifacts: Arc<FileArtifactStore>,
    clock: Arc<ManualClock>,
    registry: Registry,
    builder: Arc<IndexBuilder>,
    caller: Caller,
    /// Writes the listener's index store may still make (see [`StopsAfter`]).
    write_budget: Arc<AtomicUsize>,
    /// Names of the threads the listener's index writes ran on.
    write_threads: Arc<std::sync::Mutex<BTreeSet<String>>>,
    /// Keys the listener's index store read through its read cache.
    cached_reads: Arc<std::sync::Mutex<Vec<String>>>,
}

fn key() -> IndexSigningKey {
    IndexSigningKey::from_seed([42; 32])
}

impl Env {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Arc::new(SqliteStore::in_memory().unwrap());
        let artifacts = Arc::new(FileArtifactStore::new(dir.path().join("artifacts")));
        let clock = Arc::new(ManualClock::new(
            Timestamp::parse("2026-01-02T03:04:05Z").unwrap(),
        ));
        let write_budget = Arc::new(AtomicUsize::new(usize::MAX));
        let write_threads = Arc::default();
        let cached_reads = Arc::default();
        let index = StopsAfter {
            inner: FileIndexStore::new(dir.path().join("incremental")),
            budget: Arc::clone(&write_budget),
            threads: Arc::clone(&write_threads),
            cached_reads: Arc::clone(&cached_reads),
        };
        let builder = Arc::new(Self::builder_over(
            &catalog,
            &artifacts,
            &clock,
            Arc::new(index),
        ));
        let registry = Registry::new(
            catalog.clone(),
            artifacts.clone(),
            catalog.clone(),
            clock.clone(),
            RegistryConfig {
                public_url: PUBLIC_URL.to_owned(),
                private: false,
            },
        )
        .with_listener(Arc::new(
            InProcessIndexer::new(
                builder.clone(),
                Some(catalog.clone() as Arc<dyn ChangeJournal>),
            )
            .unwrap(),
        ));
        let admin = registry.bootstrap_admin_key().await.unwrap().unwrap();
        let caller = registry.authenticate(admin.secret.expose()).await.unwrap();
        Self {
            dir,
            catalog,
            artifacts,
            clock,
            registry,
            builder,
            caller,
            write_budget,
            write_threads,
            cached_reads,
        }
    }

    fn builder_into(
        catalog: &Arc<SqliteStore>,
        artifacts: &Arc<FileArtifactStore>,
        clock: &Arc<ManualClock>,
        out: &Path,
    ) -> IndexBuilder {
        Self::builder_over(
            catalog,
            artifacts,
            clock,
            Arc::new(FileIndexStore::new(out)),
        )
    }

    fn builder_over(
        catalog: &Arc<SqliteStore>,
        artifacts: &Arc<FileArtifactStore>,
        clock: &Arc<ManualClock>,
        index: Arc<dyn IndexStore>,
    ) -> IndexBuilder {
        IndexBuilder::new(
            catalog.clone(),
            artifacts.clone(),
            index,
            key(),
            IndexSettings::public(PUBLIC_URL),
            clock.clone(),
        )
    }

    /// A second builder, over a catalog that counts the version records it hands
    /// out, with a full index built in `dir/name`.
    async fn counted_probe(
        &self,
        name: &str,
    ) -> (Arc<CountedRecords>, std::path::PathBuf, IndexBuilder) {
        let counting = Arc::new(CountedRecords::over(&self.catalog));
        let out = self.dir.path().join(name);
        let probe = IndexBuilder::new(
            counting.clone(),
            self.artifacts.clone(),
            Arc::new(FileIndexStore::new(&out)),
            key(),
            IndexSettings::public(PUBLIC_URL),
            self.clock.clone(),
        );
        probe.rebuild(false).await.unwrap();
        (counting, out, probe)
    }

    /// Asserts the index in `dir` verifies with the fixed key, now.
    async fn assert_verifies(&self, dir: &Path) {
        verify_index(
            &FileIndexStore::new(dir),
            &key().public_key(),
            Clock::now(&*self.clock),
        )
        .await
        .unwrap();
    }

    fn incremental_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("incremental")
    }

    /// A full rebuild from the catalog into a fresh directory.
    async fn rebuild_fresh(&self, name: &str) -> std::path::PathBuf {
        let out = self.dir.path().join(name);
        Self::builder_into(&self.catalog, &self.artifacts, &self.clock, &out)
            .rebuild(false)
            .await
            .unwrap();
        out
    }

    async fn publish(&self, slug: &str, version: &str) -> registry_core::registry::Published {
        self.registry
            .publish_version(
                &self.caller,
                PublishBody::Document {
                    bytes: Bytes::from(sample_document(slug, version)),
                    format: DocumentFormat::Yaml,
                },
            )
            .await
            .unwrap()
    }
}

/// An index store that fails every write once its budget is spent: to the index,
/// a process that stopped right there. It notes which threads wrote.
struct StopsAfter {
    inner: FileIndexStore,
    budget: Arc<AtomicUsize>,
    threads: Arc<std::sync::Mutex<BTreeSet<String>>>,
    cached_reads: Arc<std::sync::Mutex<Vec<String>>>,
}

impl StopsAfter {
    fn spend(&self) -> Result<(), StorageError> {
        let thread = std::thread::current();
        self.threads
            .lock()
            .unwrap()
            .insert(thread.name().unwrap_or("unnamed").to_owned());
        self.budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .map(|_| ())
            .map_err(|_| StorageError::Backend("stopped: the write budget is spent".into()))
    }
}

#[async_trait::async_trait]
impl IndexStore for StopsAfter {
    async fn get(&self, key: &str, if_none_match: Option<&str>) -> Result<Fetched, StorageError> {
        self.cached_reads.lock().unwrap().push(key.to_owned());
        self.inner.get(key, if_none_match).await
    }

    async fn get_uncached(
        &self,
        key: &str,
        if_none_match: Option<&str>,
    ) -> Result<Fetched, StorageError> {
        self.inner.get_uncached(key, if_none_match).await
    }

    async fn put(
        &self,
        key: &str,
        object: &IndexObject,
        condition: &WriteCondition,
    ) -> Result<String, StorageError> {
        self.spend()?;
        self.inner.put(key, object, condition).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.spend()?;
        self.inner.delete(key).await
    }
}

/// Every file under `root`, by relative path.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Takes the downloads charts out of `tree` and returns their names: drawn with
/// the day's window, they are the one thing a later rebuild may draw anew.
fn take_charts(tree: &mut BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let names: Vec<String> = tree
        .keys()
        .filter(|k| matches!(IndexPath::parse(k), Some(IndexPath::DownloadsChart(_))))
        .cloned()
        .collect();
    for name in &names {
        tree.remove(name);
    }
    names
}

/// Asserts two index trees are identical file for file, except `timestamp.json`,
/// which records when it was signed (both must name the same snapshot), and the
/// downloads charts, whose window slides with the clock (both must have the same
/// ones, each named by nothing signed).
fn assert_same_index(incremental: &Path, rebuilt: &Path) {
    let mut a = tree(incremental);
    let mut b = tree(rebuilt);
    let drawn = take_charts(&mut a);
    assert_eq!(
        drawn,
        take_charts(&mut b),
        "a rebuild draws every chart the roll-ups drew"
    );
    for chart in &drawn {
        let named = a
            .values()
            .any(|bytes| String::from_utf8_lossy(bytes).contains(&format!("\"{chart}\"")));
        assert!(!named, "{chart} is listed in a signed file");
    }
    let ta: serde_json::Value =
        serde_json::from_slice(&a.remove("timestamp.json").unwrap()).unwrap();
    let tb: serde_json::Value =
        serde_json::from_slice(&b.remove("timestamp.json").unwrap()).unwrap();
    assert_eq!(
        ta["signed"]["snapshot_sha256"],
        tb["signed"]["snapshot_sha256"]
    );
    let keys_a: Vec<&String> = a.keys().collect();
    let keys_b: Vec<&String> = b.keys().collect();
    assert_eq!(keys_a, keys_b, "the same files");
    for (path, bytes) in &a {
        assert!(
            b[path] == *bytes,
            "{path} differs:\nincremental: {}\nrebuilt:     {}",
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&b[path])
        );
    }
}

fn read_json(root: &Path, rel: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(root.join(rel)).unwrap()).unwrap()
}

#[tokio::test]
async fn every_file_kind_is_written_as_snapshotted() {
    let env = Env::new().await;
    env.publish("github", "1.0.0").await;
    env.clock.advance(time::Duration::hours(1));
    env.publish("github", "1.1.0").await;
    env.registry
        .deprecate_version(&env.caller, "github", "1.0.0", "use 1.1.0", Some("1.1.0"))
        .await
        .unwrap();
    env.publish("weather", "0.1.0").await;
    env.registry
        .unpublish_version(&env.caller, "weather", "0.1.0")
        .await
        .unwrap();

    let root = env.incremental_dir();
    // Asset names carry their content's hash, which moves with every stylesheet
    // edit: the snapshot shows where they go, in an order the hash cannot move.
    let files: BTreeSet<String> = tree(&root)
        .into_keys()
        .map(|key| match key.split_once("site.") {
            Some((dir, rest)) if dir.starts_with("assets/") => {
                let (rest, meta) = match rest.strip_suffix(".meta") {
                    Some(rest) => (rest, ".meta"),
                    None => (rest, ""),
                };
                let extension = rest.rsplit('.').next().unwrap_or("");
                format!("{dir}site.[hash].{extension}{meta}")
            }
            _ => key,
        })
        .collect();
    insta::assert_json_snapshot!("written_keys", files);
    // The pages' fingerprint moves with every template change; its presence is
    // what this snapshot shows.
    insta::assert_json_snapshot!("config", read_json(&root, "config.json"), {
        ".pages" => "[fingerprint of the page templates]"
    });
    insta::assert_json_snapshot!("plugin_details", read_json(&root, "plugins/github.json"));
    insta::assert_json_snapshot!(
        "deprecated_version_details",
        read_json(&root, "plugins/github/1.0.0.json")
    );
    insta::assert_json_snapshot!(
        "unpublished_version",
        read_json(&root, "plugins/weather/0.1.0.json")
    );
    let shard = Shard::of(&Slug::parse("github").unwrap());
    insta::assert_json_snapshot!(
        "search_shard",
        read_json(&root, &IndexPath::SearchShard(shard).relative())
    );
    // Hashes and signatures cover the pages too, so they move with every
    // template change: the snapshots show the chain's shape, `verify` its hashes.
    let mut snapshot = read_json(&root, "snapshot.json");
    for sha in snapshot["signed"]["bins"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        *sha = "[sha256]".into();
    }
    insta::assert_json_snapshot!("snapshot", snapshot, {
        ".signatures[].sig" => "[signature]",
    });
    let mut version_bin = read_json(&root, "snapshot/plugins/github/1-0-0.json");
    for sha in version_bin["files"].as_object_mut().unwrap().values_mut() {
        *sha = "[sha256]".into();
    }
    insta::assert_json_snapshot!("version_bin", version_bin);
    insta::assert_json_snapshot!("timestamp", read_json(&root, "timestamp.json"), {
        ".signatures[].sig" => "[signature]",
        ".signed.snapshot_sha256" => "[sha256]",
    });
    assert_eq!(
        std::fs::read_to_string(root.join("plugins/github/1.1.0/schema")).unwrap(),
        sample_document("github", "1.1.0"),
        "the schema document is served exactly as published"
    );
    let gone_meta = read_json(&root, "plugins/weather/0.1.0/.schema.meta");
    assert_eq!(gone_meta["status"], 410);
    assert!(
        !root.join("plugins/weather.json").exists(),
        "a plugin with nothing live has no details"
    );
}

#[tokio::test]
async fn details_files_equal_what_the_api_returned() {
    let env = Env::new().await;
    env.publish("github", "1.0.0").await;
    env.publish("github", "1.2.0").await;
    env.registry
        .deprecate_version(&env.caller, "github", "1.2.0", "broken", None)
        .await
        .unwrap();
    let root = env.incremental_dir();
    let cases = [
        ("plugins/github.json", None),
        ("plugins/github/1.0.0.json", Some("1.0.0")),
        ("plugins/github/1.2.0.json", Some("1.2.0")),
    ];
    for (file, version) in cases {
        let api = serde_json::to_value(
            env.registry
                .plugin_details("github", version)
                .await
                .unwrap(),
        )
        .unwrap();
        let index = read_json(&root, file);
        let (api, index) = (api.as_object().unwrap(), index.as_object().unwrap());
        assert_eq!(
            api.keys().collect::<Vec<_>>(),
            index.keys().collect::<Vec<_>>(),
            "{file}: same fields"
        );
        for (field, value) in api {
            assert_eq!(&index[field], value, "{file}: field {field}");
        }
    }
}

#[tokio::test]
async fn publish_reports_the_new_details_etag() {
    let env = Env::new().await;
    let published = env.publish("github", "1.0.0").await;
    let bytes = std::fs::read(env.incremental_dir().join("plugins/github/1.0.0.json")).unwrap();
    assert_eq!(
        published.details_etag,
        Some(registry_core::store::content_etag(&bytes))
    );
}

#[tokio::test]
async fn replayed_and_reordered_changes_rewrite_nothing_and_match_a_rebuild() {
    let env = Env::new().await;
    for (slug, version) in [
        ("alpha", "1.0.0"),
        ("beta", "1.0.0"),
        ("alpha", "1.1.0"),
        ("gamma", "2.0.0"),
    ] {
        env.publish(slug, version).await;
    }
    let before = tree(&env.incremental_dir());
    let slugs: Vec<Slug> = ["gamma", "alpha", "beta", "alpha"]
        .iter()
        .map(|s| Slug::parse(s).unwrap())
        .collect();
    let report = env.builder.update_plugins(&slugs).await.unwrap();
    assert!(
        report.written.is_empty(),
        "a replay writes nothing: {:?}",
        report.written
    );
    assert_eq!(tree(&env.incremental_dir()), before);

    // An event for an older change delivered after a newer one renders the
    // catalog as it now is, so the order of delivery does not matter.
    env.registry
        .deprecate_version(&env.caller, "alpha", "1.0.0", "old", None)
        .await
        .unwrap();
    env.builder
        .update_plugins(&[Slug::parse("alpha").unwrap()])
        .await
        .unwrap();
    let rebuilt = env.rebuild_fresh("rebuilt").await;
    assert_same_index(&env.incremental_dir(), &rebuilt);
}

/// Two versions committed before either is indexed, and applied one at a time in
/// the wrong order (as nodes draining a journal whose later entry became visible
/// first do): the former latest's files still say "latest" unless the update
/// renders the version the index showed as the latest.
#[tokio::test]
async fn versions_applied_out_of_order_leave_no_stale_latest() {
    let env = Env::new().await;
    env.publish("alpha", "1.0.0").await;
    // The same catalog with no listener: its publishes reach only the journal.
    let unindexed = Registry::new(
        env.catalog.clone(),
        env.artifacts.clone(),
        env.catalog.clone(),
        env.clock.clone(),
        RegistryConfig {
            public_url: PUBLIC_URL.to_owned(),
            private: false,
        },
    );
    for version in ["2.0.0", "2.1.0"] {
        unindexed
            .publish_version(
                &env.caller,
                PublishBody::Document {
                    bytes: Bytes::from(sample_document("alpha", version)),
                    format: DocumentFormat::Yaml,
                },
            )
            .await
            .unwrap();
    }
    let alpha = Slug::parse("alpha").unwrap();
    for version in ["2.1.0", "2.0.0"] {
        let only = Rerender::Only(BTreeSet::from([PluginVersion::parse(version).unwrap()]));
        env.builder
            .update_changed(&BTreeMap::from([(alpha.clone(), only)]))
            .await
            .unwrap();
    }
    let rebuilt = env.rebuild_fresh("rebuilt").await;
    assert_same_index(&env.incremental_dir(), &rebuilt);
}

#[tokio::test]
async fn one_publish_rewrites_its_own_files_and_four_shared_ones() {
    let env = Env::new().await;
    for i in 0..40 {
        env.publish(&format!("plugin-{i}"), "1.0.0").await;
    }
    let slug = Slug::parse("plugin-7").unwrap();
    env.registry
        .update_plugin(
            &env.caller,
            &slug,
            PublishBody::Document {
                bytes: Bytes::from(sample_document("plugin-7", "1.1.0")),
                format: DocumentFormat::Yaml,
            },
        )
        .await
        .unwrap();
    // A second index, built before the next publish, shows what one publish writes.
    let touched = env.dir.path().join("probe");
    let probe = Env::builder_into(&env.catalog, &env.artifacts, &env.clock, &touched);
    probe.rebuild(false).await.unwrap();
    env.registry
        .update_plugin(
            &env.caller,
            &slug,
            PublishBody::Document {
                bytes: Bytes::from(sample_document("plugin-7", "1.2.0")),
                format: DocumentFormat::Yaml,
            },
        )
        .await
        .unwrap();
    let report = probe
        .update_plugins(std::slice::from_ref(&slug))
        .await
        .unwrap();
    let shared: Vec<&IndexPath> = report
        .written
        .iter()
        .filter(|p| p.slug().is_none())
        .collect();
    let shard = Shard::of(&slug);
    assert_eq!(
        shared,
        vec![
            &IndexPath::SearchShard(shard),
            &IndexPath::Bin(shard),
            &IndexPath::Snapshot,
            &IndexPath::Timestamp
        ]
    );
    // The new version and the former latest share one version bin, as a plugin's
    // first 256 releases of a major do.
    let lists: Vec<&IndexPath> = report
        .written
        .iter()
        .filter(|p| matches!(p, IndexPath::VersionBin(..)))
        .collect();
    let group = VersionGroup::of(&PluginVersion::parse("1.2.0").unwrap());
    assert_eq!(lists, vec![&IndexPath::VersionBin(slug.clone(), group)]);
    assert!(
        report
            .written
            .iter()
            .all(|p| p.slug().is_none_or(|s| *s == slug))
    );
}

/// A rebuild in place (as on S3) of an index whose bins list each version's files
/// with their plugin's, as format 1 did: every file stays, each now listed in its
/// version bin, and nothing the old bins listed elsewhere is deleted.
#[tokio::test]
async fn a_rebuild_in_place_moves_an_older_layouts_entries_and_deletes_no_file_still_needed() {
    let env = Env::new().await;
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        env.publish("tide", version).await;
    }
    env.publish("weather", "0.1.0").await;
    let root = env.incremental_dir();
    // What format 1 wrote, signed with the same key: a version's files listed in
    // its plugin's bin.
    let write = |path: &IndexPath, bytes: Vec<u8>| {
        std::fs::write(root.join(path.relative()), bytes).unwrap();
    };
    let mut bins: BTreeMap<Shard, BTreeMap<String, String>> = BTreeMap::new();
    let mut moved = 0;
    for shard in Shard::all() {
        let Ok(bytes) = std::fs::read(root.join(IndexPath::Bin(shard).relative())) else {
            continue;
        };
        let bin: Signed<Bin> = serde_json::from_slice(&bytes).unwrap();
        let files = bins.entry(shard).or_default();
        for (key, sha) in bin.signed.files {
            let path = IndexPath::parse(&key).unwrap();
            if !matches!(path, IndexPath::VersionBin(..)) {
                files.insert(key, sha);
                continue;
            }
            let list: VersionBin =
                serde_json::from_slice(&std::fs::read(root.join(&key)).unwrap()).unwrap();
            moved += list.files.len();
            files.extend(list.files);
            std::fs::remove_file(root.join(&key)).unwrap();
        }
    }
    assert!(moved > 0, "the version bins listed files");
    let config = std::fs::read_to_string(root.join("config.json")).unwrap();
    let config_v1 = config.replace("\"format_version\":2", "\"format_version\":1");
    assert_ne!(config, config_v1);
    let config_sha = registry_core::checksum::Sha256Digest::of(config_v1.as_bytes()).to_hex();
    write(&IndexPath::Config, config_v1.into_bytes());
    for files in bins.values_mut() {
        if let Some(sha) = files.get_mut("config.json") {
            *sha = config_sha.clone();
        }
    }
    let mut snapshot = Snapshot {
        format_version: 1,
        bins: BTreeMap::new(),
    };
    for (shard, files) in bins {
        let signed = key()
            .sign(Bin {
                format_version: 1,
                bin: shard.to_string(),
                files,
            })
            .unwrap();
        let bytes = to_canonical_json(&signed).unwrap();
        snapshot.bins.insert(
            shard.to_string(),
            registry_core::checksum::Sha256Digest::of(&bytes).to_hex(),
        );
        write(&IndexPath::Bin(shard), bytes);
    }
    write(
        &IndexPath::Snapshot,
        to_canonical_json(&key().sign(snapshot).unwrap()).unwrap(),
    );
    assert!(
        !env.builder.is_current().await.unwrap(),
        "a server rebuilds a format 1 index at start"
    );

    // A timestamp naming the new snapshot: the chain is whole and signed, but
    // lists version files where format 2 clients do not look.
    env.builder.renew_timestamp().await.unwrap();
    assert!(matches!(
        verify_index(&FileIndexStore::new(&root), &key().public_key(), Clock::now(&*env.clock)).await,
        Err(VerifyError::NotListed(path)) if path.starts_with("plugins/")
    ));

    env.builder.rebuild(false).await.unwrap();
    env.assert_verifies(&root).await;
    assert!(env.builder.is_current().await.unwrap());
    let rebuilt = env.rebuild_fresh("rebuilt").await;
    assert_same_index(&root, &rebuilt);
}

#[tokio::test]
async fn a_new_version_rewrites_the_plugins_own_files_and_the_former_latest_never_older_ones() {
    let env = Env::new().await;
    let slug = Slug::parse("tide").unwrap();
    env.publish("tide", "1.0.0").await;
    let release = |version: &'static str| {
        env.registry.update_plugin(
            &env.caller,
            &slug,
            PublishBody::Document {
                bytes: Bytes::from(sample_document("tide", version)),
                format: DocumentFormat::Yaml,
            },
        )
    };
    release("1.1.0").await.unwrap();
    release("1.2.0").await.unwrap();
    let probe = Env::builder_into(
        &env.catalog,
        &env.artifacts,
        &env.clock,
        &env.dir.path().join("probe"),
    );
    probe.rebuild(false).await.unwrap();
    release("1.3.0").await.unwrap();
    let report = probe
        .update_plugins(std::slice::from_ref(&slug))
        .await
        .unwrap();
    let v = |raw: &str| PluginVersion::parse(raw).unwrap();
    let own: BTreeSet<IndexPath> = report
        .written
        .iter()
        .filter(|p| p.slug().is_some())
        .cloned()
        .collect();
    let expected: BTreeSet<IndexPath> = [
        IndexPath::PluginDetails(slug.clone()),
        IndexPath::PluginPage(slug.clone()),
        IndexPath::Schema(slug.clone(), v("1.3.0")),
        IndexPath::VersionDetails(slug.clone(), v("1.3.0")),
        IndexPath::VersionPage(slug.clone(), v("1.3.0")),
        // 1.2.0 was the latest: its files lose the plugin's list and counts.
        IndexPath::VersionDetails(slug.clone(), v("1.2.0")),
        IndexPath::VersionPage(slug.clone(), v("1.2.0")),
        // The list of their hashes, which also names 1.0.0's and 1.1.0's.
        IndexPath::VersionBin(slug.clone(), VersionGroup::of(&v("1.3.0"))),
    ]
    .into();
    assert_eq!(own, expected, "1.0.0 and 1.1.0 are left as they were");
}

/// A catalog that notes the most version records it handed out in one answer.
struct CountedRecords {
    inner: Arc<SqliteStore>,
    /// The most version records handed out by one call.
    most: AtomicUsize,
    /// Version records handed out in all.
    total: AtomicUsize,
}

impl CountedRecords {
    fn over(inner: &Arc<SqliteStore>) -> Self {
        Self {
            inner: Arc::clone(inner),
            most: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
        }
    }

    fn handed_out(&self, records: usize) {
        self.most.fetch_max(records, Ordering::SeqCst);
        self.total.fetch_add(records, Ordering::SeqCst);
    }

    /// Version records handed out since the last call.
    fn take_total(&self) -> usize {
        self.total.swap(0, Ordering::SeqCst)
    }
}

registry_core::delegate_download_counters!(CountedRecords, inner);

#[async_trait::async_trait]
impl CatalogStore for CountedRecords {
    async fn plugin(&self, slug: &Slug) -> Result<Option<PluginRecord>, StorageError> {
        self.inner.plugin(slug).await
    }
    async fn plugin_with_versions(
        &self,
        slug: &Slug,
    ) -> Result<Option<(PluginRecord, Vec<VersionRecord>)>, StorageError> {
        let found = self.inner.plugin_with_versions(slug).await?;
        self.handed_out(found.as_ref().map_or(0, |(_, records)| records.len()));
        Ok(found)
    }
    async fn plugins_with_versions_page(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<(PluginRecord, Vec<VersionRecord>)>, StorageError> {
        let page = self.inner.plugins_with_versions_page(after, limit).await?;
        self.handed_out(page.iter().map(|(_, records)| records.len()).sum());
        Ok(page)
    }
    async fn version_records_page(
        &self,
        slug: &Slug,
        after: Option<&PluginVersion>,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError> {
        let page = self.inner.version_records_page(slug, after, limit).await?;
        self.handed_out(page.len());
        Ok(page)
    }
    async fn version(
        &self,
        slug: &Slug,
        version: &PluginVersion,
    ) -> Result<Option<VersionRecord>, StorageError> {
        let found = self.inner.version(slug, version).await?;
        self.handed_out(usize::from(found.is_some()));
        Ok(found)
    }
    async fn slug_with_skeleton(&self, skeleton: &str) -> Result<Option<Slug>, StorageError> {
        self.inner.slug_with_skeleton(skeleton).await
    }
    async fn versions_pending_review(
        &self,
        limit: usize,
    ) -> Result<Vec<VersionRecord>, StorageError> {
        self.inner.versions_pending_review(limit).await
    }

    async fn set_plugin_quarantine(
        &self,
        slug: &Slug,
        expected: u64,
        quarantine: Option<&registry_core::moderation::Quarantine>,
        at: Timestamp,
    ) -> Result<(), StorageError> {
        self.inner
            .set_plugin_quarantine(slug, expected, quarantine, at)
            .await
    }

    async fn create_plugin(
        &self,
        slug: &Slug,
        owner: &PrincipalId,
        first: &VersionRecord,
        latest: Option<&LatestSummary>,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        self.inner
            .create_plugin(slug, owner, first, latest, told)
            .await
    }
    async fn add_version(
        &self,
        slug: &Slug,
        expected: u64,
        record: &VersionRecord,
        latest: Option<&LatestSummary>,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        self.inner
            .add_version(slug, expected, record, latest, told)
            .await
    }
    async fn change_version(
        &self,
        slug: &Slug,
        expected: u64,
        version: &PluginVersion,
        change: &VersionChange,
        latest: Option<&LatestSummary>,
        at: Timestamp,
        told: &[registry_core::webhook::Delivery],
    ) -> Result<(), StorageError> {
        self.inner
            .change_version(slug, expected, version, change, latest, at, told)
            .await
    }
    async fn catalog_revision(&self) -> Result<u64, StorageError> {
        self.inner.catalog_revision().await
    }
    async fn list_plugins(
        &self,
        after: Option<&Slug>,
        limit: usize,
    ) -> Result<Vec<PluginListing>, StorageError> {
        self.inner.list_plugins(after, limit).await
    }
}

/// What one publish costs must not grow with the plugin's history: an update of
/// a plugin with a long one reads its version records a page at a time (before,
/// it read every record, manifests and all, on every publish), and still writes
/// what a full rebuild writes.
#[tokio::test]
async fn an_update_reads_a_long_history_a_page_at_a_time() {
    const VERSIONS: usize = 90;
    let env = Env::new().await;
    for minor in 0..VERSIONS - 1 {
        env.publish("long", &format!("1.{minor}.0")).await;
    }
    env.registry
        .deprecate_version(&env.caller, "long", "1.40.0", "old", None)
        .await
        .unwrap();
    env.registry
        .unpublish_version(&env.caller, "long", "1.41.0")
        .await
        .unwrap();
    let (counting, out, probe) = env.counted_probe("paged").await;
    env.publish("long", &format!("1.{}.0", VERSIONS - 1)).await;
    counting.most.store(0, Ordering::SeqCst);
    let slug = Slug::parse("long").unwrap();
    probe.update_plugins(&[slug]).await.unwrap();
    let most = counting.most.load(Ordering::SeqCst);
    assert!(
        most > 0 && most * 2 < VERSIONS,
        "one update held {most} of the plugin's {VERSIONS} version records at once"
    );
    let rebuilt = env.rebuild_fresh("rebuilt").await;
    assert_same_index(&out, &rebuilt);
    env.assert_verifies(&out).await;
}

/// A journal holding fixed entries, as a catalog write would have left them.
struct FixedJournal(std::sync::Mutex<Vec<JournalEntry>>);

#[async_trait::async_trait]
impl ChangeJournal for FixedJournal {
    async fn pending_changes(&self, limit: usize) -> Result<Vec<JournalEntry>, StorageError> {
        let entries = self.0.lock().unwrap();
        Ok(entries.iter().take(limit).cloned().collect())
    }
    async fn mark_applied(&self, seqs: &[u64]) -> Result<(), StorageError> {
        self.0.lock().unwrap().retain(|e| !seqs.contains(&e.seq));
        Ok(())
    }
}

/// A publish renders the new version and the former latest, not the plugin's
/// whole history (before, every publish rendered every version's page and
/// details again, so its cost grew with the history); a deprecation renders that
/// version and the latest, a downloads roll-up the latest alone. Each leaves
/// what a full rebuild writes.
#[tokio::test]
async fn a_journaled_change_renders_only_the_versions_it_can_have_changed() {
    const VERSIONS: usize = 30;
    let env = Env::new().await;
    for minor in 0..VERSIONS {
        env.publish("long", &format!("1.{minor}.0")).await;
    }
    let (counting, out, probe) = env.counted_probe("scoped").await;
    let slug = Slug::parse("long").unwrap();
    let v = |raw: &str| PluginVersion::parse(raw).unwrap();
    let changes: [(&str, ChangeScope, usize); 4] = [
        // 1.30.0 and 1.29.0, the former latest.
        ("publish", ChangeScope::Version(v("1.30.0")), 2),
        // 1.3.0 and 1.30.0, the latest before and after.
        ("deprecate", ChangeScope::Version(v("1.3.0")), 2),
        // 1.30.0 and 1.29.0, the latest once 1.30.0 is gone.
        ("unpublish", ChangeScope::Version(v("1.30.0")), 2),
        ("roll-up", ChangeScope::Latest, 1),
    ];
    for (seq, (change, scope, expected)) in (1u64..).zip(changes) {
        match change {
            "publish" => {
                env.publish("long", "1.30.0").await;
            }
            "deprecate" => {
                env.registry
                    .deprecate_version(&env.caller, "long", "1.3.0", "old", None)
                    .await
                    .unwrap();
            }
            "unpublish" => {
                env.registry
                    .unpublish_version(&env.caller, "long", "1.30.0")
                    .await
                    .unwrap();
            }
            _ => {
                env.registry
                    .count_download(&slug, &v("1.29.0"), DownloadClient::Other)
                    .await;
                assert_eq!(
                    env.registry.roll_up_downloads().await.unwrap(),
                    std::slice::from_ref(&slug)
                );
            }
        }
        let journal = FixedJournal(std::sync::Mutex::new(vec![JournalEntry {
            seq,
            slug: slug.clone(),
            scope,
        }]));
        counting.take_total();
        probe.apply_journal(&journal).await.unwrap();
        assert_eq!(
            counting.take_total(),
            expected,
            "version records a {change} of one of {VERSIONS} versions renders"
        );
        assert!(
            journal.0.lock().unwrap().is_empty(),
            "the {change} is marked applied"
        );
        if change == "roll-up" {
            probe
                .draw_download_charts(std::slice::from_ref(&slug))
                .await
                .unwrap();
        }
        let rebuilt = env.rebuild_fresh(&format!("rebuilt-{seq}")).await;
        assert_same_index(&out, &rebuilt);
    }
    env.assert_verifies(&out).await;
}

/// What the test interrupts.
#[derive(Debug, Clone, Copy)]
enum Interrupted {
    Publish,
    Deprecate,
    Unpublish,
}

/// A crash can stop an index update after any of its writes; the change journal,
/// committed with the catalog row, still names the plugin, and applying it (as the
/// server does at start) leaves exactly the index a full rebuild writes, verified.
/// Index updates run on the indexer's own thread, never on the request's: the
/// work grows with a plugin's history and would hold up the requests sharing
/// that thread (and fragment its allocator arena).
#[tokio::test]
async fn index_writes_run_on_the_index_writer_thread_alone() {
    let env = Env::new().await;
    env.publish("github", "1.0.0").await;
    env.publish("github", "1.1.0").await;
    env.publish("slack", "1.0.0").await;
    let threads = env.write_threads.lock().unwrap().clone();
    assert_eq!(
        threads.into_iter().collect::<Vec<_>>(),
        ["index-writer"],
        "threads that wrote the index"
    );
}

/// A publish's own reads of its plugin's files (to compare them before a rewrite,
/// or the new details file's ETag for the response) bypass the store's read cache:
/// kept there, each publish's one-off reads would push out files clients read, and
/// the churn grows the heap the allocator keeps (the soak's memory figures).
#[tokio::test]
async fn a_publish_reads_no_plugin_file_through_the_read_cache() {
    let env = Env::new().await;
    env.publish("github", "1.0.0").await;
    env.publish("github", "1.1.0").await;
    let cached = env.cached_reads.lock().unwrap().clone();
    let plugin_files: Vec<&String> = cached
        .iter()
        .filter(|k| IndexPath::parse(k).is_some_and(|p| p.slug().is_some()))
        .collect();
    assert!(
        plugin_files.is_empty(),
        "read through the cache: {plugin_files:?}"
    );
}

#[tokio::test]
async fn an_update_stopped_after_any_write_is_finished_from_the_journal() {
    for interrupted in [
        Interrupted::Publish,
        Interrupted::Deprecate,
        Interrupted::Unpublish,
    ] {
        let mut writes_before_stop = 0;
        loop {
            let env = Env::new().await;
            env.publish("cut", "1.0.0").await;
            env.publish("other", "1.0.0").await;
            env.publish("cut", "1.1.0").await;
            env.write_budget.store(writes_before_stop, Ordering::SeqCst);
            match interrupted {
                Interrupted::Publish => {
                    env.publish("cut", "1.2.0").await;
                }
                Interrupted::Deprecate => {
                    env.registry
                        .deprecate_version(&env.caller, "cut", "1.0.0", "old", None)
                        .await
                        .unwrap();
                }
                Interrupted::Unpublish => {
                    env.registry
                        .unpublish_version(&env.caller, "cut", "1.1.0")
                        .await
                        .unwrap();
                }
            }
            let completed = env.write_budget.load(Ordering::SeqCst) > 0;

            // The restart: a builder with a working store applies the journal.
            let restarted = Env::builder_into(
                &env.catalog,
                &env.artifacts,
                &env.clock,
                &env.incremental_dir(),
            );
            restarted.apply_journal(env.catalog.as_ref()).await.unwrap();
            assert!(
                env.catalog.pending_changes(1).await.unwrap().is_empty(),
                "{interrupted:?} after {writes_before_stop} writes: the journal is drained"
            );
            let store = FileIndexStore::new(env.incremental_dir());
            verify_index(&store, &key().public_key(), Clock::now(&*env.clock))
                .await
                .unwrap_or_else(|e| {
                    panic!("{interrupted:?} stopped after {writes_before_stop} writes: {e}")
                });
            let rebuilt = env.rebuild_fresh("rebuilt").await;
            assert_same_index(&env.incremental_dir(), &rebuilt);
            if completed {
                break;
            }
            writes_before_stop += 1;
            assert!(writes_before_stop < 100, "{interrupted:?} never completes");
        }
        assert!(
            writes_before_stop > 3,
            "{interrupted:?}: only {writes_before_stop} writes were cut"
        );
    }
}

#[tokio::test]
async fn the_signed_chain_verifies_and_catches_tampering_and_staleness() {
    let env = Env::new().await;
    env.publish("github", "1.0.0").await;
    env.publish("weather", "1.0.0").await;
    let root = env.incremental_dir();
    let store = FileIndexStore::new(&root);
    let public = key().public_key();
    let now = Clock::now(&*env.clock);
    let verified = verify_index(&store, &public, now).await.unwrap();
    assert!(verified.files_checked >= 7);

    let details = IndexPath::PluginDetails(Slug::parse("github").unwrap());
    let good = std::fs::read(root.join(details.relative())).unwrap();
    verify_file(&store, &public, now, &details, &good)
        .await
        .unwrap();
    let forged = String::from_utf8(good.clone())
        .unwrap()
        .replace("\"downloads\":0", "\"downloads\":9");
    assert!(matches!(
        verify_file(&store, &public, now, &details, forged.as_bytes()).await,
        Err(VerifyError::HashMismatch { .. })
    ));

    let later = now.plus(time::Duration::days(2));
    assert!(matches!(
        verify_index(&store, &public, later).await,
        Err(VerifyError::Expired { .. })
    ));
    let stranger = IndexSigningKey::from_seed([1; 32]).public_key();
    assert!(matches!(
        verify_index(&store, &stranger, now).await,
        Err(VerifyError::Signature { .. })
    ));

    std::fs::write(root.join(details.relative()), forged).unwrap();
    assert!(matches!(
        verify_index(&store, &public, now).await,
        Err(VerifyError::HashMismatch { path }) if path == details.relative()
    ));
    std::fs::write(root.join(details.relative()), &good).unwrap();

    // A version's files are checked through its version bin, itself by hash.
    let github = Slug::parse("github").unwrap();
    let version = PluginVersion::parse("1.0.0").unwrap();
    let schema = IndexPath::Schema(github.clone(), version.clone());
    let schema_bytes = std::fs::read(root.join(schema.relative())).unwrap();
    verify_file(&store, &public, now, &schema, &schema_bytes)
        .await
        .unwrap();
    assert!(matches!(
        verify_file(&store, &public, now, &schema, b"slug: other").await,
        Err(VerifyError::HashMismatch { path }) if path == schema.relative()
    ));
    let list = IndexPath::VersionBin(github, VersionGroup::of(&version)).relative();
    let list_text = std::fs::read_to_string(root.join(&list)).unwrap();
    let forged_list = list_text.replacen(
        "\"plugins/github/1.0.0/schema\":\"",
        "\"plugins/github/1.0.0/schema\":\"0",
        1,
    );
    assert_ne!(forged_list, list_text);
    std::fs::write(root.join(&list), forged_list).unwrap();
    for result in [
        verify_file(&store, &public, now, &schema, &schema_bytes).await,
        verify_index(&store, &public, now)
            .await
            .map(|v| v.timestamp),
    ] {
        assert!(
            matches!(&result, Err(VerifyError::HashMismatch { path }) if *path == list),
            "{result:?}"
        );
    }
    std::fs::write(root.join(&list), list_text).unwrap();

    let bin = IndexPath::Bin(Shard::of(&Slug::parse("github").unwrap())).relative();
    let bin_text = std::fs::read_to_string(root.join(&bin)).unwrap();
    let (head, tail) = bin_text.split_once("\"sig\":\"").unwrap();
    let flipped = if tail.starts_with('0') { '1' } else { '0' };
    std::fs::write(
        root.join(&bin),
        format!("{head}\"sig\":\"{flipped}{}", &tail[1..]),
    )
    .unwrap();
    // Re-point the snapshot is not possible without the key, so the bin's hash
    // no longer matches what the snapshot signed.
    assert!(matches!(
        verify_index(&store, &public, now).await,
        Err(VerifyError::HashMismatch { path }) if path == bin
    ));
}

#[tokio::test]
async fn search_from_the_shards_answers_like_the_catalog() {
    let env = Env::new().await;
    // Enough plugins to spread over many shards, so every search build thread has
    // some, and to fill more than one batch of a full rebuild.
    let extra: Vec<String> = (0..60).map(|i| format!("tool-{i}")).collect();
    for (slug, version) in [
        ("github", "1.0.0"),
        ("gitlab", "1.0.0"),
        ("weather", "2.0.0"),
        ("github", "1.1.0"),
    ]
    .into_iter()
    .chain(extra.iter().map(|slug| (slug.as_str(), "1.0.0")))
    {
        env.publish(slug, version).await;
    }
    let search = IndexedSearch::new(
        Arc::new(FileIndexStore::new(env.incremental_dir())),
        std::time::Duration::ZERO,
    );
    let agrees_with_the_catalog = async |when: &str| {
        for q in [
            Some("git"),
            Some("weather"),
            Some("tool"),
            None,
            Some("nothing"),
        ] {
            let query =
                SearchQuery::from_params(q.map(str::to_owned), None, Some(100), None).unwrap();
            let from_index = search.search(&query).await.unwrap();
            let from_catalog = index_of_catalog(env.catalog.as_ref())
                .await
                .unwrap()
                .search(&query);
            assert_eq!(from_index, from_catalog, "q={q:?} {when}");
        }
    };
    agrees_with_the_catalog("on the first load").await;
    assert_eq!(search.current_index().await.unwrap().len(), 63);
    let rebuilt = env.rebuild_fresh("rebuilt").await;
    assert_same_index(&env.incremental_dir(), &rebuilt);
    // A change is seen on the next query (revalidated by ETag).
    env.registry
        .unpublish_version(&env.caller, "weather", "2.0.0")
        .await
        .unwrap();
    let query = SearchQuery::from_params(Some("weather".into()), None, None, None).unwrap();
    assert_eq!(search.search(&query).await.unwrap().total, 0);
    // Deprecating an older version moves github's bin but not its search entry: the
    // shard is revalidated, found unchanged, and kept.
    env.registry
        .deprecate_version(&env.caller, "github", "1.0.0", "superseded", None)
        .await
        .unwrap();
    agrees_with_the_catalog("after a change outside the search shards").await;
    // A shard that no longer parses is reported, not served as empty.
    env.publish("gitlab", "1.1.0").await;
    let shard = env
        .incremental_dir()
        .join(IndexPath::SearchShard(Shard::of(&Slug::parse("gitlab").unwrap())).relative());
    std::fs::write(&shard, b"{not json").unwrap();
    let error = search.current_index().await.unwrap_err();
    assert!(
        matches!(&error, StorageError::Corrupt(why) if why.contains("search/")),
        "{error:?}"
    );
}

#[derive(Debug, Clone)]
enum Op {
    /// A new version of plugin `.0`: the next minor, or (`.1`) its release
    /// candidate, which only becomes the latest while no stable version is live.
    Publish(usize, bool),
    Deprecate(usize, usize),
    Unpublish(usize, usize),
    /// Quarantines (`.2`) or lifts the quarantine of version `.1` of plugin `.0`.
    QuarantineVersion(usize, usize, bool),
    /// Quarantines (`.1`) or lifts the quarantine of plugin `.0` as a whole.
    QuarantinePlugin(usize, bool),
    Download(usize, usize),
    RollUp,
    Later,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, prop::bool::weighted(0.3)).prop_map(|(s, rc)| Op::Publish(s, rc)),
        2 => (0..4usize, 0..6usize).prop_map(|(s, v)| Op::Deprecate(s, v)),
        2 => (0..4usize, 0..6usize).prop_map(|(s, v)| Op::Unpublish(s, v)),
        1 => (0..4usize, 0..6usize, any::<bool>()).prop_map(|(s, v, q)| Op::QuarantineVersion(s, v, q)),
        1 => (0..4usize, any::<bool>()).prop_map(|(s, q)| Op::QuarantinePlugin(s, q)),
        1 => (0..4usize, 0..6usize).prop_map(|(s, v)| Op::Download(s, v)),
        1 => Just(Op::RollUp),
        1 => Just(Op::Later),
    ]
}

const SLUGS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];

async fn apply(env: &Env, ops: &[Op]) {
    // Each plugin's versions in the order published; the next minor to use.
    let mut published: BTreeMap<usize, (Vec<String>, u32)> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Publish(s, rc) => {
                let (versions, minor) = published.entry(*s).or_default();
                let version = if *rc {
                    format!("1.{minor}.0-rc.1")
                } else {
                    format!("1.{minor}.0")
                };
                *minor += 1;
                // A release candidate first is refused by nothing; a refusal (a
                // version not above the highest live one) must change nothing.
                let body = PublishBody::Document {
                    bytes: Bytes::from(sample_document(SLUGS[*s], &version)),
                    format: DocumentFormat::Yaml,
                };
                if env
                    .registry
                    .publish_version(&env.caller, body)
                    .await
                    .is_ok()
                {
                    versions.push(version);
                }
            }
            Op::Deprecate(s, v)
            | Op::Unpublish(s, v)
            | Op::QuarantineVersion(s, v, _)
            | Op::Download(s, v) => {
                let Some((versions, _)) = published.get(s).filter(|(v, _)| !v.is_empty()) else {
                    continue;
                };
                let v = &versions[(*v).min(versions.len() - 1)];
                // Refusals (already unpublished, outside the window) are part of
                // the sequence: they must change nothing.
                let _ = match op {
                    Op::Deprecate(..) => env
                        .registry
                        .deprecate_version(&env.caller, SLUGS[*s], v, "superseded", None)
                        .await
                        .map(drop),
                    Op::Unpublish(..) => env
                        .registry
                        .unpublish_version(&env.caller, SLUGS[*s], v)
                        .await
                        .map(drop),
                    Op::QuarantineVersion(_, _, true) => env
                        .registry
                        .quarantine(&env.caller, SLUGS[*s], Some(v), "malware")
                        .await
                        .map(drop),
                    Op::QuarantineVersion(_, _, false) => env
                        .registry
                        .lift_quarantine(&env.caller, SLUGS[*s], Some(v))
                        .await
                        .map(drop),
                    _ => {
                        // A download as the server makes one: sent, then counted.
                        let sent = env.registry.download_schema(SLUGS[*s], v).await;
                        if let Ok(download) = &sent {
                            env.registry
                                .count_download(
                                    &download.slug,
                                    &download.version,
                                    DownloadClient::Other,
                                )
                                .await;
                        }
                        sent.map(drop)
                    }
                };
            }
            Op::QuarantinePlugin(s, quarantine) => {
                let _ = if *quarantine {
                    env.registry
                        .quarantine(&env.caller, SLUGS[*s], None, "malware")
                        .await
                } else {
                    env.registry
                        .lift_quarantine(&env.caller, SLUGS[*s], None)
                        .await
                };
            }
            Op::RollUp => {
                let changed = env.registry.roll_up_downloads().await.unwrap();
                env.builder.draw_download_charts(&changed).await.unwrap();
            }
            Op::Later => env.clock.advance(time::Duration::hours(40)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn incremental_updates_equal_a_full_rebuild(ops in prop::collection::vec(op(), 1..20)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let env = Env::new().await;
            apply(&env, &ops).await;
            if tree(&env.incremental_dir()).is_empty() {
                return Ok(());
            }
            let rebuilt = env.rebuild_fresh("rebuilt").await;
            assert_same_index(&env.incremental_dir(), &rebuilt);
            // Rebuilding over the incremental index (a fresh generation swapped
            // in) leaves every file as it was, but may re-sign the timestamp.
            let timestamp = IndexPath::Timestamp.relative();
            let mut before = tree(&env.incremental_dir());
            Env::builder_into(&env.catalog, &env.artifacts, &env.clock, &env.incremental_dir())
                .rebuild(false)
                .await
                .unwrap();
            let mut after = tree(&env.incremental_dir());
            before.remove(&timestamp);
            after.remove(&timestamp);
            prop_assert_eq!(take_charts(&mut before), take_charts(&mut after));
            prop_assert_eq!(before, after);
            Ok(())
        })?;
    }
}
