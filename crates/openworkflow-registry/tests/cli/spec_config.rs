//! The spec's configuration: `DATABASE_URL` (PostgreSQL or a SQLite file),
//! `STORAGE_BACKEND` and `S3_BUCKET`, beside the `OPENWORKFLOW_REGISTRY_*` names.

use std::process::Command;

use registry_testkit::TestPlugin;

use super::{BIN, Server, init_aws, publish_version};

/// Every storage variable, removed before a case sets its own, so the
/// environment the suite runs in cannot decide a case.
pub(crate) const STORAGE_VARIABLES: [&str; 7] = [
    "DATABASE_URL",
    "STORAGE_BACKEND",
    "S3_BUCKET",
    "OPENWORKFLOW_REGISTRY_BACKEND",
    "OPENWORKFLOW_REGISTRY_BUCKET",
    "OPENWORKFLOW_REGISTRY_TABLE",
    "OPENWORKFLOW_REGISTRY_DATA",
];

#[tokio::test]
async fn the_spec_variables_run_postgres_with_artifacts_and_index_in_the_bucket() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
        "needs moto's S3: run ./scripts/test.sh"
    );
    let name = new_bucket("spec-config");
    let url = registry_testkit::postgres::fresh_schema_url("spec_config").await;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(
        data.path(),
        &[
            ("DATABASE_URL", url.as_str()),
            ("STORAGE_BACKEND", "s3"),
            ("S3_BUCKET", name.as_str()),
        ],
    );
    let client = reqwest::Client::new();
    publish_as_admin(&client, &server, data.path(), "spec-config").await;
    let schema = client
        .get(format!("{}/plugins/spec-config/1.0.0/schema", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(schema.status(), 200);
    assert_eq!(
        schema.text().await.unwrap(),
        TestPlugin::new("spec-config", "1.0.0").yaml()
    );
    let details = super::get_json(&client, &format!("{}/plugins/spec-config", server.base)).await;
    assert_eq!(details["versions"], serde_json::json!(["1.0.0"]));
    let (status, _) = server.terminate();
    assert!(status.success());

    // The bucket holds the artifact and the signed index, which verifies; the data
    // directory holds no index of its own.
    let clients = registry_aws::AwsClients::from_env(registry_aws::s3_needs_path_style()).await;
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(
        keys.iter()
            .any(|k| k.starts_with("artifacts/spec-config/1.0.0/")),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|k| k.starts_with("index/") && k.contains("spec-config")),
        "{keys:?}"
    );
    assert!(!data.path().join(registry_index::INDEX_DIR).exists());
    let key = registry_index::IndexSigningKey::load_or_create(
        &data.path().join(registry_index::INDEX_KEY_FILE),
    )
    .unwrap()
    .0;
    let store = registry_aws::S3IndexStore::new(clients.s3, name.clone());
    use registry_core::timestamp::{Clock, SystemClock};
    let verified =
        registry_index::verify::verify_index(&store, &key.public_key(), SystemClock.now())
            .await
            .unwrap_or_else(|e| panic!("the index in the bucket does not verify: {e}"));
    assert!(verified.files_checked > 1);
}

#[tokio::test]
async fn a_sqlite_database_url_names_the_catalog_file() {
    let data = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("registry.sqlite3");
    let url = format!("sqlite://{}", file.display());
    assert!(url.starts_with("sqlite:///"), "an absolute path: {url}");
    let envs = [("DATABASE_URL", url.as_str())];
    let server = Server::start(data.path(), &envs);
    let client = reqwest::Client::new();
    publish_as_admin(&client, &server, data.path(), "in-a-file").await;
    server.terminate();
    assert!(file.exists(), "the catalog is the file the URL names");
    assert!(
        !data
            .path()
            .join(openworkflow_registry::CATALOG_FILE)
            .exists()
    );

    // Started again on the same URL, the registry has what it had.
    let again = Server::start(data.path(), &envs);
    let details = client
        .get(format!("{}/plugins/in-a-file", again.base))
        .send()
        .await
        .unwrap();
    assert_eq!(details.status(), 200);
    again.terminate();
}

#[test]
fn storage_settings_that_cannot_mean_one_thing_stop_the_start_with_the_fix() {
    let data = tempfile::tempdir().unwrap();
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("STORAGE_BACKEND", "s3")], "set S3_BUCKET"),
        (
            &[("STORAGE_BACKEND", "nfs")],
            "possible values: filesystem, s3",
        ),
        (&[("DATABASE_URL", "mysql://db/registry")], "postgres://"),
        (
            &[("DATABASE_URL", "sqlite://:memory:")],
            "no in-memory database",
        ),
        (
            &[("OPENWORKFLOW_REGISTRY_BUCKET", "a"), ("S3_BUCKET", "b")],
            "set one of them",
        ),
        (
            &[
                ("OPENWORKFLOW_REGISTRY_BACKEND", "aws"),
                ("OPENWORKFLOW_REGISTRY_TABLE", "t"),
                ("S3_BUCKET", "b"),
                ("STORAGE_BACKEND", "filesystem"),
            ],
            "unset STORAGE_BACKEND or set it to s3",
        ),
        (
            &[
                ("OPENWORKFLOW_REGISTRY_BACKEND", "embedded"),
                ("DATABASE_URL", "postgres://registry@127.0.0.1:1/registry"),
            ],
            "DATABASE_URL names another catalog",
        ),
    ];
    for (envs, fix) in cases {
        let mut command = Command::new(BIN);
        command
            .args(["create-key", "--name", "x", "--data"])
            .arg(data.path());
        for variable in STORAGE_VARIABLES {
            command.env_remove(variable);
        }
        let output = command.envs(envs.iter().copied()).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{envs:?} was refused: {stderr}");
        assert!(stderr.contains(fix), "{envs:?} says {fix:?}: {stderr}");
    }
    assert!(
        !data
            .path()
            .join(openworkflow_registry::CATALOG_FILE)
            .exists(),
        "nothing was opened"
    );
}

/// A bucket deleted under a running registry: `/readyz` names it (and reads
/// answer 503 rather than 404 as if the registry were empty), while `/healthz`
/// still says the process is alive.
#[tokio::test]
async fn readyz_names_a_bucket_that_went_away_while_healthz_stays_alive() {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
        "needs moto's S3: run ./scripts/test.sh"
    );
    let name = new_bucket("spec-ready");
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(
        data.path(),
        &[("STORAGE_BACKEND", "s3"), ("S3_BUCKET", name.as_str())],
    );
    let client = reqwest::Client::new();
    publish_as_admin(&client, &server, data.path(), "ready-check").await;
    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    let clients = registry_aws::AwsClients::from_env(registry_aws::s3_needs_path_style()).await;
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(&name)
        .send()
        .await
        .unwrap();
    for key in listed.contents().iter().filter_map(|o| o.key()) {
        clients
            .s3
            .delete_object()
            .bucket(&name)
            .key(key)
            .send()
            .await
            .unwrap();
    }
    clients
        .s3
        .delete_bucket()
        .bucket(&name)
        .send()
        .await
        .unwrap();

    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "unavailable");
    assert_eq!(ready["checks"]["catalog"], "ok");
    let storage = ready["checks"]["storage"].as_str().unwrap();
    assert!(
        storage.contains(&format!("the S3 bucket \"{name}\" does not exist")),
        "{storage}"
    );
    let details = client
        .get(format!("{}/plugins/ready-check", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        details.status(),
        503,
        "not a 404 as if the plugin were gone"
    );
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    server.terminate();
}

/// A new bucket (and table, which `init-aws` makes beside it) named after `tag`.
pub(crate) fn new_bucket(tag: &str) -> String {
    let name = format!("{tag}-{}", std::process::id());
    init_aws(&[
        ("OPENWORKFLOW_REGISTRY_TABLE", name.as_str()),
        ("OPENWORKFLOW_REGISTRY_BUCKET", name.as_str()),
    ]);
    name
}

/// Publishes `slug` 1.0.0 with the admin key the first start wrote to `data`.
async fn publish_as_admin(
    client: &reqwest::Client,
    server: &Server,
    data: &std::path::Path,
    slug: &str,
) {
    let admin = std::fs::read_to_string(data.join("admin.key")).unwrap();
    let status = publish_version(client, &server.base, admin.trim(), slug, "1.0.0")
        .await
        .unwrap();
    assert_eq!(status, 201);
}

/// PostgreSQL stopped under a running registry: `/readyz` answers 503 naming the
/// catalog while `/healthz` stays alive, and 200 again once PostgreSQL is back,
/// with writes working again (the pool replaces the connections it lost).
#[tokio::test]
async fn readyz_follows_postgres_going_away_and_coming_back() {
    let postgres = registry_testkit::postgres::PrivateServer::start();
    let url = postgres.url();
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path(), &[("DATABASE_URL", url.as_str())]);
    let client = reqwest::Client::new();
    let readyz = || async {
        let answer = client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.json::<serde_json::Value>().await.unwrap())
    };
    assert_eq!(readyz().await.0, 200);

    postgres.stop();
    let (status, body) = readyz().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    let catalog = body["checks"]["catalog"].as_str().unwrap();
    assert_ne!(catalog, "ok", "{body}");
    let alive = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200);

    postgres.resume();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body) = readyz().await;
        if status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still not ready 20 s after PostgreSQL came back: {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    publish_as_admin(&client, &server, data.path(), "back-again").await;
    server.terminate();
}
