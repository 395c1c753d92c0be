//! Publishing from CI with no stored secret: a CI job's OIDC token, exchanged at
//! the registry for a publish token that lives at most 15 minutes. The token is
//! the one GitLab CI (or another service) put in [`ID_TOKEN_VARIABLE`], or,
//! inside a GitHub Actions job that may request one (`permissions: id-token:
//! write`), one the runner hands out for the audience the registry's
//! `config.json` names.

use std::time::Duration;

use registry_core::api::trusted_publishing::IssuedPublishToken;
use registry_index::format::IndexConfig;
use serde::Deserialize;

use crate::client::{ClientError, RegistryClient};

/// The variable a CI job puts its OIDC token in, requested for the registry's
/// audience (GitLab CI: `id_tokens: OPENWORKFLOW_REGISTRY_ID_TOKEN: aud: …`).
pub const ID_TOKEN_VARIABLE: &str = "OPENWORKFLOW_REGISTRY_ID_TOKEN";

/// The variable GitHub Actions sets to the runner's token request URL when a job
/// may request OIDC tokens.
pub const ACTIONS_ID_TOKEN_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// The variable holding the bearer token for that request.
pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// How long the runner may take to hand out a token.
const RUNNER_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest runner answer read (a token is about 1.2 KB).
const MAX_RUNNER_ANSWER: usize = 64 * 1024;

/// Why trusted publishing could not give a publish token.
#[derive(Debug, thiserror::Error)]
pub enum TrustedPublishingError {
    /// The registry does not say where to exchange CI tokens.
    #[error("the registry's config.json offers no trusted publishing")]
    NotOffered,
    /// The GitHub Actions runner did not hand out an OIDC token.
    #[error("the GitHub Actions runner gave no OIDC token: {0}")]
    Runner(String),
    /// The registry refused, or could not be reached.
    #[error(transparent)]
    Registry(#[from] ClientError),
}

/// The runner's OIDC token request, as a GitHub Actions job's environment gives it.
pub struct ActionsIdTokenRequest {
    url: String,
    bearer: String,
}

impl std::fmt::Debug for ActionsIdTokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionsIdTokenRequest")
            .field("url", &self.url)
            .field("bearer", &"<redacted>")
            .finish()
    }
}

#[derive(Deserialize)]
struct RunnerAnswer {
    value: String,
}

impl ActionsIdTokenRequest {
    /// The request, when `env` has both variables (a job with `id-token: write`).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let url = env(ACTIONS_ID_TOKEN_REQUEST_URL).filter(|v| !v.is_empty())?;
        let bearer = env(ACTIONS_ID_TOKEN_REQUEST_TOKEN).filter(|v| !v.is_empty())?;
        Some(Self { url, bearer })
    }

    /// An OIDC token for `audience`, from the runner.
    pub async fn token(&self, audience: &str) -> Result<String, TrustedPublishingError> {
        let runner = |detail: String| TrustedPublishingError::Runner(detail);
        let mut url = url::Url::parse(&self.url)
            .map_err(|e| runner(format!("{ACTIONS_ID_TOKEN_REQUEST_URL} is not a URL: {e}")))?;
        url.query_pairs_mut().append_pair("audience", audience);
        let http = reqwest::Client::builder()
            .timeout(RUNNER_TIMEOUT)
            .build()
            .map_err(|e| runner(e.to_string()))?;
        let mut response = http
            .get(url)
            .bearer_auth(&self.bearer)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| runner(e.to_string()))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| runner(e.to_string()))? {
            if body.len() + chunk.len() > MAX_RUNNER_ANSWER {
                return Err(runner("its answer is too large".to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(runner(format!(
                "it answered {status}; does the job have `permissions: id-token: write`?"
            )));
        }
        serde_json::from_slice::<RunnerAnswer>(&body)
            .map(|answer| answer.value)
            .map_err(|e| runner(format!("its answer is not a token: {e}")))
    }
}

/// Where a CI job's OIDC token comes from.
#[derive(Debug)]
pub enum CiTokenSource {
    /// Given in [`ID_TOKEN_VARIABLE`] (GitLab CI's `id_tokens`, or any CI).
    Given(String),
    /// Asked of the GitHub Actions runner.
    GithubActions(ActionsIdTokenRequest),
}

impl CiTokenSource {
    /// The source `env` offers: a given token first, then GitHub Actions' runner.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Option<Self> {
        if let Some(token) = env(ID_TOKEN_VARIABLE).filter(|v| !v.trim().is_empty()) {
            return Some(Self::Given(token.trim().to_owned()));
        }
        ActionsIdTokenRequest::from_env(env).map(Self::GithubActions)
    }

    /// What the CLI says it is doing.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Given(_) => ID_TOKEN_VARIABLE,
            Self::GithubActions(_) => "this GitHub Actions job's OIDC token",
        }
    }
}

/// A publish token for this job: the audience and exchange URL from the
/// registry's `config.json`, the job's OIDC token, and the exchange.
pub async fn publish_token_from_ci(
    client: &RegistryClient,
    source: &CiTokenSource,
) -> Result<IssuedPublishToken, TrustedPublishingError> {
    let config_bytes = client.index_file("config.json").await?;
    let config: IndexConfig =
        serde_json::from_slice(&config_bytes).map_err(|e| ClientError::UnexpectedResponse {
            url: format!("{}/index/config.json", client.registry_url()),
            detail: e.to_string(),
        })?;
    let offered = config
        .trusted_publishing
        .ok_or(TrustedPublishingError::NotOffered)?;
    let token = match source {
        CiTokenSource::Given(token) => token.clone(),
        CiTokenSource::GithubActions(request) => request.token(&offered.audience).await?,
    };
    Ok(client
        .exchange_ci_token(&offered.exchange_url, &token)
        .await?)
}
