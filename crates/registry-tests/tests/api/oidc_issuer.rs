//! A loopback OpenID Connect issuer that signs the ID tokens each test asks for.
//!
//! A certified provider never issues a token with a wrong nonce, issuer or
//! audience, or one already expired, so the refusals of those are tested against
//! this stand-in: real discovery, a real JWKS, a real token endpoint checking the
//! client's secret and PKCE verifier, and tokens signed with a real RSA key (a
//! fixture made for these tests only). The happy path is also tested against the
//! certified `oidc-provider` in the browser suite.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use chrono::{Duration, Utc};
use openidconnect::core::{
    CoreGenderClaim, CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
    CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, EndUserEmail, EndUserUsername, IssuerUrl, JsonWebKeyId, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, PrivateSigningKey, StandardClaims, SubjectIdentifier,
};
use serde_json::{Value, json};

/// The registry's client at the stand-in.
pub const CLIENT_ID: &str = "registry-under-test";
/// Its secret.
pub const CLIENT_SECRET: &str = "registry-under-test-secret";

const SIGNING_KEY: &str = include_str!("../../fixtures/test-oidc-issuer.rsa.pem");

/// What the token for one code says, and how it deviates from a good one.
#[derive(Debug, Clone)]
pub struct TokenPlan {
    /// `sub`.
    pub subject: String,
    /// `preferred_username`.
    pub login: String,
    /// `email` and `email_verified`.
    pub email: Option<(String, bool)>,
    /// The nonce to put in the token; `None` copies the one the sign-in sent.
    pub nonce: Option<String>,
    /// The issuer to claim; `None` is the stand-in's own.
    pub issuer: Option<String>,
    /// The audience to claim; `None` is the registry's client id.
    pub audience: Option<String>,
    /// Seconds from now until `exp` (negative: already expired).
    pub expires_in: i64,
}

impl TokenPlan {
    /// A good token for `subject`, now called `login`.
    pub fn good(subject: &str, login: &str) -> Self {
        Self {
            subject: subject.to_owned(),
            login: login.to_owned(),
            email: Some((format!("{login}@example.test"), true)),
            nonce: None,
            issuer: None,
            audience: None,
            expires_in: 300,
        }
    }
}

/// A code issued for one sign-in: the plan, and what the sign-in sent.
struct IssuedCode {
    plan: TokenPlan,
    nonce: String,
    challenge: String,
}

struct IssuerState {
    base: String,
    key: CoreRsaPrivateSigningKey,
    codes: Mutex<HashMap<String, IssuedCode>>,
}

/// The stand-in, serving on loopback until dropped.
pub struct TestIssuer {
    /// Its issuer URL.
    pub base: String,
    state: Arc<IssuerState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestIssuer {
    /// Starts the stand-in on a free loopback port.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind issuer");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let key = CoreRsaPrivateSigningKey::from_pem(
            SIGNING_KEY,
            Some(JsonWebKeyId::new("test-key".to_owned())),
        )
        .expect("fixture key");
        let state = Arc::new(IssuerState {
            base: base.clone(),
            key,
            codes: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(Arc::clone(&state));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("issuer serves");
        });
        Self { base, state, task }
    }

    /// Issues a code for the sign-in whose authorize URL is `authorize_url`,
    /// whose token will follow `plan`.
    pub fn issue_code(&self, authorize_url: &url::Url, plan: TokenPlan) -> String {
        let param = |name: &str| {
            authorize_url
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("the authorize URL has no {name}: {authorize_url}"))
        };
        assert_eq!(param("client_id"), CLIENT_ID);
        assert_eq!(param("response_type"), "code");
        assert_eq!(param("code_challenge_method"), "S256", "PKCE is S256");
        assert!(param("scope").split(' ').any(|s| s == "openid"));
        let code = format!("code-{}", hex::encode(random_bytes()));
        self.state.codes.lock().expect("codes").insert(
            code.clone(),
            IssuedCode {
                plan,
                nonce: param("nonce"),
                challenge: param("code_challenge"),
            },
        );
        code
    }
}

fn random_bytes() -> [u8; 12] {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("entropy");
    bytes
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    let base = &state.base;
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    Json(json!({ "keys": [state.key.as_verification_key()] }))
}

fn refuse(error: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

async fn token(
    State(state): State<Arc<IssuerState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    let Some(code) = form.get("code") else {
        return refuse("invalid_request");
    };
    // A code is good once, as at any provider.
    let Some(issued) = state.codes.lock().expect("codes").remove(code) else {
        return refuse("invalid_grant");
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier));
    if challenge.as_str() != issued.challenge {
        return refuse("invalid_grant");
    }
    let plan = issued.plan;
    let now = Utc::now();
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(plan.issuer.unwrap_or_else(|| state.base.clone())).expect("issuer"),
        vec![Audience::new(
            plan.audience.unwrap_or_else(|| CLIENT_ID.to_owned()),
        )],
        now + Duration::seconds(plan.expires_in),
        now - Duration::seconds(5),
        StandardClaims::<CoreGenderClaim>::new(SubjectIdentifier::new(plan.subject))
            .set_preferred_username(Some(EndUserUsername::new(plan.login)))
            .set_email(
                plan.email
                    .as_ref()
                    .map(|(e, _)| EndUserEmail::new(e.clone())),
            )
            .set_email_verified(plan.email.as_ref().map(|(_, verified)| *verified)),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(plan.nonce.unwrap_or(issued.nonce))));
    let id_token = CoreIdToken::new(
        claims,
        &state.key,
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        None,
        None,
    )
    .expect("sign the ID token");
    Json(json!({
        "access_token": "test-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token.to_string(),
    }))
    .into_response()
}
