//! The sign-in providers behind `registry-core`'s [`IdentityProvider`] port:
//! any OpenID Connect provider found by its issuer URL ([`OidcProvider`]), and
//! GitHub, whose OAuth has no discovery and no ID token ([`GitHubProvider`]); and
//! the verifier of CI tokens for trusted publishing ([`CiTokenIssuers`]).
//!
//! Every request to a provider goes through one `reqwest` client that follows no
//! redirect (a provider's answer can never point the registry at another
//! server), uses a bounded wait and reads a bounded answer.
//!
//! [`IdentityProvider`]: registry_core::account::IdentityProvider

mod ci_tokens;
mod github;
mod http;
mod oidc;
mod settings;

pub use ci_tokens::{
    CiService, CiTokenIssuers, CiTokenSettings, GITHUB_ACTIONS_ISSUER, GITLAB_COM_ISSUER,
};
pub use github::{GITHUB_API_URL, GITHUB_WEB_URL, GitHubEndpoints, GitHubProvider};
pub use http::{MAX_PROVIDER_ANSWER, PROVIDER_TIMEOUT, ProviderHttp};
pub use oidc::{OidcProvider, OidcSettings};
pub use settings::{GitHubSettings, SignInSettings};
