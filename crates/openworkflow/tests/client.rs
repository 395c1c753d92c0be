//! The Rust client library against a real registry: what an SDK user calls.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod support;

use registry_testkit::zip_of;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use openworkflow::client::{Direction, ProgressSink, PublishPayload, RetryPolicy};
use openworkflow::{ApiKey, ClientError, PluginStore, RegistryClient, install_plugin};
use support::Registry;

/// Every progress event, in order.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<(String, String, u64)>>);

impl ProgressSink for Recorder {
    fn started(&self, what: &str, direction: Direction, total: Option<u64>) {
        let event = format!("start {direction:?}");
        self.0
            .lock()
            .unwrap()
            .push((event, what.to_owned(), total.unwrap_or(0)));
    }
    fn advanced(&self, what: &str, bytes: u64) {
        self.0
            .lock()
            .unwrap()
            .push(("advance".into(), what.to_owned(), bytes));
    }
    fn finished(&self, what: &str) {
        self.0
            .lock()
            .unwrap()
            .push(("finish".into(), what.to_owned(), 0));
    }
}

impl Recorder {
    fn advanced_total(&self, what: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, w, _)| e == "advance" && w == what)
            .map(|(_, _, n)| n)
            .sum()
    }
}

/// A YAML document the registry refuses as invalid, if it ever reads it.
fn tiny_document() -> PublishPayload {
    PublishPayload::Document {
        bytes: Bytes::from_static(b"slug: x\n"),
        format: registry_core::manifest::DocumentFormat::Yaml,
    }
}

#[tokio::test]
async fn publish_and_install_report_progress_byte_for_byte() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let url = url::Url::parse(&registry.base).unwrap();
    let recorder = Arc::new(Recorder::default());
    let author = RegistryClient::new(&url, Some(ApiKey::new(registry.admin_key())))
        .unwrap()
        .with_progress(recorder.clone());

    let manifest = "slug: progress\nversion: 1.0.0\nname: P\ndescription: d\nauthor: a\n\
        homepage: https://h.io\nrepository: https://r.io\nlicense: MIT\nicon: https://i.io\n\
        tags: [t]\nactions:\n  - name: run\n    description: r\n";
    // Larger than one upload chunk, so progress arrives in several steps.
    let payload_file = vec![b'x'; 200_000];
    let bundle = zip_of(&[
        ("plugin.yaml", manifest.as_bytes()),
        ("data.bin", &payload_file),
    ]);
    let published = author
        .publish(
            &PublishPayload::Bundle {
                bytes: Bytes::from(bundle.clone()),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (published.slug.as_str(), published.version.as_str()),
        ("progress", "1.0.0")
    );
    assert!(
        published.details_etag.is_some(),
        "the local registry answers the new ETag"
    );
    assert_eq!(recorder.advanced_total("bundle"), bundle.len() as u64);

    let reader = RegistryClient::new(&url, None)
        .unwrap()
        .with_progress(recorder.clone());
    let home = tempfile::tempdir().unwrap();
    let store = PluginStore::new(home.path());
    let installed = install_plugin(&reader, &store, "progress", None)
        .await
        .unwrap();
    assert_eq!(installed.record.version, "1.0.0");
    assert_eq!(
        recorder.advanced_total("progress@1.0.0 bundle"),
        bundle.len() as u64
    );
    assert_eq!(
        recorder.advanced_total("progress@1.0.0 schema"),
        manifest.len() as u64
    );
    let events = recorder.0.lock().unwrap();
    for what in ["bundle", "progress@1.0.0 schema", "progress@1.0.0 bundle"] {
        let started = events
            .iter()
            .position(|(e, w, _)| e.starts_with("start") && w == what);
        let finished = events
            .iter()
            .rposition(|(e, w, _)| e == "finish" && w == what);
        assert!(
            matches!((started, finished), (Some(s), Some(f)) if s < f),
            "{what}: started then finished"
        );
    }
    assert_eq!(store.list().unwrap(), vec![installed.record.clone()]);
}

#[tokio::test]
async fn errors_keep_the_registry_problem_and_reads_retry_then_give_up() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(data.path());
    let url = url::Url::parse(&registry.base).unwrap();
    let client = RegistryClient::new(&url, Some(ApiKey::new("sk_wrong"))).unwrap();
    let error = client.publish(&tiny_document(), None).await.unwrap_err();
    assert!(
        matches!(&error, ClientError::Unauthenticated(p) if p.code == "unauthenticated"),
        "{error:?}"
    );
    assert!(
        !format!("{error:?}").contains("sk_wrong"),
        "the key never shows"
    );

    // A server that hangs up on every request: reads are tried `attempts` times,
    // then the transport error surfaces.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_up = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    let policy = RetryPolicy {
        attempts: 3,
        first_backoff: std::time::Duration::from_millis(10),
    };
    let error = RegistryClient::new(&hang_up, None)
        .unwrap()
        .with_retry(policy)
        .plugin_details("x", None)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    // A publish the server may have received is never sent twice.
    let error = RegistryClient::new(&hang_up, Some(ApiKey::new("sk_x")))
        .unwrap()
        .with_retry(policy)
        .publish(&tiny_document(), None)
        .await
        .unwrap_err();
    assert!(matches!(error, ClientError::Transport(_)), "{error:?}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 4);
}

/// A document for `slug` at 1.0.0, as a publish sends it.
fn document_of(slug: &str) -> PublishPayload {
    PublishPayload::Document {
        bytes: Bytes::from(registry_testkit::TestPlugin::new(slug, "1.0.0").yaml()),
        format: registry_core::manifest::DocumentFormat::Yaml,
    }
}

/// A key of a new principal of its own, made with the registry's admin key.
async fn publisher_key(registry: &Registry) -> ApiKey {
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/auth/keys", registry.base))
        .bearer_auth(registry.admin_key())
        .json(&serde_json::json!({
            "name": "publisher",
            "new_principal": {"name": "publisher", "kind": "user"},
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ApiKey::new(created["key"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_and_a_long_one_reported() {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start_with(
        data.path(),
        &[("OPENWORKFLOW_REGISTRY_RATE_NEW_PLUGINS", "1/2s")],
    );
    let url = url::Url::parse(&registry.base).unwrap();
    let client = RegistryClient::new(&url, Some(publisher_key(&registry).await)).unwrap();
    client.publish(&document_of("first"), None).await.unwrap();
    let started = std::time::Instant::now();
    client.publish(&document_of("second"), None).await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "the second publish waited for its allowance"
    );
    assert!(registry.answered("POST", "/plugins", 429));

    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start_with(
        data.path(),
        &[("OPENWORKFLOW_REGISTRY_RATE_NEW_PLUGINS", "1/10m")],
    );
    let url = url::Url::parse(&registry.base).unwrap();
    let client = RegistryClient::new(&url, Some(publisher_key(&registry).await)).unwrap();
    client.publish(&document_of("first"), None).await.unwrap();
    let error = client
        .publish(&document_of("second"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClientError::Rejected(p) if p.code == "rate_limited" && p.status == 429),
        "{error:?}"
    );
    assert_eq!(
        registry.responses_with(429),
        1,
        "a wait of ten minutes is reported, not slept through"
    );
}
