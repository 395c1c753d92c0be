//! One health pass over 1,000 registered MCP router instances on loopback, 100 of
//! them slower than the check timeout, on the embedded backend. The issue's bound:
//! a pass takes at most (ceil(slow / concurrency) + 1) x timeout.
//!
//!     cargo bench -p registry-tests --bench health_pass
//!
//! Without `--bench` (as `cargo test` runs it) it makes one pass per setting, to
//! prove the bench still works.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use openworkflow_registry::{ServerConfig, bootstrap_admin_key, open_registry_now};
use registry_core::manifest::DocumentFormat;
use registry_core::registry::{NewRegistration, PublishBody};

const INSTANCES: usize = 1_000;
const SLOW: usize = 100;
const TIMEOUT: Duration = Duration::from_secs(1);

/// Loopback servers answering `/healthz/{i}`: the spec's answer at once, or after
/// twice the timeout for every tenth instance.
async fn start_servers(count: usize) -> Vec<String> {
    let mut bases = Vec::new();
    for _ in 0..count {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        bases.push(format!("http://{}", listener.local_addr().unwrap()));
        let app = axum::Router::new().route(
            "/healthz/{i}",
            axum::routing::get(
                |axum::extract::Path(i): axum::extract::Path<usize>| async move {
                    if is_slow(i) {
                        tokio::time::sleep(TIMEOUT * 2).await;
                    }
                    (
                        [("content-type", "application/json")],
                        r#"{"status":"ok","version":"1.0.0","checks":{"db":"healthy"}}"#,
                    )
                },
            ),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    bases
}

fn is_slow(i: usize) -> bool {
    i.is_multiple_of(INSTANCES / SLOW)
}

async fn measure(concurrency: usize, passes: usize, servers: &[String]) {
    let data = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::embedded(data.path(), "http://127.0.0.1:1");
    config.router.policy.allow_loopback = true;
    config.router.check_concurrency = concurrency;
    // Nothing leaves the table while measuring, so every pass checks all 1,000.
    config.router.failure_threshold = u32::MAX;
    config.check_timeout = TIMEOUT;
    let opened = open_registry_now(&config).await.unwrap();
    let registry = opened.registry;
    let admin = bootstrap_admin_key(&registry, data.path())
        .await
        .unwrap()
        .unwrap();
    let caller = registry.authenticate(admin.secret.expose()).await.unwrap();
    let manifest = "slug: weather\nversion: 1.0.0\nname: Weather\ndescription: Forecasts\nauthor: A\n\
        homepage: https://example.com\nrepository: https://github.com/example/weather\nlicense: MIT\n\
        icon: https://example.com/i.svg\ntags: [weather]\nactions:\n  - name: get_forecast\n    description: Forecast\n";
    registry
        .publish_version(
            &caller,
            PublishBody::Document {
                bytes: Bytes::from(manifest),
                format: DocumentFormat::Yaml,
            },
        )
        .await
        .unwrap();
    for i in 0..INSTANCES {
        let base = &servers[i % servers.len()];
        registry
            .register_instance(
                &caller,
                NewRegistration {
                    plugin_slug: "weather".into(),
                    version: "1.0.0".into(),
                    url: base.clone(),
                    actions: vec!["get_forecast".into()],
                    health_check_url: format!("{base}/healthz/{i}"),
                    instance_id: format!("weather-{i}"),
                    region: None,
                },
            )
            .await
            .unwrap();
    }
    let bound = TIMEOUT * (SLOW.div_ceil(concurrency) as u32 + 1);
    let mut times = Vec::new();
    for _ in 0..passes {
        let started = Instant::now();
        let report = registry.run_health_pass().await.unwrap();
        times.push(started.elapsed());
        assert_eq!(report.checked, INSTANCES);
        assert_eq!(report.passed, INSTANCES - SLOW, "{report:?}");
        assert_eq!(report.failed, SLOW, "{report:?}");
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "| {concurrency} | {:.2} s | {:.2} s | {:.2} s | {} |",
        median.as_secs_f64(),
        times[times.len() - 1].as_secs_f64(),
        bound.as_secs_f64(),
        if times[times.len() - 1] <= bound {
            "yes"
        } else {
            "NO"
        }
    );
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let passes = if full { 5 } else { 1 };
    let servers = start_servers(4).await;
    println!(
        "\nOne health pass: {INSTANCES} instances on loopback, {SLOW} slower than the {}s timeout ({passes} passes each)\n",
        TIMEOUT.as_secs()
    );
    println!("| concurrency | median | slowest | bound (ceil({SLOW}/c)+1) x timeout | within |");
    println!("| --- | --- | --- | --- | --- |");
    for concurrency in [64, 16] {
        measure(concurrency, passes, &servers).await;
    }
}
