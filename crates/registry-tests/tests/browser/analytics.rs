//! A plugin's analytics page in headless Chromium: its owner, signed in, follows
//! the link from the account page and sees one bar a day, the downloads the test
//! made where they were made, and each client's share.

use reqwest::StatusCode;
use reqwest::header::USER_AGENT;

use crate::driver::Browser;
use crate::helpers::GITHUB_YAML;
use crate::oidc_provider::registry_with_certified_provider;
use crate::sign_in::{make_key_on_the_account_page, sign_in_at_the_certified_provider};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sees_a_bar_a_day_and_who_downloaded() {
    let (app, _provider) = registry_with_certified_provider().await;
    let browser = Browser::launch().await;
    assert_eq!(browser.open(&app.url("/account")).await, 200);
    sign_in_at_the_certified_provider(&browser, "ada", "/account").await;
    let key = make_key_on_the_account_page(&browser, "laptop").await;
    assert_eq!(
        app.publish_yaml(&key, GITHUB_YAML).await.status(),
        StatusCode::CREATED
    );
    for agent in [
        "openworkflow/0.4.1",
        "openworkflow/0.4.1",
        "openworkflow/0.4.1",
        "Mozilla/5.0",
    ] {
        let response = app
            .client
            .get(app.url("/plugins/github/1.2.0/schema"))
            .header(USER_AGENT, agent)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    assert_eq!(browser.open(&app.url("/account")).await, 200);
    browser
        .link("ul.owned-plugins", "downloads")
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_for_address("/account/plugins/github/analytics", None)
        .await;
    let heading = browser.find("main h1").await.text().await.expect("text");
    assert_eq!(heading, "Downloads of github");
    // Thirty days, today's bar last, holding all four downloads.
    let bars = browser
        .script(
            "return Array.from(document.querySelectorAll('svg.downloads-chart g[data-period]')).map(g => Number(g.dataset.downloads));",
        )
        .await;
    let bars: Vec<u64> = serde_json::from_value(bars).expect("numbers");
    assert_eq!(bars.len(), 30, "{bars:?}");
    assert_eq!(bars.last(), Some(&4));
    assert_eq!(bars.iter().sum::<u64>(), 4);
    let clients = browser
        .script(
            "return Array.from(document.querySelectorAll('table.clients tbody tr')).map(r => r.innerText.replace(/\\s+/g, ' ').trim());",
        )
        .await;
    assert_eq!(
        clients,
        serde_json::json!(["openworkflow/0.4.1 3 75.0%", "other 1 25.0%"])
    );
    browser.assert_accessible("the analytics page").await;

    // Twelve months: the same downloads, in this month's bar.
    browser
        .link("nav ul.ranges", "Last 12 months")
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_for_address(
            "/account/plugins/github/analytics",
            Some("granularity=month"),
        )
        .await;
    let months = browser
        .script(
            "return Array.from(document.querySelectorAll('svg.downloads-chart g[data-period]')).map(g => Number(g.dataset.downloads));",
        )
        .await;
    assert_eq!(months.as_array().map(Vec::len), Some(12), "{months}");
    browser.close().await;
}
