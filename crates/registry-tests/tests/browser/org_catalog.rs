//! The org catalog in headless Chromium: a member signed in with the certified
//! provider comes back to the org's page they asked for, filters its catalog by
//! tag, opens a plugin's versions and the preview of its settings form (the
//! write-only field masked), and disables a version; another org's page is
//! refused and shows none of its plugins. Every page passes axe.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::driver::Browser;
use crate::helpers::{TestApp, multipart_upload, tagged_zip};
use crate::oidc_provider::registry_with_certified_provider;
use crate::sign_in::sign_in_at_the_certified_provider;

const WRITE: &str = "cadence:org:plugins:write";

const SETTINGS: &str = "settings_schema:\n  type: object\n  properties:\n    api_key:\n      type: string\n      title: API key\n      description: The search service's key.\n      writeOnly: true\n      default: sk-never-on-a-page\n    max_results:\n      type: integer\n      title: Most results\n      minimum: 1\n      maximum: 50\n      default: 10\n    safe_search:\n      type: boolean\n      default: true\n  required: [api_key]\n";

/// An admin call; its status must be `expected`.
async fn admin(app: &TestApp, method: Method, path: &str, body: Value, expected: StatusCode) {
    let response = app
        .send_body(
            method,
            path,
            Some(&app.admin_key),
            "application/json",
            body.to_string(),
        )
        .await;
    assert_eq!(response.status(), expected, "{path}");
}

/// Lets `principal` write to `org`'s catalog.
async fn make_writer(app: &TestApp, principal: &str, org: &str) {
    let permission = format!("/api/principals/{principal}/permissions/{WRITE}");
    admin(
        app,
        Method::PUT,
        &permission,
        Value::Null,
        StatusCode::NO_CONTENT,
    )
    .await;
    let membership = format!("/api/orgs/{org}/members/{principal}");
    admin(
        app,
        Method::PUT,
        &membership,
        Value::Null,
        StatusCode::NO_CONTENT,
    )
    .await;
}

/// Uploads `zip` to `path` with `key`.
async fn upload(app: &TestApp, path: &str, key: &str, zip: &[u8]) {
    let (content_type, body) = multipart_upload(Some("plugin.zip"), zip);
    let response = app
        .send_body(Method::POST, path, Some(key), &content_type, body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "{path}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_browses_the_org_catalog_and_another_orgs_stays_closed() {
    let (app, _provider) = registry_with_certified_provider().await;
    for (id, name) in [("acme", "Acme Corp"), ("globex", "Globex")] {
        admin(
            &app,
            Method::POST,
            "/api/orgs",
            json!({"id": id, "name": name}),
            StatusCode::CREATED,
        )
        .await;
    }
    // Globex's own plugin, uploaded by a principal of Globex's.
    let created = app
        .send_body(
            Method::POST,
            "/auth/keys",
            Some(&app.admin_key),
            "application/json",
            json!({"name": "globex-ci", "new_principal": {"name": "globex-ci", "kind": "team"}})
                .to_string(),
        )
        .await
        .json::<Value>()
        .await
        .expect("json");
    make_writer(
        &app,
        created["principal"].as_str().expect("principal"),
        "globex",
    )
    .await;
    let globex_key = created["key"].as_str().expect("key");
    upload(
        &app,
        "/api/orgs/globex/plugins/upload",
        globex_key,
        &tagged_zip("globex-secrets", "1.0.0", &["search"], ""),
    )
    .await;
    upload(
        &app,
        "/api/system/plugins/upload",
        &app.admin_key,
        &tagged_zip("weather", "2.0.0", &["weather"], ""),
    )
    .await;

    // Asked for before signing in, the org's page comes back after it.
    let browser = Browser::launch().await;
    browser.open(&app.url("/account/orgs/acme")).await;
    browser
        .wait_for_address("/auth/login", Some("return_to=%2Faccount%2Forgs%2Facme"))
        .await;
    sign_in_at_the_certified_provider(&browser, "ada", "/account/orgs/acme").await;
    assert_eq!(browser.status().await, 403, "not yet permitted");
    browser
        .assert_accessible("an org page refused to a non-member")
        .await;

    browser.open(&app.url("/account")).await;
    let ada = browser
        .find("#principal-id")
        .await
        .text()
        .await
        .expect("text");
    make_writer(&app, &ada, "acme").await;
    let acme_key = app
        .send_body(
            Method::POST,
            "/auth/keys",
            Some(&app.admin_key),
            "application/json",
            json!({"name": "acme-ci", "principal": ada}).to_string(),
        )
        .await
        .json::<Value>()
        .await
        .expect("json")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    for version in ["1.0.0", "1.1.0"] {
        upload(
            &app,
            "/api/orgs/acme/plugins/upload",
            &acme_key,
            &tagged_zip("web-search", version, &["search", "web"], SETTINGS),
        )
        .await;
    }

    // From the account page to the org's catalog: its plugins and the system's.
    browser.open(&app.url("/account")).await;
    browser
        .link("ul.orgs", "Acme Corp")
        .await
        .click()
        .await
        .expect("click");
    browser.wait_for_address("/account/orgs/acme", None).await;
    browser.assert_accessible("an org's catalog").await;
    let listed = browser
        .script("return [...document.querySelectorAll('table.org-plugins tbody tr')].map(r => r.dataset.source + ':' + r.dataset.pid).join(' ');")
        .await;
    assert_eq!(
        listed,
        json!("system:weather org:web-search"),
        "sorted by pid"
    );

    // The tag filter.
    browser
        .link("nav.tag-filter", "web (1)")
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_for_address("/account/orgs/acme", Some("tag=web"))
        .await;
    let listed = browser
        .script("return [...document.querySelectorAll('table.org-plugins tbody tr')].map(r => r.dataset.pid).join(' ');")
        .await;
    assert_eq!(listed, json!("web-search"));

    // A plugin's versions and its settings form, read-only, the secret masked.
    browser
        .find("tr[data-pid='web-search'] a")
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_for_address("/account/orgs/acme/plugins/web-search", Some("source=org"))
        .await;
    browser
        .assert_accessible("an org plugin's page with its settings form")
        .await;
    let form = browser
        .script(
            "const f = document.querySelector('form.settings-preview'); \
             const secret = f.querySelector('[data-setting=api_key] input'); \
             return {disabled: f.querySelector('fieldset').disabled, secretType: secret.type, secretValue: secret.value, \
                     most: f.querySelector('[data-setting=max_results] input').value, \
                     safe: f.querySelector('[data-setting=safe_search] input').checked, \
                     leaked: document.documentElement.outerHTML.includes('sk-never-on-a-page')};",
        )
        .await;
    assert_eq!(
        form,
        json!({"disabled": true, "secretType": "password", "secretValue": "", "most": "10", "safe": true, "leaked": false})
    );

    // Disabling the newest version from its row.
    browser
        .find("tr[data-version='1.1.0'] button")
        .await
        .click()
        .await
        .expect("click");
    browser
        .wait_until(
            "1.1.0 shows disabled",
            "const row = document.querySelector(\"tr[data-version='1.1.0'] td.state\"); return row !== null && row.textContent === 'disabled';",
        )
        .await;
    let listed = app
        .send_body(
            Method::GET,
            "/api/orgs/acme/plugins?source=org",
            Some(&acme_key),
            "application/json",
            String::new(),
        )
        .await
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(listed["plugins"][0]["version"], "1.0.0", "{listed}");

    // Another org's page: refused, and none of its plugins shown.
    assert_eq!(browser.open(&app.url("/account/orgs/globex")).await, 403);
    let leaked = browser
        .script("return document.documentElement.outerHTML.includes('globex-secrets');")
        .await;
    assert_eq!(leaked, json!(false));
    browser.close().await;
}
