//! Trusted publishing: registering CI workflows and exchanging CI tokens.

use serde::{Deserialize, Serialize};

pub use crate::registry::{IssuedPublishToken, TrustedPublisherView, TrustedPublishing};
pub use crate::trusted_publishing::{CiIdentity, PublishingLock};

/// What a CI job sends to `POST /auth/oidc/exchange`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The OIDC token the CI service gave the job, requested with this registry's
    /// audience (`config.json`'s `trusted_publishing.audience`).
    pub token: String,
}
