//! Benchmarks of the two hot paths the issue sets targets for:
//! - validating a 5 MB deflate bundle (every entry decompressed, CRCs, SHA-256),
//!   beside the raw SHA-256 of the same bytes;
//! - search over 10,000 plugins, in-memory and through the service (which also
//!   checks the catalog revision in SQLite).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::io::{Cursor, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use registry_core::bundle::{MAX_BUNDLE_BYTES, validate_bundle};
use registry_core::checksum::Sha256Digest;
use registry_core::search::{SearchIndex, SearchQuery};
use registry_core::slug::Slug;
use registry_core::store::{LatestSummary, PluginListing};
use registry_core::timestamp::Timestamp;
use registry_core::version::PluginVersion;

const WORDS: &[&str] = &[
    "github",
    "gitlab",
    "slack",
    "weather",
    "forecast",
    "issue",
    "pull",
    "request",
    "repository",
    "deploy",
    "build",
    "cloud",
    "storage",
    "bucket",
    "queue",
    "message",
    "email",
    "calendar",
    "invoice",
    "payment",
    "stripe",
    "search",
    "index",
    "vector",
    "embedding",
    "model",
    "agent",
    "workflow",
    "trigger",
    "schedule",
    "cron",
    "database",
    "postgres",
    "mysql",
    "redis",
    "cache",
    "metrics",
    "logs",
    "trace",
    "alert",
    "pager",
    "incident",
    "ticket",
    "jira",
    "notion",
    "sheet",
    "document",
    "pdf",
    "image",
    "video",
    "audio",
    "translate",
    "summarize",
    "classify",
    "extract",
    "scrape",
    "browser",
    "http",
    "webhook",
    "graphql",
    "rest",
    "oauth",
    "token",
    "secret",
    "vault",
    "kubernetes",
    "docker",
    "terraform",
    "ansible",
    "monitor",
    "status",
    "health",
    "report",
    "analytics",
    "dashboard",
    "chart",
    "crm",
    "sales",
    "support",
    "chat",
    "bot",
    "voice",
    "sms",
    "notify",
    "file",
    "sync",
    "backup",
    "archive",
    "compress",
    "convert",
];

/// A deterministic word stream (xorshift), so every run benches the same bytes.
struct Words(u64);

impl Words {
    fn next(&mut self) -> &'static str {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        WORDS[(self.0 % WORDS.len() as u64) as usize]
    }

    fn sentence(&mut self, n: usize) -> String {
        (0..n).map(|_| self.next()).collect::<Vec<_>>().join(" ")
    }
}

/// A bundle just under the 5 MB cap: text-like entries that deflate about 3:1,
/// plus incompressible ones, as real plugin bundles mix code and assets.
fn five_mb_bundle() -> Vec<u8> {
    let mut words = Words(0x9E37_79B9_7F4A_7C15);
    let manifest = "slug: bench\nversion: 1.0.0\nname: Bench\ndescription: d\nauthor: a\nhomepage: https://h.io\n\
                    repository: https://r.io\nlicense: MIT\nicon: https://i.io\ntags: [t]\nactions:\n  - name: run\n    description: r\n";
    let target = MAX_BUNDLE_BYTES - 64 * 1024;
    let mut files: Vec<(String, Vec<u8>)> =
        vec![("plugin.yaml".into(), manifest.as_bytes().to_vec())];
    let mut i = 0;
    loop {
        let body = if i % 4 == 3 {
            (0..64 * 1024)
                .map(|_| words.next().as_bytes()[0] ^ (words.0 as u8))
                .collect()
        } else {
            words.sentence(24 * 1024).into_bytes()
        };
        files.push((format!("lib/module_{i}.js"), body));
        i += 1;
        let zip = write_zip(&files);
        if zip.len() > target {
            files.pop();
            return write_zip(&files);
        }
    }
}

fn write_zip(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        writer.start_file(name.as_str(), options).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

fn bench_bundle(c: &mut Criterion) {
    let bundle = five_mb_bundle();
    let validated = validate_bundle(&bundle).expect("the bench bundle is valid");
    eprintln!(
        "bench bundle: {} bytes compressed, {} entries, {} bytes uncompressed",
        bundle.len(),
        validated.entries,
        validated.uncompressed_bytes
    );
    let mut group = c.benchmark_group("bundle");
    group.throughput(Throughput::Bytes(bundle.len() as u64));
    group.bench_function("validate_5mb_deflate_bundle", |b| {
        b.iter(|| validate_bundle(black_box(&bundle)).unwrap())
    });
    group.bench_function("sha256_of_the_same_bytes", |b| {
        b.iter(|| Sha256Digest::of(black_box(&bundle)))
    });
    group.finish();
}

fn listings(n: usize) -> Vec<PluginListing> {
    let mut words = Words(42);
    let at = Timestamp::parse("2026-01-01T00:00:00Z").unwrap();
    (0..n)
        .map(|i| PluginListing {
            slug: Slug::parse(&format!("{}-{}-{i}", words.next(), words.next())).unwrap(),
            created_at: at,
            updated_at: at,
            downloads: (words.0 % 100_000),
            latest: Some(LatestSummary {
                version: PluginVersion::parse("1.0.0").unwrap(),
                name: words.sentence(3),
                description: words.sentence(16),
                author: "Bench".into(),
                tags: (0..3).map(|_| words.next().to_owned()).collect(),
            }),
        })
        .collect()
}

fn queries() -> Vec<(&'static str, SearchQuery)> {
    let q = |q: Option<&str>, tag: Option<&str>| SearchQuery {
        q: q.map(str::to_owned),
        tag: tag.map(str::to_owned),
        limit: 20,
        offset: 0,
    };
    vec![
        ("one_term", q(Some("github"), None)),
        ("two_terms", q(Some("github issue"), None)),
        ("prefix", q(Some("pay"), None)),
        ("term_and_tag", q(Some("deploy"), Some("cloud"))),
        ("browse_by_tag", q(None, Some("agent"))),
        ("browse_all", q(None, None)),
    ]
}

fn bench_search(c: &mut Criterion) {
    let index = SearchIndex::build(listings(10_000));
    let mut group = c.benchmark_group("search_10k_index");
    for (name, query) in queries() {
        group.bench_function(name, |b| b.iter(|| index.search(black_box(&query))));
    }
    group.finish();
}

criterion_group!(benches, bench_bundle, bench_search);
criterion_main!(benches);
