//! A CI service's OIDC issuer on loopback, declared as a stand-in: GitHub Actions
//! and GitLab sign their jobs' tokens with keys nobody else holds, so the tests
//! generate an Ed25519 key of their own at start, serve its public half as a
//! JWKS behind real discovery, and sign the tokens each test needs (good ones,
//! and each kind of bad one a real service never issues).
//!
//! It also answers the request GitHub Actions' runner serves to a job
//! (`ACTIONS_ID_TOKEN_REQUEST_URL` with `ACTIONS_ID_TOKEN_REQUEST_TOKEN`), so the
//! CLI can be run as inside a workflow.

use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{Value, json};

/// The bearer token the stand-in runner wants on its token request.
pub const ACTIONS_REQUEST_TOKEN: &str = "stand-in-runner-request-token";

/// What a GitHub Actions job token says; [`CiIssuer::github_token`] signs one.
#[derive(Debug, Clone)]
pub struct GithubJob {
    /// `owner/name`.
    pub repository: String,
    /// Its numeric id.
    pub repository_id: String,
    /// The owner's numeric id.
    pub repository_owner_id: String,
    /// The workflow file under `.github/workflows/`.
    pub workflow: String,
    /// The trigger.
    pub event_name: String,
    /// The deployment environment, if any.
    pub environment: Option<String>,
}

impl GithubJob {
    /// A release workflow of `octo-org/octo-plugins` (ids 4242 and 77), run on a push.
    pub fn release() -> Self {
        Self {
            repository: "octo-org/octo-plugins".into(),
            repository_id: "4242".into(),
            repository_owner_id: "77".into(),
            workflow: "release.yml".into(),
            event_name: "push".into(),
            environment: None,
        }
    }
}

/// What a GitLab CI job token says; [`CiIssuer::gitlab_token`] signs one.
#[derive(Debug, Clone)]
pub struct GitlabJob {
    /// `group/project`.
    pub project_path: String,
    /// Its numeric id.
    pub project_id: String,
    /// The branch or tag name.
    pub git_ref: String,
    /// `branch` or `tag`.
    pub ref_type: String,
}

impl GitlabJob {
    /// A tag pipeline of `octo-group/tools` (id 99) for `v1.0.0`.
    pub fn tag_release() -> Self {
        Self {
            project_path: "octo-group/tools".into(),
            project_id: "99".into(),
            git_ref: "v1.0.0".into(),
            ref_type: "tag".into(),
        }
    }
}

struct Shared {
    issuer: String,
    key: SigningKey,
    kid: String,
    /// The token the runner endpoint hands out next (its audience is filled in
    /// from the request).
    runner_claims: Mutex<Option<Value>>,
}

/// The stand-in issuer, serving until dropped.
pub struct CiIssuer {
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for CiIssuer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl CiIssuer {
    /// Starts on a free loopback port with a freshly generated key.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the CI issuer");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("entropy");
        let key = SigningKey::from_bytes(&seed);
        let kid = hex::encode(&key.verifying_key().to_bytes()[..8]);
        let shared = Arc::new(Shared {
            issuer,
            key,
            kid,
            runner_claims: Mutex::new(None),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/jwks", get(jwks))
            .route("/runner/token", get(runner_token))
            .with_state(Arc::clone(&shared));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            shared,
            shutdown: Some(tx),
        }
    }

    /// Its issuer URL.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// What a job's `ACTIONS_ID_TOKEN_REQUEST_URL` is when this issuer plays
    /// GitHub Actions' runner.
    pub fn runner_url(&self) -> String {
        format!("{}/runner/token", self.shared.issuer)
    }

    /// Signs `claims` with this issuer's key, naming its key id.
    pub fn sign(&self, claims: &Value) -> String {
        sign_with(&self.shared, claims)
    }

    /// Signs `claims` with a key this issuer does not publish (same key id).
    pub fn sign_with_foreign_key(&self, claims: &Value) -> String {
        let foreign = Shared {
            issuer: self.shared.issuer.clone(),
            key: SigningKey::from_bytes(&[7u8; 32]),
            kid: self.shared.kid.clone(),
            runner_claims: Mutex::new(None),
        };
        sign_with(&foreign, claims)
    }

    /// The claims of a GitHub Actions token for `job`, for `audience`, issued at
    /// `now` (Unix seconds) and good for five minutes, with a fresh `jti`.
    pub fn github_claims(&self, job: &GithubJob, audience: &str, now: i64) -> Value {
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).expect("entropy");
        let git_ref = "refs/tags/v1.0.0";
        let mut claims = json!({
            "iss": self.shared.issuer,
            "aud": audience,
            "sub": format!("repo:{}:ref:{git_ref}", job.repository),
            "jti": hex::encode(jti),
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
            "repository": job.repository,
            "repository_id": job.repository_id,
            "repository_owner": job.repository.split('/').next().unwrap_or_default(),
            "repository_owner_id": job.repository_owner_id,
            "workflow_ref": format!("{}/.github/workflows/{}@{git_ref}", job.repository, job.workflow),
            "job_workflow_ref": format!("{}/.github/workflows/{}@{git_ref}", job.repository, job.workflow),
            "event_name": job.event_name,
            "ref": git_ref,
            "ref_type": "tag",
            "runner_environment": "github-hosted",
        });
        if let Some(environment) = &job.environment {
            claims["environment"] = json!(environment);
        }
        claims
    }

    /// A signed GitLab CI ID token for `job`, for `audience`, issued at `now`.
    pub fn gitlab_token(&self, job: &GitlabJob, audience: &str, now: i64) -> String {
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).expect("entropy");
        self.sign(&json!({
            "iss": self.shared.issuer,
            "aud": audience,
            "sub": format!("project_path:{}:ref_type:{}:ref:{}", job.project_path, job.ref_type, job.git_ref),
            "jti": hex::encode(jti),
            "iat": now,
            "nbf": now - 5,
            "exp": now + 300,
            "namespace_path": job.project_path.split('/').next().unwrap_or_default(),
            "project_path": job.project_path,
            "project_id": job.project_id,
            "ref": job.git_ref,
            "ref_type": job.ref_type,
            "ref_protected": "true",
            "pipeline_source": "push",
        }))
    }

    /// A signed GitHub Actions token for `job` ([`Self::github_claims`]).
    pub fn github_token(&self, job: &GithubJob, audience: &str, now: i64) -> String {
        self.sign(&self.github_claims(job, audience, now))
    }

    /// The runner endpoint answers with a token for `job` from now on, with the
    /// audience each request asks for and the current system time.
    pub fn serve_runner_tokens_for(&self, job: &GithubJob) {
        let claims = self.github_claims(job, "", 0);
        *self.shared.runner_claims.lock().expect("lock") = Some(claims);
    }
}

fn sign_with(shared: &Shared, claims: &Value) -> String {
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": shared.kid});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = shared.key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({
        "issuer": shared.issuer,
        "jwks_uri": format!("{}/.well-known/jwks", shared.issuer),
        "subject_types_supported": ["public"],
        "response_types_supported": ["id_token"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "scopes_supported": ["openid"],
    }))
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({"keys": [{
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "alg": "EdDSA",
        "kid": shared.kid,
        "x": URL_SAFE_NO_PAD.encode(shared.key.verifying_key().to_bytes()),
    }]}))
}

#[derive(serde::Deserialize)]
struct RunnerQuery {
    audience: Option<String>,
}

async fn runner_token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<RunnerQuery>,
) -> Response {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {ACTIONS_REQUEST_TOKEN}"));
    if !authorized {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(mut claims) = shared.runner_claims.lock().expect("lock").clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).expect("entropy");
    claims["aud"] = json!(query.audience.unwrap_or_default());
    claims["iat"] = json!(now);
    claims["nbf"] = json!(now - 5);
    claims["exp"] = json!(now + 300);
    claims["jti"] = json!(hex::encode(jti));
    Json(json!({"count": 1, "value": sign_with(&shared, &claims)})).into_response()
}
