//! Review pages in headless Chromium: an owner, signed in, follows the account
//! page's link to the reviews of their plugins, opens one waiting for a check,
//! and reads a webhook subscription's deliveries; each page passes axe.

use reqwest::StatusCode;
use serde_json::json;

use crate::driver::Browser;
use crate::helpers::GITHUB_YAML;
use crate::oidc_provider::registry_with_certified_provider_configured;
use crate::sign_in::{make_key_on_the_account_page, sign_in_at_the_certified_provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_follows_a_review_waiting_for_a_check_and_its_deliveries() {
    let (app, _provider) =
        registry_with_certified_provider_configured(|config| config.review.required = true).await;
    // A port nothing listens on: the check never answers, deliveries fail.
    let nowhere = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let check = app
        .client
        .post(app.url("/webhooks"))
        .bearer_auth(&app.admin_key)
        .json(&json!({"url": nowhere, "events": [], "check": {"name": "licence"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(check.status(), StatusCode::CREATED);

    let browser = Browser::launch().await;
    assert_eq!(browser.open(&app.url("/account")).await, 200);
    sign_in_at_the_certified_provider(&browser, "ada", "/account").await;
    let key = make_key_on_the_account_page(&browser, "laptop").await;
    assert_eq!(
        app.publish_yaml(&key, GITHUB_YAML).await.status(),
        StatusCode::ACCEPTED
    );
    let hook: serde_json::Value = app
        .client
        .post(app.url("/webhooks"))
        .bearer_auth(&key)
        .json(&json!({"url": nowhere, "events": ["version.pending_review"], "plugin": "github"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_id = hook["id"].as_str().expect("a subscription").to_owned();

    assert_eq!(browser.open(&app.url("/account")).await, 200);
    browser
        .link("main", "Versions of your plugins under review")
        .await
        .click()
        .await
        .expect("click");
    browser.wait_for_address("/account/reviews", None).await;
    browser.assert_accessible("the review queue").await;
    browser
        .link("main table", "github@1.2.0")
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_for_address("/account/reviews/github@1.2.0", None)
        .await;
    let heading = browser.find("main h1").await.text().await.expect("text");
    assert_eq!(heading, "Review of github@1.2.0");
    let checks = browser
        .script(
            "return Array.from(document.querySelectorAll('section.review tbody tr')).map(r => r.cells[0].innerText + ': ' + r.cells[1].innerText);",
        )
        .await;
    assert_eq!(checks, json!(["licence: waiting for its answer"]));
    browser.assert_accessible("a review's page").await;

    assert_eq!(
        browser
            .open(&app.url(&format!("/account/webhooks/{hook_id}")))
            .await,
        200
    );
    browser
        .assert_accessible("a subscription's deliveries")
        .await;
    browser.close().await;
}
