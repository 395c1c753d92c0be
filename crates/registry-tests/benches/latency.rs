//! Publish, details and search latency through HTTP, on the embedded backend, on
//! PostgreSQL (artifacts and index in the data directory, then in moto's bucket),
//! and on the aws backend against DynamoDB Local and moto. Run with the local
//! servers up:
//!
//!     ./scripts/aws-local.sh ./scripts/postgres-local.sh cargo bench -p registry-tests --bench latency
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

mod common;

use std::time::{Duration, Instant};

use openworkflow_registry::{
    Backend, ServerConfig, Storage, bootstrap_admin_key, init_aws, open_registry_now,
    s3_needs_path_style, serve,
};

const PUBLISHES: usize = 200;
const DETAIL_READS: usize = 1_000;
const SEARCHES: usize = 1_000;
const CATALOG_UPLOADS: usize = 100;
const LARGE_UPLOADS: usize = 10;
const CATALOG_READS: usize = 500;
/// Incompressible bytes in the large uploads: a ZIP just under the 5 MB cap.
const LARGE_PAYLOAD_BYTES: usize = 5 * 1024 * 1024 - 4 * 1024;

/// A catalog ZIP: the manifest (with a settings form) and `payload` as one stored file.
fn catalog_zip(slug: &str, version: &str, payload: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let manifest = format!(
        "{}settings_schema:\n  type: object\n  properties:\n    api_key: {{type: string, writeOnly: true}}\n",
        manifest(slug, version)
    );
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("plugin.yaml", stored).unwrap();
    zip.write_all(manifest.as_bytes()).unwrap();
    zip.start_file("agent/data.bin", stored).unwrap();
    zip.write_all(payload).unwrap();
    zip.finish().unwrap().into_inner()
}

/// Org-catalog uploads (small and near the 5 MB cap) and reads, as a member of one
/// org with the write permission.
async fn org_catalog(backend_name: &str, base: &str, key: &str, client: &reqwest::Client) {
    let call = |method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(key)
    };
    registry_testkit::admin_joins_new_org(client, base, key, "bench").await;
    let upload = |zip: Vec<u8>| {
        call(reqwest::Method::POST, "/api/orgs/bench/plugins/upload")
            .header("content-type", "application/zip")
            .header("content-disposition", "attachment; filename=\"plugin.zip\"")
            .body(zip)
            .send()
    };
    let mut small = Vec::with_capacity(CATALOG_UPLOADS);
    for i in 0..CATALOG_UPLOADS {
        let zip = catalog_zip(&format!("agent-{i}"), "1.0.0", b"print('hello')\n");
        let started = Instant::now();
        let response = upload(zip).await.unwrap();
        small.push(started.elapsed());
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    report(backend_name, "catalog upload (1 KiB ZIP)", small);

    let mut payload = vec![0u8; LARGE_PAYLOAD_BYTES];
    getrandom::fill(&mut payload).unwrap();
    let mut large = Vec::with_capacity(LARGE_UPLOADS);
    for i in 0..LARGE_UPLOADS {
        let zip = catalog_zip("large-agent", &format!("1.0.{i}"), &payload);
        assert!(zip.len() <= 5 * 1024 * 1024);
        let started = Instant::now();
        let response = upload(zip).await.unwrap();
        large.push(started.elapsed());
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    report(backend_name, "catalog upload (5 MB ZIP)", large);

    for (what, path) in [
        ("catalog list (101 plugins)", "/api/orgs/bench/plugins"),
        (
            "settings-schema",
            "/api/orgs/bench/plugins/agent-7/settings-schema",
        ),
    ] {
        let mut reads = Vec::with_capacity(CATALOG_READS);
        for _ in 0..CATALOG_READS {
            let started = Instant::now();
            let response = call(reqwest::Method::GET, path).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let _ = response.bytes().await.unwrap();
            reads.push(started.elapsed());
        }
        report(backend_name, what, reads);
    }
}

fn manifest(slug: &str, version: &str) -> String {
    format!(
        "slug: {slug}\nversion: {version}\nname: Bench {slug}\ndescription: Latency benchmark plugin\nauthor: Bench\n\
         homepage: https://example.com\nrepository: https://github.com/example/bench\nlicense: MIT\n\
         icon: https://example.com/i.svg\ntags: [bench, latency]\nactions:\n  - name: run\n    description: Run it\n"
    )
}

fn report(backend: &str, what: &str, samples: Vec<Duration>) {
    common::report(&format!("{backend:>8} {what}"), samples);
}

async fn run(backend_name: &str, backend: Backend, storage: Storage, bucket: Option<String>) {
    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = ServerConfig::embedded(data.path(), base.clone());
    config.backend = backend;
    config.storage = storage;
    config.bucket = bucket;
    let opened = open_registry_now(&config).await.unwrap();
    let admin = bootstrap_admin_key(&opened.registry, data.path())
        .await
        .unwrap()
        .unwrap();
    let key = admin.secret.expose().to_owned();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(opened, listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();

    let mut publishes = Vec::with_capacity(PUBLISHES);
    for i in 0..PUBLISHES {
        // Half new plugins, half new versions of an existing one: both write paths.
        let (slug, version) = if i % 2 == 0 {
            (format!("bench-{i}"), "1.0.0".to_owned())
        } else {
            ("bench-0".to_owned(), format!("1.0.{i}"))
        };
        let body = manifest(&slug, &version);
        let started = Instant::now();
        let response = client
            .post(format!("{base}/plugins"))
            .bearer_auth(&key)
            .header("content-type", "application/yaml")
            .body(body)
            .send()
            .await
            .unwrap();
        publishes.push(started.elapsed());
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    report(backend_name, "publish", publishes);

    let mut reads = Vec::with_capacity(DETAIL_READS);
    for i in 0..DETAIL_READS {
        let slug = format!("bench-{}", (i * 2) % PUBLISHES);
        let started = Instant::now();
        let response = client
            .get(format!("{base}/plugins/{slug}"))
            .send()
            .await
            .unwrap();
        let _ = response.bytes().await.unwrap();
        reads.push(started.elapsed());
    }
    report(backend_name, "details", reads);

    let mut searches = Vec::with_capacity(SEARCHES);
    for i in 0..SEARCHES {
        let query = ["bench", "latency", "bench-4", "plugin"][i % 4];
        let started = Instant::now();
        let response = client
            .get(format!("{base}/plugins/search?q={query}&limit=10"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let _ = response.bytes().await.unwrap();
        searches.push(started.elapsed());
    }
    report(backend_name, "search", searches);
    org_catalog(backend_name, &base, &key, &client).await;
    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--test") {
        // `cargo test --benches` runs benches as tests; there is nothing to check here.
        return;
    }
    run(
        "embedded",
        Backend::Embedded { file: None },
        Storage::Filesystem,
        None,
    )
    .await;
    let aws_up = std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some();
    if std::env::var_os(registry_testkit::postgres::URL_VARIABLE).is_some() {
        let url = registry_testkit::postgres::fresh_schema_url("bench_pg").await;
        run(
            "postgres",
            Backend::Postgres { url },
            Storage::Filesystem,
            None,
        )
        .await;
        if aws_up {
            let bucket = common::new_aws_resources("bench-pg").await;
            let url = registry_testkit::postgres::fresh_schema_url("bench_pg_s3").await;
            run(
                "pg+s3",
                Backend::Postgres { url },
                Storage::S3,
                Some(bucket),
            )
            .await;
        }
    } else {
        println!("postgres skipped: run under ./scripts/postgres-local.sh to measure it");
    }
    if !aws_up {
        println!(
            "aws backend skipped: run under ./scripts/aws-local.sh to measure it against DynamoDB Local and moto"
        );
        return;
    }
    let name = format!("bench-{}", std::process::id());
    let settings = registry_aws::AwsSettings {
        table: name.clone(),
        bucket: name.clone(),
        force_path_style: s3_needs_path_style(),
    };
    init_aws(&settings).await.unwrap();
    run(
        "aws",
        Backend::Aws {
            table: name.clone(),
        },
        Storage::S3,
        Some(name),
    )
    .await;
}
