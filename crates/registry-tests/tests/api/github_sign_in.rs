//! Signing in with GitHub, against a loopback **stand-in of GitHub's OAuth and
//! REST endpoints** declared here (`/login/oauth/access_token`, `/api/user` and
//! `/api/user/emails`,
//! answering as GitHub documents them, errors with `200` included): GitHub has
//! no OpenID Connect discovery to run a certified provider against.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use openidconnect::{PkceCodeChallenge, PkceCodeVerifier};
use openworkflow_registry::GitHubSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_problem, plugin_yaml};
use crate::sign_in::Browser;

const CLIENT_ID: &str = "Iv1.registry-under-test";
const CLIENT_SECRET: &str = "github-stand-in-secret";

/// A GitHub user as the stand-in knows them.
#[derive(Clone)]
struct User {
    id: u64,
    login: String,
}

#[derive(Default)]
struct GitHubState {
    /// code → (user, PKCE challenge sent with the sign-in)
    codes: Mutex<HashMap<String, (User, String)>>,
    /// access token → user
    tokens: Mutex<HashMap<String, User>>,
    /// user id → what `GET /user/emails` answers (unset: 404, as GitHub
    /// answers a token without the `user:email` scope)
    emails: Mutex<HashMap<u64, Value>>,
}

/// The stand-in, serving on loopback until dropped.
struct StandInGitHub {
    base: String,
    state: Arc<GitHubState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandInGitHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandInGitHub {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(GitHubState::default());
        let app = Router::new()
            .route("/login/oauth/access_token", post(access_token))
            .route("/api/user", get(user))
            .route("/api/user/emails", get(emails))
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, state, task }
    }

    /// Issues a code for the sign-in whose authorize URL is `authorize`, as if
    /// `user` approved it on github.com.
    fn approve(&self, authorize: &url::Url, id: u64, login: &str) -> String {
        let param = |name: &str| {
            authorize
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("{authorize} has no {name}"))
        };
        assert_eq!(authorize.path(), "/login/oauth/authorize");
        assert_eq!(param("client_id"), CLIENT_ID);
        assert_eq!(param("code_challenge_method"), "S256");
        assert!(
            param("scope").split(' ').any(|s| s == "user:email"),
            "the registry asks to read the person's addresses"
        );
        let code = format!("gh-code-{id}-{}", param("state").len());
        let user = User {
            id,
            login: login.to_owned(),
        };
        self.state
            .codes
            .lock()
            .unwrap()
            .insert(code.clone(), (user, param("code_challenge")));
        code
    }
}

async fn access_token(
    State(state): State<Arc<GitHubState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    assert_eq!(
        headers.get(header::ACCEPT).unwrap(),
        "application/json",
        "GitHub answers form-encoded unless asked for JSON"
    );
    let client_ok = form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET);
    if !client_ok {
        return Json(json!({"error": "incorrect_client_credentials"}));
    }
    // GitHub answers a bad or used code with 200 and an `error`.
    let issued = form
        .get("code")
        .and_then(|code| state.codes.lock().unwrap().remove(code));
    let Some((user, challenge)) = issued else {
        return Json(json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired."
        }));
    };
    let verifier = PkceCodeVerifier::new(form.get("code_verifier").cloned().unwrap_or_default());
    if PkceCodeChallenge::from_code_verifier_sha256(&verifier).as_str() != challenge {
        return Json(json!({"error": "bad_verification_code"}));
    }
    let token = format!("gho_{}", user.id);
    state.tokens.lock().unwrap().insert(token.clone(), user);
    Json(json!({"access_token": token, "token_type": "bearer", "scope": "read:user"}))
}

/// The user the request's bearer token was issued to.
fn bearer(state: &GitHubState, headers: &HeaderMap) -> Option<User> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    state.tokens.lock().unwrap().get(token).cloned()
}

async fn emails(
    State(state): State<Arc<GitHubState>>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    let Some(user) = bearer(&state, &headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        );
    };
    match state.emails.lock().unwrap().get(&user.id) {
        Some(emails) => (StatusCode::OK, Json(emails.clone())),
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))),
    }
}

async fn user(
    State(state): State<Arc<GitHubState>>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    match bearer(&state, &headers).as_ref() {
        Some(user) => (
            StatusCode::OK,
            Json(json!({"id": user.id, "login": user.login, "type": "User"})),
        ),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        ),
    }
}

async fn app_with(github: &StandInGitHub) -> TestApp {
    let (web, api) = (github.base.clone(), format!("{}/api", github.base));
    TestApp::spawn_configured(move |config| {
        config.sign_in.github = Some(GitHubSettings {
            client_id: CLIENT_ID.to_owned(),
            client_secret: CLIENT_SECRET.to_owned(),
            web_url: web,
            api_url: api,
        });
    })
    .await
}

/// Signs `browser` in as GitHub user `id`, now called `login`; returns the
/// callback's answer.
async fn sign_in(
    browser: &mut Browser,
    github: &StandInGitHub,
    id: u64,
    login: &str,
) -> reqwest::Response {
    let start = browser.get("/auth/login/github", true).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let authorize = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let code = github.approve(&authorize, id, login);
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    browser
        .get(
            &format!("/auth/callback/github?code={code}&state={state}"),
            false,
        )
        .await
}

#[tokio::test]
async fn github_sign_in_follows_the_numeric_user_id_through_a_rename() {
    let github = StandInGitHub::start().await;
    let app = app_with(&github).await;

    // Only the primary address GitHub verified is kept.
    github.state.emails.lock().unwrap().insert(
        583231,
        json!([
            {"email": "old@example.test", "primary": false, "verified": true, "visibility": null},
            {"email": "octocat@example.test", "primary": true, "verified": true, "visibility": "private"},
        ]),
    );
    github.state.emails.lock().unwrap().insert(
        999001,
        json!([{"email": "octocat@example.test", "primary": true, "verified": false, "visibility": null}]),
    );
    let mut octo = Browser::new(&app);
    assert_eq!(
        sign_in(&mut octo, &github, 583231, "octocat")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let page = octo.account_page().await;
    assert!(
        page.contains(">octocat</h1>") && page.contains("<strong>octocat@example.test</strong>"),
        "{page}"
    );
    let key = octo.create_key("ci", "30").await;
    assert_eq!(
        app.publish_yaml(&key, &plugin_yaml("octo-tools", "1.0.0"))
            .await
            .status(),
        StatusCode::CREATED
    );

    // Renamed on GitHub: the same id, so the same account, plugins and keys.
    // This time GitHub shows no addresses (as to a token without `user:email`):
    // the sign-in goes on, and the old address is no longer vouched for.
    github.state.emails.lock().unwrap().remove(&583231);
    let mut renamed = Browser::new(&app);
    assert_eq!(
        sign_in(&mut renamed, &github, 583231, "octocat-renamed")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let page = renamed.account_page().await;
    assert!(
        page.contains(">octocat-renamed</h1>")
            && page.contains(">ci</td>")
            && !page.contains("octocat@example.test"),
        "{page}"
    );

    // The freed name, taken by another GitHub user: a new, empty account.
    let mut squatter = Browser::new(&app);
    assert_eq!(
        sign_in(&mut squatter, &github, 999001, "octocat")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let page = squatter.account_page().await;
    assert!(
        page.contains("You have no keys yet.") && !page.contains("octocat@example.test"),
        "an address GitHub has not verified is not theirs: {page}"
    );
    let theirs = squatter.create_key("mine", "30").await;
    expect_problem(
        app.update(&theirs, "octo-tools", &plugin_yaml("octo-tools", "2.0.0"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

#[tokio::test]
async fn a_code_github_refuses_signs_nobody_in() {
    let github = StandInGitHub::start().await;
    let app = app_with(&github).await;
    let mut browser = Browser::new(&app);
    let start = browser.get("/auth/login/github", true).await;
    let authorize = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let state = authorize
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let response = browser
        .get(
            &format!("/auth/callback/github?code=never-issued&state={state}"),
            false,
        )
        .await;
    let problem = expect_problem(response, StatusCode::UNAUTHORIZED, "code_refused").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("incorrect or expired"),
        "GitHub's own words reach the person: {problem}"
    );
    assert!(!browser.has_session());
}
