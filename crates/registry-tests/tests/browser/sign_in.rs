//! Signing in against a certified OpenID provider (npm's `oidc-provider`): in
//! headless Chromium, a person signs in, makes a key on the account page,
//! publishes with it and signs out; over HTTP, the provider's real codes are
//! refused with a wrong `state` and when replayed.

use registry_testkit::oidc::CookieClient;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::driver::Browser;
use crate::helpers::{GITHUB_YAML, plugin_yaml};
use crate::oidc_provider::{
    registry_with_certified_provider, registry_with_certified_provider_where,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_a_certified_provider_makes_a_key_publishes_and_signs_out() {
    let (app, _provider) = registry_with_certified_provider().await;
    let browser = Browser::launch().await;

    assert_eq!(browser.open(&app.url("/account")).await, 200);
    browser
        .wait_for_address("/auth/login", Some("return_to=%2Faccount"))
        .await;
    browser.assert_accessible("the sign-in page").await;
    sign_in_at_the_certified_provider(&browser, "ada", "/account").await;
    let heading = browser.find("main h1").await.text().await.expect("text");
    assert_eq!(heading, "ada");
    // The provider vouches for the address only in its UserInfo answer, as
    // OpenID Connect Core 5.4 has it once an access token is issued.
    let address = browser
        .find("#notice-address strong")
        .await
        .text()
        .await
        .expect("text");
    assert_eq!(address, "ada@example.test");
    browser.assert_accessible("the account page").await;
    let cookies = browser.script("return document.cookie;").await;
    assert_eq!(
        cookies,
        Value::String(String::new()),
        "no script can read the session"
    );

    let secret = make_key_on_the_account_page(&browser, "laptop").await;
    assert!(secret.starts_with("sk_"), "{secret}");
    browser
        .assert_accessible("the account page with a new key")
        .await;
    assert_eq!(
        app.publish_yaml(&secret, GITHUB_YAML).await.status(),
        StatusCode::CREATED,
        "the key made in the browser publishes"
    );

    // Teams and plugins on the account page: a team made with its form, and an
    // invitation from another publisher accepted with its button.
    browser
        .find("#team-name")
        .await
        .send_keys("crew")
        .await
        .expect("type");
    browser
        .find("form.create-team button[type=submit]")
        .await
        .click()
        .await
        .expect("click");
    // Read by script once it shows: an element found as a page is replaced goes stale.
    browser
        .wait_until(
            "the new team is listed",
            "const teams = document.querySelector('ul.teams'); return teams !== null && teams.textContent.includes('crew') && teams.textContent.includes('maintainer');",
        )
        .await;
    let ada_id = browser
        .find("#principal-id")
        .await
        .text()
        .await
        .expect("text");
    let bob = app
        .send_body(
            reqwest::Method::POST,
            "/auth/keys",
            Some(&app.admin_key),
            "application/json",
            json!({"name": "bob", "new_principal": {"name": "bob", "kind": "user"}}).to_string(),
        )
        .await
        .json::<Value>()
        .await
        .expect("json")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    assert_eq!(
        app.publish_yaml(&bob, &plugin_yaml("weather", "1.0.0"))
            .await
            .status(),
        StatusCode::CREATED
    );
    let invited = app
        .send_body(
            reqwest::Method::POST,
            "/plugins/weather/owners",
            Some(&bob),
            "application/json",
            json!({"principal": ada_id}).to_string(),
        )
        .await;
    assert_eq!(invited.status(), StatusCode::CREATED);
    browser.open(&app.url("/account")).await;
    browser
        .assert_accessible("the account page with an invitation")
        .await;
    browser
        .find("ul.invitations button[aria-label^=Accept]")
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_until(
            "the accepted plugin is listed with the one published",
            "const owned = document.querySelector('ul.owned-plugins'); return owned !== null && owned.textContent.includes('github') && owned.textContent.includes('weather');",
        )
        .await;
    assert_eq!(
        app.publish_yaml(&secret, &plugin_yaml("weather", "1.1.0"))
            .await
            .status(),
        StatusCode::CREATED,
        "the accepted plugin is ada's to publish"
    );

    // The plugin's audit log, one click from the account page.
    browser.open(&app.url("/account")).await;
    browser
        .find("a[aria-label='Audit log of weather']")
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_until(
            "the log lists the publish, the acceptance and ada's own release",
            "const log = document.querySelector('section.audit tbody'); return log !== null && log.textContent.includes('owner_added') && log.textContent.includes('version_published') && log.textContent.includes('ada');",
        )
        .await;
    browser.assert_accessible("a plugin's audit log").await;
    browser.open(&app.url("/account")).await;

    browser
        .find("form.sign-out button:not([name])")
        .await
        .click()
        .await
        .expect("click");
    browser.wait_for_address("/", None).await;
    browser.open(&app.url("/account")).await;
    browser
        .wait_for_address("/auth/login", Some("return_to=%2Faccount"))
        .await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_registrys_page_asks_for_sign_in_and_then_shows_itself_styled() {
    let (app, _provider) = registry_with_certified_provider_where(true).await;
    assert_eq!(
        app.publish_yaml(&app.admin_key, &plugin_yaml("weather", "1.0.0"))
            .await
            .status(),
        StatusCode::CREATED
    );
    let browser = Browser::launch().await;
    browser.open(&app.url("/plugins/weather")).await;
    browser
        .wait_for_address("/auth/login", Some("return_to=%2Fplugins%2Fweather"))
        .await;
    sign_in_at_the_certified_provider(&browser, "ada", "/plugins/weather").await;
    assert_eq!(browser.status().await, 200);
    let heading = browser.find("main h1").await.text().await.expect("text");
    assert!(heading.contains("weather"), "{heading}");
    // The stylesheet loaded through the same session: its rules are there.
    let rules = browser
        .script("return [...document.styleSheets].reduce((n, s) => n + s.cssRules.length, 0);")
        .await;
    assert!(rules.as_u64().is_some_and(|n| n > 10), "{rules}");
    browser
        .assert_accessible("a private registry's plugin page")
        .await;
    browser.close().await;
}

/// Makes a key named `name` with the account page's form (the browser is on
/// it, signed in) and returns its secret, which the page shows once.
pub async fn make_key_on_the_account_page(browser: &Browser, name: &str) -> String {
    browser
        .find("#key-name")
        .await
        .send_keys(name)
        .await
        .expect("type");
    browser
        .find("form.create-key button[type=submit]")
        .await
        .click()
        .await
        .expect("click");
    browser.find("#new-key").await.text().await.expect("text")
}

/// From the registry's sign-in page, signs `login` in at the certified provider
/// (any password, then consent), as a person does; ends back at `landing`, the
/// path signing in was asked to return to.
pub async fn sign_in_at_the_certified_provider(browser: &Browser, login: &str, landing: &str) {
    browser
        .link("main", "Sign in with Certified provider")
        .await
        .click()
        .await
        .expect("click");

    // The provider's own sign-in: any login, then consent.
    browser
        .find("input[name=login]")
        .await
        .send_keys(login)
        .await
        .expect("type");
    browser
        .find("input[name=password]")
        .await
        .send_keys("anything")
        .await
        .expect("type");
    browser
        .find("button[type=submit]")
        .await
        .click()
        .await
        .expect("click");
    browser
        .find("input[name=prompt][value=consent] ~ button[type=submit]")
        .await
        .click()
        .await
        .expect("click");

    browser.wait_for_address(landing, None).await;
}

fn with_state(callback: &url::Url, state: &str) -> url::Url {
    let mut changed = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                state.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    changed.query_pairs_mut().clear().extend_pairs(pairs);
    changed
}

async fn code_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certified_providers_codes_are_refused_with_a_wrong_state_and_when_replayed() {
    let (app, _provider) = registry_with_certified_provider().await;

    // The provider's real code, brought back with a state this browser never sent.
    let mut person = CookieClient::new();
    let callback = person.sign_in_at_provider(&app.base, "grace").await;
    let forged = with_state(&callback, "forged-state");
    assert_eq!(
        code_of(person.get(&forged).await).await,
        (
            StatusCode::UNAUTHORIZED,
            "sign_in_state_mismatch".to_owned()
        )
    );

    // A good sign-in, then the same callback again: the attempt is spent.
    let mut person = CookieClient::new();
    let callback = person.sign_in_at_provider(&app.base, "grace").await;
    let first = person.get(&callback).await;
    assert_eq!(
        first.status(),
        StatusCode::SEE_OTHER,
        "the good sign-in works"
    );
    let mut replayer = CookieClient::new();
    let replay_start = replayer.sign_in_at_provider(&app.base, "mallory").await;
    // The replayer's own fresh attempt, carrying Grace's code: the provider
    // refuses a code it already redeemed.
    let state = replay_start
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let replayed = with_state(&callback, &state);
    assert_eq!(
        code_of(replayer.get(&replayed).await).await,
        (StatusCode::UNAUTHORIZED, "code_refused".to_owned())
    );
    assert_eq!(
        code_of(person.get(&callback).await).await,
        (StatusCode::UNAUTHORIZED, "sign_in_not_started".to_owned()),
        "and the first browser cannot use its callback twice"
    );
}
