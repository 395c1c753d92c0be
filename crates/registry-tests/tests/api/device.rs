//! The CLI's sign-in from a terminal (RFC 8628's device grant) over HTTP: the
//! CLI's two calls, the person's confirmation page, and every way a poll is
//! answered, on the backend under test.

use registry_testkit::oidc::csrf_token;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{GITHUB_YAML, TestApp, expect_problem};
use crate::oidc_issuer::TestIssuer;
use crate::sign_in::{Browser, app_with};

async fn start(app: &TestApp, key_name: Option<&str>) -> Value {
    let body = key_name.map_or_else(|| json!({}), |name| json!({ "key_name": name }));
    let response = app
        .client
        .post(app.url("/auth/device"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn poll(app: &TestApp, device_code: &str) -> reqwest::Response {
    app.client
        .post(app.url("/auth/device/token"))
        .json(&json!({ "device_code": device_code }))
        .send()
        .await
        .unwrap()
}

/// The person's answer on the confirmation page.
async fn decide(browser: &mut Browser, user_code: &str, decision: &str) -> reqwest::Response {
    let page = browser
        .get(&format!("/device?user_code={user_code}"), true)
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_token(&page.text().await.unwrap());
    browser
        .post_form(
            "/device",
            &[
                ("csrf", &csrf),
                ("user_code", user_code),
                ("decision", decision),
            ],
        )
        .await
}

#[tokio::test]
async fn a_terminal_gets_a_key_once_its_person_confirms_the_code() {
    let issuer = TestIssuer::start().await;
    let app = app_with(&issuer).await;
    let started = start(&app, Some("CLI on build-box")).await;
    let device_code = started["device_code"].as_str().unwrap();
    let user_code = started["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(started["verification_uri"], app.url("/device"));
    assert_eq!(
        started["verification_uri_complete"],
        app.url(&format!("/device?user_code={user_code}"))
    );
    assert_eq!(started["interval"], 5);
    assert_eq!(started["expires_in"], 600);

    expect_problem(
        poll(&app, device_code).await,
        StatusCode::BAD_REQUEST,
        "authorization_pending",
    )
    .await;
    expect_problem(
        poll(&app, device_code).await,
        StatusCode::BAD_REQUEST,
        "slow_down",
    )
    .await;

    // Not signed in: the page sends the person to sign in, and back.
    let mut browser = Browser::new(&app);
    let away = browser
        .get(&format!("/device?user_code={user_code}"), true)
        .await;
    assert_eq!(away.status(), StatusCode::SEE_OTHER);
    let expected = format!("/auth/login?return_to=%2Fdevice%3Fuser_code%3D{user_code}");
    assert_eq!(away.headers()["location"], expected.as_str());
    browser.sign_in_as(&issuer, "subject-42", "linus").await;
    let page = browser
        .get(&format!("/device?user_code={user_code}"), true)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("CLI on build-box"),
        "the page names the key: {page}"
    );

    // A form without the session's token changes nothing.
    let forged = browser
        .post_form(
            "/device",
            &[("user_code", user_code), ("decision", "approve")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    app.clock.advance(time::Duration::seconds(6));
    expect_problem(
        poll(&app, device_code).await,
        StatusCode::BAD_REQUEST,
        "authorization_pending",
    )
    .await;

    let approved = decide(&mut browser, user_code, "approve").await;
    assert_eq!(approved.status(), StatusCode::OK);
    assert!(approved.text().await.unwrap().contains("Approved"));
    app.clock.advance(time::Duration::seconds(6));
    let answer = poll(&app, device_code).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let created: Value = answer.json().await.unwrap();
    let key = created["key"].as_str().unwrap();
    assert_eq!(created["name"], "CLI on build-box");
    assert_eq!(created["scopes"], json!(["publish"]));
    assert!(created["expires_at"].is_string(), "a person's key expires");
    assert_eq!(
        app.publish_yaml(key, GITHUB_YAML).await.status(),
        StatusCode::CREATED,
        "the terminal's key publishes"
    );
    assert!(
        browser.account_page().await.contains("CLI on build-box"),
        "the key is the person's own"
    );

    app.clock.advance(time::Duration::seconds(6));
    expect_problem(
        poll(&app, device_code).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let again = decide(&mut browser, user_code, "approve").await;
    assert_eq!(
        again.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a code is confirmed once"
    );
}

#[tokio::test]
async fn a_refused_a_lapsed_and_an_unknown_device_sign_in_get_no_key() {
    let issuer = TestIssuer::start().await;
    let app = app_with(&issuer).await;
    let mut browser = Browser::new(&app);
    browser.sign_in_as(&issuer, "subject-43", "ken").await;

    let refused = start(&app, None).await;
    let denied = decide(&mut browser, refused["user_code"].as_str().unwrap(), "deny").await;
    assert_eq!(denied.status(), StatusCode::OK);
    expect_problem(
        poll(&app, refused["device_code"].as_str().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "access_denied",
    )
    .await;

    let lapsed = start(&app, None).await;
    app.clock.advance(time::Duration::minutes(11));
    expect_problem(
        poll(&app, lapsed["device_code"].as_str().unwrap()).await,
        StatusCode::BAD_REQUEST,
        "expired_token",
    )
    .await;
    let page = browser
        .get(
            &format!(
                "/device?user_code={}",
                lapsed["user_code"].as_str().unwrap()
            ),
            true,
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("no device is waiting for that code"),
        "{page}"
    );

    expect_problem(
        poll(&app, &"0".repeat(64)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    expect_problem(
        poll(&app, "not-a-code").await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let long_name = "n".repeat(101);
    let response = app
        .client
        .post(app.url("/auth/device"))
        .json(&json!({ "key_name": long_name }))
        .send()
        .await
        .unwrap();
    expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn a_registry_without_sign_in_has_no_device_sign_in() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .post(app.url("/auth/device"))
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND, "sign_in_unavailable").await;
}
