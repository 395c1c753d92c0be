//! Several nodes, one registry: three `serve` processes on one PostgreSQL schema
//! and one bucket give the same answers, take turns writing the signed index, and
//! finish what a node killed mid-burst left in the journal.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use registry_core::timestamp::{Clock, SystemClock};
use registry_index::{FileIndexStore, IndexBuilder, IndexSettings, IndexSigningKey, IndexStore};

use super::{BIN, Server, assert_readable, publish_version};

/// The address every node names in the shared index.
const PUBLIC_URL: &str = "http://registry.test";
/// How long a write may take to show on every node before the test fails (the
/// delay itself is a benchmark figure).
const VISIBLE_WITHIN: Duration = Duration::from_secs(10);

/// One registry's shared settings: database, bucket, key and public URL.
struct Shared {
    database_url: String,
    bucket: String,
    key_file: std::path::PathBuf,
    _key_dir: tempfile::TempDir,
}

impl Shared {
    async fn new(tag: &str) -> Self {
        assert!(
            std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
            "needs moto's S3 and PostgreSQL: run ./scripts/test.sh"
        );
        let key_dir = tempfile::tempdir().unwrap();
        let key_file = key_dir.path().join("index.key");
        std::fs::write(
            &key_file,
            format!("{}\n", IndexSigningKey::generate().unwrap().to_hex()),
        )
        .unwrap();
        Self {
            database_url: registry_testkit::postgres::fresh_schema_url(tag).await,
            bucket: super::spec_config::new_bucket(tag),
            key_file,
            _key_dir: key_dir,
        }
    }

    /// The variables a node runs with; `with_key: false` leaves the node to make a
    /// key of its own.
    fn envs(&self, with_key: bool) -> Vec<(&str, &str)> {
        let mut envs = vec![
            ("DATABASE_URL", self.database_url.as_str()),
            ("STORAGE_BACKEND", "s3"),
            ("S3_BUCKET", self.bucket.as_str()),
            ("OPENWORKFLOW_REGISTRY_PUBLIC_URL", PUBLIC_URL),
        ];
        if with_key {
            envs.push((
                "OPENWORKFLOW_REGISTRY_INDEX_KEY_FILE",
                self.key_file.to_str().unwrap(),
            ));
        }
        envs
    }

    fn key(&self) -> IndexSigningKey {
        IndexSigningKey::from_hex(&std::fs::read_to_string(&self.key_file).unwrap()).unwrap()
    }

    fn s3_index(&self, clients: &registry_aws::AwsClients) -> registry_aws::S3IndexStore {
        registry_aws::S3IndexStore::new(clients.s3.clone(), self.bucket.clone())
    }
}

/// Starts a node over `data` with `envs`, on a thread of its own so several start
/// at once.
fn start_node(data: &Path, envs: &[(&str, &str)]) -> std::thread::JoinHandle<Server> {
    let data = data.to_owned();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    std::thread::spawn(move || {
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Server::start(&data, &envs)
    })
}

/// Polls until `slug@version` answers 200 by version at `base`; returns how long
/// it took, failing after [`VISIBLE_WITHIN`].
async fn visible_after(
    client: &reqwest::Client,
    base: &str,
    slug: &str,
    version: &str,
) -> Duration {
    let started = Instant::now();
    loop {
        let answer = client
            .get(format!("{base}/plugins/{slug}?version={version}"))
            .send()
            .await
            .unwrap();
        if answer.status() == 200 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < VISIBLE_WITHIN,
            "{slug}@{version} is not readable at {base} after {VISIBLE_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_on_one_database_and_bucket_are_one_registry() {
    let shared = Shared::new("nodes").await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // Started together on an empty bucket: one builds the index, one makes the
    // admin key, and none rebuilds what another built.
    let starting: Vec<_> = dirs
        .iter()
        .map(|dir| start_node(dir.path(), &shared.envs(true)))
        .collect();
    let mut nodes: Vec<Server> = starting.into_iter().map(|s| s.join().unwrap()).collect();
    let client = reqwest::Client::new();
    for node in &nodes {
        // A node accepts once its start-up work (the index's check) is done.
        let ready = client.get(format!("{}/readyz", node.base)).send().await;
        assert_eq!(ready.unwrap().status(), 200);
    }
    let rebuilt = nodes
        .iter()
        .filter(|n| {
            n.log
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("index rebuilt"))
        })
        .count();
    assert_eq!(rebuilt, 1, "one node builds the new index");
    let keyed: Vec<&tempfile::TempDir> = dirs
        .iter()
        .filter(|d| d.path().join("admin.key").exists())
        .collect();
    assert_eq!(keyed.len(), 1, "one node makes the admin key");
    let admin = std::fs::read_to_string(keyed[0].path().join("admin.key")).unwrap();
    let admin = admin.trim().to_owned();

    // A write on any node is readable on every node.
    for (n, slug) in ["north", "south", "east", "west", "up", "down"]
        .into_iter()
        .enumerate()
    {
        let writer = &nodes[n % 3].base;
        let status = publish_version(&client, writer, &admin, slug, "1.0.0").await;
        assert_eq!(status.unwrap(), 201, "{slug} on node {}", n % 3);
        for node in &nodes {
            visible_after(&client, &node.base, slug, "1.0.0").await;
        }
    }
    for node in &nodes {
        assert_readable(&client, &node.base, "west", "1.0.0").await;
    }

    // Sixteen racing publishes of one version across the nodes: one wins.
    let racers: Vec<_> = (0..16)
        .map(|i| {
            let (client, base, admin) = (client.clone(), nodes[i % 3].base.clone(), admin.clone());
            tokio::spawn(async move {
                publish_version(&client, &base, &admin, "contested", "1.0.0")
                    .await
                    .unwrap()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = BTreeMap::new();
    for racer in racers {
        *statuses.entry(racer.await.unwrap()).or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        BTreeMap::from([(201, 1), (409, 15)]),
        "{statuses:?}"
    );

    // A burst over every node; one node is killed in the middle of it.
    let accepted: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    let writers: Vec<_> = (0..6u64)
        .map(|writer| {
            let (client, admin, accepted) = (client.clone(), admin.clone(), Arc::clone(&accepted));
            let base = bases[usize::try_from(writer % 3).unwrap()].clone();
            tokio::spawn(async move {
                let started = Instant::now();
                for n in 0.. {
                    if started.elapsed() > Duration::from_secs(3) {
                        return;
                    }
                    let slug = ["north", "south", "east"][usize::try_from(n % 3).unwrap()];
                    let version = format!("2.{writer}.{n}");
                    match publish_version(&client, &base, &admin, slug, &version).await {
                        Ok(status) if status == 201 => {
                            accepted.lock().unwrap().push((slug.to_owned(), version));
                        }
                        Ok(status) => panic!("{slug}@{version} at {base}: {status}"),
                        // The killed node's writers stop there.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    nodes.remove(0).kill();
    for writer in writers {
        writer.await.unwrap();
    }
    // One more write drains whatever the killed node committed but never applied.
    let status = publish_version(&client, &nodes[0].base, &admin, "after", "1.0.0").await;
    assert_eq!(status.unwrap(), 201);
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() > 10,
        "the burst published: {}",
        accepted.len()
    );
    for node in &nodes {
        for (slug, version) in &accepted {
            assert_readable(&client, &node.base, slug, version).await;
        }
    }

    // A node with a key of its own refuses the shared index instead of re-signing it.
    let stray = tempfile::tempdir().unwrap();
    let refused = run_to_exit(stray.path(), &shared.envs(false));
    assert!(!refused.status.success(), "a node with another key starts");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("index key") && said.contains("OPENWORKFLOW_REGISTRY_INDEX_KEY_FILE"),
        "{said}"
    );

    for node in nodes {
        node.terminate();
    }
    let clients = registry_aws::AwsClients::from_env(registry_aws::s3_needs_path_style()).await;
    let store = shared.s3_index(&clients);
    let verified =
        registry_index::verify::verify_index(&store, &shared.key().public_key(), SystemClock.now())
            .await
            .unwrap_or_else(|e| panic!("the shared index does not verify: {e}"));
    assert!(verified.files_checked > 20, "{}", verified.files_checked);
    assert_rebuild_matches(&shared, &clients).await;
}

/// A full rebuild from the shared catalog, into a directory of its own, writes the
/// files the nodes wrote, byte for byte; of the chain's two files, which record when
/// and how often the index was signed, the snapshot names the same bins.
async fn assert_rebuild_matches(shared: &Shared, clients: &registry_aws::AwsClients) {
    let catalog = Arc::new(
        registry_postgres::PostgresStore::connect(&shared.database_url)
            .await
            .unwrap(),
    );
    let artifacts = Arc::new(registry_aws::S3ArtifactStore::new(
        clients.s3.clone(),
        shared.bucket.clone(),
    ));
    let dir = tempfile::tempdir().unwrap();
    let builder = IndexBuilder::new(
        catalog,
        artifacts,
        Arc::new(FileIndexStore::new(dir.path().to_owned())) as Arc<dyn IndexStore>,
        shared.key(),
        IndexSettings::public(PUBLIC_URL.to_owned()),
        Arc::new(SystemClock),
    );
    builder.rebuild(false).await.unwrap();
    let rebuilt = files_under(dir.path());
    let mut written = files_in_bucket(clients, &shared.bucket).await;
    // Downloads charts are drawn by roll-ups; none ran in this test.
    let bins = |files: &BTreeMap<String, Vec<u8>>| {
        let snapshot: serde_json::Value = serde_json::from_slice(&files["snapshot.json"]).unwrap();
        snapshot["signed"]["bins"].clone()
    };
    let (written_bins, rebuilt_bins) = (bins(&written), bins(&rebuilt));
    let mut rebuilt = rebuilt;
    for chain in ["snapshot.json", "timestamp.json"] {
        written.remove(chain);
        rebuilt.remove(chain);
    }
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        rebuilt.keys().collect::<Vec<_>>(),
        "the same files"
    );
    for (path, bytes) in &written {
        if rebuilt[path] != *bytes {
            let (ours, theirs) = (
                String::from_utf8_lossy(bytes),
                String::from_utf8_lossy(&rebuilt[path]),
            );
            let differing: Vec<(&str, &str)> = ours
                .lines()
                .zip(theirs.lines())
                .filter(|(a, b)| a != b)
                .take(5)
                .collect();
            panic!("{path} differs from a rebuild's; first lines (nodes, rebuilt): {differing:#?}");
        }
    }
    assert_eq!(
        written_bins, rebuilt_bins,
        "the snapshots name the same bins"
    );
}

/// Every index file in `bucket` (under `index/`), by its path in the index.
async fn files_in_bucket(
    clients: &registry_aws::AwsClients,
    bucket: &str,
) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pages = clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("index/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for object in page.unwrap().contents() {
            let key = object.key().unwrap();
            let body = clients
                .s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .unwrap()
                .body
                .collect()
                .await
                .unwrap()
                .into_bytes();
            files.insert(key.trim_start_matches("index/").to_owned(), body.to_vec());
        }
    }
    files
}

/// Every index file under `root`, by its path relative to it.
fn files_under(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if !path.file_name().unwrap().to_str().unwrap().starts_with('.') {
                // (Dot files hold what a bucket keeps as object metadata.)
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_owned();
                files.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Runs `serve` over `data` with `envs` and waits (30 s at most) for it to exit on
/// its own.
fn run_to_exit(data: &Path, envs: &[(&str, &str)]) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("serve did not stop on its own");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}
