//! Reads served from the static index the server keeps under `DATA/index/`, as
//! CloudFront serves it from S3.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};

use crate::helpers::{TestApp, TestBackend, expect_problem};

#[tokio::test]
async fn details_are_the_index_files_byte_for_byte_with_etags() {
    let app = TestApp::spawn_on(TestBackend::Embedded).await;
    let published = app
        .publish_yaml(
            &app.admin_key,
            &crate::helpers::plugin_yaml("github", "1.0.0"),
        )
        .await;
    assert_eq!(published.status(), StatusCode::CREATED);
    let publish_etag = published.headers()[ETAG].to_str().unwrap().to_owned();

    let index = app.data.path().join("index");
    for (url, file) in [
        ("/plugins/github", "plugins/github.json"),
        ("/plugins/github?version=1.0.0", "plugins/github/1.0.0.json"),
        (
            "/plugins/github/1.0.0/schema",
            "plugins/github/1.0.0/schema",
        ),
        ("/index/config.json", "config.json"),
        ("/index/timestamp.json", "timestamp.json"),
    ] {
        let response = app.get(url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let etag = response.headers()[ETAG].to_str().unwrap().to_owned();
        let body = response.bytes().await.unwrap();
        assert_eq!(
            body.as_ref(),
            std::fs::read(index.join(file)).unwrap(),
            "{url}"
        );
        assert_eq!(etag, registry_core::store::content_etag(&body), "{url}");
        let again = app
            .client
            .get(app.url(url))
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{url}");
    }
    let version = app.get("/plugins/github?version=1.0.0").await;
    assert_eq!(
        version.headers()[ETAG].to_str().unwrap(),
        publish_etag,
        "publish says which details ETag it made"
    );
    assert_eq!(
        version.headers()[CACHE_CONTROL],
        "public, max-age=60, must-revalidate"
    );
    let schema = app.get("/plugins/github/1.0.0/schema").await;
    assert_eq!(
        schema.headers()[CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(schema.headers()[CONTENT_TYPE], "application/yaml");
}

#[tokio::test]
async fn the_served_index_verifies_against_its_published_key() {
    let app = TestApp::spawn_on(TestBackend::Embedded).await;
    app.publish_ok(&app.admin_key, "github", "1.0.0").await;
    app.publish_ok(&app.admin_key, "weather", "0.3.0").await;
    let config: registry_index::format::IndexConfig =
        serde_json::from_slice(&app.get("/index/config.json").await.bytes().await.unwrap())
            .unwrap();
    assert_eq!(config.details_url, format!("{}/plugins/{{slug}}", app.base));
    let key =
        registry_index::IndexPublicKey::from_hex(&config.index_public_key.public_key).unwrap();
    let store = registry_index::FileIndexStore::new(app.data.path().join("index"));
    let now = registry_core::timestamp::Clock::now(&*app.clock);
    let verified = registry_index::verify::verify_index(&store, &key, now)
        .await
        .unwrap();
    assert!(verified.files_checked >= 7);
}

#[tokio::test]
async fn unpublished_versions_are_gone_from_the_index_and_unknown_files_are_404() {
    let app = TestApp::spawn_on(TestBackend::Embedded).await;
    app.publish_ok(&app.admin_key, "github", "1.0.0").await;
    app.publish_ok(&app.admin_key, "github", "1.1.0").await;
    assert_eq!(
        app.unpublish(&app.admin_key, "github", "1.1.0")
            .await
            .status(),
        StatusCode::OK
    );
    assert!(
        app.data
            .path()
            .join("index/plugins/github/1.1.0.json")
            .exists(),
        "a 410 answer is a file too"
    );
    for url in [
        "/plugins/github?version=1.1.0",
        "/plugins/github/1.1.0/schema",
    ] {
        expect_problem(app.get(url).await, StatusCode::GONE, "version_unpublished").await;
    }
    expect_problem(
        app.get("/index/nothing.json").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.get("/plugins/nothing").await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;
    expect_problem(
        app.get("/plugins/github?version=9.9.9").await,
        StatusCode::NOT_FOUND,
        "version_not_found",
    )
    .await;
}

#[tokio::test]
async fn a_server_started_over_an_existing_catalog_builds_its_missing_index() {
    let app = TestApp::spawn_on(TestBackend::Embedded).await;
    app.publish_ok(&app.admin_key, "github", "1.0.0").await;
    std::fs::remove_dir_all(app.data.path().join("index")).unwrap();
    let mut config =
        openworkflow_registry::ServerConfig::embedded(app.data.path(), app.base.clone());
    config.private = false;
    let opened = openworkflow_registry::open_registry(&config, app.clock.clone())
        .await
        .unwrap();
    openworkflow_registry::ensure_index(&opened.builder, false)
        .await
        .unwrap();
    assert!(app.data.path().join("index/plugins/github.json").exists());
}
