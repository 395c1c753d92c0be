//! Webhooks against publishing, through HTTP with the server in process and a
//! receiver on loopback that answers 204 at once:
//!
//! - publish latency of a plugin with no subscription and of one with ten
//!   (each of its publishes stores ten deliveries; sending them is the delivery
//!   worker's job, so the publish should not wait for it), published in turn so
//!   that both grow alike;
//! - how long after a publish's `201` its last delivery arrives;
//! - deliveries per second from a backlog: publishes while the receiver holds
//!   every request, then the time to deliver them all once it lets them through.
//!
//!     ./scripts/postgres-local.sh cargo bench -p registry-tests --bench webhooks
//!
//! Without `--bench` (as `cargo test` runs it) it makes a few publishes per
//! phase, to prove the bench still works.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout
)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use openworkflow_registry::{Backend, ServerConfig, bootstrap_admin_key, open_registry_now, serve};

const SUBSCRIPTIONS: usize = 10;

/// When each delivery arrived, by the version it announces.
type Arrivals = Arc<Mutex<HashMap<String, Vec<Instant>>>>;

/// Held while the receiver must not answer: its requests wait for it.
type Gate = Arc<tokio::sync::RwLock<()>>;

async fn start_receiver() -> (String, Arrivals, Gate) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let arrivals: Arrivals = Arc::default();
    let gate: Gate = Arc::default();
    let (kept, waits) = (Arc::clone(&arrivals), Arc::clone(&gate));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (kept, waits) = (Arc::clone(&kept), Arc::clone(&waits));
            async move {
                drop(waits.read().await);
                let at = Instant::now();
                let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let version = event["data"]["version"].as_str().unwrap().to_owned();
                kept.lock().unwrap().entry(version).or_default().push(at);
                StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, arrivals, gate)
}

/// How many deliveries announcing a version starting `prefix` arrived, and the last's time.
fn arrived(arrivals: &Arrivals, prefix: &str) -> (usize, Option<Instant>) {
    let arrivals = arrivals.lock().unwrap();
    let mine = arrivals.iter().filter(|(v, _)| v.starts_with(prefix));
    let count = mine.clone().map(|(_, at)| at.len()).sum();
    (count, mine.flat_map(|(_, at)| at).max().copied())
}

/// Waits until `expected` deliveries of versions starting `prefix` arrived; the last's time.
async fn all_arrived(arrivals: &Arrivals, prefix: &str, expected: usize) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (count, last) = arrived(arrivals, prefix);
        if count >= expected {
            return last.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "{count} of {expected} deliveries arrived"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn manifest(slug: &str, version: &str) -> String {
    format!(
        "slug: {slug}\nversion: {version}\nname: Hooked\ndescription: Webhook benchmark plugin\nauthor: Bench\n\
         homepage: https://example.com\nrepository: https://github.com/example/bench\nlicense: MIT\n\
         icon: https://example.com/i.svg\ntags: [bench]\nactions:\n  - name: run\n    description: Run it\n"
    )
}

struct Server {
    base: String,
    key: String,
    client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    _data: tempfile::TempDir,
}

async fn start(backend: Backend) -> Server {
    let data = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = ServerConfig::embedded(data.path(), base.clone());
    config.backend = backend;
    config.webhooks.policy.allow_loopback = true;
    let opened = open_registry_now(&config).await.unwrap();
    let admin = bootstrap_admin_key(&opened.registry, data.path())
        .await
        .unwrap()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(opened, listener, async {
        let _ = stopped.await;
    }));
    Server {
        base,
        key: admin.secret.expose().to_owned(),
        client: reqwest::Client::new(),
        stop,
        _data: data,
    }
}

impl Server {
    /// Publishes `{slug}@{version}`; how long until its 201.
    async fn publish(&self, slug: &str, version: &str) -> (Duration, Instant) {
        let started = Instant::now();
        let response = self
            .client
            .post(format!("{}/plugins", self.base))
            .bearer_auth(&self.key)
            .header("content-type", "application/yaml")
            .body(manifest(slug, version))
            .send()
            .await
            .unwrap();
        let answered = Instant::now();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
        (answered - started, answered)
    }
}

async fn run(name: &str, backend: Backend, publishes: usize) {
    let server = start(backend).await;
    let (receiver, arrivals, gate) = start_receiver().await;
    let subscribe = |plugin: &'static str| {
        let request = server
            .client
            .post(format!("{}/webhooks", server.base))
            .bearer_auth(&server.key)
            .json(&serde_json::json!({
                "url": receiver, "events": ["version.published"], "plugin": plugin
            }));
        async move { assert_eq!(request.send().await.unwrap().status(), 201) }
    };
    for plugin in ["plain", "hooked", "backlog"] {
        server.publish(plugin, "0.0.1").await;
    }
    for _ in 0..SUBSCRIPTIONS {
        subscribe("hooked").await;
        subscribe("backlog").await;
    }

    // Publish latency, the two plugins in turn so both grow alike.
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let mut answered_at = HashMap::new();
    for i in 0..publishes {
        let version = format!("1.0.{i}");
        without.push(server.publish("plain", &version).await.0);
        let (took, answered) = server.publish("hooked", &version).await;
        with.push(took);
        answered_at.insert(version, answered);
    }
    common::report(&format!("{name:>8} publish, no subscription"), without);
    common::report(
        &format!("{name:>8} publish, {SUBSCRIPTIONS} subscriptions"),
        with,
    );
    all_arrived(&arrivals, "1.0.", publishes * SUBSCRIPTIONS).await;
    let lags: Vec<Duration> = {
        let arrivals = arrivals.lock().unwrap();
        answered_at
            .iter()
            .map(|(version, answered)| {
                let got = &arrivals[version];
                assert_eq!(got.len(), SUBSCRIPTIONS, "one delivery per subscription");
                got.iter()
                    .max()
                    .unwrap()
                    .saturating_duration_since(*answered)
            })
            .collect()
    };
    common::report(&format!("{name:>8} 201 to its last delivery"), lags);

    // A backlog: every delivery waits at the receiver's gate until all are stored.
    let held = gate.write().await;
    for i in 0..publishes {
        server.publish("backlog", &format!("2.0.{i}")).await;
    }
    let expected = publishes * SUBSCRIPTIONS;
    let opened = Instant::now();
    drop(held);
    let last = all_arrived(&arrivals, "2.0.", expected).await;
    let elapsed = last - opened;
    println!(
        "{name:>8} backlog drained                 n={expected:<5} {:.0} deliveries/s ({elapsed:.2?})",
        expected as f64 / elapsed.as_secs_f64(),
    );
    let _ = server.stop.send(());
}

#[tokio::main]
async fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let publishes = if full { 200 } else { 5 };
    run("embedded", Backend::Embedded { file: None }, publishes).await;
    if std::env::var_os(registry_testkit::postgres::URL_VARIABLE).is_some() {
        let url = registry_testkit::postgres::fresh_schema_url("bench_hooks").await;
        run("postgres", Backend::Postgres { url }, publishes).await;
    } else {
        println!("postgres skipped: run under ./scripts/postgres-local.sh to measure it");
    }
}
