//! The `openworkflow-registry` binary as users run it.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use registry_testkit::{TestPlugin, sha256_hex};

#[path = "cli/image.rs"]
mod image;
#[path = "cli/migrate_store.rs"]
mod migrate_store;
#[path = "cli/nodes.rs"]
mod nodes;
#[path = "cli/shutdown.rs"]
mod shutdown;
#[path = "cli/soak.rs"]
mod soak;
#[path = "cli/spec_config.rs"]
mod spec_config;

const BIN: &str = env!("CARGO_BIN_EXE_openworkflow-registry");

struct Server {
    child: Child,
    base: String,
    stdout: String,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `serve` on port 0 and waits for the "listening" log line.
    fn start(data: &Path, envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .envs(envs.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start server");
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut base = None;
        for line in stderr.by_ref() {
            let line = line.unwrap();
            log.lock().unwrap().push(line.clone());
            if line.contains("registry listening") {
                let addr = line
                    .split("local=")
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap();
                base = Some(format!("http://{addr}"));
                break;
            }
        }
        let base = base.expect("the server logs its address");
        // Keep reading the log so the server never writes into a closed pipe.
        let sink = std::sync::Arc::clone(&log);
        std::thread::spawn(move || stderr.for_each(|line| sink.lock().unwrap().extend(line.ok())));
        Self {
            child,
            base,
            stdout: String::new(),
            log,
        }
    }

    /// Sends SIGTERM and waits for a clean exit, collecting stdout.
    fn terminate(self) -> (std::process::ExitStatus, String) {
        self.send_sigterm();
        self.terminate_sent()
    }

    /// Sends SIGTERM, as an operator's `docker stop` or `systemctl stop` does.
    fn send_sigterm(&self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits (10 s at most) for the exit a SIGTERM already sent asked for,
    /// collecting stdout.
    fn terminate_sent(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut out = std::mem::take(&mut self.stdout);
                std::io::Read::read_to_string(&mut self.child.stdout.take().unwrap(), &mut out)
                    .unwrap();
                return (status, out);
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A test that fails before [`Server::terminate`] still stops its server.
impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `init-aws` with these variables (table and bucket); it must succeed.
fn init_aws(envs: &[(&str, &str)]) {
    let init = Command::new(BIN)
        .arg("init-aws")
        .envs(envs.iter().copied())
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
}

/// GET `url` and its JSON body.
async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

fn create_key(data: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(["create-key", "--data"])
        .arg(data)
        .args(extra)
        .output()
        .expect("run create-key")
}

fn plugin_yaml(slug: &str) -> String {
    TestPlugin::new(slug, "1.0.0").yaml()
}

/// Every directory under `root` is 0700 and every file 0600 (the catalog, its WAL,
/// keys, artifacts and the index alike).
fn assert_only_the_owner_can_read(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut seen = (0, 0);
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", dir.display());
        seen.0 += 1;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                let mode = meta.permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", entry.path().display());
                seen.1 += 1;
            }
        }
    }
    assert!(seen.0 > 3 && seen.1 > 5, "walked {seen:?} dirs and files");
}

#[tokio::test]
async fn first_start_keeps_the_admin_key_out_of_captured_output_and_its_files_owner_only() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let key = create_key(
        data.path(),
        &["--name", "CI/CD Pipeline", "--scope", "publish"],
    );
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let stdout = String::from_utf8(key.stdout).unwrap();
    let secret = stdout.trim();
    assert_eq!(
        stdout.lines().count(),
        1,
        "the key alone on stdout: {stdout:?}"
    );
    assert!(secret.starts_with("sk_") && secret.len() == 67, "{secret}");

    let client = reqwest::Client::new();
    let published = client
        .post(format!("{}/plugins", server.base))
        .bearer_auth(secret)
        .header("content-type", "application/yaml")
        .body(plugin_yaml("from-cli"))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 201);

    let bundle = client
        .post(format!("{}/plugins", server.base))
        .bearer_auth(secret)
        .header("content-type", "application/zip")
        .body(TestPlugin::new("with-bundle", "1.0.0").bundle())
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 201);

    let (status, stdout) = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");
    let admin = std::fs::read_to_string(data.path().join("admin.key")).unwrap();
    assert!(
        !stdout.contains(admin.trim()) && stdout.contains("admin.key"),
        "stdout is not a terminal, so it names the file and never holds the key: {stdout:?}"
    );
    assert_only_the_owner_can_read(data.path());

    let again = Server::start(data.path(), &[]);
    let (_, stdout) = again.terminate();
    assert!(
        !stdout.contains("sk_"),
        "later starts print no key: {stdout:?}"
    );
}

#[tokio::test]
async fn the_private_switch_is_read_from_the_environment() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[("OPENWORKFLOW_REGISTRY_PRIVATE", "1")]);
    let response = reqwest::get(format!("{}/plugins/search", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let reader = create_key(data.path(), &["--name", "reader", "--scope", "read"]);
    let secret = String::from_utf8(reader.stdout).unwrap();
    let allowed = reqwest::Client::new()
        .get(format!("{}/plugins/search", server.base))
        .bearer_auth(secret.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    server.terminate();
}

/// The figure of `name` with `labels` in a Prometheus text page.
fn prometheus_figure(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in {page}"))
}

#[tokio::test]
async fn metrics_tell_the_heap_in_use_from_what_the_allocator_keeps_resident() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[]);
    let page = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let heap =
        |kind: &str| prometheus_figure(&page, &format!("registry_heap_bytes{{kind=\"{kind}\"}}"));
    let (allocated, active, resident) = (heap("allocated"), heap("active"), heap("resident"));
    assert!(allocated > 0.0 && heap("metadata") > 0.0, "{page}");
    assert!(
        allocated <= active && active <= resident,
        "live objects fit in their pages, and those in what is resident: {allocated} {active} {resident}"
    );
    let rss_kib: f64 = std::fs::read_to_string(format!("/proc/{}/status", server.child.id()))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(
        resident <= rss_kib * 1024.0,
        "the allocator's resident pages are part of the process's: {resident} > {rss_kib} KiB"
    );
    server.terminate();
}

#[test]
fn create_key_refuses_unknown_principals_and_scopes_clearly() {
    let data = tempfile::tempdir().unwrap();
    let unknown = create_key(data.path(), &["--name", "x", "--principal", "prn_missing"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("prn_missing"));
    let bad_scope = create_key(data.path(), &["--name", "x", "--scope", "everything"]);
    assert!(!bad_scope.status.success());
    assert!(String::from_utf8_lossy(&bad_scope.stderr).contains("unknown scope"));
}

#[tokio::test]
async fn init_aws_then_serve_and_create_keys_on_the_aws_backend() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
        "needs DynamoDB Local and moto: run ./scripts/test.sh"
    );
    let name = format!("cli-{}", std::process::id());
    let aws = [
        ("OPENWORKFLOW_REGISTRY_TABLE", name.as_str()),
        ("OPENWORKFLOW_REGISTRY_BUCKET", name.as_str()),
    ];
    init_aws(&aws);
    // Run again: init-aws is idempotent.
    init_aws(&aws);

    let data = tempfile::tempdir().unwrap();
    let mut envs = aws.to_vec();
    envs.push(("OPENWORKFLOW_REGISTRY_BACKEND", "aws"));
    let server = Server::start(data.path(), &envs);
    let key = Command::new(BIN)
        .args([
            "create-key",
            "--backend",
            "aws",
            "--table",
            &name,
            "--bucket",
            &name,
            "--name",
            "ci",
            "--data",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let secret = String::from_utf8(key.stdout).unwrap();
    let published = reqwest::Client::new()
        .post(format!("{}/plugins", server.base))
        .bearer_auth(secret.trim())
        .header("content-type", "application/yaml")
        .body(plugin_yaml("on-dynamodb"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        published.status(),
        201,
        "a key made by create-key --backend aws works on serve --backend aws"
    );

    // A second server on a fresh data directory sees the same catalog and artifacts.
    let other_data = tempfile::tempdir().unwrap();
    let other = Server::start(other_data.path(), &envs);
    let schema = reqwest::get(format!("{}/plugins/on-dynamodb/1.0.0/schema", other.base))
        .await
        .unwrap();
    assert_eq!(schema.status(), 200);
    assert_eq!(schema.text().await.unwrap(), plugin_yaml("on-dynamodb"));
    let (status, stdout) = other.terminate();
    assert!(status.success());
    assert!(
        !stdout.contains("sk_"),
        "the shared catalog already has keys, so no new admin key"
    );
    server.terminate();
}

#[test]
fn the_aws_backend_refuses_to_start_without_a_table() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(BIN)
        .args([
            "create-key",
            "--backend",
            "aws",
            "--bucket",
            "b",
            "--name",
            "x",
            "--data",
        ])
        .arg(data.path())
        .env_remove("OPENWORKFLOW_REGISTRY_TABLE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--table"));
}

#[tokio::test]
async fn without_s3_credentials_artifacts_stay_local_after_one_warning() {
    let data = tempfile::tempdir().unwrap();
    let nowhere = data.path().join("no-such-file");
    let nowhere = nowhere.to_str().unwrap();
    let envs = [
        ("OPENWORKFLOW_REGISTRY_BUCKET", "replica"),
        ("AWS_ACCESS_KEY_ID", ""),
        ("AWS_SECRET_ACCESS_KEY", ""),
        ("AWS_CONFIG_FILE", nowhere),
        ("AWS_SHARED_CREDENTIALS_FILE", nowhere),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_REGION", "us-east-1"),
    ];
    let server = Server::start(data.path(), &envs);
    let admin = std::fs::read_to_string(data.path().join("admin.key")).unwrap();
    let published = reqwest::Client::new()
        .post(format!("{}/plugins", server.base))
        .bearer_auth(admin.trim())
        .header("content-type", "application/yaml")
        .body(plugin_yaml("local-only"))
        .send()
        .await
        .unwrap();
    assert_eq!(published.status(), 201, "the catalog keeps working");
    let log = server.log.lock().unwrap().clone();
    let warnings = log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("local-only"))
        .count();
    assert_eq!(warnings, 1, "exactly one clear warning: {log:#?}");
    server.terminate();
}

/// A plugin ZIP with `plugin.yaml` for `slug@1.0.0` and some code.
fn plugin_zip(slug: &str) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("plugin.yaml", options).unwrap();
    zip.write_all(plugin_yaml(slug).as_bytes()).unwrap();
    zip.start_file("agent.py", options).unwrap();
    zip.write_all(format!("NAME = {slug:?}\n").as_bytes())
        .unwrap();
    zip.finish().unwrap().into_inner()
}

fn sync(data: &Path, bucket: Option<&str>) -> std::process::Output {
    let mut command = Command::new(BIN);
    command.args(["sync", "--data"]).arg(data);
    match bucket {
        Some(bucket) => command.args(["--bucket", bucket]),
        None => command.env_remove("OPENWORKFLOW_REGISTRY_BUCKET"),
    };
    command.output().expect("run sync")
}

#[tokio::test]
async fn sync_pulls_missing_and_corrupt_catalog_artifacts_back_from_s3() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
        "needs moto's S3 server: run ./scripts/test.sh"
    );
    let bucket = format!("sync-{}", std::process::id());
    let init = Command::new(BIN)
        .args(["init-aws", "--table", &bucket, "--bucket", &bucket])
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );

    // An embedded registry replicating its artifacts to S3, with an org catalog.
    let data = tempfile::tempdir().unwrap();
    let with_bucket = [("OPENWORKFLOW_REGISTRY_BUCKET", bucket.as_str())];
    let server = Server::start(data.path(), &with_bucket);
    let admin = std::fs::read_to_string(data.path().join("admin.key")).unwrap();
    let admin = admin.trim();
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str| {
        client
            .request(method, format!("{}{path}", server.base))
            .bearer_auth(admin)
    };
    registry_testkit::admin_joins_new_org(&client, &server.base, admin, "acme").await;
    let mut expected = Vec::new();
    for (target, slug) in [
        ("/api/system/plugins/upload", "alpha"),
        ("/api/system/plugins/upload", "bravo"),
        ("/api/system/plugins/upload", "charlie"),
        ("/api/orgs/acme/plugins/upload", "delta"),
    ] {
        let zip = plugin_zip(slug);
        let uploaded = call(reqwest::Method::POST, target)
            .header("content-type", "application/zip")
            .header(
                "content-disposition",
                format!("attachment; filename=\"{slug}.zip\""),
            )
            .body(zip.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(uploaded.status(), 201, "{}", uploaded.text().await.unwrap());
        let scope = if target.contains("system") {
            "system".to_owned()
        } else {
            "orgs/acme".to_owned()
        };
        let sha = sha256_hex(&zip);
        expected.push((
            data.path()
                .join(format!("catalog/{scope}/{slug}/1.0.0/{sha}.zip")),
            sha,
        ));
    }
    server.terminate();
    for (path, _) in &expected {
        assert!(path.exists(), "{} was written locally", path.display());
    }

    // Lose one, corrupt one, keep one, lose the org's.
    std::fs::remove_file(&expected[0].0).unwrap();
    std::fs::write(&expected[1].0, b"bit rot").unwrap();
    std::fs::remove_file(&expected[3].0).unwrap();
    let synced = sync(data.path(), Some(&bucket));
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    let log = String::from_utf8_lossy(&synced.stderr);
    assert!(
        log.contains("checked=4") && log.contains("restored=2") && log.contains("repaired=1"),
        "{log}"
    );
    for (path, sha) in &expected {
        assert_eq!(
            &sha256_hex(&std::fs::read(path).unwrap()),
            sha,
            "{} restored",
            path.display()
        );
    }

    // Without S3, sync can only check: it names what it cannot restore and fails.
    std::fs::remove_file(&expected[2].0).unwrap();
    let local_only = sync(data.path(), None);
    assert!(!local_only.status.success());
    let log = String::from_utf8_lossy(&local_only.stderr);
    assert!(
        log.contains("no S3 bucket is configured") && log.contains("could not be restored"),
        "{log}"
    );
    assert!(!expected[2].0.exists());

    // `serve` runs the same sync before it answers.
    let server = Server::start(data.path(), &with_bucket);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("catalog artifacts are local"))
    {
        assert!(
            Instant::now() < deadline,
            "the start-up sync never finished"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        sha256_hex(&std::fs::read(&expected[2].0).unwrap()),
        expected[2].1
    );
    server.terminate();
}

/// A mistyped bucket used to start fine and fail every publish with a 500.
#[test]
fn a_bucket_that_does_not_exist_stops_the_start_with_the_fix() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
        "needs moto's S3: run ./scripts/test.sh"
    );
    let data = tempfile::tempdir().unwrap();
    let missing = format!("no-such-bucket-{}", std::process::id());
    let embedded = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("OPENWORKFLOW_REGISTRY_BUCKET", &missing)
        .output()
        .unwrap();
    let aws = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--backend",
            "aws",
            "--data",
        ])
        .arg(data.path())
        .env("OPENWORKFLOW_REGISTRY_BUCKET", &missing)
        .env(
            "OPENWORKFLOW_REGISTRY_TABLE",
            format!("no-such-table-{}", std::process::id()),
        )
        .output()
        .unwrap();
    for (output, says) in [(embedded, "S3 bucket"), (aws, "DynamoDB table")] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{stderr}");
        assert!(
            stderr.contains(says)
                && stderr.contains("does not exist")
                && stderr.contains("init-aws"),
            "{stderr}"
        );
    }
}

/// A public URL that stays the same across restarts on new ports: a changed one
/// rebuilds the whole index at start, which would hide what a restart repairs.
const SAME_PUBLIC_URL: (&str, &str) = ("OPENWORKFLOW_REGISTRY_PUBLIC_URL", "http://registry.test");

/// Verifies `data`'s static index through its signed chain, as `index-builder
/// verify` does, and returns how many files it checked.
async fn verify_index_of(data: &Path) -> usize {
    use registry_core::timestamp::{Clock, SystemClock};
    use registry_index::{FileIndexStore, INDEX_DIR, INDEX_KEY_FILE, IndexSigningKey};
    let (key, _) = IndexSigningKey::load_or_create(&data.join(INDEX_KEY_FILE)).unwrap();
    let store = FileIndexStore::new(data.join(INDEX_DIR));
    registry_index::verify::verify_index(&store, &key.public_key(), SystemClock.now())
        .await
        .unwrap_or_else(|e| panic!("the index does not verify: {e}"))
        .files_checked
}

/// `slug@version` is readable everywhere: by version, in the plugin's versions,
/// and in search.
async fn assert_readable(client: &reqwest::Client, base: &str, slug: &str, version: &str) {
    let exact = client
        .get(format!("{base}/plugins/{slug}?version={version}"))
        .send()
        .await
        .unwrap();
    assert_eq!(exact.status(), 200, "{slug}@{version} by version");
    let details = get_json(client, &format!("{base}/plugins/{slug}")).await;
    assert!(
        details["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == version),
        "{slug}@{version} is in the versions list: {details}"
    );
    let found = get_json(client, &format!("{base}/plugins/search?q={slug}")).await;
    let hit = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["slug"] == slug)
        .unwrap_or_else(|| panic!("{slug} is in search: {found}"));
    assert_eq!(
        hit["version"], details["version"],
        "search shows {slug}'s latest"
    );
}

async fn publish_version(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    slug: &str,
    version: &str,
) -> Result<reqwest::StatusCode, reqwest::Error> {
    client
        .post(format!("{base}/plugins"))
        .bearer_auth(key)
        .header("content-type", "application/yaml")
        .body(TestPlugin::new(slug, version).yaml())
        .send()
        .await
        .map(|r| r.status())
}

impl Server {
    /// Waits for a process that is going to exit on its own (an injected abort).
    #[cfg(feature = "fault-injection")]
    fn wait_for_exit(mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

/// The process stops dead after its k-th index write of a publish, for every k the
/// publish makes; on restart the index verifies and the committed version is
/// readable everywhere.
#[cfg(feature = "fault-injection")]
#[tokio::test]
async fn a_server_aborted_after_any_index_write_of_a_publish_is_whole_after_restart() {
    let baseline = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(baseline.path(), &[SAME_PUBLIC_URL]);
    let admin = std::fs::read_to_string(baseline.path().join("admin.key")).unwrap();
    let admin = admin.trim();
    for (slug, version) in [("cut", "1.0.0"), ("bystander", "1.0.0"), ("cut", "1.1.0")] {
        let status = publish_version(&client, &server.base, admin, slug, version).await;
        assert_eq!(status.unwrap(), 201);
    }
    server.terminate();
    let mut k = 1;
    loop {
        // Each cut starts from the same registry, so every k cuts the same publish.
        let data = tempfile::tempdir().unwrap();
        copy_dir(baseline.path(), data.path());
        let armed = Server::start(
            data.path(),
            &[
                SAME_PUBLIC_URL,
                (
                    "OPENWORKFLOW_REGISTRY_TEST_ABORT_AFTER_INDEX_WRITES",
                    &k.to_string(),
                ),
            ],
        );
        assert!(
            !armed
                .log
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("index rebuilt")),
            "the start itself wrote no index file, so the k-th write is the publish's"
        );
        let answer = publish_version(&client, &armed.base, admin, "cut", "1.2.0").await;
        let completed = matches!(answer, Ok(s) if s == 201);
        eprintln!("k={k} completed={completed}");
        if completed {
            armed.terminate();
        } else {
            assert!(answer.is_err(), "after {k} writes: {answer:?}");
            assert!(!armed.wait_for_exit().success(), "the process aborted");
        }
        let restarted = Server::start(data.path(), &[SAME_PUBLIC_URL]);
        // The catalog committed before the index was touched: the version is there.
        assert_readable(&client, &restarted.base, "cut", "1.2.0").await;
        assert_readable(&client, &restarted.base, "bystander", "1.0.0").await;
        restarted.terminate();
        assert!(
            verify_index_of(data.path()).await > 5,
            "cut after {k} writes"
        );
        if completed {
            break;
        }
        k += 1;
        assert!(k < 50, "a publish never completed");
    }
    assert!(k > 5, "a publish made only {k} index writes");
}

#[cfg(feature = "fault-injection")]
fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Eight writers publish new versions of three plugins until the server is killed
/// (`kill -9`) between 0.5 and 1.5 s in; after each restart the index verifies
/// and every version that got its 201 is readable everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_mid_burst_the_server_restarts_whole_with_every_201_readable() {
    use std::sync::{Arc, Mutex};
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let accepted: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut counter = 0u64;
    for (round, kill_after_ms) in [500u64, 1_100, 1_500].into_iter().enumerate() {
        let server = Server::start(data.path(), &[SAME_PUBLIC_URL]);
        let admin = std::fs::read_to_string(data.path().join("admin.key")).unwrap();
        let writers: Vec<_> = (0..8)
            .map(|writer| {
                let (client, base, admin) =
                    (client.clone(), server.base.clone(), admin.trim().to_owned());
                let accepted = Arc::clone(&accepted);
                let first = counter + writer * 1_000;
                tokio::spawn(async move {
                    for n in first.. {
                        let slug = ["alpha", "beta", "gamma"][usize::try_from(n % 3).unwrap()];
                        let version = format!("{round}.{writer}.{n}");
                        match publish_version(&client, &base, &admin, slug, &version).await {
                            Ok(status) if status == 201 => {
                                accepted.lock().unwrap().push((slug.to_owned(), version));
                            }
                            Ok(status) => panic!("{slug}@{version}: {status}"),
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        counter += 8 * 1_000;
        tokio::time::sleep(Duration::from_millis(kill_after_ms)).await;
        server.kill();
        for writer in writers {
            writer.await.unwrap();
        }
        let restarted = Server::start(data.path(), &[SAME_PUBLIC_URL]);
        let accepted_now = accepted.lock().unwrap().clone();
        assert!(
            !accepted_now.is_empty(),
            "round {round} published something"
        );
        for (slug, version) in &accepted_now {
            assert_readable(&client, &restarted.base, slug, version).await;
        }
        restarted.terminate();
        assert!(verify_index_of(data.path()).await > 5, "round {round}");
    }
}

/// A new public URL rebuilds the whole index at start; cut short after any of its
/// writes, the rebuild leaves the previous index whole (it is built beside it and
/// swapped in), and the next start finishes it.
#[cfg(feature = "fault-injection")]
#[tokio::test]
async fn a_rebuild_cut_short_leaves_the_previous_index_whole() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(data.path(), &[SAME_PUBLIC_URL]);
    let admin = std::fs::read_to_string(data.path().join("admin.key")).unwrap();
    for slug in ["one", "two", "three"] {
        let status = publish_version(&client, &server.base, admin.trim(), slug, "1.0.0").await;
        assert_eq!(status.unwrap(), 201);
    }
    server.terminate();
    let moved = ("OPENWORKFLOW_REGISTRY_PUBLIC_URL", "https://moved.example");
    for k in [1, 4, 9, 15] {
        let armed = Server::start(
            data.path(),
            &[
                moved,
                (
                    "OPENWORKFLOW_REGISTRY_TEST_ABORT_AFTER_INDEX_WRITES",
                    &k.to_string(),
                ),
            ],
        );
        assert!(!armed.wait_for_exit().success(), "aborted after {k} writes");
        assert!(verify_index_of(data.path()).await > 5, "after {k} writes");
        let config = std::fs::read_to_string(data.path().join("index/config.json")).unwrap();
        assert!(config.contains("registry.test"), "still the previous index");
    }
    let finishing = Server::start(data.path(), &[moved]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !finishing
        .log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("index rebuilt"))
    {
        assert!(Instant::now() < deadline, "the rebuild did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    finishing.terminate();
    assert!(verify_index_of(data.path()).await > 5);
    let config = std::fs::read_to_string(data.path().join("index/config.json")).unwrap();
    assert!(config.contains("moved.example"));
}
