//! Review pages in headless Chromium: an owner, signed in, follows the account
//! page's link to the reviews of their plugins, opens one waiting for a check,
//! and reads a webhook subscription's deliveries; a reviewer rejects one held
//! version with a comment and approves another from the pages; each page
//! passes axe.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

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
    let hook: Value = app
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_rejects_and_approves_held_versions_in_the_browser() {
    let (app, _provider) =
        registry_with_certified_provider_configured(|config| config.review.required = true).await;
    let owner = app.new_principal_key("owner", &["publish"]).await;
    for version in ["1.0.0", "1.1.0"] {
        let yaml = crate::helpers::plugin_yaml("weather", version);
        assert_eq!(
            app.publish_yaml(&owner, &yaml).await.status(),
            StatusCode::ACCEPTED
        );
    }

    let browser = Browser::launch().await;
    assert_eq!(browser.open(&app.url("/account")).await, 200);
    sign_in_at_the_certified_provider(&browser, "rita", "/account").await;
    let rita = browser
        .find("#principal-id")
        .await
        .text()
        .await
        .expect("text");
    let granted = app
        .send_body(
            Method::PUT,
            &format!("/api/principals/{rita}/permissions/registry:review"),
            Some(&app.admin_key),
            "application/json",
            String::new(),
        )
        .await;
    assert_eq!(granted.status(), StatusCode::NO_CONTENT);

    assert_eq!(browser.open(&app.url("/account")).await, 200);
    browser
        .link("#awaiting-review", "2 versions wait for your review")
        .await
        .click()
        .await
        .expect("click");
    browser.wait_for_address("/account/reviews", None).await;
    browser
        .assert_accessible("the reviews page of a reviewer")
        .await;
    browser
        .link("table.awaiting", "weather@1.1.0")
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_for_address("/account/reviews/weather@1.1.0", None)
        .await;
    browser
        .assert_accessible("a review's page with its decision form")
        .await;
    browser
        .find("#review-comment")
        .await
        .send_keys("the icon is someone else's")
        .await
        .expect("type");
    browser
        .find("form.decide button[value=reject]")
        .await
        .click()
        .await
        .expect("click");
    browser.wait_for_address("/account/reviews", None).await;
    let waiting = browser
        .script(
            "return Array.from(document.querySelectorAll('table.awaiting a')).map(a => a.innerText);",
        )
        .await;
    assert_eq!(
        waiting,
        json!(["weather@1.0.0"]),
        "the rejected one is gone"
    );

    browser
        .link("table.awaiting", "weather@1.0.0")
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_for_address("/account/reviews/weather@1.0.0", None)
        .await;
    browser
        .find("form.decide button[value=approve]")
        .await
        .click()
        .await
        .expect("click");
    browser.wait_for_address("/account/reviews", None).await;
    let empty = browser.find("main").await.text().await.expect("text");
    assert!(empty.contains("Nothing waits for review."), "{empty}");
    browser.close().await;

    let details: Value = app.get("/plugins/weather").await.json().await.unwrap();
    assert_eq!(details["version"], "1.0.0");
    let rejected: Value = app
        .get_with_key("/reviews/weather@1.1.0", &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        rejected["decision"]["comment"],
        "the icon is someone else's"
    );
    assert_eq!(rejected["decision"]["decided_by"], rita.as_str());
}
