//! Signing in with OpenID Connect, sessions, the account page and signing out,
//! over HTTP against the loopback issuer of `oidc_issuer`, on the backend under
//! test. (The same flow against the certified `oidc-provider`, in a real browser,
//! is in the browser suite.)

use std::collections::HashMap;

use openworkflow_registry::OidcSettings;
use registry_core::timestamp::Clock;
use registry_testkit::oidc::csrf_token;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION, SET_COOKIE};
use serde_json::Value;

use crate::helpers::{GITHUB_YAML, TestApp, expect_problem, plugin_yaml};
use crate::oidc_issuer::{CLIENT_ID, CLIENT_SECRET, TestIssuer, TokenPlan};

pub(crate) async fn app_with(issuer: &TestIssuer) -> TestApp {
    let settings = oidc_settings(issuer);
    TestApp::spawn_configured(move |config| config.sign_in.oidc = Some(settings)).await
}

/// The registry's settings for signing in at `issuer`.
pub(crate) fn oidc_settings(issuer: &TestIssuer) -> OidcSettings {
    OidcSettings {
        id: "oidc".to_owned(),
        display_name: "Test issuer".to_owned(),
        issuer: issuer.base.clone(),
        client_id: CLIENT_ID.to_owned(),
        client_secret: CLIENT_SECRET.to_owned(),
    }
}

/// A browser as far as the registry can tell: it keeps cookies, follows no
/// redirect by itself, and asks for pages when told to.
pub(crate) struct Browser {
    client: reqwest::Client,
    cookies: HashMap<String, String>,
    base: String,
}

impl Browser {
    pub(crate) fn new(app: &TestApp) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
            base: app.base.clone(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            for attribute in ["HttpOnly", "Secure", "SameSite=Lax"] {
                assert!(text.contains(attribute), "{text} lacks {attribute}");
            }
            let (pair, _) = text.split_once(';').unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if text.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub(crate) async fn get(&mut self, path: &str, page: bool) -> reqwest::Response {
        let mut request = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header());
        if page {
            request = request.header(ACCEPT, "text/html");
        }
        let response = request.send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    pub(crate) async fn post_form(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "text/html")
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    /// Starts signing in; returns the provider's authorize URL.
    async fn start_sign_in(&mut self) -> url::Url {
        let response = self.get("/auth/login/oidc?return_to=/account", true).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert!(self.cookies.contains_key("ow_sign_in"));
        url::Url::parse(location(&response)).unwrap()
    }

    /// The provider's callback with `code` and `state`.
    async fn callback(&mut self, code: &str, state: &str) -> reqwest::Response {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("code", code)
            .append_pair("state", state)
            .finish();
        self.get(&format!("/auth/callback/oidc?{query}"), false)
            .await
    }

    /// Signs in as `plan` says; returns the callback's answer.
    async fn sign_in(&mut self, issuer: &TestIssuer, plan: TokenPlan) -> reqwest::Response {
        let authorize = self.start_sign_in().await;
        let code = issuer.issue_code(&authorize, plan);
        self.callback(&code, &param(&authorize, "state")).await
    }

    /// Signs in as `subject`, now called `login`, and checks it worked.
    pub(crate) async fn sign_in_as(&mut self, issuer: &TestIssuer, subject: &str, login: &str) {
        self.sign_in_with(issuer, TokenPlan::good(subject, login))
            .await;
    }

    /// Signs in with an ID token made to `plan`, and checks it worked.
    pub(crate) async fn sign_in_with(&mut self, issuer: &TestIssuer, plan: TokenPlan) {
        let response = self.sign_in(issuer, plan).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "{:?}",
            response.text().await
        );
        assert_eq!(location(&response), "/account");
        assert!(self.cookies.contains_key("ow_session"));
        assert!(
            !self.cookies.contains_key("ow_sign_in"),
            "the sign-in cookie is spent"
        );
    }

    /// Whether it holds a session cookie.
    pub(crate) fn has_session(&self) -> bool {
        self.cookies.contains_key("ow_session")
    }

    /// The account page's HTML.
    pub(crate) async fn account_page(&mut self) -> String {
        let response = self.get("/account", true).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["cache-control"],
            "private, no-store",
            "a person's page is never cached"
        );
        response.text().await.unwrap()
    }

    /// Makes a key on the account page; returns its secret.
    pub(crate) async fn create_key(&mut self, name: &str, days: &str) -> String {
        let page = self.account_page().await;
        let csrf = csrf_token(&page);
        let response = self
            .post_form(
                "/account/keys",
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("scope", "publish"),
                    ("expires_in_days", days),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let page = response.text().await.unwrap();
        let start = page
            .find("sk_")
            .expect("the new key's secret is on the page");
        page[start..start + 67].to_owned()
    }
}

fn location(response: &reqwest::Response) -> &str {
    response.headers()[LOCATION].to_str().unwrap()
}

fn param(url: &url::Url, name: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

#[tokio::test]
async fn a_person_signs_in_makes_a_key_on_the_account_page_and_publishes_with_it() {
    let issuer = TestIssuer::start().await;
    let app = app_with(&issuer).await;
    let mut browser = Browser::new(&app);
    let response = browser.get("/account", true).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/auth/login?return_to=%2Faccount");
    let page = browser.get("/auth/login?return_to=%2Faccount", true).await;
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("href=\"/auth/login/oidc?return_to=%2Faccount\""),
        "the sign-in page offers the provider"
    );

    browser.sign_in_as(&issuer, "subject-1001", "ada").await;
    let page = browser.account_page().await;
    assert!(
        page.contains("<h1 id=\"account-heading\">ada</h1>"),
        "{page}"
    );
    assert!(page.contains("You have no keys yet."));

    let secret = browser.create_key("laptop", "30").await;
    assert_eq!(
        app.publish_yaml(&secret, GITHUB_YAML).await.status(),
        StatusCode::CREATED,
        "a key made on the account page publishes"
    );
    let keys: Value = app
        .get_with_key("/auth/keys", &secret)
        .await
        .json()
        .await
        .unwrap();
    let key = &keys["keys"][0];
    assert_eq!(key["name"], "laptop");
    assert_eq!(key["scopes"], serde_json::json!(["publish"]));
    let expected = app.clock.now().plus(time::Duration::days(30)).to_string();
    assert_eq!(key["expires_at"], expected.as_str(), "the asked-for expiry");
    let page = browser.account_page().await;
    assert!(page.contains("laptop"), "the page lists the key");
    assert!(!page.contains(&secret), "and never shows its secret again");

    // Past a year is refused on the page, with what to fix.
    let csrf = csrf_token(&page);
    let too_long = browser
        .post_form(
            "/account/keys",
            &[
                ("csrf", &csrf),
                ("name", "forever"),
                ("scope", "publish"),
                ("expires_in_days", "400"),
            ],
        )
        .await;
    assert_eq!(too_long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(too_long.text().await.unwrap().contains("at most 365 days"));

    // A key for some plugins only.
    let limited = browser
        .post_form(
            "/account/keys",
            &[
                ("csrf", &csrf),
                ("name", "weather CI"),
                ("scope", "publish"),
                ("expires_in_days", "30"),
                ("plugins", "weather, github"),
            ],
        )
        .await;
    assert_eq!(limited.status(), StatusCode::OK);
    assert!(
        limited
            .text()
            .await
            .unwrap()
            .contains("<td>github, weather</td>"),
        "the page lists the key's plugins"
    );

    // Revoking from the page ends the key.
    let key_id = key["id"].as_str().unwrap();
    let revoked = browser
        .post_form(
            &format!("/account/keys/{key_id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_with_key("/auth/keys", &secret).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Signing out ends the session: the cookie goes, and the old one is dead.
    let session = browser.cookies["ow_session"].clone();
    let out = browser.post_form("/auth/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(!browser.cookies.contains_key("ow_session"));
    browser.cookies.insert("ow_session".to_owned(), session);
    assert_eq!(
        browser.get("/account", true).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn a_form_without_the_sessions_own_token_is_refused() {
    let issuer = TestIssuer::start().await;
    let app = app_with(&issuer).await;
    let mut mine = Browser::new(&app);
    mine.sign_in_as(&issuer, "subject-1", "ada").await;
    let mut theirs = Browser::new(&app);
    theirs.sign_in_as(&issuer, "subject-2", "eve").await;
    let their_token = csrf_token(&theirs.account_page().await);
    for fields in [
        vec![
            ("name", "k"),
            ("scope", "publish"),
            ("expires_in_days", "1"),
        ],
        vec![
            ("csrf", "0".repeat(64).leak() as &str),
            ("name", "k"),
            ("scope", "publish"),
        ],
        vec![
            ("csrf", their_token.as_str()),
            ("name", "k"),
            ("scope", "publish"),
        ],
    ] {
        let response = mine.post_form("/account/keys", &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{fields:?}");
    }
    assert!(mine.account_page().await.contains("You have no keys yet."));
    let response = mine
        .client
        .post(app.url("/auth/logout"))
        .header("cookie", mine.cookie_header())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("everywhere=1")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::FORBIDDEN, "csrf_rejected").await;
    assert_eq!(
        mine.get("/account", true).await.status(),
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn each_broken_sign_in_is_refused_with_its_own_code() {
    let issuer = TestIssuer::start().await;
    let app = app_with(&issuer).await;
    let good = || TokenPlan::good("subject-7", "mallory");

    async fn refused(mut browser: Browser, response: reqwest::Response, code: &str) {
        assert!(
            !browser.cookies.contains_key("ow_session"),
            "{code}: no session"
        );
        expect_problem(response, StatusCode::UNAUTHORIZED, code).await;
        assert_eq!(
            browser.get("/account", true).await.status(),
            StatusCode::SEE_OTHER,
            "{code}: not signed in"
        );
    }

    // A state other than the one this browser's sign-in sent.
    let mut browser = Browser::new(&app);
    let authorize = browser.start_sign_in().await;
    let code = issuer.issue_code(&authorize, good());
    let response = browser.callback(&code, "forged-state").await;
    refused(browser, response, "sign_in_state_mismatch").await;

    // A callback replayed: the attempt was used up by the first.
    let mut browser = Browser::new(&app);
    let authorize = browser.start_sign_in().await;
    let code = issuer.issue_code(&authorize, good());
    let sign_in_cookie = browser.cookies["ow_sign_in"].clone();
    let first = browser.callback(&code, &param(&authorize, "state")).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let mut replay = Browser::new(&app);
    replay
        .cookies
        .insert("ow_sign_in".to_owned(), sign_in_cookie);
    let response = replay.callback(&code, &param(&authorize, "state")).await;
    refused(replay, response, "sign_in_not_started").await;

    // The same code under a fresh sign-in: the provider refuses a used code.
    let mut browser = Browser::new(&app);
    let fresh = browser.start_sign_in().await;
    let response = browser.callback(&code, &param(&fresh, "state")).await;
    refused(browser, response, "code_refused").await;

    // A callback in a browser that never started a sign-in.
    let mut starter = Browser::new(&app);
    let authorize = starter.start_sign_in().await;
    let code = issuer.issue_code(&authorize, good());
    let mut stranger = Browser::new(&app);
    let response = stranger.callback(&code, &param(&authorize, "state")).await;
    refused(stranger, response, "sign_in_not_started").await;

    // ID tokens that fail their checks.
    for (what, plan) in [
        (
            "another nonce",
            TokenPlan {
                nonce: Some("not-the-nonce".to_owned()),
                ..good()
            },
        ),
        (
            "another issuer",
            TokenPlan {
                issuer: Some("https://elsewhere.example".to_owned()),
                ..good()
            },
        ),
        (
            "another audience",
            TokenPlan {
                audience: Some("another-client".to_owned()),
                ..good()
            },
        ),
        (
            "an expired token",
            TokenPlan {
                expires_in: -600,
                ..good()
            },
        ),
    ] {
        let mut browser = Browser::new(&app);
        let response = browser.sign_in(&issuer, plan).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(body["code"], "id_token_invalid", "{what}: {body}");
        assert!(!browser.cookies.contains_key("ow_session"), "{what}");
    }

    // Too slow: the attempt lapses after ten minutes.
    let mut browser = Browser::new(&app);
    let authorize = browser.start_sign_in().await;
    let code = issuer.issue_code(&authorize, good());
    app.clock.advance(time::Duration::minutes(11));
    let response = browser.callback(&code, &param(&authorize, "state")).await;
    refused(browser, response, "sign_in_expired").await;

    // The person declined at the provider.
    let mut browser = Browser::new(&app);
    browser.start_sign_in().await;
    let response = browser
        .get("/auth/callback/oidc?error=access_denied", false)
        .await;
    refused(browser, response, "sign_in_declined").await;
}

#[tokio::test]
async fn a_renamed_account_keeps_its_plugins_and_a_recycled_name_gets_none() {
    let issuer = TestIssuer::start().await;
    let app = app_with(&issuer).await;
    let mut ada = Browser::new(&app);
    ada.sign_in_as(&issuer, "subject-1001", "ada").await;
    let ada_key = ada.create_key("ci", "90").await;
    assert_eq!(
        app.publish_yaml(&ada_key, &plugin_yaml("ada-tools", "1.0.0"))
            .await
            .status(),
        StatusCode::CREATED
    );

    // Renamed at the provider: same subject, new login.
    let mut renamed = Browser::new(&app);
    renamed
        .sign_in_as(&issuer, "subject-1001", "ada-lovelace")
        .await;
    let page = renamed.account_page().await;
    assert!(page.contains(">ada-lovelace</h1>"));
    assert!(
        page.contains(">ci</td>"),
        "the renamed account keeps its keys"
    );
    let renamed_key = renamed.create_key("after rename", "10").await;
    assert_eq!(
        app.update(
            &renamed_key,
            "ada-tools",
            &plugin_yaml("ada-tools", "1.1.0")
        )
        .await
        .status(),
        StatusCode::OK,
        "and its plugins"
    );

    // Someone else now holds the old name: a different subject, nothing of Ada's.
    let mut newcomer = Browser::new(&app);
    newcomer.sign_in_as(&issuer, "subject-2002", "ada").await;
    let page = newcomer.account_page().await;
    assert!(page.contains("You have no keys yet."), "{page}");
    let newcomer_key = newcomer.create_key("mine", "10").await;
    expect_problem(
        app.update(
            &newcomer_key,
            "ada-tools",
            &plugin_yaml("ada-tools", "2.0.0"),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_of_that_person_only() {
    let issuer = TestIssuer::start().await;
    let app = app_with(&issuer).await;
    let mut laptop = Browser::new(&app);
    laptop.sign_in_as(&issuer, "subject-5", "grace").await;
    let mut phone = Browser::new(&app);
    phone.sign_in_as(&issuer, "subject-5", "grace").await;
    let mut other = Browser::new(&app);
    other.sign_in_as(&issuer, "subject-6", "alan").await;

    let csrf = csrf_token(&laptop.account_page().await);
    let out = laptop
        .post_form("/auth/logout", &[("csrf", &csrf), ("everywhere", "1")])
        .await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        phone.get("/account", true).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        laptop.get("/account", true).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(other.get("/account", true).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_registry_without_providers_says_so() {
    let app = TestApp::spawn().await;
    expect_problem(
        app.get("/auth/login/oidc").await,
        StatusCode::NOT_FOUND,
        "sign_in_unavailable",
    )
    .await;
    let page = app
        .client
        .get(app.url("/auth/login"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("no sign-in provider configured")
    );
}
