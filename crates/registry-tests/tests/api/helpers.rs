//! `TestApp`: the real server on a temp dir and port 0, with a manual clock.

use std::sync::Arc;

use openworkflow_registry::{
    Backend, ServerConfig, bootstrap_admin_key, open_registry, roll_up_downloads,
    s3_needs_path_style, serve,
};
use registry_core::Registry;
use registry_core::timestamp::{ManualClock, Timestamp};
use registry_index::IndexBuilder;
pub use registry_testkit::{TestPlugin, sha256_hex, stored_zip_of, zip_of};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// The spec's GitHub example, with the `icon` its own field list requires.
pub const GITHUB_YAML: &str = include_str!("../../fixtures/github.yaml");

/// Where a test registry keeps its catalog and artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    /// SQLite and files.
    Embedded,
    /// DynamoDB Local and moto's S3, as `./scripts/test.sh` starts them.
    Aws,
    /// PostgreSQL (a schema of its own on the server `./scripts/test.sh` starts)
    /// and files.
    Postgres,
}

pub fn backend_under_test() -> TestBackend {
    match std::env::var("OPENWORKFLOW_TEST_BACKEND").as_deref() {
        Ok("aws") => TestBackend::Aws,
        Ok("postgres") => TestBackend::Postgres,
        _ => TestBackend::Embedded,
    }
}

pub struct TestApp {
    pub base: String,
    pub admin_key: String,
    pub client: reqwest::Client,
    pub registry: Arc<Registry>,
    pub builder: Arc<IndexBuilder>,
    pub clock: Arc<ManualClock>,
    pub data: Arc<TempDir>,
    config: ServerConfig,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl TestApp {
    /// A public registry on the backend `OPENWORKFLOW_TEST_BACKEND` names.
    pub async fn spawn() -> Self {
        Self::spawn_with(false, backend_under_test()).await
    }

    /// A private registry on the backend under test.
    pub async fn spawn_private() -> Self {
        Self::spawn_with(true, backend_under_test()).await
    }

    /// A public registry on the given backend, whatever the suite runs on.
    pub async fn spawn_on(backend: TestBackend) -> Self {
        Self::spawn_with(false, backend).await
    }

    /// A public registry on the backend under test, with `configure` applied to
    /// the test defaults.
    pub async fn spawn_configured(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::spawn_full(false, backend_under_test(), configure).await
    }

    /// A public registry on the given backend, with `configure` applied.
    pub async fn spawn_configured_on(
        backend: TestBackend,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        Self::spawn_full(false, backend, configure).await
    }

    async fn spawn_with(private: bool, backend: TestBackend) -> Self {
        Self::spawn_full(private, backend, |_| {}).await
    }

    async fn spawn_full(
        private: bool,
        backend: TestBackend,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let clock = Arc::new(ManualClock::new(
            Timestamp::parse("2026-03-02T12:00:00Z").expect("ts"),
        ));
        let mut config = ServerConfig::embedded(data.path(), base.clone());
        config.private = private;
        // Router instances in tests are servers on loopback; passes run when a test
        // says, and a check gives up quickly.
        config.router.policy.allow_loopback = true;
        config.health_interval = std::time::Duration::from_secs(3600);
        config.check_timeout = std::time::Duration::from_millis(500);
        // Webhook receivers are servers on loopback too; the delivery worker
        // looks often, and retries wait for the test to move the clock.
        config.webhooks.policy.allow_loopback = true;
        config.webhooks.attempt_timeout = std::time::Duration::from_secs(2);
        config.webhook_poll = std::time::Duration::from_millis(50);
        configure(&mut config);
        match backend {
            TestBackend::Embedded => {}
            TestBackend::Aws => {
                let (table, bucket) = fresh_aws_resources().await;
                config.backend = Backend::Aws { table };
                config.bucket = Some(bucket);
            }
            TestBackend::Postgres => {
                config.backend = Backend::Postgres {
                    url: registry_testkit::postgres::fresh_schema_url("api").await,
                };
            }
        }
        let opened = open_registry(&config, clock.clone())
            .await
            .expect("open registry");
        let registry = Arc::clone(&opened.registry);
        let builder = Arc::clone(&opened.builder);
        let admin = bootstrap_admin_key(&registry, data.path())
            .await
            .expect("bootstrap")
            .expect("first key");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(serve(opened, listener, async {
            let _ = rx.await;
        }));
        Self {
            base,
            admin_key: admin.secret.expose().to_owned(),
            client: reqwest::Client::new(),
            registry,
            builder,
            clock,
            data: Arc::new(data),
            config,
            shutdown: Some(tx),
        }
    }

    /// A second node over the same stores and clock, with `configure` applied to
    /// this one's settings: what a registry restarted with other settings is.
    pub async fn spawn_beside(&self, configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut config = self.config.clone();
        config.public_url = base.clone();
        configure(&mut config);
        let opened = open_registry(&config, self.clock.clone())
            .await
            .expect("open registry");
        let (registry, builder) = (Arc::clone(&opened.registry), Arc::clone(&opened.builder));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(serve(opened, listener, async {
            let _ = rx.await;
        }));
        Self {
            base,
            admin_key: self.admin_key.clone(),
            client: reqwest::Client::new(),
            registry,
            builder,
            clock: Arc::clone(&self.clock),
            data: Arc::clone(&self.data),
            config,
            shutdown: Some(tx),
        }
    }

    /// Stops this node, as a restart does, and waits until its port refuses
    /// connections.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let address = self.base.trim_start_matches("http://").to_owned();
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&address).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("{} still accepts connections after its shutdown", self.base);
    }

    /// The test clock's time, as the registry writes it.
    pub fn clock_now(&self) -> String {
        registry_core::timestamp::Clock::now(&*self.clock).to_string()
    }

    /// The test clock's time in Unix seconds.
    pub fn clock_unix_seconds(&self) -> i64 {
        registry_core::timestamp::Clock::now(&*self.clock).unix_seconds()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_with_key(&self, path: &str, key: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .expect("GET")
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("json")
    }

    pub async fn send_body(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.expect("request")
    }

    pub async fn publish(
        &self,
        key: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.send_body(
            reqwest::Method::POST,
            "/plugins",
            Some(key),
            content_type,
            body,
        )
        .await
    }

    pub async fn publish_yaml(&self, key: &str, yaml: &str) -> Response {
        self.publish(key, "application/yaml", yaml.to_owned()).await
    }

    pub async fn publish_ok(&self, key: &str, slug: &str, version: &str) {
        let response = self.publish_yaml(key, &plugin_yaml(slug, version)).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap_or_default()
        );
    }

    pub async fn update(&self, key: &str, slug: &str, yaml: &str) -> Response {
        self.send_body(
            reqwest::Method::PUT,
            &format!("/plugins/{slug}"),
            Some(key),
            "application/yaml",
            yaml.to_owned(),
        )
        .await
    }

    pub async fn deprecate(&self, key: &str, slug: &str, version: &str, body: Value) -> Response {
        self.send_body(
            reqwest::Method::POST,
            &format!("/plugins/{slug}/{version}/deprecate"),
            Some(key),
            "application/json",
            body.to_string(),
        )
        .await
    }

    pub async fn unpublish(&self, key: &str, slug: &str, version: &str) -> Response {
        self.client
            .delete(self.url(&format!("/plugins/{slug}/{version}")))
            .bearer_auth(key)
            .send()
            .await
            .expect("DELETE")
    }

    /// A key for a brand-new principal, made by the admin key.
    pub async fn new_principal_key(&self, name: &str, scopes: &[&str]) -> String {
        let response = self
            .send_body(
                reqwest::Method::POST,
                "/auth/keys",
                Some(&self.admin_key),
                "application/json",
                json!({"name": name, "scopes": scopes, "new_principal": {"name": name, "kind": "team"}}).to_string(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.expect("json");
        body["key"].as_str().expect("key").to_owned()
    }

    /// The server's periodic roll-up, now.
    pub async fn roll_up(&self) {
        roll_up_downloads(&self.registry, &self.builder)
            .await
            .expect("roll-up");
    }
}

/// A uniquely named table and bucket on the local DynamoDB and S3 servers that
/// `scripts/test.sh` starts, so every test has its own catalog.
async fn fresh_aws_resources() -> (String, String) {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
        "the aws backend needs the local servers: run ./scripts/test.sh"
    );
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).expect("entropy");
    let name = format!("api-{}", hex::encode(suffix));
    let settings = registry_aws::AwsSettings {
        table: name.clone(),
        bucket: name.clone(),
        force_path_style: s3_needs_path_style(),
    };
    // The suite's clock is months behind the real one, by which DynamoDB Local
    // runs the table's time-to-live: left on, it would delete sessions the
    // suite's clock still calls live.
    let clients = registry_aws::AwsClients::from_env(settings.force_path_style).await;
    registry_aws::setup::ensure_resources_with(
        &clients,
        &settings,
        registry_aws::setup::TimeToLive::Off,
    )
    .await
    .expect("create table and bucket");
    (name.clone(), name)
}

/// A valid manifest for `slug@version`.
pub fn plugin_yaml(slug: &str, version: &str) -> String {
    TestPlugin::new(slug, version).yaml()
}

/// Asserts a problem+json answer and returns its body.
pub async fn expect_problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://")),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

/// Replaces every occurrence of `from` with `to` (same length) in raw ZIP bytes, to
/// forge what a well-behaved writer refuses to produce.
pub fn patch_bytes(mut bytes: Vec<u8>, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut i = 0;
    let mut patched = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            patched += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert!(patched > 0, "pattern not found");
    bytes
}

/// The boundary of [`multipart_upload`]'s bodies.
pub const UPLOAD_BOUNDARY: &str = "owtest7d1f0c";

/// A `multipart/form-data` body with the ZIP in the `file` part, as the org
/// catalog's uploads take it: (its content type, the body).
pub fn multipart_upload(file_name: Option<&str>, zip: &[u8]) -> (String, Vec<u8>) {
    let disposition = match file_name {
        Some(name) => format!("form-data; name=\"file\"; filename=\"{name}\""),
        None => "form-data; name=\"file\"".to_owned(),
    };
    let mut body = format!(
        "--{UPLOAD_BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nuploaded by a test\r\n\
         --{UPLOAD_BOUNDARY}\r\nContent-Disposition: {disposition}\r\nContent-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(zip);
    body.extend_from_slice(format!("\r\n--{UPLOAD_BOUNDARY}--\r\n").as_bytes());
    (
        format!("multipart/form-data; boundary={UPLOAD_BOUNDARY}"),
        body,
    )
}

/// A plugin ZIP whose manifest carries exactly `tags` and then `extra` lines.
pub fn tagged_zip(pid: &str, version: &str, tags: &[&str], extra: &str) -> Vec<u8> {
    let manifest = format!("{}{extra}", TestPlugin::new(pid, version).tags(tags).yaml());
    zip_of(&[
        ("plugin.yaml", manifest.as_bytes()),
        ("agent/main.py", b"def run():\n    return 42\n"),
    ])
}

/// What a server said to a chunked body it refused while the body was streaming.
pub struct StreamedRefusal {
    /// The answer's head (status line and headers).
    pub head: String,
    /// Body bytes sent before the answer came (or the connection closed).
    pub sent: usize,
}

/// Streams a chunked request body of up to `total` bytes (`first`, then
/// filler) to `path` over a raw connection, reading the answer alongside. A
/// server that refuses part-way may close the connection while the client still
/// writes; an HTTP client library then reports the broken pipe and drops the
/// answer, so this reads it from the socket itself.
pub async fn stream_until_answered(
    app: &TestApp,
    path: &str,
    headers: &str,
    first: Vec<u8>,
    total: usize,
) -> StreamedRefusal {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const CHUNK: usize = 64 * 1024;
    let address = app.base.trim_start_matches("http://").to_owned();
    let stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n{headers}Transfer-Encoding: chunked\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.expect("write head");
    let answer = tokio::spawn(async move {
        let mut received = Vec::new();
        let mut buffer = [0u8; 4096];
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
        String::from_utf8_lossy(&received).into_owned()
    });
    let mut sent = 0usize;
    let mut first = Some(first);
    while sent < total && !answer.is_finished() {
        let mut payload = first.take().unwrap_or_default();
        payload.resize(CHUNK, b'A');
        let framed = [
            format!("{:x}\r\n", payload.len()).as_bytes(),
            &payload,
            b"\r\n",
        ]
        .concat();
        if writer.write_all(&framed).await.is_err() {
            break; // The server closed the connection after answering.
        }
        sent += payload.len();
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    if !answer.is_finished() {
        // Everything was sent without an answer: end the body, so the caller's
        // assertions fail instead of the test waiting forever.
        let _ = writer.write_all(b"0\r\n\r\n").await;
    }
    StreamedRefusal {
        head: answer.await.expect("reader"),
        sent,
    }
}
