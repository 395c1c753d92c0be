//! `POST /uploads`: presigned bundle uploads on the aws backend (whichever backend the
//! suite runs on), and a clear refusal on the embedded one, which takes bundles in the body.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn open_upload(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.send_body(
        reqwest::Method::POST,
        "/uploads",
        Some(key),
        "application/json",
        body.to_string(),
    )
    .await
}

/// Opens an upload for `declared` and PUTs `sent` to it; returns the upload id.
async fn upload(app: &TestApp, key: &str, declared: &[u8], sent: Vec<u8>) -> String {
    let response = open_upload(
        app,
        key,
        json!({ "size": declared.len(), "sha256": sha256_hex(declared) }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let ticket: Value = response.json().await.unwrap();
    assert_eq!(ticket["method"], "PUT");
    let mut put = app.client.put(ticket["url"].as_str().unwrap());
    for (name, value) in ticket["headers"].as_object().unwrap() {
        if name != "content-length" {
            put = put.header(name.as_str(), value.as_str().unwrap());
        }
    }
    let status = put.body(sent).send().await.unwrap().status();
    assert!(status.is_success(), "PUT to the presigned URL: {status}");
    ticket["upload_id"].as_str().unwrap().to_owned()
}

async fn publish_upload(app: &TestApp, key: &str, upload_id: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/plugins?upload_id={upload_id}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

fn bundle(slug: &str, version: &str) -> Vec<u8> {
    zip_of(&[("plugin.yaml", plugin_yaml(slug, version).as_bytes())])
}

#[tokio::test]
async fn the_embedded_backend_takes_bundles_in_the_body_instead_of_uploads() {
    let app = TestApp::spawn_on(TestBackend::Embedded).await;
    let response = open_upload(
        &app,
        &app.admin_key,
        json!({ "size": 10, "sha256": sha256_hex(b"0123456789") }),
    )
    .await;
    let body = expect_problem(response, StatusCode::NOT_FOUND, "uploads_unsupported").await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("POST the ZIP to /plugins")
    );
}

#[tokio::test]
async fn an_upload_publishes_and_updates_like_a_bundle_in_the_body() {
    let app = TestApp::spawn_on(TestBackend::Aws).await;
    let first = bundle("uploaded", "1.0.0");
    let id = upload(&app, &app.admin_key, &first, first.clone()).await;
    assert_eq!(
        publish_upload(&app, &app.admin_key, &id).await.status(),
        StatusCode::CREATED
    );
    let second = bundle("uploaded", "1.1.0");
    let id = upload(&app, &app.admin_key, &second, second.clone()).await;
    let response = app
        .client
        .put(app.url(&format!("/plugins/uploaded?upload_id={id}")))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let details = app.get_json("/plugins/uploaded").await;
    assert_eq!(details["version"], "1.1.0");
    assert_eq!(details["bundle_sha256"], sha256_hex(&second));
    let served = app.get("/plugins/uploaded/1.1.0/bundle").await;
    assert_eq!(served.bytes().await.unwrap().as_ref(), second.as_slice());
}

#[tokio::test]
async fn bad_upload_requests_say_what_to_fix() {
    let app = TestApp::spawn_on(TestBackend::Aws).await;
    let key = &app.admin_key;
    let digest = sha256_hex(b"x");
    expect_problem(
        open_upload(
            &app,
            key,
            json!({ "size": 5 * 1024 * 1024 + 1, "sha256": digest }),
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    )
    .await;
    expect_problem(
        open_upload(&app, key, json!({ "size": 0, "sha256": digest })).await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    let body = expect_problem(
        open_upload(&app, key, json!({ "size": 10, "sha256": "abc" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "sha256");
    expect_problem(
        open_upload(&app, key, json!({ "size": 10 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    let response = app
        .client
        .post(app.url("/uploads"))
        .json(&json!({ "size": 10, "sha256": digest }))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let reader = app.new_principal_key("reader", &["read"]).await;
    expect_problem(
        open_upload(&app, &reader, json!({ "size": 10, "sha256": digest })).await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
}

#[tokio::test]
async fn an_upload_is_checked_before_anything_is_published() {
    let app = TestApp::spawn_on(TestBackend::Aws).await;
    let key = &app.admin_key;
    expect_problem(
        publish_upload(&app, key, "upl_nope").await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;
    expect_problem(
        publish_upload(&app, key, &format!("upl_{}", "0".repeat(32))).await,
        StatusCode::NOT_FOUND,
        "upload_not_found",
    )
    .await;

    // Bytes that differ from the declared digest (same length) are refused.
    let declared = bundle("swapped", "1.0.0");
    let mut sent = declared.clone();
    let last = sent.len() - 1;
    sent[last] ^= 0xff;
    let id = upload(&app, key, &declared, sent).await;
    let body = expect_problem(
        publish_upload(&app, key, &id).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "upload_mismatch",
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&sha256_hex(&declared))
    );

    // A well-declared upload that is not a valid bundle fails the same ZIP checks.
    let not_zip = b"this is not a zip archive".to_vec();
    let id = upload(&app, key, &not_zip, not_zip.clone()).await;
    expect_problem(
        publish_upload(&app, key, &id).await,
        StatusCode::BAD_REQUEST,
        "invalid_bundle",
    )
    .await;

    // Another principal cannot publish someone else's upload.
    let zip = bundle("mine", "1.0.0");
    let id = upload(&app, key, &zip, zip.clone()).await;
    let other = app.new_principal_key("other", &["publish"]).await;
    expect_problem(
        publish_upload(&app, &other, &id).await,
        StatusCode::NOT_FOUND,
        "upload_not_found",
    )
    .await;

    // A body together with an upload id is ambiguous.
    let response = app
        .client
        .post(app.url(&format!("/plugins?upload_id={id}")))
        .bearer_auth(key)
        .header("content-type", "application/zip")
        .body(zip.clone())
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::BAD_REQUEST, "ambiguous_body").await;

    // None of the refusals published anything.
    for slug in ["swapped", "mine"] {
        assert_eq!(
            app.get(&format!("/plugins/{slug}")).await.status(),
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        publish_upload(&app, key, &id).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_presigned_upload_reaches_the_org_catalog_by_upload_id() {
    let app = TestApp::spawn_on(TestBackend::Aws).await;
    let zip = bundle("big-agent", "1.0.0");
    let id = upload(&app, &app.admin_key, &zip, zip.clone()).await;
    let to_system = |id: String| {
        app.client
            .post(app.url(&format!("/api/system/plugins/upload?upload_id={id}")))
            .bearer_auth(&app.admin_key)
            .send()
    };
    let response = to_system(id.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let row: Value = response.json().await.unwrap();
    assert_eq!(
        (row["pid"].as_str(), row["source"].as_str()),
        (Some("big-agent"), Some("system"))
    );
    assert_eq!(row["sha256"], sha256_hex(&zip));
    expect_problem(
        to_system(id).await.unwrap(),
        StatusCode::NOT_FOUND,
        "upload_not_found",
    )
    .await;

    // A principal without sys_admin is refused before any upload is looked up.
    let other = app.new_principal_key("other", &["publish"]).await;
    let second = bundle("big-agent", "1.0.1");
    let id = upload(&app, &app.admin_key, &second, second.clone()).await;
    let response = app
        .client
        .post(app.url(&format!("/api/system/plugins/upload?upload_id={id}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::FORBIDDEN, "missing_permission").await;
}
