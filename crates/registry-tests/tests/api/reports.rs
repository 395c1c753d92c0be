//! Reports over HTTP, on the backend under test: anyone with a key reports a
//! plugin or a version, within a rate limit; admins list and resolve reports;
//! a report's author is never shown to the plugin's owners.

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
