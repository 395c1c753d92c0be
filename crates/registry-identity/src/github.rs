//! GitHub sign-in: OAuth 2 with PKCE but no OpenID Connect (no discovery, no ID
//! token), so the person is whoever `GET /user` says the access token belongs to.
//! Their identity is the GitHub's web address and its numeric user id, which a rename keeps and a new
//! account never reuses; the login name is only shown.

use async_trait::async_trait;
use openidconnect::{CsrfToken, PkceCodeChallenge};
use registry_core::account::{
    EmailAddress, Identity, IdentityProvider, LoginAttempt, SignInError, SignInStart,
    VerifiedIdentity,
};
use serde::Deserialize;

use crate::http::ProviderHttp;

/// GitHub's web address: the issuer recorded for github.com identities.
pub const GITHUB_WEB_URL: &str = "https://github.com";

/// GitHub's REST API.
pub const GITHUB_API_URL: &str = "https://api.github.com";

/// Where GitHub's OAuth endpoints are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubEndpoints {
    /// The page people approve the sign-in on.
    pub authorize_url: String,
    /// Where a code is traded for an access token.
    pub token_url: String,
    /// The REST API's base URL.
    pub api_url: String,
}

/// GitHub as a sign-in provider.
pub struct GitHubProvider {
    issuer: String,
    client_id: String,
    client_secret: String,
    endpoints: GitHubEndpoints,
    http: ProviderHttp,
}

/// The token endpoint's answer: GitHub reports errors with 200 and an `error`.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// What `GET /user` says, of what is needed.
#[derive(Deserialize)]
struct GitHubUser {
    id: u64,
    login: String,
}

/// One address of `GET /user/emails`, of what is needed.
#[derive(Deserialize)]
struct GitHubEmail {
    email: String,
    primary: bool,
    verified: bool,
}

/// Most addresses read from `GET /user/emails`: GitHub caps an account's
/// addresses well below this, and the answer is bounded by the HTTP client.
const MAX_GITHUB_EMAILS: usize = 100;

impl GitHubProvider {
    /// Sign-in through the GitHub at `issuer` (its web address) with an OAuth
    /// app's client id and secret.
    pub fn new(
        client_id: String,
        client_secret: String,
        issuer: String,
        endpoints: GitHubEndpoints,
        http: ProviderHttp,
    ) -> Self {
        Self {
            issuer,
            client_id,
            client_secret,
            endpoints,
            http,
        }
    }

    /// `GET {api}{path}` with the person's access token.
    async fn api_get(
        &self,
        token: &str,
        path: &str,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), crate::http::ProviderHttpError> {
        let request = self
            .http
            .client()
            .get(format!(
                "{}{path}",
                self.endpoints.api_url.trim_end_matches('/')
            ))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        self.http.send_plain(request).await
    }

    /// The person's primary address, if GitHub verified it: where notices go.
    /// Without the `user:email` grant (or on any failure) there is none, and
    /// the sign-in goes on without it.
    async fn verified_primary_email(&self, token: &str) -> Option<EmailAddress> {
        let answer = match self.api_get(token, "/user/emails").await {
            Ok((status, body)) if status.is_success() => body,
            Ok((status, _)) => {
                tracing::warn!(%status, "GitHub's e-mail API gave no address");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "GitHub's e-mail API gave no address");
                return None;
            }
        };
        let emails: Vec<GitHubEmail> = serde_json::from_slice(&answer)
            .map_err(
                |e| tracing::warn!(error = %e, "GitHub's e-mail API answered something unexpected"),
            )
            .ok()?;
        emails
            .iter()
            .take(MAX_GITHUB_EMAILS)
            .find(|e| e.primary && e.verified)
            .and_then(|e| EmailAddress::parse(&e.email))
    }

    async fn access_token(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<String, SignInError> {
        let request = self
            .http
            .client()
            .post(&self.endpoints.token_url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ]);
        let (status, body) = self
            .http
            .send_plain(request)
            .await
            .map_err(|e| SignInError::Unavailable(format!("GitHub's token endpoint: {e}")))?;
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            SignInError::Unavailable(format!(
                "GitHub's token endpoint answered {status} with something not JSON: {e}"
            ))
        })?;
        match (answer.access_token, answer.error) {
            (Some(token), None) if status.is_success() => Ok(token),
            (_, error) => Err(SignInError::Refused {
                code: "code_refused",
                detail: format!(
                    "GitHub refused the sign-in code ({}); sign in again",
                    answer
                        .error_description
                        .or(error)
                        .unwrap_or_else(|| status.to_string())
                ),
            }),
        }
    }
}

#[async_trait]
impl IdentityProvider for GitHubProvider {
    fn id(&self) -> &str {
        "github"
    }

    fn display_name(&self) -> &str {
        "GitHub"
    }

    async fn start(&self, redirect_uri: &str) -> Result<SignInStart, SignInError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random().into_secret();
        let mut url = url::Url::parse(&self.endpoints.authorize_url).map_err(|e| {
            SignInError::Unavailable(format!("GitHub's authorize URL is not a URL: {e}"))
        })?;
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", &state)
            .append_pair("scope", "read:user user:email")
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256")
            .append_pair("allow_signup", "true");
        Ok(SignInStart {
            authorize_url: url.to_string(),
            state,
            nonce: None,
            pkce_verifier: verifier.into_secret(),
        })
    }

    async fn finish(
        &self,
        code: &str,
        redirect_uri: &str,
        attempt: &LoginAttempt,
    ) -> Result<VerifiedIdentity, SignInError> {
        let token = self
            .access_token(code, redirect_uri, &attempt.pkce_verifier)
            .await?;
        let (status, body) = self
            .api_get(&token, "/user")
            .await
            .map_err(|e| SignInError::Unavailable(format!("GitHub's user API: {e}")))?;
        if !status.is_success() {
            return Err(SignInError::Unavailable(format!(
                "GitHub's user API answered {status}"
            )));
        }
        let user: GitHubUser = serde_json::from_slice(&body).map_err(|e| {
            SignInError::Unavailable(format!(
                "GitHub's user API answered something unexpected: {e}"
            ))
        })?;
        let email = self.verified_primary_email(&token).await;
        Ok(VerifiedIdentity {
            identity: Identity {
                issuer: self.issuer.clone(),
                subject: user.id.to_string(),
            },
            login: user.login,
            email,
        })
    }
}
