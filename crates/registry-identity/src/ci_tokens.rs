//! The CI token verifier of trusted publishing: a GitHub Actions or GitLab CI/CD
//! OIDC token, checked against its issuer's JWKS (found by discovery), its
//! issuer, its audience (this registry), and `exp`/`nbf` with a small leeway.
//!
//! Only asymmetric algorithms are accepted: never `none`, never an HMAC whose key
//! a token's holder could choose. Key sets are cached for an hour and fetched
//! again early (at most once a minute) when a token names a key id not in the
//! cached set, so an issuer's key rotation is picked up at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use registry_core::timestamp::Timestamp;
use registry_core::trusted_publishing::{
    CI_TOKEN_LEEWAY, CiClaims, CiTokenError, CiTokenVerifier, GithubClaims, GitlabClaims,
    VerifiedCiToken,
};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::http::ProviderHttp;

/// GitHub Actions' OIDC issuer.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// GitLab.com's OIDC issuer (a self-managed GitLab's is its own URL).
pub const GITLAB_COM_ISSUER: &str = "https://gitlab.com";

/// How long a fetched key set is trusted.
const KEYS_LIFETIME: Duration = Duration::from_secs(3600);
/// The soonest a key set is fetched again for an unknown key id.
const UNKNOWN_KID_REFETCH: Duration = Duration::from_secs(60);
/// The longest `jti` accepted: it becomes part of a storage key.
const MAX_JTI: usize = 256;

/// The algorithms a CI token may be signed with.
const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Which CI service an issuer is, and so which claims its tokens carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiService {
    /// GitHub Actions.
    GithubActions,
    /// GitLab CI/CD.
    GitlabCi,
}

/// The CI issuers an operator trusts, and this registry's audience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiTokenSettings {
    /// The audience every token must name: the registry's public URL.
    pub audience: String,
    /// The issuers trusted, each with its service.
    pub issuers: Vec<(CiService, String)>,
}

impl CiTokenSettings {
    /// GitHub Actions' and GitLab.com's issuers, for `audience`.
    pub fn public_ci(audience: &str) -> Self {
        Self {
            audience: audience.to_owned(),
            issuers: vec![
                (CiService::GithubActions, GITHUB_ACTIONS_ISSUER.to_owned()),
                (CiService::GitlabCi, GITLAB_COM_ISSUER.to_owned()),
            ],
        }
    }
}

struct CachedKeys {
    fetched: Instant,
    keys: JwkSet,
}

struct TrustedIssuer {
    service: CiService,
    issuer: String,
    keys: Mutex<Option<CachedKeys>>,
}

/// Verifies CI tokens from the configured issuers.
pub struct CiTokenIssuers {
    audience: String,
    issuers: Vec<TrustedIssuer>,
    http: ProviderHttp,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// The claims every CI token must carry; the service's own are read from the rest.
#[derive(Deserialize)]
struct CommonClaims {
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(flatten)]
    rest: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct IssuerOnly {
    iss: String,
}

impl CiTokenIssuers {
    /// A verifier for `settings`; nothing is fetched until a token arrives.
    pub fn new(settings: CiTokenSettings, http: ProviderHttp) -> Self {
        Self {
            audience: settings.audience,
            issuers: settings
                .issuers
                .into_iter()
                .map(|(service, issuer)| TrustedIssuer {
                    service,
                    issuer: issuer.trim_end_matches('/').to_owned(),
                    keys: Mutex::new(None),
                })
                .collect(),
            http,
        }
    }

    /// The key set of `issuer`, with `kid` in it if the issuer has it: cached,
    /// fetched when stale, or fetched early when `kid` is unknown.
    async fn keys_for(
        &self,
        issuer: &TrustedIssuer,
        kid: Option<&str>,
    ) -> Result<JwkSet, CiTokenError> {
        let mut cached = issuer.keys.lock().await;
        if let Some(current) = &*cached {
            let age = current.fetched.elapsed();
            let has_kid = kid.is_none_or(|kid| current.keys.find(kid).is_some());
            if age < KEYS_LIFETIME && (has_kid || age < UNKNOWN_KID_REFETCH) {
                return Ok(current.keys.clone());
            }
        }
        let keys = self.fetch_keys(&issuer.issuer).await?;
        *cached = Some(CachedKeys {
            fetched: Instant::now(),
            keys: keys.clone(),
        });
        Ok(keys)
    }

    async fn fetch_keys(&self, issuer: &str) -> Result<JwkSet, CiTokenError> {
        let unavailable = |what: String| CiTokenError::IssuerUnavailable(what);
        let discovery_url = format!("{issuer}/.well-known/openid-configuration");
        let discovery: Discovery = self.fetch_json(&discovery_url).await.map_err(unavailable)?;
        if discovery.issuer.trim_end_matches('/') != issuer {
            return Err(unavailable(format!(
                "{discovery_url} names issuer {:?}, not {issuer:?}",
                discovery.issuer
            )));
        }
        self.fetch_json(&discovery.jwks_uri)
            .await
            .map_err(unavailable)
    }

    async fn fetch_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let (status, body) = self
            .http
            .send_plain(self.http.client().get(url))
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !status.is_success() {
            return Err(format!("{url} answered {status}"));
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url} answered malformed JSON: {e}"))
    }
}

fn malformed(detail: impl Into<String>) -> CiTokenError {
    CiTokenError::Malformed(detail.into())
}

fn service_claims(
    service: CiService,
    rest: BTreeMap<String, serde_json::Value>,
) -> Result<CiClaims, CiTokenError> {
    let value = serde_json::Value::Object(rest.into_iter().collect());
    match service {
        CiService::GithubActions => serde_json::from_value::<GithubClaims>(value)
            .map(CiClaims::Github)
            .map_err(|e| malformed(format!("not a GitHub Actions token: {e}"))),
        CiService::GitlabCi => serde_json::from_value::<GitlabClaims>(value)
            .map(CiClaims::Gitlab)
            .map_err(|e| malformed(format!("not a GitLab CI token: {e}"))),
    }
}

#[async_trait]
impl CiTokenVerifier for CiTokenIssuers {
    fn audience(&self) -> &str {
        &self.audience
    }

    async fn verify(&self, token: &str, now: Timestamp) -> Result<VerifiedCiToken, CiTokenError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| malformed(format!("not a signed JWT: {e}")))?;
        if !ASYMMETRIC.contains(&header.alg) {
            return Err(CiTokenError::BadSignature);
        }
        // Which issuer's keys to check it with: read before the check, trusted
        // only once the signature and the `iss` claim verify with those keys.
        let claimed = jsonwebtoken::dangerous::insecure_decode_claims::<IssuerOnly>(token)
            .map_err(|e| malformed(format!("its claims are not readable: {e}")))?
            .iss;
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.issuer == claimed.trim_end_matches('/'))
            .ok_or_else(|| CiTokenError::UnknownIssuer(claimed.clone()))?;
        let keys = self.keys_for(issuer, header.kid.as_deref()).await?;
        let candidates: Vec<_> = match header.kid.as_deref() {
            Some(kid) => keys.find(kid).into_iter().collect(),
            None => keys.keys.iter().collect(),
        };
        let mut validation = Validation::new(header.alg);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&[&claimed]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let mut outcome = Err(CiTokenError::BadSignature);
        for jwk in candidates {
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            match jsonwebtoken::decode::<CommonClaims>(token, &key, &validation) {
                Ok(data) => {
                    outcome = Ok(data.claims);
                    break;
                }
                Err(e) => {
                    outcome = Err(match e.kind() {
                        ErrorKind::InvalidAudience => CiTokenError::WrongAudience {
                            expected: self.audience.clone(),
                        },
                        ErrorKind::InvalidIssuer => CiTokenError::UnknownIssuer(claimed.clone()),
                        ErrorKind::MissingRequiredClaim(claim) => {
                            malformed(format!("it has no {claim:?} claim"))
                        }
                        ErrorKind::InvalidClaimFormat(claim) => {
                            malformed(format!("its {claim:?} claim is malformed"))
                        }
                        ErrorKind::Json(e) => malformed(format!("its claims are malformed: {e}")),
                        // A signature that fails with one key may pass with the next.
                        _ => {
                            outcome = Err(CiTokenError::BadSignature);
                            continue;
                        }
                    });
                    break;
                }
            }
        }
        let claims = outcome?;
        let now_seconds = now.unix_seconds();
        let leeway = CI_TOKEN_LEEWAY.whole_seconds();
        if claims.exp.saturating_add(leeway) <= now_seconds {
            return Err(CiTokenError::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf.saturating_sub(leeway) > now_seconds)
        {
            return Err(CiTokenError::NotYetValid);
        }
        let jti = claims
            .jti
            .filter(|j| {
                !j.is_empty() && j.len() <= MAX_JTI && j.bytes().all(|b| b.is_ascii_graphic())
            })
            .ok_or_else(|| {
                malformed(format!(
                    "it has no \"jti\" of 1 to {MAX_JTI} printable characters"
                ))
            })?;
        let expires_at = time::OffsetDateTime::from_unix_timestamp(claims.exp)
            .map(Timestamp::from_datetime)
            .map_err(|_| malformed("its \"exp\" is out of range"))?;
        Ok(VerifiedCiToken {
            issuer: issuer.issuer.clone(),
            jti,
            expires_at,
            claims: service_claims(issuer.service, claims.rest)?,
        })
    }
}
