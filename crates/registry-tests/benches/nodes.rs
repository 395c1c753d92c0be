//! Three nodes over one PostgreSQL schema and one bucket (moto's S3): sustained
//! publishes per second with writers spread over the nodes, and how long a version
//! published on one node takes to be readable on the others. The nodes are three
//! servers in this process, each with its own connection pool and data directory.
//!
//!     ./scripts/aws-local.sh ./scripts/postgres-local.sh cargo bench -p registry-tests --bench nodes
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

mod common;

use std::time::{Duration, Instant};

use openworkflow_registry::{
    Backend, ServerConfig, Storage, bootstrap_admin_key, open_registry_now, serve,
};

const NODES: usize = 3;
/// Concurrent writers, each publishing versions of a plugin of its own.
const WRITERS: usize = 6;
const PUBLISHES_PER_WRITER: usize = 50;
/// Publishes whose visibility on the other nodes is timed.
const VISIBILITY_SAMPLES: usize = 100;
const PUBLIC_URL: &str = "http://registry.bench";

fn manifest(slug: &str, version: &str) -> String {
    registry_testkit::TestPlugin::new(slug, version).yaml()
}

async fn publish(client: &reqwest::Client, base: &str, key: &str, slug: &str, version: &str) {
    let response = client
        .post(format!("{base}/plugins"))
        .bearer_auth(key)
        .header("content-type", "application/yaml")
        .body(manifest(slug, version))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    if std::env::var_os(registry_testkit::postgres::URL_VARIABLE).is_none()
        || std::env::var_os("AWS_ENDPOINT_URL_S3").is_none()
    {
        println!(
            "needs PostgreSQL and moto: run under ./scripts/aws-local.sh ./scripts/postgres-local.sh"
        );
        return;
    }
    let bucket = common::new_aws_resources("bench-nodes").await;
    let url = registry_testkit::postgres::fresh_schema_url("bench_nodes").await;
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("index.key");
    std::fs::write(
        &key_file,
        registry_index::IndexSigningKey::generate()
            .unwrap()
            .to_hex(),
    )
    .unwrap();

    let mut bases = Vec::new();
    let mut stops = Vec::new();
    let mut dirs = Vec::new();
    let mut admin = None;
    for _ in 0..NODES {
        let data = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        bases.push(format!("http://{}", listener.local_addr().unwrap()));
        let mut config = ServerConfig::embedded(data.path(), PUBLIC_URL);
        config.backend = Backend::Postgres { url: url.clone() };
        config.storage = Storage::S3;
        config.bucket = Some(bucket.clone());
        config.index_key_file = Some(key_file.clone());
        let opened = open_registry_now(&config).await.unwrap();
        if let Some(created) = bootstrap_admin_key(&opened.registry, data.path())
            .await
            .unwrap()
        {
            admin = Some(created.secret.expose().to_owned());
        }
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push((
            stop,
            tokio::spawn(serve(opened, listener, async {
                let _ = stopped.await;
            })),
        ));
        dirs.push(data);
    }
    let admin = admin.unwrap();
    let client = reqwest::Client::new();
    // The first request of each node waits for its start-up work.
    for base in &bases {
        let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
    }

    // Sustained publishes: writers spread over the nodes.
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (client, admin) = (client.clone(), admin.clone());
            let base = bases[w % NODES].clone();
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(PUBLISHES_PER_WRITER);
                for n in 0..PUBLISHES_PER_WRITER {
                    let sent = Instant::now();
                    publish(
                        &client,
                        &base,
                        &admin,
                        &format!("writer-{w}"),
                        &format!("1.0.{n}"),
                    )
                    .await;
                    latencies.push(sent.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for writer in writers {
        latencies.extend(writer.await.unwrap());
    }
    let elapsed = started.elapsed();
    println!(
        "{NODES} nodes, {WRITERS} writers: {} publishes in {:.2} s = {:.1} publishes/s",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64()
    );
    common::report("publish (concurrent, spread over nodes)", latencies);

    // Visibility: published on one node, read by version on the next.
    let mut delays = Vec::with_capacity(VISIBILITY_SAMPLES);
    for n in 0..VISIBILITY_SAMPLES {
        let (writer, reader) = (&bases[n % NODES], &bases[(n + 1) % NODES]);
        let version = format!("2.0.{n}");
        publish(&client, writer, &admin, "visible", &version).await;
        let published = Instant::now();
        loop {
            let status = client
                .get(format!("{reader}/plugins/visible?version={version}"))
                .send()
                .await
                .unwrap()
                .status();
            if status == 200 {
                break;
            }
            assert!(
                published.elapsed() < Duration::from_secs(10),
                "never visible"
            );
        }
        delays.push(published.elapsed());
    }
    common::report("readable on another node after the 201", delays);

    for (stop, server) in stops {
        let _ = stop.send(());
        let _ = server.await;
    }
}
