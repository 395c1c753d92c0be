//! The static index at scale, on a synthetic catalog (embedded stores):
//!
//! - full rebuild time and peak RSS, running the real `index-builder rebuild`;
//! - what one publish into that catalog writes (objects and bytes, shared ones apart);
//! - search: cold load of the sharded search index and query latency p50/p99;
//! - the search page: query and render, p50/p99;
//! - the web catalog's cost: the rebuild rate with and without pages, alternately
//!   `INDEX_BENCH_REBUILDS` times (3 at full scale), medians compared.
//!
//! `cargo bench -p registry-index --bench index_scale` builds 100,000 plugins with
//! 3 versions each (`INDEX_BENCH_PLUGINS` overrides); `cargo test --bench` runs a
//! small catalog once, to prove the bench works. Generating 100,000 plugins takes
//! minutes: `INDEX_BENCH_CATALOG=DIR` generates the catalog into `DIR` once and
//! reuses it on later runs (each run publishes one more version into it).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use registry_core::artifact::{ArtifactKey, StoredArtifact};
use registry_core::auth::PrincipalId;
use registry_core::checksum::Sha256Digest;
use registry_core::manifest::{DocumentFormat, parse_document};
use registry_core::search::SearchQuery;
use registry_core::slug::Slug;
use registry_core::store::{
    ArtifactStore, CatalogStore, FileArtifactStore, LatestSummary, VersionRecord,
};
use registry_core::timestamp::{SystemClock, Timestamp};
use registry_index::{
    FileIndexStore, INDEX_KEY_FILE, IndexBuilder, IndexSettings, IndexSigningKey, IndexedSearch,
};
use registry_sqlite::SqliteStore;

const VOCABULARY: &[&str] = &[
    "github",
    "slack",
    "weather",
    "deploy",
    "cloud",
    "queue",
    "email",
    "calendar",
    "invoice",
    "payment",
    "vector",
    "embedding",
    "agent",
    "workflow",
    "schedule",
    "database",
    "postgres",
    "redis",
    "metrics",
    "alert",
    "incident",
    "ticket",
    "notion",
    "sheet",
    "pdf",
    "image",
    "audio",
    "translate",
    "summarize",
    "classify",
    "scrape",
    "browser",
    "webhook",
    "graphql",
    "oauth",
    "vault",
    "kubernetes",
    "terraform",
    "monitor",
    "report",
    "dashboard",
    "crm",
    "support",
    "chat",
    "voice",
    "notify",
    "backup",
    "archive",
    "convert",
    "sync",
];

/// A deterministic word stream (xorshift), so every run builds the same catalog.
struct Vocabulary(u64);

impl Vocabulary {
    fn word(&mut self) -> &'static str {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        VOCABULARY[(self.0 % VOCABULARY.len() as u64) as usize]
    }

    fn distinct(&mut self, n: usize) -> Vec<&'static str> {
        let mut picked: Vec<&'static str> = Vec::with_capacity(n);
        while picked.len() < n {
            let word = self.word();
            if !picked.contains(&word) {
                picked.push(word);
            }
        }
        picked
    }

    fn words(&mut self, n: usize) -> String {
        (0..n).map(|_| self.word()).collect::<Vec<_>>().join(" ")
    }
}

fn document(slug: &str, version: &str, words: &mut Vocabulary) -> String {
    let tags = words.distinct(3);
    format!(
        "slug: {slug}\nversion: {version}\nname: {name}\ndescription: {description}\nauthor: Example Org\n\
         homepage: https://example.com/{slug}\nrepository: https://github.com/example/{slug}\nlicense: MIT\n\
         icon: https://example.com/{slug}.png\ntags: [{t1}, {t2}, {t3}]\nactions:\n  - name: run\n    description: {action}\n",
        name = words.words(2),
        description = words.words(12),
        t1 = tags[0],
        t2 = tags[1],
        t3 = tags[2],
        action = words.words(6),
    )
}

async fn version_record(
    artifacts: &FileArtifactStore,
    slug: &str,
    version: &str,
    words: &mut Vocabulary,
    at: Timestamp,
) -> VersionRecord {
    let doc = document(slug, version, words);
    let manifest = parse_document(doc.as_bytes(), DocumentFormat::Yaml).unwrap();
    let sha256 = Sha256Digest::of(doc.as_bytes());
    let key = ArtifactKey::schema(
        &manifest.slug,
        &manifest.version,
        &sha256,
        DocumentFormat::Yaml,
    );
    artifacts
        .put_if_absent(&key, Bytes::from(doc.clone()), "application/yaml")
        .await
        .unwrap();
    VersionRecord {
        version: manifest.version.clone(),
        schema: StoredArtifact {
            key,
            sha256,
            size: doc.len() as u64,
            content_type: "application/yaml".into(),
        },
        manifest,
        bundle: None,
        published_at: at,
        published_by: PrincipalId::from_stored("prn_bench"),
        deprecated: None,
        unpublished_at: None,
        quarantined: None,
        review: None,
    }
}

/// Fills `data` with `plugins` plugins of 3 versions each.
async fn generate(data: &std::path::Path, plugins: usize) -> Arc<SqliteStore> {
    std::fs::create_dir_all(data).unwrap();
    let catalog = Arc::new(SqliteStore::open(&data.join("catalog.sqlite3")).unwrap());
    let artifacts = FileArtifactStore::new(data);
    let mut words = Vocabulary(0x2545_F491_4F6C_DD1D);
    let at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    let owner = PrincipalId::from_stored("prn_bench");
    for i in 0..plugins {
        let slug = format!("{}-{i}", words.word());
        let parsed = Slug::parse(&slug).unwrap();
        for (n, version) in ["1.0.0", "1.1.0", "1.2.0"].iter().enumerate() {
            let record = version_record(&artifacts, &slug, version, &mut words, at).await;
            let latest = LatestSummary::of(&record);
            if n == 0 {
                catalog
                    .create_plugin(&parsed, &owner, &record, Some(&latest), &[])
                    .await
                    .unwrap();
            } else {
                let revision = catalog.plugin(&parsed).await.unwrap().unwrap().revision;
                catalog
                    .add_version(&parsed, revision, &record, Some(&latest), &[])
                    .await
                    .unwrap();
            }
        }
    }
    catalog
}

/// How many plugins a catalog lists.
async fn count_plugins(catalog: &SqliteStore) -> usize {
    let mut count = 0;
    let mut after: Option<Slug> = None;
    loop {
        let page = catalog.list_plugins(after.as_ref(), 1_000).await.unwrap();
        count += page.len();
        match page.last() {
            Some(last) if page.len() == 1_000 => after = Some(last.slug.clone()),
            _ => return count,
        }
    }
}

/// Peak resident set size of a live process (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs the real `index-builder rebuild` (with `--no-pages`: without pages),
/// sampling its peak RSS until it exits.
fn rebuild_with_cli(
    data: &std::path::Path,
    out: &std::path::Path,
    no_pages: bool,
) -> (Duration, u64) {
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_index-builder"))
        .args([
            "rebuild",
            "--public-url",
            "https://registry.example.com",
            "--data",
        ])
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(no_pages.then_some("--no-pages"))
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let mut peak = 0;
    loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "rebuild failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (started.elapsed(), peak)
}

/// The run of median time among `runs` (sorted in place).
fn median_run(runs: &mut [(Duration, u64)]) -> (Duration, u64) {
    runs.sort_by_key(|(took, _)| *took);
    runs[runs.len() / 2]
}

/// Cold loads timed unless `INDEX_BENCH_COLD_LOADS` says otherwise; the machine is
/// noisy, so one sample says little.
const COLD_LOADS: usize = 7;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank]
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let plugins: usize = std::env::var("INDEX_BENCH_PLUGINS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 100_000 } else { 2_000 });
    // INDEX_BENCH_DIR=/dev/shm measures the builder rather than the disk's rate of
    // creating small files.
    let dir = match std::env::var_os("INDEX_BENCH_DIR") {
        Some(base) => tempfile::tempdir_in(base).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    println!("working in {}", dir.path().display());
    let kept = std::env::var_os("INDEX_BENCH_CATALOG").map(std::path::PathBuf::from);
    let data = kept.clone().unwrap_or_else(|| dir.path().join("data"));
    let out = dir.path().join("index");

    let reused = kept.is_some() && data.join("catalog.sqlite3").exists();
    let started = Instant::now();
    let (catalog, plugins) = if reused {
        let catalog = Arc::new(SqliteStore::open(&data.join("catalog.sqlite3")).unwrap());
        let count = count_plugins(catalog.as_ref()).await;
        println!("catalog: reusing {count} plugins in {}", data.display());
        (catalog, count)
    } else {
        let catalog = generate(&data, plugins).await;
        println!(
            "catalog: {plugins} plugins x 3 versions generated in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        (catalog, plugins)
    };

    // Without pages (`--no-pages`) and with them, alternately: the
    // same catalog in the same minutes, so the pages' cost reads straight off the
    // medians, and one slow moment of a shared machine does not decide it.
    let rounds: usize = std::env::var("INDEX_BENCH_REBUILDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 3 } else { 1 })
        .max(1);
    let bare = dir.path().join("index-without-pages");
    let mut bare_runs = Vec::new();
    let mut page_runs = Vec::new();
    // Each index is gone before the next rebuild: a tmpfs has inodes for one at a
    // time beside the catalog. The last one with pages stays, for what follows.
    for round in 0..rounds {
        if round > 0 {
            std::fs::remove_dir_all(&out).unwrap();
        }
        bare_runs.push(rebuild_with_cli(&data, &bare, true));
        std::fs::remove_dir_all(&bare).unwrap();
        page_runs.push(rebuild_with_cli(&data, &out, false));
    }
    let (bare_took, bare_peak) = median_run(&mut bare_runs);
    let (took, peak_kib) = median_run(&mut page_runs);
    for (label, took, peak, runs) in [
        ("without pages", bare_took, bare_peak, &bare_runs),
        ("with pages", took, peak_kib, &page_runs),
    ] {
        println!(
            "full rebuild {label} (index-builder rebuild, median of {rounds}): {:.2} s, {:.0} plugins/s, peak RSS {:.1} MiB (runs: {})",
            took.as_secs_f64(),
            plugins as f64 / took.as_secs_f64(),
            peak as f64 / 1024.0,
            runs.iter()
                .map(|(t, _)| format!("{:.2} s", t.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "  pages cost {:.0}% of the rate without them",
        (1.0 - bare_took.as_secs_f64() / took.as_secs_f64()) * 100.0
    );
    let mut plugin_pages: Vec<u64> = std::fs::read_dir(out.join("plugins"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".html"))
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .collect();
    plugin_pages.sort_unstable();
    if let (Some(median), Some(largest)) = (
        plugin_pages.get(plugin_pages.len() / 2),
        plugin_pages.last(),
    ) {
        println!(
            "  plugin pages: median {median} bytes, largest {largest} bytes; home page {} bytes",
            std::fs::metadata(out.join("pages/home.html"))
                .map(|m| m.len())
                .unwrap_or(0)
        );
    }

    // One publish into that catalog, through the incremental path.
    let (key, _) = IndexSigningKey::load_or_create(&data.join(INDEX_KEY_FILE)).unwrap();
    let artifacts = Arc::new(FileArtifactStore::new(&data));
    let builder = IndexBuilder::new(
        catalog.clone(),
        artifacts.clone(),
        Arc::new(FileIndexStore::new(&out)),
        key,
        IndexSettings::public("https://registry.example.com"),
        Arc::new(SystemClock),
    );
    let listed = catalog.list_plugins(None, 1).await.unwrap();
    let slug = listed[0].slug.clone();
    let plugin = catalog.plugin(&slug).await.unwrap().unwrap();
    let mut words = Vocabulary(7);
    // A reused catalog already has the versions earlier runs published.
    let next = format!("2.0.{}", plugin.versions.len() - 3);
    let record = version_record(
        &artifacts,
        slug.as_str(),
        &next,
        &mut words,
        Timestamp::parse("2026-02-01T00:00:00Z").unwrap(),
    )
    .await;
    catalog
        .add_version(
            &slug,
            plugin.revision,
            &record,
            Some(&LatestSummary::of(&record)),
            &[],
        )
        .await
        .unwrap();
    let started = Instant::now();
    let report = builder
        .update_plugins(std::slice::from_ref(&slug))
        .await
        .unwrap();
    let update_took = started.elapsed();
    let size = |p: &registry_index::IndexPath| {
        std::fs::metadata(out.join(p.relative()))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    // Its own files are the plugin's, its pages included; the home page is shared.
    let (own, shared): (Vec<_>, Vec<_>) = report.written.iter().partition(|p| p.slug().is_some());
    println!(
        "one publish: {} objects, {} bytes in {:.1} ms; its own {} objects ({} bytes), shared {} objects ({} bytes: {})",
        report.written.len(),
        report.bytes_written,
        update_took.as_secs_f64() * 1000.0,
        own.len(),
        own.iter().map(|p| size(p)).sum::<u64>(),
        shared.len(),
        shared.iter().map(|p| size(p)).sum::<u64>(),
        shared
            .iter()
            .map(|p| format!("{p} {} B", size(p)))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Search over the shards: cold loads (each into a search service holding
    // nothing, as a new search-function container does), then queries.
    let cold_loads: usize = std::env::var("INDEX_BENCH_COLD_LOADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(COLD_LOADS)
        .max(1);
    let mut colds = Vec::new();
    let mut search = None;
    for _ in 0..cold_loads {
        drop(search.take());
        let fresh = IndexedSearch::new(
            Arc::new(FileIndexStore::new(&out)),
            Duration::from_secs(3600),
        );
        let started = Instant::now();
        let index = fresh.current_index().await.unwrap();
        colds.push(started.elapsed());
        assert_eq!(index.len(), plugins);
        search = Some(fresh);
    }
    let search = search.unwrap();
    let first_cold = colds[0];
    colds.sort();
    // Where the cold load goes: parsing the shards on one core, then building the
    // index (on every core).
    let started = Instant::now();
    let mut hits = Vec::with_capacity(plugins);
    for entry in std::fs::read_dir(out.join("search")).unwrap() {
        let shard: registry_index::format::SearchShard =
            serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        hits.extend(shard.plugins);
    }
    let parsed = started.elapsed();
    let started = Instant::now();
    let built = registry_core::search::SearchIndex::from_hits(hits);
    println!(
        "  apart: read + parse on one core {:.0} ms, build {:.0} ms ({} plugins)",
        parsed.as_secs_f64() * 1000.0,
        started.elapsed().as_secs_f64() * 1000.0,
        built.len()
    );

    let mut words = Vocabulary(99);
    let mut times = Vec::new();
    for i in 0..2_000 {
        let q = match i % 4 {
            0 => words.word().to_owned(),
            1 => format!("{} {}", words.word(), words.word()),
            2 => words.word()[..3].to_owned(),
            _ => format!("{} {}", words.word(), &words.word()[..2]),
        };
        let query = SearchQuery::from_params(Some(q), None, Some(20), None).unwrap();
        let started = Instant::now();
        let page = search.search(&query).await.unwrap();
        times.push(started.elapsed());
        std::hint::black_box(page);
    }
    times.sort();

    // The search page: the same query, then the page rendered from its results,
    // as `/search` does per request.
    let site = registry_pages::Site::new("https://registry.example.com");
    let mut words = Vocabulary(99);
    let mut page_times = Vec::new();
    let mut page_bytes = 0;
    for i in 0..2_000 {
        let q = match i % 2 {
            0 => words.word().to_owned(),
            _ => format!("{} {}", words.word(), words.word()),
        };
        let request = registry_pages::SearchRequest {
            q: Some(q),
            tag: None,
            page: 1 + i % 3,
        };
        let started = Instant::now();
        let query = SearchQuery::from_params(
            request.q.clone(),
            None,
            Some(registry_pages::RESULTS_PER_PAGE),
            Some(request.offset()),
        )
        .unwrap();
        let found = search.search(&query).await.unwrap();
        let html = registry_pages::search_page(&site, &request, &found).unwrap();
        page_times.push(started.elapsed());
        page_bytes = page_bytes.max(html.len());
    }
    page_times.sort();
    println!(
        "search page at {plugins} plugins: p50 {:.3} ms, p99 {:.3} ms (query and render; largest page {page_bytes} bytes)",
        percentile(&page_times, 0.50).as_secs_f64() * 1000.0,
        percentile(&page_times, 0.99).as_secs_f64() * 1000.0
    );
    println!(
        "search at {plugins} plugins: cold load median {:.0} ms (first {:.0} ms, range {:.0}-{:.0} ms over {cold_loads}); query p50 {:.3} ms, p99 {:.3} ms",
        percentile(&colds, 0.50).as_secs_f64() * 1000.0,
        first_cold.as_secs_f64() * 1000.0,
        colds[0].as_secs_f64() * 1000.0,
        colds[colds.len() - 1].as_secs_f64() * 1000.0,
        percentile(&times, 0.50).as_secs_f64() * 1000.0,
        percentile(&times, 0.99).as_secs_f64() * 1000.0
    );
}
