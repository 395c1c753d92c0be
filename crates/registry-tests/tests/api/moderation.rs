//! Moderation over HTTP, on the backend under test: anyone with a key reports
//! a plugin or a version, within a rate limit; admins list and resolve
//! reports (whose authors the plugin's owners never see), and quarantine a
//! plugin or a version: hidden from every reader but its owners, who see why.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem};
use crate::owners::{call, ok_json, person};

async fn report(app: &TestApp, key: &str, slug: &str, body: Value) -> reqwest::Response {
    call(
        app,
        Method::POST,
        &format!("/plugins/{slug}/reports"),
        key,
        body,
    )
    .await
}

fn report_ids(list: &Value) -> Vec<&str> {
    list["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn anyone_with_a_key_reports_and_admins_list_and_resolve_the_reports() {
    let app = TestApp::spawn().await;
    let (ada, eve) = (person(&app, "ada").await, person(&app, "eve").await);
    app.publish_ok(&ada.key, "suspect", "1.0.0").await;

    let first = ok_json(
        report(
            &app,
            &eve.key,
            "suspect",
            json!({"reason": "malware", "details": "its install script reads ~/.ssh\nand posts it", "version": "1.0.0"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(first["id"].as_str().unwrap().starts_with("rpt_"));
    assert_eq!(first["slug"], "suspect");
    assert_eq!(first["version"], "1.0.0");
    assert_eq!(first["reporter"], eve.id.as_str());
    assert_eq!(first["resolution"], Value::Null);
    app.clock.advance(time::Duration::seconds(1));
    let second = ok_json(
        report(
            &app,
            &eve.key,
            "suspect",
            json!({"reason": "impersonation", "details": "pretends to be the official one"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    // What a report must say, and what it must be about.
    for (body, status, code) in [
        (
            json!({"reason": "boring", "details": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            json!({"reason": "spam", "details": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"reason": "spam", "details": "x".repeat(2001)}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"reason": "spam", "details": "ansi \u{1b}[31m"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
        (
            json!({"reason": "spam", "details": "x", "version": "9.9.9"}),
            StatusCode::NOT_FOUND,
            "version_not_found",
        ),
        (
            json!({"reason": "spam", "details": "x", "extra": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ] {
        expect_problem(report(&app, &eve.key, "suspect", body).await, status, code).await;
    }
    expect_problem(
        report(
            &app,
            &eve.key,
            "no-such-plugin",
            json!({"reason": "spam", "details": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "plugin_not_found",
    )
    .await;
    let anonymous = app
        .send_body(
            Method::POST,
            "/plugins/suspect/reports",
            None,
            "application/json",
            json!({"reason": "spam", "details": "x"}).to_string(),
        )
        .await;
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    // Admins see the reports, newest first; nobody else does.
    let open = ok_json(
        app.get_with_key("/reports", &app.admin_key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        report_ids(&open),
        vec![
            second["id"].as_str().unwrap(),
            first["id"].as_str().unwrap()
        ]
    );
    for key in [&ada.key, &eve.key] {
        expect_problem(
            app.get_with_key("/reports", key).await,
            StatusCode::FORBIDDEN,
            "missing_scope",
        )
        .await;
    }
    expect_problem(
        app.get_with_key("/reports?status=closed", &app.admin_key)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
    )
    .await;

    let resolve = |id: &str, key: &str, note: &str| {
        let path = format!("/reports/{id}/resolve");
        let (key, note) = (key.to_owned(), note.to_owned());
        let app = &app;
        async move { call(app, Method::POST, &path, &key, json!({"note": note})).await }
    };
    let first_id = first["id"].as_str().unwrap();
    expect_problem(
        resolve(first_id, &eve.key, "done").await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    let closed = ok_json(
        resolve(
            first_id,
            &app.admin_key,
            "checked the script: it only reads its own config",
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        closed["resolution"]["note"],
        "checked the script: it only reads its own config"
    );
    expect_problem(
        resolve(first_id, &app.admin_key, "again").await,
        StatusCode::CONFLICT,
        "report_resolved",
    )
    .await;
    expect_problem(
        resolve("rpt_0000000000000000", &app.admin_key, "x").await,
        StatusCode::NOT_FOUND,
        "report_not_found",
    )
    .await;
    let open = ok_json(
        app.get_with_key("/reports", &app.admin_key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report_ids(&open), vec![second["id"].as_str().unwrap()]);
    let all = ok_json(
        app.get_with_key("/reports?status=all", &app.admin_key)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(all["reports"].as_array().unwrap().len(), 2);

    // The owner's audit log does not name the reporter.
    let log = ok_json(
        app.get_with_key("/plugins/suspect/audit", &ada.key).await,
        StatusCode::OK,
    )
    .await;
    assert!(!log.to_string().contains(&eve.id), "{log:#}");
}

#[tokio::test]
async fn reports_are_rate_limited_per_principal() {
    let app = TestApp::spawn().await;
    let (ada, eve) = (person(&app, "ada").await, person(&app, "eve").await);
    app.publish_ok(&ada.key, "target", "1.0.0").await;
    let body = json!({"reason": "spam", "details": "again"});
    for _ in 0..10 {
        ok_json(
            report(&app, &eve.key, "target", body.clone()).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let refused = report(&app, &eve.key, "target", body.clone()).await;
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=360).contains(&retry_after), "{retry_after}");
    expect_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Another principal's allowance is its own; the period brings one back.
    ok_json(
        report(&app, &ada.key, "target", body.clone()).await,
        StatusCode::CREATED,
    )
    .await;
    app.clock.advance(time::Duration::seconds(360));
    ok_json(
        report(&app, &eve.key, "target", body).await,
        StatusCode::CREATED,
    )
    .await;
}

async fn quarantine(app: &TestApp, key: &str, slug: &str, body: Value) -> reqwest::Response {
    call(
        app,
        Method::PUT,
        &format!("/plugins/{slug}/quarantine"),
        key,
        body,
    )
    .await
}

async fn lift(app: &TestApp, slug: &str, query: &str) -> Value {
    ok_json(
        app.client
            .delete(app.url(&format!("/plugins/{slug}/quarantine{query}")))
            .bearer_auth(&app.admin_key)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await
}

fn hit_versions(app_search: &Value, slug: &str) -> Vec<String> {
    app_search["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["slug"] == slug)
        .map(|r| r["version"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_quarantined_version_is_hidden_from_readers_and_shown_to_its_owners_with_the_reason() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada").await;
    app.publish_ok(&ada.key, "quarry", "1.0.0").await;
    app.publish_ok(&ada.key, "quarry", "1.1.0").await;
    let reason = "1.1.0 posts <b>tokens</b> away";
    expect_problem(
        quarantine(
            &app,
            &ada.key,
            "quarry",
            json!({"reason": reason, "version": "1.1.0"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "missing_scope",
    )
    .await;
    let held = ok_json(
        quarantine(
            &app,
            &app.admin_key,
            "quarry",
            json!({"reason": reason, "version": "1.1.0"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(held["quarantine"]["reason"], reason);

    let details = app.get_json("/plugins/quarry").await;
    assert_eq!(
        details["version"], "1.0.0",
        "the latest is the next listed one"
    );
    assert_eq!(details["versions"], json!(["1.0.0"]));
    for path in [
        "/plugins/quarry?version=1.1.0",
        "/plugins/quarry/1.1.0/schema",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let search = app.get_json("/plugins/search?q=quarry").await;
    assert_eq!(hit_versions(&search, "quarry"), ["1.0.0"]);

    let seen_by_owner = ok_json(
        app.get_with_key("/plugins/quarry/owners", &ada.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seen_by_owner["quarantined"][0]["version"], "1.1.0");
    assert_eq!(seen_by_owner["quarantined"][0]["reason"], reason);
    let seen_by_anyone = app.get_json("/plugins/quarry/owners").await;
    assert!(
        seen_by_anyone.get("quarantined").is_none(),
        "{seen_by_anyone}"
    );
    let log = ok_json(
        app.get_with_key("/plugins/quarry/audit", &ada.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(log["records"][0]["action"], "version_quarantined");
    assert_eq!(log["records"][0]["detail"]["note"], reason);

    let lifted = lift(&app, "quarry", "?version=1.1.0").await;
    assert_eq!(lifted["quarantine"], Value::Null);
    assert_eq!(app.get_json("/plugins/quarry").await["version"], "1.1.0");
    assert_eq!(
        app.get("/plugins/quarry/1.1.0/schema").await.status(),
        StatusCode::OK
    );
    let log = ok_json(
        app.get_with_key("/plugins/quarry/audit", &ada.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(log["records"][0]["action"], "quarantine_lifted");
    assert_eq!(log["records"][0]["detail"]["version"], "1.1.0");
    expect_problem(
        quarantine(
            &app,
            &app.admin_key,
            "quarry",
            json!({"reason": "x", "version": "9.0.0"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "version_not_found",
    )
    .await;
    expect_problem(
        quarantine(&app, &app.admin_key, "quarry", json!({"reason": " "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn a_quarantined_plugin_vanishes_for_readers_takes_no_versions_and_comes_back_when_lifted() {
    let app = TestApp::spawn().await;
    let ada = person(&app, "ada").await;
    app.publish_ok(&ada.key, "shady", "1.0.0").await;
    ok_json(
        quarantine(
            &app,
            &app.admin_key,
            "shady",
            json!({"reason": "malware, report rpt_1"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    for path in [
        "/plugins/shady",
        "/plugins/shady/1.0.0/schema",
        "/index/plugins/shady.json",
        "/plugins/shady/owners",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let page = app
        .client
        .get(app.url("/plugins/shady"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND, "the page is gone too");
    assert!(hit_versions(&app.get_json("/plugins/search?q=shady").await, "shady").is_empty());
    expect_problem(
        app.publish_yaml(&ada.key, &crate::helpers::plugin_yaml("shady", "1.0.1"))
            .await,
        StatusCode::FORBIDDEN,
        "plugin_quarantined",
    )
    .await;
    let seen_by_owner = ok_json(
        app.get_with_key("/plugins/shady/owners", &ada.key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        seen_by_owner["quarantined"],
        json!([{"version": null, "reason": "malware, report rpt_1", "since": "2026-03-02T12:00:00Z"}])
    );

    lift(&app, "shady", "").await;
    assert_eq!(app.get_json("/plugins/shady").await["version"], "1.0.0");
    assert_eq!(
        hit_versions(&app.get_json("/plugins/search?q=shady").await, "shady"),
        ["1.0.0"]
    );
    app.publish_ok(&ada.key, "shady", "1.0.1").await;
}
