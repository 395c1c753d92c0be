//! Deprecation and unpublishing.

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::Duration;

use crate::helpers::*;

#[tokio::test]
async fn deprecation_shows_in_details_and_moves_latest() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "dep", "1.0.0").await;
    app.publish_ok(&app.admin_key, "dep", "1.2.0").await;
    let response = app
        .deprecate(&app.admin_key, "dep", "1.2.0", json!({"reason": "Security vulnerability fixed in 1.0.0", "replacement_version": "1.0.0"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "deprecated");
    let details = app.get_json("/plugins/dep?version=1.2.0").await;
    assert_eq!(
        details["deprecated"]["reason"],
        "Security vulnerability fixed in 1.0.0"
    );
    assert_eq!(details["deprecated"]["replacement_version"], "1.0.0");
    assert_eq!(
        details["deprecated"]["deprecated_at"],
        "2026-03-02T12:00:00Z"
    );
    assert_eq!(
        app.get_json("/plugins/dep").await["version"],
        "1.0.0",
        "latest skips deprecated versions"
    );
    assert_eq!(
        app.get_json("/plugins/search?q=dep").await["results"][0]["version"],
        "1.0.0"
    );
}

#[tokio::test]
async fn deprecation_requests_are_checked() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "dep2", "1.0.0").await;
    let body = expect_problem(
        app.deprecate(
            &app.admin_key,
            "dep2",
            "1.0.0",
            json!({"reason": "x", "replacement_version": "3.0.0"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "replacement_version");
    expect_problem(
        app.deprecate(&app.admin_key, "dep2", "1.0.0", json!({"reason": "  "}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_problem(
        app.deprecate(&app.admin_key, "dep2", "1.0.0", json!({}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    let broken = app
        .send_body(
            reqwest::Method::POST,
            "/plugins/dep2/1.0.0/deprecate",
            Some(&app.admin_key),
            "application/json",
            "{",
        )
        .await;
    expect_problem(broken, StatusCode::BAD_REQUEST, "malformed_json").await;
    expect_problem(
        app.deprecate(&app.admin_key, "dep2", "9.0.0", json!({"reason": "x"}))
            .await,
        StatusCode::NOT_FOUND,
        "version_not_found",
    )
    .await;
}

/// Only the owner changes a plugin's versions, and an `admin` key (moderation: a
/// registry's operator must be able to flag or pull a bad release of anyone's plugin).
#[tokio::test]
async fn the_owner_and_an_admin_key_may_deprecate_and_unpublish_others_may_not() {
    let app = TestApp::spawn().await;
    let owner = app.new_principal_key("owner", &["publish"]).await;
    let stranger = app.new_principal_key("stranger", &["publish"]).await;
    app.publish_ok(&owner, "owned", "1.0.0").await;
    app.publish_ok(&owner, "owned", "1.1.0").await;
    expect_problem(
        app.deprecate(&stranger, "owned", "1.0.0", json!({"reason": "mine now"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    expect_problem(
        app.unpublish(&stranger, "owned", "1.1.0").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let deprecated = app
        .deprecate(
            &app.admin_key,
            "owned",
            "1.0.0",
            json!({"reason": "CVE-2026-0001"}),
        )
        .await;
    assert_eq!(deprecated.status(), StatusCode::OK);
    assert_eq!(
        app.unpublish(&app.admin_key, "owned", "1.1.0")
            .await
            .status(),
        StatusCode::OK
    );
    let details = app.get_json("/plugins/owned?version=1.0.0").await;
    assert_eq!(details["deprecated"]["reason"], "CVE-2026-0001");
    expect_problem(
        app.get("/plugins/owned?version=1.1.0").await,
        StatusCode::GONE,
        "version_unpublished",
    )
    .await;
    // Publishing stays the owner's alone, admin or not.
    expect_problem(
        app.publish_yaml(&app.admin_key, &plugin_yaml("owned", "2.0.0"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn unpublish_within_72_hours_removes_the_version_for_good() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "oops", "1.0.0").await;
    app.publish_ok(&app.admin_key, "oops", "1.1.0").await;
    app.clock.advance(Duration::hours(71));
    let response = app.unpublish(&app.admin_key, "oops", "1.1.0").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.json::<Value>().await.unwrap()["status"],
        "unpublished"
    );

    expect_problem(
        app.get("/plugins/oops?version=1.1.0").await,
        StatusCode::GONE,
        "version_unpublished",
    )
    .await;
    expect_problem(
        app.get("/plugins/oops/1.1.0/schema").await,
        StatusCode::GONE,
        "version_unpublished",
    )
    .await;
    let details = app.get_json("/plugins/oops").await;
    assert_eq!(details["version"], "1.0.0");
    assert_eq!(details["versions"], json!(["1.0.0"]));
    let body = expect_problem(
        app.publish_yaml(&app.admin_key, &plugin_yaml("oops", "1.1.0"))
            .await,
        StatusCode::CONFLICT,
        "version_exists",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("never reused"));
    expect_problem(
        app.unpublish(&app.admin_key, "oops", "1.1.0").await,
        StatusCode::GONE,
        "version_unpublished",
    )
    .await;

    assert_eq!(
        app.unpublish(&app.admin_key, "oops", "1.0.0")
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_json("/plugins/search?q=oops").await["total"],
        0,
        "no versions left: gone from search"
    );
    expect_problem(
        app.get("/plugins/oops").await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;
}

#[tokio::test]
async fn after_72_hours_only_a_deprecated_quiet_version_may_be_unpublished() {
    let app = TestApp::spawn().await;
    app.publish_ok(&app.admin_key, "old", "1.0.0").await;
    app.clock.advance(Duration::hours(73));
    let body = expect_problem(
        app.unpublish(&app.admin_key, "old", "1.0.0").await,
        StatusCode::CONFLICT,
        "unpublish_refused",
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("deprecate it first")
    );

    assert_eq!(
        app.deprecate(
            &app.admin_key,
            "old",
            "1.0.0",
            json!({"reason": "superseded"})
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/plugins/old/1.0.0/schema").await.status(),
        StatusCode::OK
    );
    let body = expect_problem(
        app.unpublish(&app.admin_key, "old", "1.0.0").await,
        StatusCode::CONFLICT,
        "unpublish_refused",
    )
    .await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("downloaded 1 time")
    );

    app.clock.advance(Duration::days(6));
    expect_problem(
        app.unpublish(&app.admin_key, "old", "1.0.0").await,
        StatusCode::CONFLICT,
        "unpublish_refused",
    )
    .await;
    app.clock.advance(Duration::days(1));
    assert_eq!(
        app.unpublish(&app.admin_key, "old", "1.0.0").await.status(),
        StatusCode::OK
    );
}
