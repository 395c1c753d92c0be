//! Any OpenID Connect provider, by discovery: the authorization code flow with
//! PKCE (S256), `state` and `nonce`, and the ID token checked by `openidconnect`
//! (signature against the provider's JWKS, issuer, audience, expiry, nonce).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessToken, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SubjectIdentifier, TokenResponse,
};
use registry_core::account::{
    EmailAddress, Identity, IdentityProvider, LoginAttempt, SignInError, SignInStart,
    VerifiedIdentity,
};
use tokio::sync::RwLock;

use crate::http::ProviderHttp;

/// How long a discovery document (and the key set it names) is trusted before it
/// is fetched again, so a provider's key rotation reaches the registry.
const METADATA_LIFETIME: Duration = Duration::from_secs(3600);

/// A client made from a provider's discovery document: its authorization
/// endpoint is certain, its token and UserInfo endpoints may be absent.
type OidcClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// What an operator configures for one OpenID Connect provider.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// Its id in the registry's URLs (`oidc`).
    pub id: String,
    /// Its name on the sign-in button.
    pub display_name: String,
    /// The issuer URL; `/.well-known/openid-configuration` is found under it.
    pub issuer: String,
    /// The registry's client id there.
    pub client_id: String,
    /// The registry's client secret there.
    pub client_secret: String,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"…")
            .finish()
    }
}

/// An OpenID Connect provider.
pub struct OidcProvider {
    settings: OidcSettings,
    issuer: IssuerUrl,
    http: ProviderHttp,
    metadata: RwLock<Option<(Instant, CoreProviderMetadata)>>,
}

impl OidcProvider {
    /// A provider for `settings`; nothing is fetched until the first sign-in.
    pub fn new(settings: OidcSettings, http: ProviderHttp) -> Result<Self, String> {
        let issuer = IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| format!("the OIDC issuer {:?} is not a URL: {e}", settings.issuer))?;
        Ok(Self {
            settings,
            issuer,
            http,
            metadata: RwLock::new(None),
        })
    }

    /// The discovery document, fetched at most once per [`METADATA_LIFETIME`].
    async fn metadata(&self) -> Result<CoreProviderMetadata, SignInError> {
        if let Some((fetched, metadata)) = &*self.metadata.read().await
            && fetched.elapsed() < METADATA_LIFETIME
        {
            return Ok(metadata.clone());
        }
        let mut cached = self.metadata.write().await;
        if let Some((fetched, metadata)) = &*cached
            && fetched.elapsed() < METADATA_LIFETIME
        {
            return Ok(metadata.clone());
        }
        let send = self.http.sender();
        let metadata = CoreProviderMetadata::discover_async(self.issuer.clone(), &send)
            .await
            .map_err(|e| {
                SignInError::Unavailable(format!(
                    "discovery at {} failed: {}",
                    self.issuer.as_str(),
                    error_chain(&e)
                ))
            })?;
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<OidcClient, SignInError> {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| SignInError::Unavailable(format!("bad redirect URL: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// The verified address the UserInfo endpoint gives for `subject`, if the
    /// provider has that endpoint. Its answer must name the ID token's subject.
    /// A failure costs the person their notices, not their sign-in, so it is
    /// logged and the address left out.
    async fn user_info_email(
        &self,
        client: &OidcClient,
        access_token: &AccessToken,
        subject: &SubjectIdentifier,
    ) -> Option<EmailAddress> {
        let request = client
            .user_info(access_token.clone(), Some(subject.clone()))
            .ok()?;
        let send = self.http.sender();
        let answer: Result<
            openidconnect::UserInfoClaims<
                openidconnect::EmptyAdditionalClaims,
                openidconnect::core::CoreGenderClaim,
            >,
            _,
        > = request.request_async(&send).await;
        match answer {
            Ok(claims) => verified_email(claims.email(), claims.email_verified()),
            Err(e) => {
                tracing::warn!(provider = %self.settings.id, error = %error_chain(&e), "the UserInfo endpoint gave no address");
                None
            }
        }
    }
}

/// The address in `email` if the provider says it verified it; an unverified
/// address could be anyone's, and notices must not go to anyone.
fn verified_email(
    email: Option<&openidconnect::EndUserEmail>,
    verified: Option<bool>,
) -> Option<EmailAddress> {
    match (email, verified) {
        (Some(email), Some(true)) => EmailAddress::parse(email.as_str()),
        _ => None,
    }
}

/// The algorithms an ID token may be signed with: whatever asymmetric ones the
/// provider says it uses. Never `none`, never an HMAC keyed by the client secret.
fn asymmetric_algorithms(metadata: &CoreProviderMetadata) -> Vec<CoreJwsSigningAlgorithm> {
    use CoreJwsSigningAlgorithm as A;
    metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter(|alg| {
            matches!(
                alg,
                A::RsaSsaPkcs1V15Sha256
                    | A::RsaSsaPkcs1V15Sha384
                    | A::RsaSsaPkcs1V15Sha512
                    | A::RsaSsaPssSha256
                    | A::RsaSsaPssSha384
                    | A::RsaSsaPssSha512
                    | A::EcdsaP256Sha256
                    | A::EcdsaP384Sha384
                    | A::EdDsa
            )
        })
        .cloned()
        .collect()
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl IdentityProvider for OidcProvider {
    fn id(&self) -> &str {
        &self.settings.id
    }

    fn display_name(&self) -> &str {
        &self.settings.display_name
    }

    async fn start(&self, redirect_uri: &str) -> Result<SignInStart, SignInError> {
        let client = self.client(self.metadata().await?, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".to_owned()))
            .add_scope(Scope::new("email".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(SignInStart {
            authorize_url: url.to_string(),
            state: state.into_secret(),
            nonce: Some(nonce.secret().clone()),
            pkce_verifier: verifier.into_secret(),
        })
    }

    async fn finish(
        &self,
        code: &str,
        redirect_uri: &str,
        attempt: &LoginAttempt,
    ) -> Result<VerifiedIdentity, SignInError> {
        let metadata = self.metadata().await?;
        let algorithms = asymmetric_algorithms(&metadata);
        let client = self.client(metadata, redirect_uri)?;
        let nonce = attempt.nonce.clone().ok_or_else(|| SignInError::Refused {
            code: "id_token_invalid",
            detail: "this sign-in was started without a nonce".to_owned(),
        })?;
        let send = self.http.sender();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| {
                SignInError::Unavailable(format!("the provider has no token endpoint: {e}"))
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(attempt.pkce_verifier.clone()))
            .request_async(&send)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::ServerResponse(answer) => SignInError::Refused {
                    code: "code_refused",
                    detail: format!(
                        "the provider refused the sign-in code ({}); sign in again",
                        answer.error()
                    ),
                },
                other => SignInError::Unavailable(format!(
                    "the token request failed: {}",
                    error_chain(&other)
                )),
            })?;
        let id_token = tokens.id_token().ok_or_else(|| SignInError::Refused {
            code: "id_token_invalid",
            detail: "the provider answered without an ID token".to_owned(),
        })?;
        let verifier = client.id_token_verifier().set_allowed_algs(algorithms);
        let claims = id_token
            .claims(&verifier, &Nonce::new(nonce))
            .map_err(|e| SignInError::Refused {
                code: "id_token_invalid",
                detail: format!("the provider's ID token was refused: {e}"),
            })?;
        let login = claims
            .preferred_username()
            .map(|name| name.as_str().to_owned())
            .or_else(|| {
                claims
                    .name()
                    .and_then(|names| names.get(None))
                    .map(|name| name.as_str().to_owned())
            })
            .or_else(|| claims.email().map(|email| email.as_str().to_owned()))
            .unwrap_or_else(|| claims.subject().as_str().to_owned());
        let email = match verified_email(claims.email(), claims.email_verified()) {
            Some(email) => Some(email),
            // Providers that follow OpenID Connect Core 5.4 to the letter put
            // the `email` scope's claims only in the UserInfo answer once an
            // access token is issued.
            None => {
                self.user_info_email(&client, tokens.access_token(), claims.subject())
                    .await
            }
        };
        Ok(VerifiedIdentity {
            identity: Identity {
                issuer: claims.issuer().as_str().to_owned(),
                subject: claims.subject().as_str().to_owned(),
            },
            login,
            email,
        })
    }
}
